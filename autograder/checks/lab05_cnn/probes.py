"""What the checks of lab05_cnn share: random configurations compared with Keras's own
layers, the stand-ins, model helpers and the two training probes.

Stand-ins, so that one wrong line costs the points of its own function only (none of them
is the lab's code):
- `same_padding` and `im2col` for the checks of conv2d, conv_transpose2d and pooling
  (`library_pieces`): TensorFlow's own "SAME" padding and patches, read off
  `tf.image.extract_patches`, so a student who pads and slices inline is judged alike;
- `ResidualBlock` for the checks of small_resnet, which stacks blocks of that name by
  contract: one strided 3x3 Conv2D then a ReLU, with the block's constructor; the expected
  outputs come from the reference's small_resnet on the same stand-in;
- compile_detector for the detector's training check: the probe's own GradientTape loop
  on TensorFlow's losses, so that check judges build_detector alone.
Probes run in the worker, verdicts in the grader: numpy only at module level.
"""
from __future__ import annotations

import functools
import json

import numpy as np
from scipy.special import softmax

from autograder.api import CheckFailed
from autograder.check_helpers import build_for_fit, mean_mask_iou, standing_in
from autograder.verdicts import as_array, expect_close, expect_true

CONV = "convolution"
NETS = "networks"
# Keras sums in another order (and through oneDNN): float32 rounding of sums of up to ~100
# products of O(1) numbers stays far below this; any indexing mistake is far above it.
ATOL = 1e-4

# The budgets of the two training checks, stated in the handout.
UNET_TRAIN = {"size": 16, "base_filters": 8, "depth": 1, "train_images": 512,
              "test_images": 256, "epochs": 6, "batch_size": 32, "learning_rate": 3e-3}
DETECTOR_TRAIN = {"size": 16, "filters": (16, 32), "hidden": 64, "train_images": 1024,
                  "test_images": 256, "epochs": 4, "batch_size": 32, "learning_rate": 3e-3,
                  "box_weight": 10.0}
# How far below the reference a student model may land. Over 10 training seeds the reference
# U-Net's mean IoU spans 0.88 to 0.96; over 5, the detector's box IoU spans 0.67 to 0.72 and
# its class accuracy 64 % to 71 %. The margins pass a correct model trained from another
# seed (or with another initialisation) and fail a model that does not learn the task.
UNET_MARGIN = 0.12
BOX_IOU_MARGIN = 0.08
ACCURACY_MARGIN = 0.15


# ---- Stand-ins -----------------------------------------------------------------------------

def _pair(value):
    return (int(value), int(value)) if np.isscalar(value) else tuple(int(v) for v in value)


@functools.lru_cache(maxsize=None)
def _library_same_padding(size, kernel_size, stride):
    """The zeros TensorFlow's "SAME" padding puts before and after `size` pixels: the
    leading zeros of the first window and the trailing zeros of the last one that
    `tf.image.extract_patches` cuts from an all-ones column."""
    import tensorflow as tf
    ones = tf.ones((1, int(size), 1, 1))
    windows = tf.image.extract_patches(ones, sizes=[1, int(kernel_size), 1, 1],
                                       strides=[1, int(stride), 1, 1], rates=[1, 1, 1, 1],
                                       padding="SAME").numpy()[0, :, 0, :]
    first, last = windows[0] > 0, windows[-1][::-1] > 0
    return int(np.argmax(first)), int(np.argmax(last))


def _library_im2col(x, kernel_size, strides=1):
    """The windows of x: `tf.image.extract_patches` ("VALID"), which flattens each window in
    (rows, columns, channels) order."""
    import tensorflow as tf
    (kh, kw), (sh, sw) = _pair(kernel_size), _pair(strides)
    return tf.image.extract_patches(np.asarray(x), sizes=[1, kh, kw, 1], strides=[1, sh, sw, 1],
                                    rates=[1, 1, 1, 1], padding="VALID").numpy()


def library_pieces(lab):
    """convolution.py with TensorFlow's same_padding and im2col (what the given pad_images
    and _windows call too), for the checks of the functions built on them."""
    return standing_in(lab.convolution, same_padding=_library_same_padding,
                       im2col=_library_im2col)


_BLOCK = []


def stand_in_block():
    """The check's stand-in ResidualBlock for the checks of small_resnet: NOT a residual
    block, but one Conv2D(filters, 3, strides, "same") followed by a ReLU, with the lab's
    constructor ResidualBlock(filters, strides=1). small_resnet must build its stages from
    blocks of that name, so a wrong block costs the block's points, not the ResNet's too."""
    if _BLOCK:
        return _BLOCK[0]
    import keras
    from keras import layers

    @keras.saving.register_keras_serializable(package="dlkit_checks_lab05")
    class ResidualBlock(layers.Layer):
        def __init__(self, filters, strides=1, **kwargs):
            super().__init__(**kwargs)
            self.filters, self.strides = int(filters), int(strides)
            self.conv = layers.Conv2D(self.filters, 3, strides=self.strides, padding="same")

        def build(self, input_shape):
            self.conv.build(input_shape)

        def call(self, x, training=None):
            return keras.ops.relu(self.conv(x))

        def compute_output_shape(self, input_shape):
            return self.conv.compute_output_shape(input_shape)

        def get_config(self):
            return {**super().get_config(), "filters": self.filters, "strides": self.strides}

    _BLOCK.append(ResidualBlock)
    return ResidualBlock


def small_resnet_on_stand_in_block(lab, *args, **kwargs):
    """small_resnet(*args, **kwargs) built from the check's stand-in ResidualBlock."""
    with standing_in(lab.networks, ResidualBlock=stand_in_block()):
        return lab.networks.small_resnet(*args, **kwargs)


# ---- Random configurations against Keras --------------------------------------------------

def describe(case):
    """conv2d(x (2, 9, 7, 3), kernel (3, 2, 3, 4), strides (2, 1), padding='same')."""
    kernel = "pool_size" if "pool" in case["op"] else "kernel"
    return (f"{case['op']}(x {tuple(case['x_shape'])}, {kernel} "
            f"{tuple(case['kernel_shape'])}, strides {tuple(case['strides'])}, "
            f"padding={case['padding']!r})")


def draw_conv_case(rng, padding, *, max_size=10, max_channels=4, max_kernel=4, max_stride=3):
    """A random convolution configuration; "valid" images are at least as big as the kernel."""
    kernel = [int(v) for v in rng.integers(1, max_kernel + 1, size=2)]
    strides = [int(v) for v in rng.integers(1, max_stride + 1, size=2)]
    size = [int(rng.integers(k, max_size + 1)) for k in kernel]
    channels = [int(v) for v in rng.integers(1, max_channels + 1, size=2)]
    return {"n": int(rng.integers(1, 4)), "size": size, "kernel": kernel, "strides": strides,
            "channels": channels, "padding": padding}


def keras_layer_with(layer, kernel, bias, input_shape):
    layer.build(input_shape)
    layer.kernel.assign(kernel)
    layer.bias.assign(bias)
    return layer


def conv_against_keras(lab, rng, case):
    """The student's conv2d and Keras's Conv2D on the same input, kernel and bias."""
    import keras
    (h, w), (kh, kw), (c_in, c_out) = case["size"], case["kernel"], case["channels"]
    x = rng.normal(size=(case["n"], h, w, c_in)).astype("float32")
    kernel = rng.normal(size=(kh, kw, c_in, c_out)).astype("float32")
    bias = rng.normal(size=c_out).astype("float32")
    layer = keras_layer_with(keras.layers.Conv2D(c_out, (kh, kw), strides=case["strides"],
                                                 padding=case["padding"]), kernel, bias, x.shape)
    with library_pieces(lab):
        student = lab.convolution.conv2d(x, kernel, bias, strides=tuple(case["strides"]),
                                         padding=case["padding"])
    expected = layer(x)
    layer.kernel.assign(kernel[::-1, ::-1])  # what a textbook (flipped) convolution gives
    return {"op": "conv2d", "x_shape": list(x.shape), "kernel_shape": list(kernel.shape),
            "strides": case["strides"], "padding": case["padding"],
            "student": student, "keras": expected, "keras_flipped": layer(x)}


def conv_transpose_against_keras(lab, rng, case):
    """The student's conv_transpose2d and Keras's Conv2DTranspose, same weights."""
    import keras
    (h, w), (kh, kw), (c_in, c_out) = case["size"], case["kernel"], case["channels"]
    y = rng.normal(size=(case["n"], h, w, c_in)).astype("float32")
    kernel = rng.normal(size=(kh, kw, c_out, c_in)).astype("float32")  # Conv2DTranspose layout
    bias = rng.normal(size=c_out).astype("float32")
    layer = keras_layer_with(keras.layers.Conv2DTranspose(c_out, (kh, kw),
                                                          strides=case["strides"],
                                                          padding=case["padding"]),
                             kernel, bias, y.shape)
    with library_pieces(lab):
        student = lab.convolution.conv_transpose2d(y, kernel, bias,
                                                   strides=tuple(case["strides"]),
                                                   padding=case["padding"])
    return {"op": "conv_transpose2d", "x_shape": list(y.shape), "kernel_shape": list(kernel.shape),
            "strides": case["strides"], "padding": case["padding"],
            "student": student, "keras": layer(y), "keras_flipped": None}


def pool_against_keras(lab, rng, case, kind):
    """The student's max_pool2d or avg_pool2d and Keras's pooling layer of that kind."""
    import keras
    (h, w), pool, channels = case["size"], case["kernel"], case["channels"][0]
    x = rng.normal(size=(case["n"], h, w, channels)).astype("float32")
    layer = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}[kind]
    expected = layer(tuple(pool), strides=tuple(case["strides"]), padding=case["padding"])(x)
    function = {"max": lab.convolution.max_pool2d, "avg": lab.convolution.avg_pool2d}[kind]
    with library_pieces(lab):
        student = function(x, tuple(pool), strides=tuple(case["strides"]),
                           padding=case["padding"])
    return {"op": f"{kind}_pool2d", "x_shape": list(x.shape), "kernel_shape": list(pool),
            "strides": case["strides"], "padding": case["padding"],
            "student": student, "keras": expected, "keras_flipped": None}


KERAS_LAYERS = {"conv2d": "Conv2D", "conv_transpose2d": "Conv2DTranspose",
                "max_pool2d": "MaxPooling2D", "avg_pool2d": "AveragePooling2D"}


def judge_against_keras(cases):
    for case in cases:
        what, layer = describe(case), f"keras.layers.{KERAS_LAYERS[case['op']]}"
        flipped = case.get("keras_flipped")
        if flipped is not None and min(case["kernel_shape"][:2]) > 1 and \
                np.shape(case["student"]) == np.shape(flipped) and \
                np.allclose(case["student"], flipped, rtol=ATOL, atol=ATOL):
            raise CheckFailed(f"{what} equals Conv2D with the kernel flipped (kernel[::-1, ::-1]):"
                              " Conv2D computes a cross-correlation, out[i, j] = sum "
                              "x[i*s + a, j*s + b] . kernel[a, b], without flipping")
        expect_close(case["student"], case["keras"], what, atol=ATOL, rtol=ATOL,
                     against=f"{layer} with the same weights")


# ---- Scores of trained models, by library IoUs --------------------------------------------

def mean_box_iou(predicted, true):
    """The mean IoU of pairs of (N, 4) boxes (y_min, x_min, y_max, x_max), by Keras's own
    box IoU, so that neither the student's nor the reference's box_iou scores a model."""
    import keras
    predicted = np.asarray(predicted, dtype="float32")[:, None]  # batches of one box
    true = np.asarray(true, dtype="float32")[:, None]
    table = keras.utils.bounding_boxes.compute_iou(predicted, true, "yxyx")  # (N, 1, 1)
    return float(np.mean(np.asarray(table)))


def random_boxes(rng, n):
    corners = np.sort(rng.uniform(0, 1, size=(n, 2, 2)), axis=1)  # [min; max] per axis
    return np.stack([corners[:, 0, 0], corners[:, 0, 1], corners[:, 1, 0], corners[:, 1, 1]],
                    axis=1).astype("float32")


# ---- Residual block -----------------------------------------------------------------------

BLOCK_PARTS = ("conv1", "norm1", "conv2", "norm2", "projection", "projection_norm")


def assign_block_weights(block, rng):
    """Random weights for every part of a built ResidualBlock, in a fixed order, so the
    student and the reference hold the same numbers. BN variances stay positive."""
    for part in BLOCK_PARTS:
        layer = getattr(block, part, None)
        if layer is None:
            continue
        for weight in layer.weights:
            value = rng.normal(scale=0.5, size=weight.shape)
            if "variance" in weight.name:
                value = np.abs(value) + 0.5
            weight.assign(value.astype("float32"))


def residual_block_probe(lab, rng, n, size, channels, filters, strides):
    """A ResidualBlock with the check's weights: its shortcut and its inference output."""
    block = lab.networks.ResidualBlock(filters, strides=strides)
    x = rng.normal(size=(n, size, size, channels)).astype("float32")
    block.build(x.shape)
    has_projection = getattr(block, "projection", None) is not None
    assign_block_weights(block, rng)
    try:
        out, error = block(x, training=False), ""
    except Exception as exc:  # an identity shortcut of the wrong shape fails here
        out, error = np.zeros(0, dtype="float32"), f"{type(exc).__name__}: {exc}"[:400]
    return {"call": f"ResidualBlock(filters={filters}, strides={strides}) on x of shape "
                    f"{x.shape}", "has_projection": has_projection, "out": out,
            "error": error}


def judge_residual_block(student, reference):
    call = reference["call"]
    if student["has_projection"] != reference["has_projection"]:
        if reference["has_projection"]:
            raise CheckFailed(f"{call} has no projection shortcut, but F(x) has another shape "
                              "than x (strides > 1 or another channel count): the shortcut "
                              "needs a 1x1 conv with the block's strides, then BN")
        raise CheckFailed(f"{call} has a projection shortcut, but F(x) keeps the shape of x: "
                          "the shortcut must be x itself (identity)")
    if student["error"]:
        raise CheckFailed(f"{call} failed: {student['error']}")
    expect_close(student["out"], reference["out"], f"{call}, inference mode (training=False)")


# ---- Models: structure, weights, outputs, saving -------------------------------------------

def _joined(outputs):
    """A model's outputs as one array: a dict's values concatenated in key order."""
    if isinstance(outputs, dict):
        return np.concatenate([np.asarray(outputs[key]) for key in sorted(outputs)], axis=-1)
    return np.asarray(outputs)


def round_trip(lab, model, x, name):
    """Save `model` to .keras and load it back: outputs of both, or the error."""
    import keras
    if model(x, training=False) is None:
        return {"error": "", "outputs": None}
    path = str(lab.tmpdir / f"{name}.keras")
    try:
        model.save(path)
        loaded = keras.saving.load_model(path)
        loaded_outputs = _joined(loaded(x, training=False))
    except Exception as error:  # the message goes to the student
        return {"error": f"{type(error).__name__}: {error}"[:600]}
    return {"error": "", "outputs": _joined(model(x, training=False)),
            "loaded_outputs": loaded_outputs}


def judge_round_trip(result, model):
    if result["error"]:
        raise CheckFailed(f"keras.saving.load_model could not reload a saved {model}: "
                          + result["error"])
    as_array(result["outputs"], f"calling the {model}")
    expect_close(result["loaded_outputs"], result["outputs"],
                 f"{model} outputs after save and load", against="the outputs before saving")


def weight_layers(model):
    """[(class name, output shape)] of the layers of a functional model that hold weights."""
    rows = []
    for layer in model.layers:
        if layer.count_params():
            rows.append([type(layer).__name__, list(layer.output.shape)[1:]])
    return json.dumps(rows)


def judge_layers(student, reference, what):
    got, expected = json.loads(student), json.loads(reference)
    expect_true(got == expected, f"{what}: the layers with weights give [(layer, output shape)] "
                f"{[tuple(r) for r in got]}, expected {[tuple(r) for r in expected]}")


def assign_weights_by_shape(model, seed, scale=0.3):
    """Random weights keyed by each weight's shape (and its rank among the weights of that
    shape), not by its place in the model: two heads created in either order get the same
    numbers when their shapes differ. Probes only."""
    seen = {}
    for weight in model.trainable_weights:
        shape = tuple(int(d) for d in weight.shape)
        rank = seen[shape] = seen.get(shape, -1) + 1
        rng = np.random.default_rng([seed, rank, len(shape), *shape])
        weight.assign(rng.normal(scale=scale, size=shape).astype("float32"))


def looks_like_probabilities(rows) -> bool:
    """Every row in [0, 1] and summing to 1: a softmax's output, not logits."""
    rows = np.asarray(rows, dtype=np.float64)
    return bool(rows.ndim == 2 and np.all(rows >= -1e-6) and np.all(rows <= 1 + 1e-6)
                and np.allclose(rows.sum(axis=1), 1.0, atol=1e-4))


def judge_logits(outputs, expected, what, head, **tolerances):
    """`outputs` must be logits equal to `expected`; names a softmax put on them."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.shape == np.shape(expected) and (
            looks_like_probabilities(outputs)
            or np.allclose(outputs, softmax(np.asarray(expected, np.float64), axis=1),
                           atol=1e-5)):
        raise CheckFailed(f"{what} returns probabilities (every row in [0, 1], summing to 1), "
                          f"not logits: {head} must have no activation; the loss applies the "
                          "softmax itself (from_logits=True)")
    expect_close(outputs, expected, what, **tolerances)


def unet_probe(lab, rng, budget):
    """Train a fresh U-Net on shapes for `budget`; its mean mask IoU on held-out shapes."""
    from dlkit.data import make_shapes
    seed = int(rng.integers(1 << 20))
    train = make_shapes(budget["train_images"], size=budget["size"], seed=seed)
    test = make_shapes(budget["test_images"], size=budget["size"], seed=seed + 1)
    model = lab.networks.build_unet(size=budget["size"], channels=1,
                                    base_filters=budget["base_filters"], depth=budget["depth"])
    lab.networks.compile_unet(model, budget["learning_rate"])
    build_for_fit(model)
    model.fit(train["images"], train["masks"], batch_size=budget["batch_size"],
              epochs=budget["epochs"], shuffle=True, verbose=0)
    logits = np.asarray(model(test["images"], training=False))  # no predict(): one trace less
    result = {"shape": list(logits.shape), "layers": weight_layers(model), "mean_iou": 0.0,
              "pixel_accuracy": 0.0}
    if logits.shape == test["masks"].shape:
        predicted = logits > 0
        result.update(mean_iou=mean_mask_iou(predicted, test["masks"]),
                      pixel_accuracy=float(np.mean(predicted == (test["masks"] > 0.5))))
    return result


def train_detector(model, images, targets, budget, rng):
    """The check's own training of a detector (compile_detector has a check of its own):
    Adam on box_weight * (mean squared error of the boxes) + (cross-entropy of the label
    logits), written as a GradientTape loop on TensorFlow's losses, in shuffled batches."""
    import keras
    import tensorflow as tf
    optimizer = keras.optimizers.Adam(budget["learning_rate"])
    optimizer.build(model.trainable_variables)

    @tf.function
    def step(x, true_boxes, labels):
        with tf.GradientTape() as tape:
            outputs = model(x, training=True)
            box_error = tf.reduce_mean(tf.math.squared_difference(
                tf.cast(outputs["boxes"], tf.float32), true_boxes))
            class_error = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=labels, logits=tf.cast(outputs["labels"], tf.float32)))
            loss = budget["box_weight"] * box_error + class_error
        variables = model.trainable_variables
        optimizer.apply(tape.gradient(loss, variables), variables)

    boxes, labels = targets["boxes"].astype("float32"), targets["labels"].astype("int32")
    size = budget["batch_size"]
    for _ in range(budget["epochs"]):
        order = rng.permutation(len(images))
        for start in range(0, len(images), size):
            batch = order[start:start + size]
            step(images[batch], boxes[batch], labels[batch])


def detector_probe(lab, rng, budget):
    """Train a fresh detector with the check's own loss and loop; its mean box IoU and class
    accuracy on held-out shapes."""
    from dlkit.data import make_shapes
    seed = int(rng.integers(1 << 20))
    train = make_shapes(budget["train_images"], size=budget["size"], seed=seed)
    test = make_shapes(budget["test_images"], size=budget["size"], seed=seed + 1)
    model = lab.networks.build_detector(size=budget["size"], channels=1, num_classes=3,
                                        filters=budget["filters"], hidden=budget["hidden"])
    train_detector(model, train["images"], train, budget, rng)
    predicted = model(test["images"], training=False)
    boxes, logits = np.asarray(predicted["boxes"]), np.asarray(predicted["labels"])
    return {"mean_box_iou": mean_box_iou(boxes, test["boxes"]),
            "accuracy": float(np.mean(logits.argmax(axis=-1) == test["labels"]))}
