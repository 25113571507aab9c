"""GPU checks of lab14_autoregressive (autograder/gpu.py): the student's PixelCNN, at the size
of the papers' small models, trained on the whole of binarised MNIST, and the student's
WaveNet as a character model of tiny_shakespeare with a 256-character receptive field; each
judged by its bits per dimension (per character) on the test split against the
reference's."""
import numpy as np

from autograder.checks.lab14_autoregressive.probes import PIXELCNN, WAVENET, bits_per_dim_np
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_most, expect_true

# A PixelCNN on 28x28 images: a 7x7 type-A convolution and 5 gated blocks of 64 filters,
# about 0.4 M multiply-adds per pixel, 0.63 GFLOP per image forward, 1.9 GFLOP per training
# image. Two epochs of the 60 000 training images in batches of 128 (936 Adam steps): about
# 230 TFLOP, some 40 s at 10 % of a T4's fp16 peak, plus the compile and the data.
EPOCHS, BATCH = 2, 128
FILTERS, BLOCKS = 64, 5
MARGIN = 0.01       # bits per dimension above the reference's (about 5 nats per image)
LEAK_MARGIN = 0.03  # this far BELOW the reference's is too good: a pixel sees itself
CEILING = 0.2       # a working PixelCNN on binarised MNIST (the papers report about 0.15)


def binarised_mnist(lab, split, count):
    x, _ = lab.gpu.images("mnist", split, count)
    return (x > 0.5).astype("float32")


def fit_steps(lab, model, x, steps, batch, seed):
    """fit() for exactly `steps` full batches of x, reshuffled every pass (seeded)."""
    import tensorflow as tf
    batch = min(batch, len(x))   # the smoke test has fewer examples than a batch
    data = (tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=seed)
            .batch(batch, drop_remainder=True).repeat())
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)


@gpu_check(points=3, minutes=1.5, datasets=("mnist",), uses=PIXELCNN,
           task="`MaskedConv2D`, `GatedBlock`, `PixelCNN`",
           hint="PixelCNN(image_shape=(28, 28, 1), filters=64, num_blocks=5, "
                "first_kernel_size=7) trained on binarised MNIST: check the masks (type A "
                "first, then B), the gate, and that call() uses every block")
def pixelcnn_on_mnist(lab, rng):
    """A 5-block, 64-filter PixelCNN (the student's classes, the given train_step) trained for
    two epochs on binarised MNIST (mixed precision, XLA): its bits per dimension on the 10 000
    test images (computed by the check from the logits) come within 0.01 bit of the
    reference's, and below 0.2 bit; more than 0.03 bit better than the reference means a
    pixel sees itself."""
    import keras
    x = binarised_mnist(lab, "train", 60_000)
    x_test = binarised_mnist(lab, "test", 10_000)
    # Under the smoke test float16 convolutions cost seconds per step on a CPU: narrower.
    filters, blocks = (8, 1) if lab.gpu.smoke else (FILTERS, BLOCKS)
    model = lab.pixelcnn.PixelCNN(image_shape=(28, 28, 1), filters=filters, num_blocks=blocks,
                                  first_kernel_size=7, kernel_size=3)
    lab.gpu.compile(model, keras.optimizers.Adam(1e-3))
    # The optimizer's slots made inside the first step would make TensorFlow trace it twice.
    model.optimizer.build(model.trainable_variables)
    fit_steps(lab, model, x, lab.gpu.steps(EPOCHS * len(x) // BATCH), BATCH,
              int(rng.integers(2**31)))
    logits = np.asarray(model.predict(x_test, batch_size=500, verbose=0), dtype="float32")
    return {"bits": bits_per_dim_np(logits, x_test), "smoke": lab.gpu.smoke}


@pixelcnn_on_mnist.verdict
def _(student, reference):
    bits, ref = student["bits"], reference["bits"]
    expect_true(np.isfinite(bits), f"the PixelCNN's test bits per dimension is {bits} after "
                "training on MNIST: training diverged (check the gate and the masked kernel)")
    expect_true(bits >= ref - LEAK_MARGIN,
                f"the PixelCNN reaches {bits:.4f} bits per dimension on the MNIST test images, "
                f"far better than the reference's {ref:.4f} with the same training: too good to "
                "be true. Does the first (type A) mask let the centre pixel through?")
    expect_at_most(bits, ref + MARGIN,
                   f"the PixelCNN's bits per dimension on the MNIST test images (the reference "
                   f"reaches {ref:.4f} with the same training: check the masks, the gate and "
                   "the residual blocks)",
                   unit=" bits")
    if not student["smoke"]:
        expect_at_most(bits, CEILING, "the PixelCNN's bits per dimension on binarised MNIST",
                       unit=" bits")


# A WaveNet of 14 gated blocks (dilations 1, 2, ..., 64, twice; 128 filters) over 65
# characters: about 1.2 M multiply-adds per character, 7 MFLOP per trained character. 3 000
# Adam steps on batches of 32 windows of 256 characters (about 25 passes over the 1 M
# characters): about 180 TFLOP, 30 s at 10 % of a T4's fp16 peak, plus the compile.
WINDOW, TEXT_BATCH, TEXT_STEPS, TEXT_FILTERS = 256, 32, 3_000, 128
DILATIONS = (1, 2, 4, 8, 16, 32, 64) * 2      # receptive field 256: the whole window
TEXT_MARGIN = 0.05       # bits per character above the reference's
TEXT_LEAK_MARGIN = 0.2   # this far below: a step sees the character it predicts
TEXT_CEILING = 2.5       # a unigram model scores about 4.1 bits per character


def windows(text, vocabulary):
    """text as non-overlapping windows of WINDOW character indices (unknown characters 0)."""
    index = {c: i for i, c in enumerate(vocabulary)}
    codes = np.array([index.get(c, 0) for c in text], dtype="int32")
    count = len(codes) // WINDOW
    return codes[:count * WINDOW].reshape(count, WINDOW)


def bits_per_character(logits, x):
    """-log2 p of each character under softmax(logits), averaged (float64)."""
    from scipy.special import log_softmax
    log_p = log_softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    return float(-np.mean(np.take_along_axis(log_p, x[..., None], axis=-1)) / np.log(2.0))


@gpu_check(points=3, minutes=1.5, datasets=("tiny_shakespeare",), uses=WAVENET,
           task="`CausalConv1D`, `WaveNet`",
           hint="WaveNet(levels=65 characters, filters=128, dilation_rates=(1, ..., 64) twice) "
                "trained on tiny_shakespeare: check the left padding and the dilation of "
                "CausalConv1D, and the one-step shift in logits_from_one_hot")
def wavenet_on_shakespeare(lab, rng):
    """A 14-block, 128-filter WaveNet (receptive field 256 characters; the student's layers,
    the given train_step) trained for 3 000 steps on tiny_shakespeare, one level per
    character (mixed precision, XLA): its bits per character on the test split come within
    0.05 bit of the reference's, and below 2.5 bits."""
    import keras
    import tensorflow as tf
    train = lab.gpu.text("tiny_shakespeare", "train")
    vocabulary = sorted(set(train))
    x, x_test = windows(train, vocabulary), windows(lab.gpu.text("tiny_shakespeare", "test"),
                                                    vocabulary)
    # Under the smoke test float16 convolutions, and tracing 14 blocks, cost seconds on a
    # CPU: narrower, and one stack of dilations.
    model = lab.wavenet.WaveNet(levels=len(vocabulary), kernel_size=2,
                                dilation_rates=DILATIONS[:7] if lab.gpu.smoke else DILATIONS,
                                filters=8 if lab.gpu.smoke else TEXT_FILTERS)
    lab.gpu.compile(model, keras.optimizers.Adam(1e-3))
    model.optimizer.build(model.trainable_variables)   # else the first step traces twice
    batch = min(TEXT_BATCH, len(x))
    data = (tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=int(rng.integers(2**31)))
            .batch(batch, drop_remainder=True).repeat())
    model.fit(data, epochs=1, steps_per_epoch=lab.gpu.steps(TEXT_STEPS), verbose=0)
    logits = model.predict(x_test, batch_size=64, verbose=0)
    return {"bits": bits_per_character(logits, x_test), "smoke": lab.gpu.smoke}


@wavenet_on_shakespeare.verdict
def _(student, reference):
    bits, ref = student["bits"], reference["bits"]
    expect_true(np.isfinite(bits), f"the WaveNet's test bits per character is {bits} after "
                "training on tiny_shakespeare: training diverged")
    expect_true(bits >= ref - TEXT_LEAK_MARGIN,
                f"the WaveNet reaches {bits:.3f} bits per character on the test text, far "
                f"better than the reference's {ref:.3f} with the same training: too good to be "
                "true. Do the logits at step t see character t (the one-step shift, the left "
                "padding)?")
    expect_at_most(bits, ref + TEXT_MARGIN,
                   f"the WaveNet's bits per character on tiny_shakespeare's test split (the "
                   f"reference reaches {ref:.3f} with the same training: check the dilations, "
                   "the gated blocks and the residual sums)", unit=" bits")
    if not student["smoke"]:
        expect_at_most(bits, TEXT_CEILING, "the WaveNet's bits per character on "
                       "tiny_shakespeare", unit=" bits")


# A class-conditional gated PixelCNN on 28x28 images: 5 gated layers of 64 filters (two 3x3
# masked convolutions of 128 outputs, the 1x1 link and projection: about 170 k multiply-adds
# per pixel and layer), 0.7 GMAC per image forward, about 4 GFLOP per training image. Two
# epochs of the 60 000 labelled training images in batches of 128: about 500 TFLOP, some 75 s
# at 10 % of a T4's fp16 peak, plus the compile and the data.
GATED_FILTERS, GATED_LAYERS = 64, 5
GATED_CEILING = 0.2


@gpu_check(points=3, minutes=1.5, datasets=("mnist",), uses=("likelihood", "pixelcnn",
                                                              "gated_pixelcnn"),
           task="`GatedLayer`, `GatedPixelCNN` (class-conditional)",
           hint="GatedPixelCNN(image_shape=(28, 28, 1), filters=64, num_layers=5, "
                "num_classes=10) trained on binarised MNIST with its labels: check the masks, "
                "the down-shifted link, the residual and the label's embeddings")
def conditional_pixelcnn_on_mnist(lab, rng):
    """A 5-layer, 64-filter class-conditional gated PixelCNN (the student's layers, the given
    train_step) trained for two epochs on binarised MNIST with its labels (mixed precision,
    XLA): its bits per dimension on the 10 000 labelled test images come within 0.01 bit of
    the reference's, and below 0.2 bit; more than 0.03 bit better means a pixel sees itself."""
    import keras
    import tensorflow as tf
    x, y = lab.gpu.images("mnist", "train", 60_000)
    x_test, y_test = lab.gpu.images("mnist", "test", 10_000)
    x, x_test = (x > 0.5).astype("float32"), (x_test > 0.5).astype("float32")
    filters, layers = (8, 1) if lab.gpu.smoke else (GATED_FILTERS, GATED_LAYERS)
    model = lab.gated_pixelcnn.GatedPixelCNN(image_shape=(28, 28, 1), filters=filters,
                                             num_layers=layers, num_classes=10)
    lab.gpu.compile(model, keras.optimizers.Adam(1e-3))
    model.optimizer.build(model.trainable_variables)   # else the first step traces twice
    batch = min(BATCH, len(x))
    data = (tf.data.Dataset.from_tensor_slices({"image": x, "label": y.astype("int32")})
            .shuffle(len(x), seed=int(rng.integers(2**31)))
            .batch(batch, drop_remainder=True).repeat())
    model.fit(data, epochs=1, steps_per_epoch=lab.gpu.steps(EPOCHS * len(x) // BATCH),
              verbose=0)
    logits = model.predict({"image": x_test, "label": y_test.astype("int32")}, batch_size=500,
                           verbose=0)
    return {"bits": bits_per_dim_np(np.asarray(logits, dtype="float32"), x_test),
            "smoke": lab.gpu.smoke}


@conditional_pixelcnn_on_mnist.verdict
def _(student, reference):
    bits, ref = student["bits"], reference["bits"]
    expect_true(np.isfinite(bits), f"the conditional PixelCNN's test bits per dimension is "
                f"{bits} after training on MNIST: training diverged")
    expect_true(bits >= ref - LEAK_MARGIN,
                f"the conditional PixelCNN reaches {bits:.4f} bits per dimension on the MNIST "
                f"test images, far better than the reference's {ref:.4f}: too good to be true. "
                "Does a pixel see itself (the first horizontal mask, the down-shift)?")
    expect_at_most(bits, ref + MARGIN, f"the conditional PixelCNN's bits per dimension on the "
                   f"MNIST test images (the reference reaches {ref:.4f} with the same training)",
                   unit=" bits")
    if not student["smoke"]:
        expect_at_most(bits, GATED_CEILING, "the conditional PixelCNN's bits per dimension on "
                       "binarised MNIST", unit=" bits")


# NADE with 500 hidden units on the 784 pixels: the running sum is a (batch, 784, 500)
# tensor, about 2.4 MFLOP per image forward: cheap, memory-bound. 20 epochs of 60 000 images
# in batches of 100 (12 000 Adam steps) move some 0.6 GB a step: about 25 s on a T4.
NADE_HIDDEN, NADE_EPOCHS, NADE_BATCH = 500, 20, 100
NADE_CEILING = 0.22   # the paper's NADE reaches 88 nats, 0.16 bit per dimension


@gpu_check(points=2, minutes=0.75, datasets=("mnist",), uses=("likelihood", "nade"),
           task="`nade.nade_logits`, `NADE`",
           hint="NADE(784, 500) trained on binarised MNIST: an exclusive running sum, the "
                "sigmoid hidden layer, logits = b + V . h")
def nade_on_mnist(lab, rng):
    """NADE(784, 500) (the student's nade_logits, the given model and train_step) trained for
    20 epochs on binarised MNIST (mixed precision, XLA): its test bits per dimension come
    within 0.01 bit of the reference's, and below 0.22 bit."""
    import keras
    x = binarised_mnist(lab, "train", 60_000).reshape(-1, 784)
    x_test = binarised_mnist(lab, "test", 10_000).reshape(-1, 784)
    hidden = 16 if lab.gpu.smoke else NADE_HIDDEN
    model = lab.nade.NADE(784, hidden)
    lab.gpu.compile(model, keras.optimizers.Adam(1e-3))
    model.optimizer.build(model.trainable_variables)
    fit_steps(lab, model, x, lab.gpu.steps(NADE_EPOCHS * len(x) // NADE_BATCH), NADE_BATCH,
              int(rng.integers(2**31)))
    logits = model.predict(x_test, batch_size=500, verbose=0)
    return {"bits": bits_per_dim_np(np.asarray(logits, dtype="float32"), x_test),
            "smoke": lab.gpu.smoke}


@nade_on_mnist.verdict
def _(student, reference):
    bits, ref = student["bits"], reference["bits"]
    expect_true(np.isfinite(bits), f"NADE's test bits per dimension is {bits} after training "
                "on MNIST: training diverged")
    expect_true(bits >= ref - LEAK_MARGIN,
                f"NADE reaches {bits:.4f} bits per dimension on the MNIST test images, far "
                f"better than the reference's {ref:.4f}: too good to be true. Does logit_d see "
                "x_d (an inclusive running sum)?")
    expect_at_most(bits, ref + MARGIN, f"NADE's bits per dimension on the MNIST test images "
                   f"(the reference reaches {ref:.4f} with the same training)", unit=" bits")
    if not student["smoke"]:
        expect_at_most(bits, NADE_CEILING, "NADE's bits per dimension on binarised MNIST",
                       unit=" bits")
