"""GPU checks of lab15_flows (autograder/gpu.py): the student's RealNVP (couplings, ActNorm,
FlowModel and its train_step) on 784 dimensions instead of 2: the whole of MNIST,
dequantised and in logit space, judged by its bits per dimension on the test images
against the reference's."""
import numpy as np

from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_most, expect_true

# RealNVP with 8 couplings whose conditioners are 784-1024-1024-(784, 784) MLPs: 3.4 M
# multiply-adds per coupling, 54 MFLOP per example forward, about 160 MFLOP per training
# example. Ten epochs of the 60 000 training images in batches of 256 (2 340 Adam steps):
# about 100 TFLOP, 15-30 s on a T4 in mixed precision, plus the compile of 16 layers.
EPOCHS, BATCH = 10, 256
COUPLINGS, HIDDEN = 8, (1024, 1024)
ALPHA = 0.05        # the logit transform squeezes [0, 1] into [ALPHA, 1 - ALPHA] (RealNVP)
MARGIN = 0.05       # bits per dimension above the reference's
TOO_GOOD = 0.2      # this far below the reference's is a log-determinant with a wrong sign
CEILING = 4.0       # half the 8 bits of a uniform model: a flow that learned the digits


def dequantised_logits(x, rng):
    """MNIST in [0, 1] -> (v, log |dv/dy| per image): y = (pixel + u) / 256 with u ~ U[0, 1),
    then v = logit(ALPHA + (1 - 2 ALPHA) y), the change of variables RealNVP trains on."""
    pixels = np.round(x.reshape(len(x), -1) * 255.0)
    y = (pixels + rng.uniform(size=pixels.shape)) / 256.0
    s = ALPHA + (1.0 - 2.0 * ALPHA) * y
    v = np.log(s) - np.log1p(-s)
    log_det = np.sum(np.log(1.0 - 2.0 * ALPHA) - np.log(s) - np.log1p(-s), axis=1)
    return v.astype("float32"), log_det


def bits_per_dim(log_prob_v, log_det):
    """Bits per dimension of the 8-bit images from log p(v) in nats: p(y) = p(v) |dv/dy|,
    and the 256 levels of a pixel each take 1/256 of y's range."""
    dims = 784
    nll = -(np.asarray(log_prob_v, dtype=np.float64) + log_det) + dims * np.log(256.0)
    return float(np.mean(nll) / (dims * np.log(2.0)))


@gpu_check(points=3, minutes=1.5, datasets=("mnist",), uses=("made", "flows"),
           task="`AffineCoupling`, `ActNorm`, `FlowModel`, `RealNVP`",
           hint="RealNVP(784, num_couplings=8, hidden_units=(1024, 1024)) trained on "
                "dequantised MNIST in logit space: check the couplings' log-determinants, "
                "ActNorm.initialize and the float32 casts under mixed precision")
def realnvp_on_mnist(lab, rng):
    """RealNVP with 8 couplings of 1024-unit conditioners (the student's layers, FlowModel and
    train_step), ActNorm initialised on the data, trained for ten epochs on dequantised MNIST
    in logit space (mixed precision, XLA): its bits per dimension on the 10 000 test images
    come within 0.05 bit of the reference's, and below 4 bits."""
    import keras
    import tensorflow as tf
    x, _ = lab.gpu.images("mnist", "train", 60_000)
    x_test, _ = lab.gpu.images("mnist", "test", 10_000)
    v, _ = dequantised_logits(x, rng)
    v_test, log_det_test = dequantised_logits(x_test, rng)
    # Under the smoke test 16 wide layers cost seconds to trace on a CPU: fewer, narrower.
    couplings, hidden = (2, (32,)) if lab.gpu.smoke else (COUPLINGS, HIDDEN)
    model = lab.flows.RealNVP(784, num_couplings=couplings, hidden_units=hidden)
    model.initialize(v[:1024])
    steps = lab.gpu.steps(EPOCHS * len(v) // BATCH)
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, steps)
    lab.gpu.compile(model, keras.optimizers.Adam(schedule))
    # The optimizer's slots made inside the first step would make TensorFlow trace it twice.
    model.optimizer.build(model.trainable_variables)
    batch = min(BATCH, len(v))   # the smoke test has fewer examples than a batch
    data = (tf.data.Dataset.from_tensor_slices(v).shuffle(len(v), seed=int(rng.integers(2**31)))
            .batch(batch, drop_remainder=True).repeat())
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    log_prob = np.asarray(model.predict(v_test, batch_size=1000, verbose=0), dtype="float64")
    return {"bits": bits_per_dim(log_prob, log_det_test), "smoke": lab.gpu.smoke}


@realnvp_on_mnist.verdict
def _(student, reference):
    bits, ref = student["bits"], reference["bits"]
    expect_true(np.isfinite(bits), f"the RealNVP's test bits per dimension on MNIST is {bits}: "
                "training diverged or a log-density overflowed (compute the flow in float32, "
                "bound the log-scales)")
    expect_true(bits >= ref - TOO_GOOD,
                f"the RealNVP reaches {bits:.3f} bits per dimension on the MNIST test images, "
                f"far better than the reference's {ref:.3f} with the same training: too good "
                "to be true. Check the sign of each layer's log-determinant in forward.")
    expect_at_most(bits, ref + MARGIN,
                   f"the RealNVP's bits per dimension on the MNIST test images (the reference "
                   f"reaches {ref:.3f} with the same training: check the couplings' masks and "
                   "log-determinants, ActNorm and train_step)", unit=" bits")
    if not student["smoke"]:
        expect_at_most(bits, CEILING, "the RealNVP's bits per dimension on MNIST", unit=" bits")
