"""GPU checks of lab17_self_supervised (autograder/gpu.py): the student's SimCLR (its
train_step and nt_xent_loss) pretrained on the whole of MNIST with a convolutional encoder,
and judged by a linear probe of its frozen features on 1000 labels, against the reference's.

The augmenter is the checks' own: Keras's random translation, contrast and brightness layers
are tf.data layers that XLA does not compile, and what this check grades is the train_step
and the loss, at scale."""
import numpy as np

from autograder.checks.lab17_self_supervised.probes import sklearn_probe_accuracy
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least, expect_true

# 3 000 steps of 512 images (about 25 epochs of MNIST), two views each: the encoder below
# costs about 17 MFLOP per 28x28 view forward, so ~50 GFLOP a step with the backward pass,
# ~150 TFLOP in all: under a minute at 10 % of a T4, plus the compile and the probes.
STEPS, BATCH, LEARNING_RATE, TEMPERATURE = 3_000, 512, 1e-3, 0.5
LABELS = 1_000    # the probe's labelled training images (the first of MNIST's, ~100 a class)
MARGIN = 0.02     # probe accuracy within 2 points of the reference's
GAIN = 0.01       # and above a randomly initialised encoder's by a point (full budget only)


def shift_augmenter(max_shift=3, noise_std=0.1, seed=0):
    """Each image shifted by its own random offset of up to max_shift pixels (zero fill),
    its contrast scaled by a factor in [0.6, 1.4], Gaussian noise, clipped to [0, 1]; the
    identity at inference. Plain tensor ops, so XLA compiles it."""
    import keras
    from keras import ops

    class ShiftAugmenter(keras.layers.Layer):
        def __init__(self):
            super().__init__(name="shift_augmenter", dtype="float32")
            self.seeds = keras.random.SeedGenerator(seed)

        def _shifts(self, n, size):
            # (n, size, size) matrices that move rows by a random offset each, zero fill.
            offset = keras.random.randint((n, 1), -max_shift, max_shift + 1, seed=self.seeds)
            return ops.one_hot(ops.arange(size)[None, :] + offset, size, dtype="float32")

        def call(self, x, training=None):
            if not training:
                return x
            n, height, width = ops.shape(x)[0], x.shape[1], x.shape[2]
            x = ops.einsum("nij,njwc->niwc", self._shifts(n, height), x)
            x = ops.einsum("nkw,nhwc->nhkc", self._shifts(n, width), x)
            contrast = keras.random.uniform((n, 1, 1, 1), 0.6, 1.4, seed=self.seeds)
            x = x * contrast + noise_std * keras.random.normal(ops.shape(x), seed=self.seeds)
            return ops.clip(x, 0.0, 1.0)

    return ShiftAugmenter()


def mnist_encoder(width=32, feature_dim=128):
    """Three convolutions (width, 2 width and 4 width filters, the last two strided) and a
    dense layer."""
    import keras
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(width, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(2 * width, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2D(4 * width, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(feature_dim),
    ], name="encoder")


@gpu_check(points=3, minutes=1.5, datasets=("mnist",), uses="selfsup",
           task="`SimCLR.train_step`, `nt_xent_loss`",
           hint="SimCLR pretrained on MNIST: a linear probe of its frozen features must do as "
                "well as the reference's; check nt_xent_loss in float32 (mixed precision) and "
                "that train_step scales the loss and applies every trainable weight's gradient")
def simclr_on_mnist(lab, rng):
    """SimCLR (your train_step and nt_xent_loss, temperature 0.5) with a three-convolution
    encoder and the checks' shift-and-noise augmenter, 3000 steps of 512 MNIST images (mixed
    precision, XLA); a logistic-regression probe of the frozen features on 1000 labels: its
    test accuracy comes within 2 points of the reference's and beats a random encoder's."""
    import keras


    x, y = lab.gpu.images("mnist", "train", 60_000)
    x_test, y_test = lab.gpu.images("mnist", "test", 10_000)
    labelled = slice(0, lab.gpu.examples(LABELS))
    # float16 convolutions are slow on a CPU: the smoke test shrinks the encoder 8 times.
    width = 4 if lab.gpu.smoke else 32

    def probe(encoder):
        # Called eagerly in chunks: no predict function to trace for each encoder.
        features = [np.concatenate([np.asarray(encoder(images[i:i + 2048], training=False),
                                               "float32") for i in range(0, len(images), 2048)])
                    for images in (x[labelled], x_test)]
        return sklearn_probe_accuracy(features[0], y[labelled], features[1], y_test)

    # Seeded, not reset_keras: that would put back the float32 policy the worker replaced.
    keras.utils.set_random_seed(0)
    random_accuracy = probe(mnist_encoder(width))
    keras.utils.set_random_seed(0)
    model = lab.selfsup.SimCLR(mnist_encoder(width), shift_augmenter(), projection_dim=64,
                               hidden_units=256, temperature=TEMPERATURE)
    lab.gpu.compile(model, keras.optimizers.Adam(LEARNING_RATE))
    steps = lab.gpu.steps(STEPS)
    batch = min(BATCH, len(x))
    data = np.resize(np.arange(len(x)), steps * batch)   # whole epochs, then a part of one
    history = model.fit(x[data], batch_size=batch, epochs=1, shuffle=False, verbose=0)
    return {"random": random_accuracy, "pretrained": probe(model.encoder),
            "loss": float(history.history.get("loss", [np.nan])[-1]), "smoke": lab.gpu.smoke}


@simclr_on_mnist.verdict
def _(student, reference):
    expect_true(np.isfinite(student["loss"]), f"SimCLR's training loss on MNIST is "
                f"{student['loss']}: compute nt_xent_loss in float32 under mixed precision")
    expect_at_least(student["pretrained"], reference["pretrained"] - MARGIN,
                    "the linear-probe test accuracy of SimCLR's features on MNIST (the "
                    f"reference reaches {reference['pretrained']:.3f} with the same training; "
                    f"a random encoder {student['random']:.3f})")
    if not student["smoke"]:
        expect_at_least(student["pretrained"], student["random"] + GAIN,
                        "the linear-probe test accuracy of SimCLR's features on MNIST, against "
                        "a randomly initialised encoder's")
