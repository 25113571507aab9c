"""GPU checks of lab24_information (autograder/gpu.py): the student's deep variational
information bottleneck at Alemi et al.'s MNIST scale, judged by test accuracy, and their
bits-back VAE on binarised MNIST, judged by the code length (bits per dimension) of its
negative ELBO and of the importance-weighted bound; each against the reference's."""
import numpy as np

from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least, expect_at_most

# VIB: a 784-1024-1024-(2 x 256) encoder and a linear decoder, 2.4 M weights, ~15 MFLOP per
# example for a training step; five epochs of 60 000 in batches of 100 (3 000 steps) are
# ~4.5 TFLOP: seconds at T4 speed, so the compile and the step dispatch dominate.
VIB_EPOCHS, VIB_BATCH = 5, 100
VIB_MARGIN = 0.01     # test accuracy within a point of the reference's
VIB_FLOOR = 0.96      # and a real classifier's (Alemi et al. reach 0.987 in 200 epochs)

# VAE: 784-512-(2 x 32) encoder and 32-512-784 decoder, 0.9 M weights, ~5.5 MFLOP per
# example; ten epochs of 60 000 in batches of 128 (4 690 steps) are ~3.3 TFLOP; the IWAE
# bound with K = 64 on 2 000 test images is another 0.5 TFLOP of forward passes.
VAE_EPOCHS, VAE_BATCH, LATENT, K = 10, 128, 32, 64
VAE_TEST = 2_000
VAE_MARGIN = 0.01     # bits/dim (5.4 nats per image) above the reference's at most
VAE_CEILING = 0.22    # and a VAE that models digits (120 nats; a factorised Bernoulli ~0.30)


def _fit(lab, model, x, y, epochs, batch, learning_rate):
    import keras
    lab.gpu.compile(model, keras.optimizers.Adam(learning_rate))
    steps = lab.gpu.steps(epochs * len(x) // batch)
    epochs = max(1, min(epochs, steps * batch // len(x)))
    model.fit(x, y, batch_size=batch, epochs=epochs, steps_per_epoch=max(1, steps // epochs),
              verbose=0)


@gpu_check(points=2, minutes=1.0, datasets=("mnist",), uses="variational",
           task="`gaussian_posterior`, `rate`, `vib_loss`, `VIBClassifier.train_step`",
           hint="the VIB on MNIST: check the posterior's scale (softplus), the rate "
                "(KL to the standard normal, per example) and that vib_loss adds beta times "
                "its mean to the cross-entropy")
def vib_on_mnist(lab, rng):
    """`VIBClassifier(784, 10, latent_dim=256, hidden_units=(1024, 1024), beta=1e-3)` (Alemi
    et al.'s MNIST model) trained for five epochs (mixed precision, XLA): its test accuracy
    comes within 1 point of the reference's, above 96 %."""
    x, y = lab.gpu.images("mnist", "train", 60_000)
    x_test, y_test = lab.gpu.images("mnist", "test", 10_000)
    model = lab.variational.VIBClassifier(784, 10, latent_dim=256, hidden_units=(1024, 1024),
                                         beta=1e-3, seed=0)
    _fit(lab, model, x.reshape(len(x), -1), y, VIB_EPOCHS, VIB_BATCH, 1e-3)
    logits = np.asarray(model.predict(x_test.reshape(len(x_test), -1), batch_size=1_000,
                                      verbose=0), "float32")
    return {"accuracy": float(np.mean(logits.argmax(axis=1) == y_test)),
            "smoke": lab.gpu.smoke}


@vib_on_mnist.verdict
def _(student, reference):
    expect_at_least(student["accuracy"], reference["accuracy"] - VIB_MARGIN,
                    f"the VIB's test accuracy on MNIST (the reference reaches "
                    f"{reference['accuracy']:.3f} with the same training)")
    if not student["smoke"]:
        expect_at_least(student["accuracy"], VIB_FLOOR, "the VIB's test accuracy on MNIST")


@gpu_check(points=3, minutes=1.5, datasets=("mnist",), uses="variational",
           task="`BitsBackVAE` (`elbo_terms`, `train_step`, `importance_log_weights`), "
                "`iwae_bound`, `bits_per_dim`",
           hint="the bits-back VAE on binarised MNIST: check the rate and distortion of "
                "elbo_terms, the importance weights log p(x|z) + log p(z) - log q(z|x), and "
                "iwae_bound's log-mean-exp over the K axis")
def bits_back_vae_on_mnist(lab, rng):
    """`BitsBackVAE(784, latent_dim=32, hidden_units=(512,))` trained for ten epochs on MNIST
    binarised at 0.5 (mixed precision, XLA): on 2 000 test images, the code length of its
    negative ELBO and of the IWAE bound (K = 64, `iwae_bound`, `bits_per_dim`) each stay
    within 0.01 bits/dim of the reference's, the bound below the ELBO's, under 0.22."""
    bn = lab.variational
    x, _ = lab.gpu.images("mnist", "train", 60_000)
    x_test, _ = lab.gpu.images("mnist", "test", VAE_TEST)
    x = (x.reshape(len(x), -1) > 0.5).astype("float32")
    x_test = (x_test.reshape(len(x_test), -1) > 0.5).astype("float32")
    model = bn.BitsBackVAE(784, latent_dim=LATENT, hidden_units=(512,), seed=0)
    _fit(lab, model, x, None, VAE_EPOCHS, VAE_BATCH, 1e-3)
    elbo, iwae = [], []
    for i in range(0, len(x_test), 500):
        batch = x_test[i:i + 500]
        rates, distortion = model.elbo_terms(batch)
        elbo.append(np.asarray(rates, np.float64) + np.asarray(distortion, np.float64))
        iwae.append(-np.asarray(bn.iwae_bound(model.importance_log_weights(batch, K)),
                                np.float64))
    return {"elbo_bits": float(bn.bits_per_dim(float(np.mean(np.concatenate(elbo))), 784)),
            "iwae_bits": float(bn.bits_per_dim(float(np.mean(np.concatenate(iwae))), 784)),
            "smoke": lab.gpu.smoke}


@bits_back_vae_on_mnist.verdict
def _(student, reference):
    for key, what in (("elbo_bits", "negative ELBO"), ("iwae_bits", f"IWAE bound (K={K})")):
        expect_at_most(student[key], reference[key] + VAE_MARGIN,
                       f"the VAE's {what} on binarised MNIST test images, in bits/dim (the "
                       f"reference reaches {reference[key]:.4f} with the same training)")
    if not student["smoke"]:
        expect_at_most(student["iwae_bits"], student["elbo_bits"],
                       "the IWAE bound in bits/dim, against the negative ELBO's (K samples "
                       "can only tighten the bound: look at the importance weights)")
        expect_at_most(student["iwae_bits"], VAE_CEILING,
                       "the VAE's IWAE bound on binarised MNIST, in bits/dim")
