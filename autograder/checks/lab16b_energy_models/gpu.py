"""GPU checks of lab16b_energy_models (autograder/gpu.py): the student's RBM trained by CD-1
on the whole of binarised MNIST, judged by its exact test log-likelihood (log Z summed over
every hidden configuration, on the device); the student's EBM at a larger scale (a wider
network, longer chains, more steps) on the two moons, judged by the held-out
log-likelihood of exp(-E) normalised on a grid."""
import numpy as np

from autograder.checks.lab16b_energy_models.probes import (
    EBM,
    RBM,
    gaussian_log_likelihood,
    grid_log_likelihood,
)
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least, expect_true

# RBM: 784 visible and 20 hidden units, CD-1, five epochs in batches of 128 (2 340 steps of
# a few 128 x 784 x 20 products: seconds on a T4); log Z sums 2^20 hidden vectors, 16 chunks
# of 65 536 x 784 softplus terms (about 0.8 G, under a second). Compile and data: 20 s.
# No MNIST here to measure the spread on: the same RBM and budget on the 8x8 digits resized
# to 28x28 (1 500 images, 2 000 steps) ended 5 to 6 nats apart over three seeds, with and
# without a cosine decay, so 8 nats are allowed; and it must beat independent pixels.
RBM_HIDDEN, RBM_EPOCHS, RBM_BATCH, RBM_MARGIN = 20, 5, 128, 8.0
# EBM: a 128-128 swish MLP, 20 Langevin steps per training step, 3 000 steps of 256 points:
# 21 forward and backward passes of 256 x (2 x 128 + 128 x 128 + 128) per step, about 0.2
# GFLOP, 10-20 s on a T4 in XLA; the grid (161 x 161) costs nothing.
EBM_SETUP = {"data": "moons", "hidden_units": (128, 128), "langevin_steps": 20,
             "step_size": 0.05, "alpha": 0.1, "learning_rate": 3e-3, "batch_size": 256,
             "steps": 3000}
# Run on a CPU at full scale (float32, no XLA), the reference's held-out log-likelihood ranged
# over -2.388 to -2.264 nats over six seeds (0.12 apart): 0.25 allowed.
EBM_MARGIN = 0.25


def exact_log_likelihood_on_device(model, v, chunk=65536):
    """The mean exact log-likelihood of rows v under the RBM's weights, with TensorFlow on
    the device: log Z over every hidden vector in chunks, the free energy in closed form."""
    import tensorflow as tf
    W = tf.cast(model.kernel, tf.float32)
    b, c = tf.cast(model.visible_bias, tf.float32), tf.cast(model.hidden_bias, tf.float32)
    hidden = int(W.shape[1])
    codes = tf.range(2 ** hidden)
    bits = 2 ** tf.range(hidden - 1, -1, -1)
    parts = []
    for start in range(0, 2 ** hidden, chunk):
        h = tf.cast(tf.bitwise.bitwise_and(codes[start:start + chunk, None], bits) > 0,
                    tf.float32)
        parts.append(tf.linalg.matvec(h, c) + tf.reduce_sum(
            tf.math.softplus(tf.matmul(h, W, transpose_b=True) + b), axis=1))
    log_z = float(tf.reduce_logsumexp(tf.concat(parts, 0)))
    v = tf.constant(v, tf.float32)
    free = -tf.linalg.matvec(v, b) - tf.reduce_sum(tf.math.softplus(tf.matmul(v, W) + c), 1)
    return float(tf.reduce_mean(-free)) - log_z


@gpu_check(points=2, minutes=0.5, datasets=("mnist",), uses=RBM,
           task="`RBM` (every method, train_step)",
           hint="RBM(784, 20) trained by CD-1 on binarised MNIST: check the conditionals, the "
                "free energy and train_step's negative phase")
def rbm_on_mnist(lab, rng):
    """An RBM with 20 hidden units trained by CD-1 for five epochs on binarised MNIST (mixed
    precision, XLA): the exact test log-likelihood (log Z summed over all 2^20 hidden
    vectors) within 8 nats of the reference's and above independent pixels'."""
    import keras
    import tensorflow as tf
    x, _ = lab.gpu.images("mnist", "train", 60_000)
    x_test, _ = lab.gpu.images("mnist", "test", 10_000)
    v, v_test = ((a.reshape(len(a), -1) >= 0.5).astype("float32") for a in (x, x_test))
    hidden = 4 if lab.gpu.smoke else RBM_HIDDEN
    model = lab.rbm.RBM(784, hidden, k=1, seed=int(rng.integers(1000)))
    steps = lab.gpu.steps(RBM_EPOCHS * len(v) // RBM_BATCH)
    lab.gpu.compile(model, keras.optimizers.SGD(0.05, momentum=0.9))
    batch = min(RBM_BATCH, len(v))
    data = (tf.data.Dataset.from_tensor_slices(v).shuffle(len(v), seed=int(rng.integers(2**31)))
            .batch(batch, drop_remainder=True).repeat())
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    p = (v.sum(0) + 1.0) / (len(v) + 2.0)
    return {"log_likelihood": exact_log_likelihood_on_device(model, v_test),
            "baseline": float(np.mean(v_test @ np.log(p) + (1 - v_test) @ np.log(1 - p))),
            "smoke": lab.gpu.smoke}


@rbm_on_mnist.verdict
def _(student, reference):
    reached, ref = student["log_likelihood"], reference["log_likelihood"]
    expect_true(np.isfinite(reached), f"the RBM's test log-likelihood on MNIST is {reached}: "
                "training diverged")
    if not student["smoke"]:
        expect_true(reached > student["baseline"], f"the RBM's test log-likelihood on MNIST is "
                    f"{reached:.2f} nats, no better than independent pixels' "
                    f"({student['baseline']:.2f}): it did not learn")
    expect_at_least(reached, ref - RBM_MARGIN, f"the RBM's exact test log-likelihood on MNIST "
                    f"(the reference reaches {ref:.2f})", unit=" nats")


@gpu_check(points=2, minutes=0.5, uses=EBM, task="`EBM` (Langevin, the loss, train_step)",
           hint="EBM((128, 128), 20 Langevin steps) trained for 3 000 steps on the two moons")
def ebm_at_scale(lab, rng):
    """An EBM (128-128 MLP, 20 Langevin steps of 0.05) trained for 3 000 steps of 256 points
    on the two moons (mixed precision, XLA): the held-out log-likelihood, exp(-E) normalised
    on a grid, within 0.25 nats of the reference's and above a Gaussian's."""
    import keras

    from dlkit.data import sample_toy2d
    setup = EBM_SETUP
    train = sample_toy2d(setup["data"], 20_000, seed=1)
    test = sample_toy2d(setup["data"], 2_000, seed=2)
    hidden = (8,) if lab.gpu.smoke else setup["hidden_units"]
    model = lab.ebm.EBM(hidden, langevin_steps=2 if lab.gpu.smoke else setup["langevin_steps"],
                        step_size=setup["step_size"], alpha=setup["alpha"],
                        seed=int(rng.integers(1000)))
    steps = lab.gpu.steps(setup["steps"])
    lab.gpu.compile(model, keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
        setup["learning_rate"], steps)))
    batches = train[rng.integers(0, len(train), size=steps * setup["batch_size"])]
    model.fit(batches, batch_size=setup["batch_size"], shuffle=False, verbose=0)
    return {"log_likelihood": grid_log_likelihood(model.energy, test),
            "baseline": gaussian_log_likelihood(train, test), "smoke": lab.gpu.smoke}


@ebm_at_scale.verdict
def _(student, reference):
    reached, ref = student["log_likelihood"], reference["log_likelihood"]
    expect_true(np.isfinite(reached), f"the EBM's held-out log-likelihood is {reached}: "
                "training diverged")
    if not student["smoke"]:
        expect_true(reached > student["baseline"], f"the EBM's held-out log-likelihood on the "
                    f"moons is {reached:.3f}, no better than one Gaussian's "
                    f"({student['baseline']:.3f})")
    expect_at_least(reached, ref - EBM_MARGIN, f"the EBM's held-out log-likelihood on the moons "
                    f"(the reference reaches {ref:.3f})", unit=" nats")
