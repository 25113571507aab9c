"""GPU checks of lab13_wgan (autograder/gpu.py): the student's WGAN-GP (their WGAN.train_step,
Wasserstein losses, random interpolates and gradient penalty) training a convolutional
generator and critic on the whole of MNIST, judged by the sliced Wasserstein distance of its
samples to the test digits against the reference's."""
import numpy as np

from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_most, expect_true

MODULES = ("wgan_losses", "wgan_model")
# 3 000 generator steps of batch 64, each after 5 critic steps with the gradient penalty:
# with the convolutional networks below (G ~54, critic ~13 MFLOP per image forward), about
# 1.35 GFLOP per real image and step (the penalty's double backpropagation included), so
# 260 TFLOP: ~40 s at 10 % of a T4, plus 18 000 latency-bound updates and the XLA compile
# of the nested tapes.
STEPS, BATCH, LATENT, CHANNELS, N_CRITIC = 3_000, 64, 64, 64, 5
SAMPLES, DIRECTIONS = 10_000, 128
SW_FACTOR = 1.5   # sliced W1 at most 1.5 times the reference's (the game swings by seed)
PROGRESS = 0.5    # and at most half of the untrained generator's


def networks(channels):
    """The check's own DCGAN-style generator (sigmoid pixels) and critic (no batch
    normalisation, which the penalty forbids), for (28, 28, 1) images."""
    import keras
    from keras import layers
    z = keras.Input((LATENT,))
    h = layers.Dense(7 * 7 * 2 * channels)(z)
    h = layers.Reshape((7, 7, 2 * channels))(layers.ReLU()(layers.BatchNormalization()(h)))
    h = layers.Conv2DTranspose(channels, 4, strides=2, padding="same")(h)
    h = layers.ReLU()(layers.BatchNormalization()(h))
    images = layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="sigmoid")(h)
    x = keras.Input((28, 28, 1))
    h = layers.LeakyReLU(0.2)(layers.Conv2D(channels, 4, strides=2, padding="same")(x))
    h = layers.LeakyReLU(0.2)(layers.Conv2D(2 * channels, 4, strides=2, padding="same")(h))
    return (keras.Model(z, images, name="generator"),
            keras.Model(x, layers.Dense(1)(layers.Flatten()(h)), name="critic"))


def sliced_w1(a, b, directions):
    """Mean over the unit `directions` (D, M) of the exact 1-D W1 between equal-size samples."""
    n = min(len(a), len(b))
    a, b = (np.sort(np.asarray(s[:n], np.float64).reshape(n, -1) @ directions, axis=0)
            for s in (a, b))
    return float(np.mean(np.abs(a - b)))


@gpu_check(points=3, minutes=3.0, datasets=("mnist",), uses=MODULES,
           task="`WGAN.train_step`, `gradient_penalty`, `random_interpolates`",
           hint="WGAN-GP on 28x28 images: one alpha per image shaped (N, 1, 1, 1), the "
                "penalty's norm over all axes but the batch axis, in float32, and each "
                "optimizer's own scale_loss")
def wgan_gp_on_mnist(lab, rng):
    """`WGAN(n_critic=5, gp_weight=10)` training the check's convolutional generator and
    critic for 3 000 generator steps of 64 MNIST digits (Adam 2e-4, β = (0.5, 0.9), mixed
    precision, XLA): the sliced W1 between 10 000 samples and the test digits (128 fixed
    directions in pixel space) is at most 1.5 times the reference's, and at most half the
    untrained generator's."""
    import keras
    import tensorflow as tf

    from autograder.readiness import scaled_like_keras
    x, _ = lab.gpu.images("mnist", "train", 60_000)
    x_test, _ = lab.gpu.images("mnist", "test", SAMPLES)
    # Narrower under the smoke test, where a CPU runs these convolutions.
    generator, critic = networks(8 if lab.gpu.smoke else CHANNELS)
    wgan = lab.wgan_model.WGAN(generator, critic, latent_dim=LATENT, n_critic=N_CRITIC,
                               gp_weight=10.0, seed=int(rng.integers(1 << 30)))

    def adam():
        return scaled_like_keras(keras.optimizers.Adam(2e-4, beta_1=0.5, beta_2=0.9))
    lab.gpu.compile(wgan, None, critic_optimizer=adam(), generator_optimizer=adam())
    directions = rng.normal(size=(28 * 28, DIRECTIONS))
    directions /= np.linalg.norm(directions, axis=0)
    z = rng.normal(size=(lab.gpu.examples(SAMPLES), LATENT)).astype("float32")

    def distance():
        fakes = np.asarray(generator.predict(z, batch_size=1000, verbose=0), "float32")
        return sliced_w1(fakes, x_test, directions) if np.all(np.isfinite(fakes)) else float("inf")
    before = distance()
    data = (tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=int(rng.integers(1 << 30)))
            .repeat().batch(BATCH))
    wgan.fit(data, steps_per_epoch=lab.gpu.steps(STEPS), epochs=1, verbose=0)
    return {"before": before, "after": distance(), "smoke": lab.gpu.smoke}


@wgan_gp_on_mnist.verdict
def _(student, reference):
    after = student["after"]
    expect_true(np.isfinite(after), "the generator's samples are NaN or inf after training: the "
                "critic diverged (is the penalty weighted and computed in float32?)")
    expect_at_most(after, SW_FACTOR * reference["after"],
                   f"sliced W1 of the samples to the MNIST test digits (from {student['before']:.4f} "
                   f"untrained; the reference reaches {reference['after']:.4f} with the same "
                   "training)")
    if not student["smoke"]:
        expect_at_most(after, PROGRESS * student["before"],
                       "sliced W1 after training, against half the untrained generator's")
