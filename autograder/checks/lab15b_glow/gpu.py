"""GPU checks of lab15b_glow (autograder/gpu.py): the student's Glow on MNIST (28x28, 256
levels) instead of 8x8 digits, judged by its test bits per dimension; the student's
ReverseKLFlow with more layers and steps on the two-moons energy, judged by KL(q || p)."""
import numpy as np

from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_most, expect_true

# Glow on 28x28x1: 2 levels (14x14x4, then 7x7x8 after the split) of 8 steps with 128-channel
# conditioners: about 2 x 8 x 196 x (9 x 2 x 128 + 128 x 128 + 9 x 128 x 8) x 2 = 0.2 GFLOP
# forward per image, 0.6 per training image; 6 epochs in batches of 128 (2 800 steps):
# about 220 TFLOP, 1.5-2 min on a T4 in mixed precision.
EPOCHS, BATCH, STEPS, HIDDEN = 6, 128, 8, 128
MARGIN, TOO_GOOD, CEILING = 0.05, 0.2, 2.0


def dequantised(x, rng):
    pixels = np.round(x * 255.0)
    return ((pixels + rng.uniform(size=pixels.shape)) / 256.0).astype("float32")


@gpu_check(points=3, minutes=2, datasets=("mnist",), uses="glow",
           task="`Glow` (every layer, train_step)",
           hint="Glow((28, 28, 1), levels=2, steps=8, hidden_channels=128) on dequantised "
                "MNIST: check the log-determinants, ActNorm.initialize and the float32 casts")
def glow_on_mnist(lab, rng):
    """Glow (2 levels of 8 steps, 128-channel conditioners) trained for six epochs on
    dequantised MNIST (mixed precision, XLA): test bits per dimension within 0.05 of the
    reference's, and below 2 bits."""
    import keras
    import tensorflow as tf
    x, _ = lab.gpu.images("mnist", "train", 60_000)
    x_test, _ = lab.gpu.images("mnist", "test", 10_000)
    y, y_test = dequantised(x, rng), dequantised(x_test, rng)
    steps_per_level, hidden = (1, 8) if lab.gpu.smoke else (STEPS, HIDDEN)
    model = lab.glow.Glow((28, 28, 1), levels=2, steps=steps_per_level, hidden_channels=hidden)
    model.initialize(y[:512])
    steps = lab.gpu.steps(EPOCHS * len(y) // BATCH)
    lab.gpu.compile(model, keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3,
                                                                                        steps)))
    model.optimizer.build(model.trainable_variables)
    batch = min(BATCH, len(y))
    data = (tf.data.Dataset.from_tensor_slices(y).shuffle(len(y), seed=int(rng.integers(2**31)))
            .batch(batch, drop_remainder=True).repeat())
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    log_prob = np.asarray(model.predict(y_test, batch_size=500, verbose=0), dtype=np.float64)
    bits = float(np.mean(-log_prob / (784 * np.log(2.0)) + 8.0))
    return {"bits": bits, "smoke": lab.gpu.smoke}


@glow_on_mnist.verdict
def _(student, reference):
    bits, ref = student["bits"], reference["bits"]
    expect_true(np.isfinite(bits), f"Glow's test bits per dimension on MNIST is {bits}: "
                "training diverged or a log-density overflowed")
    expect_true(bits >= ref - TOO_GOOD, f"Glow reaches {bits:.3f} bits per dimension on "
                f"MNIST, far better than the reference's {ref:.3f}: too good to be true "
                "(a log-determinant's sign? the -log K term?)")
    expect_at_most(bits, ref + MARGIN, f"Glow's test bits per dimension on MNIST (the "
                   f"reference reaches {ref:.3f})", unit=" bits")
    if not student["smoke"]:
        expect_at_most(bits, CEILING, "Glow's bits per dimension on MNIST", unit=" bits")


@gpu_check(points=2, minutes=0.5, uses="iaf", task="`ReverseKLFlow`, `InverseAutoregressiveFlow`",
           hint="8 IAF layers of (128, 128) fitted to the two-moons energy for 5 000 steps")
def reverse_kl_two_moons_at_scale(lab, rng):
    """ReverseKLFlow (8 IAF layers, hidden (128, 128)) fitted to the two-moons energy for
    5 000 steps of 1 024 samples: KL(q || p), with log Z integrated on a grid, within 0.03
    nats of the reference's."""
    import keras
    layers, hidden = (2, (8,)) if lab.gpu.smoke else (8, (128, 128))
    model = lab.iaf.ReverseKLFlow("two_moons", num_layers=layers, hidden_units=hidden,
                                  seed=int(rng.integers(1000)))
    steps = lab.gpu.steps(5000)
    lab.gpu.compile(model, keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3,
                                                                                        steps)))
    model.optimizer.build(model.trainable_variables)
    model.fit(np.zeros((steps * 1024, 2), "float32"), batch_size=1024, verbose=0)
    ticks = np.linspace(-6, 6, 601)
    grid = np.stack(np.meshgrid(ticks, ticks), -1).reshape(-1, 2).astype("float32")
    log_z = float(np.log(np.sum(np.exp(np.asarray(lab.iaf.two_moons_log_density(grid),
                                                  dtype=np.float64))) * (ticks[1] - ticks[0]) ** 2))
    z = rng.normal(size=(20_000, 2)).astype("float32")
    loss = float(np.asarray(lab.iaf.reverse_kl_loss(model, model.log_target, z)))
    return {"kl": loss + log_z}


@reverse_kl_two_moons_at_scale.verdict
def _(student, reference):
    expect_true(np.isfinite(student["kl"]) and student["kl"] > -0.05,
                f"KL(q || p) of the fitted flow is {student['kl']}: q's density is wrong")
    expect_at_most(student["kl"], reference["kl"] + 0.03, f"KL(q || p) on the two-moons "
                   f"energy (the reference reaches {reference['kl']:.3f})", unit=" nats")
