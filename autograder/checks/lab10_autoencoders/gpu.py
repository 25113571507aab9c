"""GPU checks of lab10_autoencoders (autograder/gpu.py), each against the reference trained
the same way: the student's ConvAutoencoder, wrapped in their DenoisingAutoencoder, trained
on the whole of MNIST and judged by how well it cleans noisy test digits; and their
DenseAutoencoder trained on the whole of Fashion-MNIST, judged by its test MSE against the
reference's and PCA's with the same code size; their ContractiveAutoencoder on MNIST, judged by
its encoder's Jacobian norm; and their SparseAutoencoder trained on MNIST without one digit,
judged by its silent code units and how well its reconstruction error flags that digit."""
import numpy as np

from autograder.checks.lab10_autoencoders.probes import MODELS, mse, pca_test_mse, training_data
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least, expect_at_most, expect_true

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


# The regularised autoencoders of regularized.py at MNIST scale, on the checks' own stacks
# (784-256-64 and back, ELU layers). Contractive: five epochs in batches of 128 (2 340
# steps); each step takes the batch Jacobian (64 codes x 784 pixels) and its gradient, about
# 64 backward passes of the encoder, 2.6 GFLOP a batch, 6 TFLOP in all. Sparse: five epochs
# of the digits other than the unseen one (about 2 100 steps), then the AUROC of that digit.
REG_EPOCHS, REG_HIDDEN, REG_CODE = 5, 256, 64
CONTRACTION_WEIGHT, SPARSITY_WEIGHT, UNSEEN = 0.01, 1e-4, 2
JACOBIAN_FACTOR = 1.3     # the trained encoder's Jacobian norm, against the reference's
AUROC_MARGIN = 0.03       # the unseen digit's AUROC, against the reference's
SILENT_MARGIN = 0.1       # the share of silent code units, against the reference's


@gpu_check(points=2, minutes=1.0, datasets=("mnist",), uses="regularized",
           task="`ContractiveAutoencoder.train_step`, `contractive_penalty`",
           hint="a ContractiveAutoencoder on 784-pixel MNIST digits: the penalty from "
                "tape.batch_jacobian, its gradient taken under the outer tape, the loss scaled")
def contractive_autoencoder_on_mnist(lab, rng):
    """`ContractiveAutoencoder` (784-256-64 sigmoid code and back, weight 0.01) trained for five
    epochs on MNIST (mixed precision, XLA): the mean squared Frobenius norm of its encoder's
    Jacobian on test digits within 1.3 times the reference's, and its test MSE within 15 %."""
    import keras

    from autograder.checks.lab10_autoencoders.probes_regularized import (
        elu_sigmoid_jacobian_norms,
        stacks,
    )
    x, _ = lab.gpu.images("mnist", "train", 60_000)
    x_test, _ = lab.gpu.images("mnist", "test", 10_000)
    x, x_test = x.reshape(len(x), -1), x_test.reshape(len(x_test), -1)
    encoder, decoder = stacks(784, REG_CODE, REG_HIDDEN, "sigmoid")
    model = lab.regularized.ContractiveAutoencoder(encoder, decoder, CONTRACTION_WEIGHT)
    lab.gpu.compile(model, keras.optimizers.Adam(1e-3))
    model.fit(training_data(x, int(rng.integers(1 << 30)), BATCH, paired=False), epochs=1,
              steps_per_epoch=lab.gpu.steps(REG_EPOCHS * len(x) // BATCH), verbose=0)
    x_hat = lab.gpu.outputs(model, x_test)
    return {"mse": mse(x_hat, x_test),
            "jacobian": float(np.mean(elu_sigmoid_jacobian_norms(encoder, x_test[:1000])))}


@contractive_autoencoder_on_mnist.verdict
def _(student, reference):
    expect_true(np.isfinite(student["jacobian"]) and np.isfinite(student["mse"]),
                "the trained contractive autoencoder gives NaN or inf (an unscaled loss under "
                "mixed precision?)")
    expect_at_most(student["jacobian"], JACOBIAN_FACTOR * reference["jacobian"],
                   f"the encoder's mean squared Jacobian norm on MNIST test digits (the "
                   f"reference reaches {reference['jacobian']:.3f})")
    expect_at_most(student["mse"], MSE_FACTOR * reference["mse"],
                   f"test MSE per pixel on MNIST (the reference: {reference['mse']:.4f})")


@gpu_check(points=2, minutes=1.0, datasets=("mnist",), uses="regularized",
           task="`SparseAutoencoder`, anomaly detection",
           hint="a SparseAutoencoder on MNIST without the digit 2: the L1 penalty added in call "
                "must silence code units, and the unseen digit must stand out by its "
                "reconstruction error")
def sparse_autoencoder_flags_unseen_mnist_digit(lab, rng):
    """`SparseAutoencoder` (784-256-64 ReLU code and back, weight 1e-4) trained for five epochs
    on the MNIST digits other than 2 (mixed precision, XLA): the share of silent code units
    within 0.1 of the reference's, and the AUROC of the unseen 2s by reconstruction error
    (scikit-learn) within 0.03 of the reference's."""
    import keras
    from sklearn.metrics import roc_auc_score

    from autograder.checks.lab10_autoencoders.probes_regularized import silent_share, stacks
    x, y = lab.gpu.images("mnist", "train", 60_000)
    x_test, y_test = lab.gpu.images("mnist", "test", 10_000)
    x, x_test = x.reshape(len(x), -1)[y != UNSEEN], x_test.reshape(len(x_test), -1)
    encoder, decoder = stacks(784, REG_CODE, REG_HIDDEN, "relu")
    model = lab.regularized.SparseAutoencoder(encoder, decoder, SPARSITY_WEIGHT)
    lab.gpu.compile(model, keras.optimizers.Adam(1e-3), loss="mse")
    model.fit(training_data(x, int(rng.integers(1 << 30)), BATCH), epochs=1, verbose=0,
              steps_per_epoch=lab.gpu.steps(REG_EPOCHS * len(x) // BATCH))
    errors = np.mean((lab.gpu.outputs(model, x_test) - x_test) ** 2, axis=1)
    unseen = y_test == UNSEEN
    auroc = float(roc_auc_score(unseen, errors)) if 0 < unseen.sum() < len(unseen) else 0.5
    return {"auroc": auroc, "share": silent_share(lab.gpu.outputs(encoder, x_test))}


@sparse_autoencoder_flags_unseen_mnist_digit.verdict
def _(student, reference):
    expect_true(np.isfinite(student["auroc"]), "the AUROC is not finite")
    expect_at_least(student["share"], reference["share"] - SILENT_MARGIN,
                    f"the share of silent code units on MNIST test digits (the reference: "
                    f"{reference['share']:.2f})")
    expect_at_least(student["auroc"], reference["auroc"] - AUROC_MARGIN,
                    f"the AUROC of the unseen digit 2 by reconstruction error (the reference: "
                    f"{reference['auroc']:.3f})")
