"""GPU checks of lab10_autoencoders (autograder/gpu.py), each against the reference trained
the same way: the student's ConvAutoencoder, wrapped in their DenoisingAutoencoder, trained
on the whole of MNIST and judged by how well it cleans noisy test digits; and their
DenseAutoencoder trained on the whole of Fashion-MNIST, judged by its test MSE against the
reference's and PCA's with the same code size."""
import numpy as np

from autograder.checks.lab10_autoencoders.probes import MODELS, mse, pca_test_mse, training_data
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_most, expect_true

# Five epochs of the 60 000 training images in batches of 128: 2 340 Adam steps of a
# ConvAutoencoder((28, 28, 1), code 32, filters (32, 64)), about 30 MFLOP per image forward
# and back, so 9 TFLOP: a few seconds of compute, latency-bound steps and the XLA compile.
EPOCHS, BATCH, CODE, FILTERS = 5, 128, 32, (32, 64)
NOISE = 0.5        # strong noise: half the background pixels light up
MSE_FACTOR = 1.15  # denoised test MSE at most 15 % above the reference's
FLOOR = 0.3        # and under 30 % of the noisy digits' own MSE (the reference: about 15 %)
# DenseAutoencoder(784, 16, (512, 256)) on Fashion-MNIST: ten epochs in batches of 128,
# 4 690 Adam steps of about 6.5 MFLOP per image forward and back (4 TFLOP), latency-bound;
# PCA by scikit-learn on the CPU meanwhile takes a few seconds.
DENSE_EPOCHS, DENSE_CODE, DENSE_HIDDEN = 10, 16, (512, 256)
DENSE_MSE_FACTOR = 1.1   # test MSE at most 10 % above the reference's


@gpu_check(points=3, minutes=1.0, datasets=("mnist",), uses=MODELS,
           task="`ConvAutoencoder`, `DenoisingAutoencoder.train_step`",
           hint="a ConvAutoencoder on 28x28 MNIST inside your DenoisingAutoencoder: check the "
                "decoder's sigmoid output, that the loss compares with the CLEAN x, and the "
                "scale_loss in train_step (mixed precision)")
def conv_denoiser_on_mnist(lab, rng):
    """`DenoisingAutoencoder(ConvAutoencoder((28, 28, 1), 32, filters=(32, 64)), σ = 0.5)`
    trained for five epochs on MNIST (mixed precision, XLA): the MSE of its denoised noisy
    test digits against the clean ones is within 15 % of the reference's, and under 30 % of
    the noisy digits' MSE."""
    import keras
    x, _ = lab.gpu.images("mnist", "train", 60_000)
    x_test, _ = lab.gpu.images("mnist", "test", 10_000)
    autoencoder = lab.autoencoders.ConvAutoencoder((28, 28, 1), code_dim=CODE, filters=FILTERS)
    model = lab.autoencoders.DenoisingAutoencoder(autoencoder, noise_stddev=NOISE)
    lab.gpu.compile(model, keras.optimizers.Adam(1e-3))
    steps = lab.gpu.steps(EPOCHS * len(x) // BATCH)
    model.fit(training_data(x, int(rng.integers(1 << 30)), BATCH, paired=False),
              steps_per_epoch=steps, epochs=1, verbose=0)
    # Fixed test noise, the same for the student and the reference.
    noisy = np.clip(x_test + NOISE * rng.normal(size=x_test.shape), 0, 1).astype("float32")
    denoised = np.asarray(model.predict(noisy, batch_size=1000, verbose=0), "float32")
    return {"denoised": mse(denoised, x_test), "noisy": mse(noisy, x_test),
            "smoke": lab.gpu.smoke}


@conv_denoiser_on_mnist.verdict
def _(student, reference):
    denoised = student["denoised"]
    expect_true(np.isfinite(denoised), f"the denoised test MSE is {denoised}: the outputs are "
                "NaN or inf (a loss not cast to float32, or an unscaled loss under mixed precision?)")
    expect_at_most(denoised, MSE_FACTOR * reference["denoised"],
                   f"MSE of the denoised noisy MNIST test digits against the clean ones (the "
                   f"reference reaches {reference['denoised']:.4f} with the same training; the "
                   f"noisy digits are at {student['noisy']:.4f})")
    if not student["smoke"]:
        expect_at_most(denoised, FLOOR * student["noisy"],
                       "denoised test MSE, against 30 % of the noisy digits' MSE")


@gpu_check(points=2, minutes=1.0, datasets=("fashion_mnist",), uses=MODELS,
           task="`DenseAutoencoder`",
           hint="a DenseAutoencoder(784, 16, (512, 256)) on Fashion-MNIST: check the linear "
                "code layer, the mirrored decoder and its sigmoid output")
def dense_autoencoder_on_fashion_mnist(lab, rng):
    """`DenseAutoencoder(784, 16, hidden_units=(512, 256))` trained with `compile(loss="mse")`
    for ten epochs on Fashion-MNIST (mixed precision, XLA): its test MSE per pixel is within
    10 % of the reference's, and below PCA's with 16 components."""
    import keras
    x, _ = lab.gpu.images("fashion_mnist", "train", 60_000)
    x_test, _ = lab.gpu.images("fashion_mnist", "test", 10_000)
    x, x_test = x.reshape(len(x), -1), x_test.reshape(len(x_test), -1)
    model = lab.autoencoders.DenseAutoencoder(784, DENSE_CODE, hidden_units=DENSE_HIDDEN)
    lab.gpu.compile(model, keras.optimizers.Adam(1e-3), loss="mse")
    model.fit(training_data(x, int(rng.integers(1 << 30)), BATCH), epochs=1, verbose=0,
              steps_per_epoch=lab.gpu.steps(DENSE_EPOCHS * len(x) // BATCH))
    x_hat = np.asarray(model.predict(x_test, batch_size=1000, verbose=0), "float32")
    return {"mse": mse(x_hat, x_test), "pca": pca_test_mse(x, x_test, DENSE_CODE),
            "smoke": lab.gpu.smoke}


@dense_autoencoder_on_fashion_mnist.verdict
def _(student, reference):
    expect_at_most(student["mse"], DENSE_MSE_FACTOR * reference["mse"],
                   f"test MSE per pixel on Fashion-MNIST (the reference reaches "
                   f"{reference['mse']:.4f} with the same training; PCA with {DENSE_CODE} "
                   f"components {student['pca']:.4f})")
    if not student["smoke"]:
        expect_at_most(student["mse"], student["pca"],
                       f"test MSE per pixel, against PCA's with {DENSE_CODE} components")
