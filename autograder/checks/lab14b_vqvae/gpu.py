"""GPU checks of lab14b_vqvae (autograder/gpu.py): the student's VQ-VAE on MNIST (28x28, a
7x7 grid of 64 codes) judged by its test reconstruction and code usage; the student's prior
on the checks' own 14x14 code grids of MNIST (2x2 patches thresholded into 4-bit codes),
judged by its held-out bits per code."""
import numpy as np

from autograder.checks.lab14b_vqvae.probes import (
    code_usage_perplexity,
    held_out_bits,
)
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least, expect_at_most, expect_true

# The VQ-VAE: two stride-2 stages (28 -> 7), 64 filters, 64 codes of 16, EMA decay 0.99.
# About 14 M multiply-adds per image forward (most in the last transposed convolution),
# 0.08 GFLOP per training image; 4 epochs in batches of 128 (1 875 steps): about 20 TFLOP,
# under a minute on a T4 in mixed precision.
VQ_EPOCHS, VQ_BATCH, NUM_CODES = 4, 128, 64
MSE_MARGIN, PERPLEXITY_SHARE = 0.004, 0.8
# The prior: 14x14 grids of 16 codes, 64 filters, 5 hidden layers: about 41 M multiply-adds
# per grid forward, 0.25 GFLOP per training grid; 3 epochs in batches of 128 (1 400 steps):
# about 45 TFLOP, about a minute.
PRIOR_EPOCHS, PRIOR_BATCH, PRIOR_LAYERS, PRIOR_FILTERS = 3, 128, 5, 64
BITS_MARGIN, LEAK_MARGIN = 0.05, 0.3


def mnist(lab):
    x, _ = lab.gpu.images("mnist", "train", 60_000)
    x_test, _ = lab.gpu.images("mnist", "test", 10_000)
    return x, x_test


@gpu_check(points=3, minutes=1, datasets=("mnist",), uses="vq",
           task="`VQVAE` (every part of `vq.py`)",
           hint="VQVAE((28, 28, 1), num_codes=64, code_dim=16, filters=64, downsamplings=2, "
                "ema_decay=0.99) on MNIST: check the straight-through gradient, the EMA step "
                "and the float32 casts")
def vqvae_on_mnist(lab, rng):
    """The VQ-VAE (a 7x7 grid of 64 codes of 16, EMA codebook) trained for four epochs on
    MNIST (mixed precision, XLA): test MSE within 0.004 of the reference's, and the
    perplexity of the test digits' codes at least 80 % of the reference's."""
    import keras
    import tensorflow as tf
    x, x_test = mnist(lab)
    filters, codes, dim = (8, 16, 4) if lab.gpu.smoke else (64, NUM_CODES, 16)
    model = lab.vq.VQVAE((28, 28, 1), num_codes=codes, code_dim=dim, filters=filters,
                         downsamplings=2, ema_decay=0.99)
    model.initialize(x[:512], seed=int(rng.integers(1000)))
    steps = lab.gpu.steps(VQ_EPOCHS * len(x) // VQ_BATCH)
    lab.gpu.compile(model, keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
        2e-3, steps)))
    model.optimizer.build(model.trainable_variables)
    batch = min(VQ_BATCH, len(x))
    data = (tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=int(rng.integers(2**31)))
            .batch(batch, drop_remainder=True).repeat())
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    reconstructions = lab.gpu.outputs(model, x_test).astype(np.float64)
    grid = np.concatenate([np.asarray(model.encode_codes(x_test[i:i + 500]))
                           for i in range(0, len(x_test), 500)])
    return {"mse": float(np.mean((reconstructions - x_test) ** 2)),
            "perplexity": code_usage_perplexity(grid, codes)}


@vqvae_on_mnist.verdict
def _(student, reference):
    mse, perplexity = student["mse"], student["perplexity"]
    expect_true(np.isfinite(mse), f"the VQ-VAE's test MSE on MNIST is {mse}: training diverged")
    expect_at_most(mse, reference["mse"] + MSE_MARGIN, "the VQ-VAE's test MSE on MNIST (the "
                   f"reference reaches {reference['mse']:.4f})")
    expect_at_least(perplexity, PERPLEXITY_SHARE * reference["perplexity"], "the perplexity "
                    "of the codes of the MNIST test digits (the reference's: "
                    f"{reference['perplexity']:.1f})")


@gpu_check(points=2, minutes=1, datasets=("mnist",), uses="prior",
           task="`CodePrior` (the masked convolutions, train_step)",
           hint="CodePrior(16, (14, 14), filters=64, num_layers=5) on MNIST's 14x14 code grids: "
                "check the masks (type A first) and the loss")
def code_prior_on_mnist(lab, rng):
    """The prior (64 filters, 5 hidden layers) trained for three epochs on the checks' own
    14x14 code grids of MNIST (each 2x2 patch thresholded into a 4-bit code; mixed
    precision, XLA): held-out bits per code within 0.05 of the reference's, and not 0.3
    below it."""
    import keras
    import tensorflow as tf
    x, x_test = mnist(lab)
    train, test = mnist_codes(x), mnist_codes(x_test)
    layers, filters = (1, 8) if lab.gpu.smoke else (PRIOR_LAYERS, PRIOR_FILTERS)
    model = lab.prior.CodePrior(16, (14, 14), embedding_dim=16, filters=filters,
                                num_layers=layers)
    steps = lab.gpu.steps(PRIOR_EPOCHS * len(train) // PRIOR_BATCH)
    lab.gpu.compile(model, keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
        2e-3, steps)))
    model.optimizer.build(model.trainable_variables)
    batch = min(PRIOR_BATCH, len(train))
    data = (tf.data.Dataset.from_tensor_slices(train)
            .shuffle(len(train), seed=int(rng.integers(2**31)))
            .batch(batch, drop_remainder=True).repeat())
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    return {"bits": held_out_bits(lab.gpu.outputs(model, test), test)}


def mnist_codes(images):
    """The checks' code grids of MNIST: each 2x2 patch, its pixels thresholded at 0.5, read
    as a 4-bit number. (N, 28, 28, 1) -> (N, 14, 14) int32."""
    n = len(images)
    blocks = np.asarray(images).reshape(n, 14, 2, 14, 2).transpose(0, 1, 3, 2, 4)
    bits = (blocks.reshape(n, 14, 14, 4) >= 0.5).astype(np.int64)
    return (bits @ np.array([8, 4, 2, 1])).astype("int32")


@code_prior_on_mnist.verdict
def _(student, reference):
    bits, ref = student["bits"], reference["bits"]
    expect_true(np.isfinite(bits), f"the prior's held-out bits per code on MNIST is {bits}")
    expect_true(bits >= ref - LEAK_MARGIN, f"the prior reaches {bits:.3f} bits per code on "
                f"MNIST's code grids, far better than the reference's {ref:.3f}: does a "
                "position see its own code?")
    expect_at_most(bits, ref + BITS_MARGIN, "the prior's held-out bits per code on MNIST's "
                   f"code grids (the reference reaches {ref:.3f})", unit=" bits")
