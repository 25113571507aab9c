"""GPU checks of lab19_deep_clustering (autograder/gpu.py): the student's DEC and IDEC on the
60 000 MNIST training digits, from the student's own autoencoder in DEC's architecture
(784-500-500-2000-10) pretrained on them, judged by cluster accuracy and NMI against the
reference trained the same way."""
import numpy as np

from autograder.checks.lab19_deep_clustering.probes import scores
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least, expect_true

# Pretraining: 7 000 Adam steps of 256 digits (30 epochs) through the 3.3 M weights of the
# autoencoder, ~6 x 3.3 M x 256 FLOP a step, ~35 TFLOP. DEC, then IDEC: 4 000 steps of 256
# each (17 epochs; half that cost for DEC's encoder alone), plus the targets of all 60 000
# digits every 140 steps and k-means (n_init=10, on the CPU) twice: about 2 minutes on a T4
# with the compiles.
HIDDEN, CODE = (500, 500, 2000), 10
AE_STEPS, STEPS, BATCH, UPDATE_INTERVAL = 7_000, 4_000, 256, 140
AE_LEARNING_RATE, LEARNING_RATE, GAMMA = 1e-3, 1e-3, 0.1
MARGIN = 0.05     # accuracy and NMI within 5 points of the reference's (k-means moves them)
SLACK = 0.03      # at full budget, no worse than the k-means start by more than this


def batches(x, steps, batch, seed):
    """(images, their row in x) batches, reshuffled every epoch, for steps steps."""
    import tensorflow as tf
    rows = np.arange(len(x), dtype="int32")
    return (tf.data.Dataset.from_tensor_slices((x, rows)).shuffle(len(x), seed=seed)
            .repeat().batch(batch, drop_remainder=True).take(steps).prefetch(4))


@gpu_check(points=3, minutes=2.5, datasets=("mnist",), uses="dec",
           task="`DEC.train_step`, `IDEC.compute_losses`, `build_autoencoder`",
           hint="DEC and IDEC on MNIST must cluster the digits as well as the reference: check "
                "the Student's t assignment and the KL in float32 (mixed precision) and the "
                "targets refreshed every update_interval steps")
def dec_and_idec_on_mnist(lab, rng):
    """Your build_autoencoder(784, (500, 500, 2000), 10) pretrained for 30 epochs on the
    60 000 MNIST training digits, then your DEC and IDEC (gamma 0.1) from it, 4000 steps of
    256 each, targets refreshed every 140 steps (mixed precision, XLA): cluster accuracy and
    NMI against the digit labels within 5 points of the reference's, and not below the k-means
    clustering they start from."""
    import keras

    x, y = lab.gpu.images("mnist", "train", 60_000)
    x = x.reshape(len(x), -1)
    batch = min(BATCH, len(x))
    # The smoke test's CPU traces and initialises a 3.3 M-weight model slowly: it shrinks it.
    hidden = (32, 32, 64) if lab.gpu.smoke else HIDDEN
    # Seeded, not reset_keras: that would put back the float32 policy the worker replaced.
    keras.utils.set_random_seed(0)
    encoder, decoder, autoencoder = lab.dec.build_autoencoder(x.shape[1], hidden, CODE)
    lab.gpu.compile(autoencoder, keras.optimizers.Adam(AE_LEARNING_RATE), loss="mse")
    autoencoder.optimizer.build(autoencoder.trainable_variables)   # fit traces once
    autoencoder.fit(batches(x, lab.gpu.steps(AE_STEPS), batch, 0).map(lambda a, _: (a, a)),
                    epochs=1, verbose=0)
    pretrained = (encoder.get_weights(), decoder.get_weights())
    out = {"smoke": lab.gpu.smoke}
    for name in ("dec", "idec"):
        keras.utils.set_random_seed(1)
        encoder.set_weights(pretrained[0])
        decoder.set_weights(pretrained[1])
        if name == "dec":
            model = lab.dec.DEC(encoder, 10, update_interval=UPDATE_INTERVAL)
        else:
            model = lab.dec.IDEC(encoder, decoder, 10, gamma=GAMMA,
                                 update_interval=UPDATE_INTERVAL)
        start = np.asarray(model.initialize(x, seed=0))
        lab.gpu.compile(model, keras.optimizers.Adam(LEARNING_RATE))
        model.optimizer.build(model.trainable_variables)
        history = model.fit(batches(x, lab.gpu.steps(STEPS), batch, 2), epochs=1, verbose=0)
        clusters = np.argmax(np.asarray(model(x), "float32"), axis=1)
        out[name] = {**scores(y, clusters), "start": scores(y, start),
                     "loss": float(history.history.get("loss", [np.nan])[-1])}
    return out


@dec_and_idec_on_mnist.verdict
def _(student, reference):
    for name, label in (("dec", "DEC"), ("idec", "IDEC")):
        got, want = student[name], reference[name]
        expect_true(np.isfinite(got["loss"]), f"{label}'s training loss on MNIST is "
                    f"{got['loss']}: the KL must be guarded with EPSILON and computed in float32")
        for metric in ("accuracy", "nmi"):
            what = (f"{label}'s cluster {metric} on the MNIST training digits (the reference "
                    f"reaches {want[metric]:.3f} with the same training; the k-means start "
                    f"{got['start'][metric]:.3f})")
            expect_at_least(got[metric], want[metric] - MARGIN, what)
            if not student["smoke"]:
                expect_at_least(got[metric], got["start"][metric] - SLACK, what)
