"""GPU checks of lab12_gan (autograder/gpu.py), on the whole of MNIST, each against the
reference trained the same way: the student's DCGAN (their generator, discriminator, losses
and GAN.train_step), judged by a Fréchet distance on the features of a digit classifier and
by the digits it covers; and their conditional GAN, judged by how often that classifier
reads the digit asked for in its samples."""
import numpy as np

from autograder.check_helpers import frechet_distance
from autograder.checks.lab12_gan.probes import MODEL
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least, expect_at_most, expect_true

# Ten epochs of the 60 000 training digits in batches of 128: 4 690 GAN steps of the DCGAN
# (base_channels 64, latent 64), about 330 MFLOP per real image (G forward twice and back
# once, D forward and back three times), so 200 TFLOP: ~30 s at 10 % of a T4, as much again
# in latency-bound steps, plus the feature classifier (two epochs, 1 TFLOP) and compiles.
EPOCHS, BATCH, LATENT, CHANNELS = 10, 128, 64, 64
SAMPLES = 10_000     # generated digits, against the 10 000 test digits
FID_FACTOR = 1.5     # Fréchet distance at most 1.5 times the reference's (GANs vary by seed)
MIN_CLASSES = 9      # digits covered by at least 2 % of the samples (no mode collapse)
# The conditional GAN: conditional MLPs (hidden 512, depth 2) on flat digits, ten epochs in
# batches of 128, 4 690 steps of about 17 MFLOP per real image (10 TFLOP): latency-bound.
CGAN_HIDDEN = 512
PER_CLASS = 1_000    # samples asked for of each digit
HIT_MARGIN = 0.05    # share of samples read as the digit asked for, within 5 points
HIT_FLOOR = 0.7      # and at least 70 % (a generator that ignores the label: about 10 %)


def training_data(x, y, rng):
    import tensorflow as tf
    data = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    return data.shuffle(len(x), seed=int(rng.integers(1 << 30))).repeat().batch(BATCH)


def adam():
    """Adam as DCGAN trains it, wrapped for loss scaling as Keras wraps model.optimizer."""
    import keras

    from autograder.readiness import scaled_like_keras
    return scaled_like_keras(keras.optimizers.Adam(2e-4, beta_1=0.5))


@gpu_check(points=3, minutes=2.0, datasets=("mnist",), uses=MODEL,
           task="`make_dcgan_generator`, `make_dcgan_discriminator`, `GAN.train_step`",
           hint="a DCGAN on 28x28 MNIST: check training=True in both steps (batch "
                "normalisation), each step's own optimizer and scale_loss, and the "
                "non-saturating generator loss")
def dcgan_on_mnist(lab, rng):
    """The DCGAN of `make_dcgan_generator(64, (28, 28, 1), 64)` and
    `make_dcgan_discriminator((28, 28, 1), 64)` trained by `GAN` for ten epochs on MNIST
    (Adam 2e-4, β1 = 0.5, mixed precision, XLA): the Fréchet distance between 10 000 samples
    and the test digits, on a digit classifier's features, is at most 1.5 times the
    reference's, and at least 9 digits are each drawn by 2 % of the samples."""
    x, y = lab.gpu.images("mnist", "train", 60_000)
    x_test, _ = lab.gpu.images("mnist", "test", 10_000)
    classifier = lab.gpu.digit_classifier(x, y, epochs=2)   # first: the same weights for every student
    # Narrower under the smoke test, where a CPU runs these convolutions.
    channels = 8 if lab.gpu.smoke else CHANNELS
    networks = lab.gan_networks
    gan = lab.gan_model.GAN(networks.make_dcgan_generator(LATENT, (28, 28, 1), channels),
                            networks.make_dcgan_discriminator((28, 28, 1), channels),
                            latent_dim=LATENT, seed=int(rng.integers(1 << 30)))
    lab.gpu.compile(gan, None, d_optimizer=adam(), g_optimizer=adam())
    gan.fit(training_data(x, None, rng), steps_per_epoch=lab.gpu.steps(EPOCHS * len(x) // BATCH), epochs=1, verbose=0)
    z = rng.normal(size=(lab.gpu.examples(SAMPLES), LATENT)).astype("float32")
    fakes = np.asarray(gan.generator.predict(z, batch_size=1000, verbose=0), "float32")
    if not np.all(np.isfinite(fakes)):
        return {"finite": False, "smoke": lab.gpu.smoke}
    fake_features, fake_logits = classifier.predict(fakes, batch_size=1000, verbose=0)
    test_features, _ = classifier.predict(x_test, batch_size=1000, verbose=0)
    shares = np.bincount(np.argmax(fake_logits, -1), minlength=10) / len(fakes)
    return {"finite": True, "fid": frechet_distance(fake_features, test_features),
            "classes": int(np.sum(shares >= 0.02)), "smoke": lab.gpu.smoke}


@dcgan_on_mnist.verdict
def _(student, reference):
    expect_true(student["finite"], "the generator's samples are NaN or inf after training: the "
                "losses diverged (logits not cast with as_float32, or an unscaled loss?)")
    expect_at_most(student["fid"], FID_FACTOR * reference["fid"],
                   f"Fréchet distance of the samples to the MNIST test digits on a classifier's "
                   f"features (the reference reaches {reference['fid']:.2f} with the same "
                   f"training and covers {reference['classes']} digits; look at your samples for "
                   "blur, noise or the same few digits over and over)")
    if not student["smoke"]:
        expect_at_least(student["classes"], MIN_CLASSES,
                        "digits drawn by at least 2 % of the samples (fewer: mode collapse)")


@gpu_check(points=2, minutes=1.0, datasets=("mnist",), uses=MODEL,
           task="`make_conditional_mlp_*`, `ConditionalGAN`",
           hint="a conditional GAN on flat MNIST digits: D must see every real digit with its "
                "own label and the fakes with the labels they were drawn for, in both steps")
def conditional_gan_on_mnist(lab, rng):
    """A `ConditionalGAN` of `make_conditional_mlp_generator(64, 10, 784, 512)` and
    `make_conditional_mlp_discriminator(10, 784, 512)` trained for ten epochs on MNIST
    (Adam 2e-4, β1 = 0.5, mixed precision, XLA): a digit classifier reads the digit asked
    for in its samples (1 000 of each) within 5 points as often as in the reference's, and
    at least 70 % of the time."""
    x, y = lab.gpu.images("mnist", "train", 60_000)
    classifier = lab.gpu.digit_classifier(x, y, epochs=2)
    networks = lab.gan_networks
    gan = lab.gan_model.ConditionalGAN(
        networks.make_conditional_mlp_generator(LATENT, 10, 784, CGAN_HIDDEN),
        networks.make_conditional_mlp_discriminator(10, 784, CGAN_HIDDEN),
        latent_dim=LATENT, num_classes=10, seed=int(rng.integers(1 << 30)))
    lab.gpu.compile(gan, None, d_optimizer=adam(), g_optimizer=adam())
    gan.fit(training_data(x.reshape(len(x), -1), y, rng),
            steps_per_epoch=lab.gpu.steps(EPOCHS * len(x) // BATCH), epochs=1, verbose=0)
    asked = np.repeat(np.arange(10), lab.gpu.examples(10 * PER_CLASS) // 10).astype("int32")
    z = rng.normal(size=(len(asked), LATENT)).astype("float32")
    one_hot = np.eye(10, dtype="float32")[asked]
    fakes = np.asarray(gan.generator.predict([z, one_hot], batch_size=1000, verbose=0), "float32")
    if not np.all(np.isfinite(fakes)):
        return {"finite": False, "smoke": lab.gpu.smoke}
    _, logits = classifier.predict(fakes.reshape(-1, 28, 28, 1), batch_size=1000, verbose=0)
    return {"finite": True, "hits": float(np.mean(np.argmax(logits, -1) == asked)),
            "smoke": lab.gpu.smoke}


@conditional_gan_on_mnist.verdict
def _(student, reference):
    expect_true(student["finite"], "the conditional generator's samples are NaN or inf after "
                "training: the losses diverged")
    expect_at_least(student["hits"], reference["hits"] - HIT_MARGIN,
                    f"share of samples a digit classifier reads as the digit asked for (the "
                    f"reference's: {reference['hits']:.3f} with the same training; about 0.1 "
                    "when the generator ignores the label)")
    if not student["smoke"]:
        expect_at_least(student["hits"], HIT_FLOOR, "share of samples read as the digit asked for")
