"""GPU checks of lab13_wgan (autograder/gpu.py): the student's WGAN-GP (their WGAN.train_step,
Wasserstein losses, random interpolates and gradient penalty) training a convolutional
generator and critic on the whole of MNIST, judged by the sliced Wasserstein distance of its
samples to the test digits against the reference's; and a GAN whose critic is made of the
student's SpectralNormalization layers, judged by a Fréchet distance on a digit
classifier's features."""

import numpy as np

from autograder.check_helpers import frechet_distance
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


# The spectral-norm GAN: 3 000 steps of batch 64 with one critic step each (no penalty, so
# no double backpropagation): about 0.25 GFLOP per real image and step with the networks
# above, 50 TFLOP, ~10 s of compute at 10 % of a T4, plus 6 000 latency-bound updates, the
# feature classifier (one epoch, 0.5 TFLOP) and the XLA compiles.
SN_STEPS, FD_FACTOR = 3_000, 1.5
SN_MODULES = ("regularizers", "wgan_model", "wgan_losses", "fgan_losses")


def sn_critic(lab, channels):
    """The check's critic above with every Conv2D and Dense wrapped in the student's
    SpectralNormalization."""
    import keras
    from keras import layers
    wrap = lab.regularizers.SpectralNormalization
    x = keras.Input((28, 28, 1))
    h = layers.LeakyReLU(0.2)(wrap(layers.Conv2D(channels, 4, strides=2, padding="same"))(x))
    h = layers.LeakyReLU(0.2)(wrap(layers.Conv2D(2 * channels, 4, strides=2,
                                                 padding="same"))(h))
    return keras.Model(x, wrap(layers.Dense(1))(layers.Flatten()(h)), name="sn_critic")


@gpu_check(points=2, minutes=1.5, datasets=("mnist",), uses=SN_MODULES,
           task="`SpectralNormalization`",
           hint="spectral normalisation under mixed precision and XLA: the power iteration in "
                "float32 on the kernel reshaped to (kh * kw * c_in, K), u assigned only in "
                "training calls, and the layer computing with kernel / sigma")
def sn_gan_on_mnist(lab, rng):
    """A GAN whose convolutional critic has every layer wrapped in your
    `SpectralNormalization` (`WGAN(divergence="js", n_critic=1, gp_weight=0)`: the
    non-saturating loss, no penalty) trained for 3 000 steps of 64 MNIST digits (Adam 2e-4,
    β = (0.5, 0.999), mixed precision, XLA): the Fréchet distance of 10 000 samples to the
    test digits on a digit classifier's features (scipy) is at most 1.5 times the
    reference's."""
    import keras
    import tensorflow as tf

    from autograder.readiness import scaled_like_keras
    x, y = lab.gpu.images("mnist", "train", 60_000)
    x_test, _ = lab.gpu.images("mnist", "test", SAMPLES)
    # First: the same weights for every student.
    judge = lab.gpu.digit_classifier(x, y, epochs=1)
    features = keras.Model(judge.inputs, judge.outputs[0])
    channels = 8 if lab.gpu.smoke else CHANNELS
    generator, _ = networks(channels)
    gan = lab.wgan_model.WGAN(generator, sn_critic(lab, channels), latent_dim=LATENT,
                              n_critic=1, gp_weight=0.0, divergence="js",
                              seed=int(rng.integers(1 << 30)))

    def adam():
        return scaled_like_keras(keras.optimizers.Adam(2e-4, beta_1=0.5, beta_2=0.999))
    lab.gpu.compile(gan, None, critic_optimizer=adam(), generator_optimizer=adam())
    data = (tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=int(rng.integers(1 << 30)))
            .repeat().batch(BATCH))
    gan.fit(data, steps_per_epoch=lab.gpu.steps(SN_STEPS), epochs=1, verbose=0)
    z = rng.normal(size=(lab.gpu.examples(SAMPLES), LATENT)).astype("float32")
    fakes = np.asarray(generator.predict(z, batch_size=1000, verbose=0), "float32")
    if not np.all(np.isfinite(fakes)):
        return {"fd": float("inf")}
    return {"fd": frechet_distance(features.predict(fakes, batch_size=1000, verbose=0),
                                features.predict(x_test, batch_size=1000, verbose=0))}


@sn_gan_on_mnist.verdict
def _(student, reference):
    expect_true(np.isfinite(student["fd"]), "the generator's samples are NaN or inf after "
                "training with the spectrally normalised critic")
    expect_at_most(student["fd"], FD_FACTOR * reference["fd"],
                   "Fréchet distance of the samples to the MNIST test digits on a classifier's "
                   f"features (the reference reaches {reference['fd']:.2f} with the same "
                   "training)")
