"""GPU checks of lab11_vae (autograder/gpu.py): the student's VAE (their Encoder, Decoder,
loss_terms and train_step) trained on the whole of binarised MNIST, and judged against the
reference trained the same way by its held-out negative ELBO in nats, and by their
importance-weighted estimate of -log p(x) with 500 samples per digit."""
import numpy as np

from autograder.checks.lab11_vae.probes import measured_negative_elbo
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_most, expect_true

# Ten epochs of the 60 000 binarised training digits in batches of 128: 4 690 Adam steps of
# a 784-512-256-32 VAE (and its mirror), about 6.6 MFLOP per image forward and back, so
# 4 TFLOP: the steps are latency-bound (~2 ms each) and the XLA compile adds its share.
EPOCHS, BATCH, LATENT, HIDDEN = 10, 128, 32, (512, 256)
SAMPLES = 4          # noise draws per test digit for the measured negative ELBO
MARGIN_NATS = 2.0    # within 2 nats of the reference's (out of about 100)
FLOOR_NATS = 115.0   # an MLP VAE on binarised MNIST that trains at all ends below this
# The importance-weighted estimate: 500 samples for each of 5 000 test digits, 2.5 M decoder
# passes of 1.8 MFLOP (5 TFLOP) in chunks of 50 digits, after the same training as above.
IWAE_SAMPLES, IWAE_DIGITS, CHUNK = 500, 5_000, 50
IWAE_MARGIN_NATS = 2.0


def binarised(lab, split, count):
    x, _ = lab.gpu.images("mnist", split, count)
    return (x.reshape(len(x), -1) > 0.5).astype("float32")


def trained_vae(lab, rng):
    """The student's VAE trained for ten epochs on binarised MNIST, and the test digits."""
    import keras
    import tensorflow as tf
    x, x_test = binarised(lab, "train", 60_000), binarised(lab, "test", 10_000)
    model = lab.vae.VAE(input_dim=784, latent_dim=LATENT, hidden_units=HIDDEN)
    lab.gpu.compile(model, keras.optimizers.Adam(1e-3))
    data = (tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=int(rng.integers(1 << 30)))
            .repeat().batch(BATCH))
    model.fit(data, steps_per_epoch=lab.gpu.steps(EPOCHS * len(x) // BATCH), epochs=1, verbose=0)
    return model, x_test


@gpu_check(points=3, minutes=1.0, datasets=("mnist",), uses="vae",
           task="`Encoder`, `Decoder`, `VAE.loss_terms`, `VAE.train_step`",
           hint="a VAE(784, 32, (512, 256)) on binarised MNIST: check that both terms are "
                "summed over their dimensions and taken in float32, and that train_step "
                "scales the loss with self.optimizer.scale_loss")
def vae_on_binarized_mnist(lab, rng):
    """`VAE(784, latent_dim=32, hidden_units=(512, 256))` trained for ten epochs on binarised
    MNIST (mixed precision, XLA): its negative ELBO on the 10 000 test digits, measured in
    nats with TensorFlow Probability, is within 2 nats of the reference's, below 115."""
    model, x_test = trained_vae(lab, rng)
    epsilon = rng.normal(size=(SAMPLES, len(x_test), LATENT)).astype("float32")
    loss, reconstruction, kl = measured_negative_elbo(model.encoder, model.decoder, x_test,
                                                      epsilon)
    return {"loss": loss, "reconstruction": reconstruction, "kl": kl, "smoke": lab.gpu.smoke}


@vae_on_binarized_mnist.verdict
def _(student, reference):
    loss = student["loss"]
    expect_true(np.isfinite(loss), f"the held-out negative ELBO is {loss} nats: the training "
                "diverged (under mixed precision: a sum over 784 pixels taken in float16?)")
    split = (f"reconstruction {student['reconstruction']:.1f} + KL {student['kl']:.1f}; the "
             f"reference: {reference['loss']:.1f} = {reference['reconstruction']:.1f} + "
             f"{reference['kl']:.1f} with the same training")
    expect_at_most(loss, reference["loss"] + MARGIN_NATS,
                   f"negative ELBO on the binarised MNIST test digits ({split})", unit=" nats")
    if not student["smoke"]:
        expect_at_most(loss, FLOOR_NATS, "negative ELBO on binarised MNIST", unit=" nats")


@gpu_check(points=2, minutes=1.5, datasets=("mnist",), uses="vae",
           task="`VAE.log_likelihood_estimate`, `iwae_bound` (trained VAE)",
           hint="log w = log p(x|z) + log p(z) - log q(z|x) for each of the S samples, then a "
                "logsumexp over the samples minus log S (not a mean of the log-weights)")
def vae_log_likelihood_on_mnist(lab, rng):
    """The VAE of `vae_on_binarized_mnist`, trained the same way: its
    `log_likelihood_estimate` with S = 500 on 5 000 test digits bounds -log p(x) within 2
    nats of the reference's estimate, and is tighter than its one-sample ELBO (S = 1) by at
    least half the reference's gap."""
    model, x_test = trained_vae(lab, rng)
    x_test = x_test[:lab.gpu.examples(IWAE_DIGITS)]
    # Fewer samples under the smoke test, where a CPU decodes them.
    samples = 16 if lab.gpu.smoke else IWAE_SAMPLES
    seed = int(rng.integers(1 << 20))

    def estimate(num_samples):
        return -float(np.mean(np.concatenate([
            np.asarray(model.log_likelihood_estimate(x_test[i:i + CHUNK], num_samples=num_samples,
                                                     seed=seed + i), "float64")
            for i in range(0, len(x_test), CHUNK)])))
    return {"bound": estimate(samples), "elbo": estimate(1), "smoke": lab.gpu.smoke}


@vae_log_likelihood_on_mnist.verdict
def _(student, reference):
    bound, elbo = student["bound"], student["elbo"]
    expect_true(np.isfinite(bound), f"the importance-weighted estimate is {bound} nats: NaN or "
                "inf (exp of the log-weights overflowing? use tf.reduce_logsumexp)")
    expect_at_most(bound, reference["bound"] + IWAE_MARGIN_NATS,
                   f"-log p(x) bound with S = {IWAE_SAMPLES} on binarised MNIST test digits (the "
                   f"reference's: {reference['bound']:.2f} nats, {reference['elbo'] - reference['bound']:.2f} "
                   f"below its S = 1 estimate; yours is {elbo - bound:.2f} below)", unit=" nats")
    if not student["smoke"]:
        expect_true(elbo - bound >= 0.5 * (reference["elbo"] - reference["bound"]),
                    f"with S = {IWAE_SAMPLES} the bound ({bound:.2f} nats) is hardly tighter than "
                    f"with S = 1 ({elbo:.2f}): is iwae_bound a logsumexp over the samples?")
