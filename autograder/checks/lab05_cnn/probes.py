"""What the checks of lab05_cnn share: random configurations compared with Keras's own
layers, the check's own correct `same_padding` and `im2col` (stand-ins), model helpers and
the two training probes.

A check of conv2d, conv_transpose2d or pooling runs the student's function on the
stand-ins (`correct_pieces`), so a wrong `im2col` costs the points of `im2col` and not those
of every operation built on it. Probes run in the worker, verdicts in the grader: numpy
only at module level.
"""
from __future__ import annotations

import contextlib
import json

import numpy as np
from scipy.special import softmax

from autograder.api import CheckFailed
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


# ---- Stand-ins: the check's own same_padding and im2col -----------------------------------

def _pair(value):
    return (int(value), int(value)) if np.isscalar(value) else tuple(int(v) for v in value)


def _same_padding(size, kernel_size, stride):
    out = -(-int(size) // int(stride))
    total = max((out - 1) * int(stride) + int(kernel_size) - int(size), 0)
    return total // 2, total - total // 2


def _im2col(x, kernel_size, strides=1):
    from numpy.lib.stride_tricks import sliding_window_view
    x = np.asarray(x)
    (kh, kw), (sh, sw) = _pair(kernel_size), _pair(strides)
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]  # (N, OH, OW, C, KH, KW)
    n, out_h, out_w = windows.shape[:3]
    return np.ascontiguousarray(np.moveaxis(windows, 3, -1)).reshape(n, out_h, out_w, -1)


@contextlib.contextmanager
def standing_in(module, **replacements):
    """Replace names in a graded module while the block runs, then put the originals back
    (the worker keeps the module for the next check)."""
    missing = object()
    saved = {name: getattr(module, name, missing) for name in replacements}
    for name, value in replacements.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                delattr(module, name)
            else:
                setattr(module, name, value)


_BLOCK = []


def correct_residual_block():
    """The check's own ResidualBlock (the handout's), for the checks of small_resnet: a
    wrong block costs the block's points, not the ResNet's too."""
    if _BLOCK:
        return _BLOCK[0]
    import keras
    from keras import layers

    @keras.saving.register_keras_serializable(package="dlkit_checks_lab05")
    class ResidualBlock(layers.Layer):
        def __init__(self, filters, strides=1, **kwargs):
            super().__init__(**kwargs)
            self.filters, self.strides = int(filters), int(strides)
            self.conv1 = layers.Conv2D(self.filters, 3, strides=self.strides, padding="same",
                                       use_bias=False)
            self.norm1 = layers.BatchNormalization()
            self.conv2 = layers.Conv2D(self.filters, 3, padding="same", use_bias=False)
            self.norm2 = layers.BatchNormalization()
            self.projection = self.projection_norm = None

        def build(self, input_shape):
            inner = self.conv1.compute_output_shape(input_shape)
            for layer, shape in ((self.conv1, input_shape), (self.norm1, inner),
                                 (self.conv2, inner), (self.norm2, inner)):
                layer.build(shape)
            if self.strides != 1 or input_shape[-1] != self.filters:
                self.projection = layers.Conv2D(self.filters, 1, strides=self.strides,
                                                use_bias=False)
                self.projection_norm = layers.BatchNormalization()
                self.projection.build(input_shape)
                self.projection_norm.build(inner)

        def call(self, x, training=None):
            residual = keras.ops.relu(self.norm1(self.conv1(x), training=training))
            residual = self.norm2(self.conv2(residual), training=training)
            shortcut = x if self.projection is None else self.projection_norm(
                self.projection(x), training=training)
            return keras.ops.relu(residual + shortcut)

        def compute_output_shape(self, input_shape):
            return self.conv1.compute_output_shape(input_shape)

        def get_config(self):
            return {**super().get_config(), "filters": self.filters, "strides": self.strides}

    _BLOCK.append(ResidualBlock)
    return ResidualBlock


def small_resnet_on_correct_block(lab, *args, **kwargs):
    """small_resnet(*args, **kwargs) built from the check's own ResidualBlock."""
    with standing_in(lab.networks, ResidualBlock=correct_residual_block()):
        return lab.networks.small_resnet(*args, **kwargs)


def correct_pieces(lab):
    """convolution.py with the check's same_padding and im2col (what the given pad_images and
    _windows call too), for the checks of the functions built on them."""
    return standing_in(lab.convolution, same_padding=_same_padding, im2col=_im2col)


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
    with correct_pieces(lab):
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
    with correct_pieces(lab):
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
    with correct_pieces(lab):
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


def mean_mask_iou(predicted, true):
    """The mean per-image IoU of (N, H, W, 1) masks, by scikit-learn's Jaccard index over
    each image's pixels (average="samples"); an image where both masks are empty counts 1."""
    from sklearn.metrics import jaccard_score
    n = len(true)
    return float(jaccard_score(np.reshape(true, (n, -1)) > 0.5,
                               np.reshape(predicted, (n, -1)) > 0.5,
                               average="samples", zero_division=1.0))


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


def compile_as_handout(model, learning_rate, box_weight):
    """The check's own compile_detector (a stand-in): the detector training check judges
    build_detector, and compile_detector has a check of its own."""
    import keras
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss={"boxes": keras.losses.MeanSquaredError(),
                        "labels": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
                  loss_weights={"boxes": box_weight, "labels": 1.0})


def detector_probe(lab, rng, budget):
    """Train a fresh detector, compiled as the handout says; its mean box IoU and class
    accuracy on held-out shapes."""
    from dlkit.data import make_shapes
    seed = int(rng.integers(1 << 20))
    train = make_shapes(budget["train_images"], size=budget["size"], seed=seed)
    test = make_shapes(budget["test_images"], size=budget["size"], seed=seed + 1)
    model = lab.networks.build_detector(size=budget["size"], channels=1, num_classes=3,
                                        filters=budget["filters"], hidden=budget["hidden"])
    compile_as_handout(model, budget["learning_rate"], budget["box_weight"])
    model.fit(train["images"], {"boxes": train["boxes"], "labels": train["labels"]},
              batch_size=budget["batch_size"], epochs=budget["epochs"], shuffle=True, verbose=0)
    predicted = model(test["images"], training=False)
    boxes, logits = np.asarray(predicted["boxes"]), np.asarray(predicted["labels"])
    return {"mean_box_iou": mean_box_iou(boxes, test["boxes"]),
            "accuracy": float(np.mean(logits.argmax(axis=-1) == test["labels"]))}
