"""Public checks of lab05_cnn.

Keras is the reference implementation of the by-hand operations: each probe draws a random
configuration from the seed, copies one set of weights into the student's function and into
the Keras layer, and returns both outputs. The network checks set the weights themselves
(residual block) or train for a fixed budget and score with library IoUs (Keras's box IoU,
scikit-learn's Jaccard index for masks), never the student's box_iou / mask_iou: a wrong IoU
neither fails nor flatters a trained model. The IoU checks compare with the reference's
outputs.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.verdicts import (
    expect_at_least,
    expect_close,
    expect_equal,
    expect_shape,
    expect_true,
)

CONV = "convolution"
NETS = "networks"
# Keras sums in another order (and through oneDNN): float32 rounding of sums of up to ~100
# products of O(1) numbers stays far below this; any indexing mistake is far above it.
ATOL = 1e-4

# The budgets of the two training checks, stated in the handout.
UNET_TRAIN = {"size": 16, "base_filters": 8, "depth": 1, "train_images": 512,
              "test_images": 256, "epochs": 6, "batch_size": 32, "learning_rate": 3e-3}
DETECTOR_TRAIN = {"size": 16, "filters": (16, 32), "hidden": 64, "train_images": 1024,
                  "test_images": 256, "epochs": 4, "batch_size": 32, "learning_rate": 3e-3}
# How far below the reference a student model may land. Over 10 training seeds the reference
# U-Net's mean IoU spans 0.88 to 0.96; over 5, the detector's box IoU spans 0.67 to 0.72 and
# its class accuracy 64 % to 71 %. The margins pass a correct model trained from another
# seed (or with another initialisation) and fail a model that does not learn the task.
UNET_MARGIN = 0.12
BOX_IOU_MARGIN = 0.08
ACCURACY_MARGIN = 0.15


# ---------------------------------------------------------------------------------------------
# Helpers: run in the worker (probes) or here (verdicts); numpy only at module level
# ---------------------------------------------------------------------------------------------

def describe(case):
    """conv2d(x (2, 9, 7, 3), kernel (3, 2, 3, 4), strides (2, 1), padding='same')."""
    return (f"{case['op']}(x {tuple(case['x_shape'])}, kernel {tuple(case['kernel_shape'])}, "
            f"strides {tuple(case['strides'])}, padding={case['padding']!r})")


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
    student = lab.convolution.conv_transpose2d(y, kernel, bias, strides=tuple(case["strides"]),
                                               padding=case["padding"])
    return {"op": "conv_transpose2d", "x_shape": list(y.shape), "kernel_shape": list(kernel.shape),
            "strides": case["strides"], "padding": case["padding"],
            "student": student, "keras": layer(y)}


def pool_against_keras(lab, rng, case, kind):
    """The student's max_pool2d or avg_pool2d and Keras's pooling layer of that kind."""
    import keras
    (h, w), pool, channels = case["size"], case["kernel"], case["channels"][0]
    x = rng.normal(size=(case["n"], h, w, channels)).astype("float32")
    layer = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}[kind]
    expected = layer(tuple(pool), strides=tuple(case["strides"]), padding=case["padding"])(x)
    function = {"max": lab.convolution.max_pool2d, "avg": lab.convolution.avg_pool2d}[kind]
    student = function(x, tuple(pool), strides=tuple(case["strides"]), padding=case["padding"])
    return {"op": f"{kind}_pool2d", "x_shape": list(x.shape), "kernel_shape": list(pool),
            "strides": case["strides"], "padding": case["padding"],
            "student": student, "keras": expected}


def judge_against_keras(cases, layer):
    for case in cases:
        what = describe(case).replace("kernel", "pool_size") if "pool" in case["op"] \
            else describe(case)
        flipped = case.get("keras_flipped")
        if flipped is not None and min(case["kernel_shape"][:2]) > 1 and \
                np.shape(case["student"]) == np.shape(flipped) and \
                np.allclose(case["student"], flipped, rtol=ATOL, atol=ATOL):
            raise CheckFailed(f"{what} equals Conv2D with the kernel flipped (kernel[::-1, ::-1]):"
                              " Conv2D computes a cross-correlation, out[i, j] = sum "
                              "x[i*s + a, j*s + b] . kernel[a, b], without flipping")
        expect_close(case["student"], case["keras"], f"{what} against keras.layers.{layer}",
                     atol=ATOL, rtol=ATOL)


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


def _joined(outputs):
    """A model's outputs as one array: a dict's values concatenated in key order."""
    if isinstance(outputs, dict):
        return np.concatenate([np.asarray(outputs[key]) for key in sorted(outputs)], axis=-1)
    return np.asarray(outputs)


def round_trip(lab, model, x, name):
    """Save `model` to .keras and load it back: outputs of both, or the error."""
    import keras
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
    expect_close(result["loaded_outputs"], result["outputs"],
                 f"{model} outputs after save and load")


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


# ---------------------------------------------------------------------------------------------
# 1-2. Padding and patches
# ---------------------------------------------------------------------------------------------

SAME_PADDING_CASES = [(size, kernel, stride) for size in range(3, 10) for kernel in range(1, 6)
                      for stride in range(1, 4)]


@check(points=1, uses=CONV, hint="out = ceil(size / stride); total = max((out - 1) * stride + "
                                 "kernel_size - size, 0); before = total // 2, after = the rest")
def same_padding(lab, rng):
    return {"pads": [list(lab.convolution.same_padding(*case)) for case in SAME_PADDING_CASES]}


@same_padding.verdict
def _(student, reference):
    got = np.asarray(student["pads"])
    expect_shape(got, (len(SAME_PADDING_CASES), 2), "same_padding(...) over all the cases")
    for (size, kernel, stride), pads, expected in zip(SAME_PADDING_CASES, got, reference["pads"]):
        if tuple(pads) != tuple(expected):
            raise CheckFailed(f"same_padding(size={size}, kernel_size={kernel}, stride={stride}) "
                              f"returned {tuple(int(p) for p in pads)}, expected "
                              f"{tuple(int(p) for p in expected)} (before, after)")


@check(points=1, uses=CONV, hint="window (i, j) starts at x[:, i*SH, j*SW]; flatten each window "
                                 "in (KH, KW, C) order")
def im2col(lab, rng):
    x = rng.normal(size=(2, 7, 6, 3)).astype("float32")
    return {"strided": lab.convolution.im2col(x, (3, 2), (2, 1)),
            "dense": lab.convolution.im2col(x[:1], 2, 1)}


@im2col.verdict
def _(student, reference):
    expect_close(student["dense"], reference["dense"], "im2col(x (1, 7, 6, 3), kernel_size=2, "
                 "strides=1)")
    expect_close(student["strided"], reference["strided"], "im2col(x (2, 7, 6, 3), "
                 "kernel_size=(3, 2), strides=(2, 1))")


# ---------------------------------------------------------------------------------------------
# 3-4. Convolution and transposed convolution against Keras
# ---------------------------------------------------------------------------------------------

@check(points=2, uses=CONV, reference=False,
       hint="cross-correlation, as Conv2D: out[i, j] = sum x[i*s + a, j*s + b] . kernel[a, b] "
            "+ bias; the kernel is not flipped")
def conv2d_valid_matches_keras(lab, rng):
    cases = [draw_conv_case(rng, "valid") for _ in range(3)]
    cases[0]["strides"] = [1, 1]
    return {"cases": [conv_against_keras(lab, rng, case) for case in cases]}


@conv2d_valid_matches_keras.verdict
def _(student, _reference):
    judge_against_keras(student["cases"], "Conv2D")


@check(points=2, uses=CONV, reference=False,
       hint="'same' pads by same_padding on each axis (the odd zero after), so that "
            "out = ceil(in / stride)")
def conv2d_same_matches_keras(lab, rng):
    cases = [draw_conv_case(rng, "same") for _ in range(3)]
    # An even kernel with stride 2 over an even size: an odd number of zeros to place.
    cases[0].update(size=[8, 7], kernel=[4, 2], strides=[2, 2])
    return {"cases": [conv_against_keras(lab, rng, case) for case in cases]}


@conv2d_same_matches_keras.verdict
def _(student, _reference):
    judge_against_keras(student["cases"], "Conv2D")


@check(points=2, uses=CONV, reference=False,
       hint="scatter y[:, i, j] @ kernel[a, b].T to full[:, i*s + a, j*s + b]; kernel is "
            "(KH, KW, C_out, C_in); crop 'same' padding; add the bias")
def conv_transpose2d_matches_keras(lab, rng):
    cases = [draw_conv_case(rng, padding, max_size=6) for padding in ("valid", "same", "same")]
    cases[0].update(kernel=[3, 3], strides=[2, 2], channels=[2, 3])
    cases[2].update(kernel=[4, 3], strides=[2, 3])
    return {"cases": [conv_transpose_against_keras(lab, rng, case) for case in cases]}


@conv_transpose2d_matches_keras.verdict
def _(student, _reference):
    judge_against_keras(student["cases"], "Conv2DTranspose")


@check(points=1, uses=CONV, reference=False,
       hint="the transposed convolution of g is the gradient of sum(conv2d(x) * g) with "
            "respect to x")
def conv_transpose2d_is_the_gradient_of_conv2d(lab, rng):
    import keras
    import tensorflow as tf
    cases = []
    for padding in ("valid", "same"):
        case = draw_conv_case(rng, padding, max_size=5)
        if padding == "same":
            case["channels"] = [3, 2]  # C_in != C_out: the kernel's channel axes matter
        (oh, ow), (kh, kw), (sh, sw) = case["size"], case["kernel"], case["strides"]
        size = lab.convolution.conv_transpose_output_size
        h, w = size(oh, kh, sh, padding), size(ow, kw, sw, padding)  # given code: conv's input
        c_in, c_out = case["channels"]
        x = tf.constant(rng.normal(size=(case["n"], h, w, c_in)).astype("float32"))
        kernel = rng.normal(size=(kh, kw, c_in, c_out)).astype("float32")
        upstream = rng.normal(size=(case["n"], oh, ow, c_out)).astype("float32")
        conv = keras_layer_with(keras.layers.Conv2D(c_out, (kh, kw), strides=(sh, sw),
                                                    padding=padding),
                                kernel, np.zeros(c_out, "float32"), x.shape)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(conv(x) * upstream)
        cases.append({"op": "conv_transpose2d", "x_shape": list(upstream.shape),
                      "kernel_shape": list(kernel.shape), "strides": [sh, sw],
                      "padding": padding, "keras": tape.gradient(loss, x),
                      "student": lab.convolution.conv_transpose2d(upstream, kernel, None,
                                                                  (sh, sw), padding)})
    return {"cases": cases}


@conv_transpose2d_is_the_gradient_of_conv2d.verdict
def _(student, _reference):
    for case in student["cases"]:
        expect_close(case["student"], case["keras"], f"{describe(case)} against the gradient "
                     "of Conv2D with respect to its input (tf.GradientTape)", atol=ATOL, rtol=ATOL)


# ---------------------------------------------------------------------------------------------
# 5. Pooling, equivariance and invariance
# ---------------------------------------------------------------------------------------------

def pool_cases(rng):
    cases = [draw_conv_case(rng, padding, max_kernel=3) for padding in ("valid", "same")]
    cases.append({"n": 2, "size": [7, 6], "kernel": [2, 3], "strides": [2, 2],
                  "channels": [3, 3], "padding": "same"})  # windows hanging over the border
    return cases


@check(points=1, uses=CONV, reference=False,
       hint="the max of every window per channel; pad with -inf for 'same' so padding never wins")
def max_pool2d_matches_keras(lab, rng):
    return {"cases": [pool_against_keras(lab, rng, case, "max") for case in pool_cases(rng)]}


@max_pool2d_matches_keras.verdict
def _(student, _reference):
    judge_against_keras(student["cases"], "MaxPooling2D")


@check(points=1, uses=CONV, reference=False,
       hint="'same' average pooling divides by the number of REAL pixels in the window, not "
            "by its size")
def avg_pool2d_matches_keras(lab, rng):
    return {"cases": [pool_against_keras(lab, rng, case, "avg") for case in pool_cases(rng)]}


@avg_pool2d_matches_keras.verdict
def _(student, _reference):
    judge_against_keras(student["cases"], "AveragePooling2D")


@check(points=1, uses=CONV, reference=False,
       hint="conv2d must treat every position alike (no position-dependent indexing); a "
            "global max/avg pool of its output then ignores where the object is")
def conv_is_equivariant_and_global_pooling_invariant(lab, rng):
    conv = lab.convolution
    x = np.zeros((1, 20, 20, 2), dtype="float32")
    x[:, 7:13, 6:14] = rng.normal(size=(1, 6, 8, 2))  # an object with an empty margin
    shift = [int(v) * int(rng.choice([-1, 1])) for v in rng.integers(1, 4, size=2)]
    shifted = np.roll(x, shift, axis=(1, 2))
    kernel = rng.normal(size=(3, 3, 2, 4)).astype("float32")
    bias = rng.normal(size=4).astype("float32")
    out, out_shifted = conv.conv2d(x, kernel, bias), conv.conv2d(shifted, kernel, bias)
    size = tuple(np.shape(out)[1:3])
    return {"shift": shift, "out": out, "out_shifted": out_shifted,
            "max": conv.max_pool2d(out, size), "max_shifted": conv.max_pool2d(out_shifted, size),
            "avg": conv.avg_pool2d(out, size), "avg_shifted": conv.avg_pool2d(out_shifted, size)}


@conv_is_equivariant_and_global_pooling_invariant.verdict
def _(student, _reference):
    (dy, dx), out = student["shift"], np.asarray(student["out"])
    expect_shape(out, (1, 18, 18, 4), "conv2d of a (1, 20, 20, 2) image, 3x3 kernel, 'valid'")
    h, w = out.shape[1:3]
    moved = np.asarray(student["out_shifted"])[:, max(dy, 0): h + min(dy, 0),
                                               max(dx, 0): w + min(dx, 0)]
    original = out[:, max(-dy, 0): h - max(dy, 0), max(-dx, 0): w - max(dx, 0)]
    expect_close(moved, original, f"conv2d of the image shifted by {(dy, dx)} pixels, shifted "
                 "back (equivariance: shifting the input must shift the output)", atol=ATOL)
    for kind in ("max", "avg"):
        expect_close(student[f"{kind}_shifted"], student[kind],
                     f"the global {kind} pooling ({kind}_pool2d over the whole map) of the conv2d "
                     f"output, image shifted by {(dy, dx)} pixels (invariance)", atol=ATOL)


# ---------------------------------------------------------------------------------------------
# 6. Intersection over union
# ---------------------------------------------------------------------------------------------

def random_boxes(rng, n):
    corners = np.sort(rng.uniform(0, 1, size=(n, 2, 2)), axis=1)  # [min; max] per axis
    return np.stack([corners[:, 0, 0], corners[:, 0, 1], corners[:, 1, 0], corners[:, 1, 1]],
                    axis=1).astype("float32")


@check(points=1, uses=NETS, hint="intersection: between the larger mins and the smaller maxes, "
                                 "sides clipped at 0; union = area_a + area_b - intersection")
def box_iou(lab, rng):
    a, b = random_boxes(rng, 12), random_boxes(rng, 12)
    special_a = np.array([[0.1, 0.1, 0.5, 0.5], [0.1, 0.1, 0.5, 0.5], [0.0, 0.0, 1.0, 1.0],
                          [0.2, 0.2, 0.4, 0.6], [0.0, 0.0, 0.5, 0.5]], dtype="float32")
    special_b = np.array([[0.6, 0.6, 0.9, 0.9], [0.1, 0.1, 0.5, 0.5], [0.25, 0.25, 0.5, 0.75],
                          [0.4, 0.2, 0.8, 0.6], [0.5, 0.5, 1.0, 1.0]], dtype="float32")
    return {"random": lab.networks.box_iou(a, b),
            "special": lab.networks.box_iou(special_a, special_b)}


@box_iou.verdict
def _(student, reference):
    expect_close(student["special"], reference["special"], "box_iou on (disjoint, identical, "
                 "nested, edge-touching, corner-touching) pairs")
    expect_close(student["random"], reference["random"], "box_iou on 12 random pairs")


@check(points=1, uses=NETS, hint="per image: pixels in both / pixels in either (1 when both masks "
                                 "are empty)")
def mask_iou(lab, rng):
    a = (rng.random(size=(6, 9, 9, 1)) < 0.4).astype("float32")
    b = (rng.random(size=(6, 9, 9, 1)) < 0.4).astype("float32")
    a[0], b[0] = 0.0, 0.0
    b[1] = a[1]
    return {"iou": lab.networks.mask_iou(a, b)}


@mask_iou.verdict
def _(student, reference):
    expect_close(student["iou"], reference["iou"], "mask_iou on 6 pairs of 9x9 masks (the first "
                 "pair both empty, the second identical)")


# ---------------------------------------------------------------------------------------------
# 7-8. Residual block and small ResNet
# ---------------------------------------------------------------------------------------------

@check(points=1, uses=NETS, hint="relu(norm2(conv2(relu(norm1(conv1(x))))) + x): the identity "
                                 "shortcut when the shape does not change")
def residual_block_identity_shortcut(lab, rng):
    return residual_block_probe(lab, rng, n=2, size=6, channels=5, filters=5, strides=1)


@residual_block_identity_shortcut.verdict
def _(student, reference):
    judge_residual_block(student, reference)


@check(points=2, uses=NETS, hint="a projection shortcut (1x1 conv with the block's strides, then "
                                 "BN) whenever strides > 1 OR the channel count changes")
def residual_block_projection_shortcut(lab, rng):
    return {"downsampling": residual_block_probe(lab, rng, n=2, size=7, channels=3, filters=6,
                                                 strides=2),
            "widening": residual_block_probe(lab, rng, n=2, size=5, channels=3, filters=4,
                                             strides=1)}


@residual_block_projection_shortcut.verdict
def _(student, reference):
    judge_residual_block(student["downsampling"], reference["downsampling"])
    judge_residual_block(student["widening"], reference["widening"])


@check(points=1, uses=NETS, reference=False,
       hint="get_config must return filters and strides (and super().get_config()); build "
            "must create the same sublayers when Keras rebuilds the block")
def residual_block_saves_and_reloads(lab, rng):
    import keras
    inputs = keras.Input((6, 6, 3))
    model = keras.Model(inputs, lab.networks.ResidualBlock(4, strides=2)(inputs))
    x = rng.normal(size=(2, 6, 6, 3)).astype("float32")
    return round_trip(lab, model, x, "residual_block")


@residual_block_saves_and_reloads.verdict
def _(student, _reference):
    judge_round_trip(student, "model holding a ResidualBlock(4, strides=2)")


@check(points=1, uses=NETS, hint="one stage per width, the first block of every later stage with "
                                 "strides 2; GlobalAveragePooling2D, then Dense(num_classes)")
def small_resnet_structure(lab, rng):
    model = lab.networks.small_resnet((16, 16, 1), num_classes=3, widths=(4, 8, 8),
                                      blocks_per_stage=2)
    x = rng.random(size=(3, 16, 16, 1)).astype("float32")
    return {"layers": weight_layers(model), "params": model.count_params(),
            "round_trip": round_trip(lab, model, x, "small_resnet")}


@small_resnet_structure.verdict
def _(student, reference):
    what = "small_resnet((16, 16, 1), 3, widths=(4, 8, 8), blocks_per_stage=2)"
    judge_layers(student["layers"], reference["layers"], what)
    expect_equal(student["params"], reference["params"], f"the parameter count of {what}")
    judge_round_trip(student["round_trip"], what)


# ---------------------------------------------------------------------------------------------
# 9. U-Net
# ---------------------------------------------------------------------------------------------

@check(points=1, uses=NETS, hint="encoder: conv_block, keep the skip, MaxPooling2D(2); decoder: "
                                 "Conv2DTranspose(filters, 2, strides=2), Concatenate, conv_block")
def unet_structure(lab, rng):
    model = lab.networks.build_unet(size=16, channels=1, base_filters=4, depth=2)
    x = rng.random(size=(2, 16, 16, 1)).astype("float32")
    return {"layers": weight_layers(model), "output_shape": list(np.shape(model(x))),
            "concatenations": sum(type(layer).__name__ == "Concatenate" for layer in model.layers),
            "round_trip": round_trip(lab, model, x, "unet")}


@unet_structure.verdict
def _(student, reference):
    what = "build_unet(size=16, channels=1, base_filters=4, depth=2)"
    expect_equal(student["output_shape"], reference["output_shape"],
                 f"the output shape of {what} on (2, 16, 16, 1) images")
    expect_true(student["concatenations"] == reference["concatenations"],
                f"{what} has {student['concatenations']} Concatenate layers; a U-Net joins each "
                f"of its {reference['concatenations']} levels' skip to the decoder")
    judge_layers(student["layers"], reference["layers"], what)
    judge_round_trip(student["round_trip"], what)


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
    if logits.shape != test["masks"].shape:
        return {"shape": list(logits.shape), "mean_iou": 0.0, "pixel_accuracy": 0.0}
    predicted = logits > 0
    return {"shape": list(logits.shape), "mean_iou": mean_mask_iou(predicted, test["masks"]),
            "pixel_accuracy": float(np.mean(predicted == (test["masks"] > 0.5)))}


def judge_unet(student, reference):
    expect_equal(student["shape"], reference["shape"], "the U-Net's logits on the test images")
    expect_at_least(student["mean_iou"], reference["mean_iou"] - UNET_MARGIN,
                    f"the mean IoU of the trained U-Net's masks (logit > 0) on held-out shapes "
                    f"(pixel accuracy {student['pixel_accuracy']:.1%}; the reference reaches "
                    f"IoU {reference['mean_iou']:.3f})")


@check(points=3, timeout=40, uses=NETS,
       hint="a U-Net trained as the handout says must segment held-out shapes about as well as "
            "the reference (mean IoU within 0.12)")
def unet_segments_shapes(lab, rng):
    return unet_probe(lab, rng, UNET_TRAIN)


@unet_segments_shapes.verdict
def _(student, reference):
    judge_unet(student, reference)


# ---------------------------------------------------------------------------------------------
# 10. Single-object detector
# ---------------------------------------------------------------------------------------------

@check(points=1, uses=NETS, hint='the model returns a dict {"boxes": (N, 4) in [0, 1] (sigmoid), '
                                 '"labels": (N, num_classes) logits}, and saves as .keras')
def detector_outputs(lab, rng):
    model = lab.networks.build_detector(size=16, channels=1, num_classes=3, filters=(4, 8),
                                        hidden=16)
    x = rng.random(size=(5, 16, 16, 1)).astype("float32")
    outputs = model(x)
    if not isinstance(outputs, dict):
        return {"keys": f"not a dict but a {type(outputs).__name__}"}
    keys = sorted(outputs)
    result = {"keys": json.dumps(keys), "layers": weight_layers(model)}
    if keys == ["boxes", "labels"]:
        result.update(boxes=outputs["boxes"], labels=outputs["labels"],
                      round_trip=round_trip(lab, model, x, "detector"))
    return result


@detector_outputs.verdict
def _(student, reference):
    what = "build_detector(size=16, channels=1, num_classes=3, filters=(4, 8), hidden=16)"
    expect_true(student["keys"] == reference["keys"],
                f"{what} returns outputs {student['keys']}, expected a dict with keys "
                f"{reference['keys']}")
    judge_layers(student["layers"], reference["layers"], what)
    expect_shape(student["boxes"], (5, 4), f"the 'boxes' output of {what}")
    expect_shape(student["labels"], (5, 3), f"the 'labels' output of {what}")
    boxes = np.asarray(student["boxes"])
    expect_true(np.all((boxes >= 0) & (boxes <= 1)), f"the 'boxes' of {what} leave [0, 1] "
                f"(min {boxes.min():.3g}, max {boxes.max():.3g}): end the box head with a sigmoid")
    judge_round_trip(student["round_trip"], what)


def detector_probe(lab, rng, budget):
    """Train a fresh detector; its mean box IoU and class accuracy on held-out shapes."""
    from dlkit.data import make_shapes
    seed = int(rng.integers(1 << 20))
    train = make_shapes(budget["train_images"], size=budget["size"], seed=seed)
    test = make_shapes(budget["test_images"], size=budget["size"], seed=seed + 1)
    model = lab.networks.build_detector(size=budget["size"], channels=1, num_classes=3,
                                        filters=budget["filters"], hidden=budget["hidden"])
    lab.networks.compile_detector(model, budget["learning_rate"])
    model.fit(train["images"], {"boxes": train["boxes"], "labels": train["labels"]},
              batch_size=budget["batch_size"], epochs=budget["epochs"], shuffle=True, verbose=0)
    predicted = model(test["images"], training=False)
    boxes, logits = np.asarray(predicted["boxes"]), np.asarray(predicted["labels"])
    return {"mean_box_iou": mean_box_iou(boxes, test["boxes"]),
            "accuracy": float(np.mean(logits.argmax(axis=-1) == test["labels"]))}


def judge_detector(student, reference):
    expect_at_least(student["mean_box_iou"], reference["mean_box_iou"] - BOX_IOU_MARGIN,
                    f"the mean IoU of the trained detector's boxes with the true boxes on "
                    f"held-out shapes (the reference reaches {reference['mean_box_iou']:.3f})")
    expect_at_least(100 * student["accuracy"], 100 * (reference["accuracy"] - ACCURACY_MARGIN),
                    f"the trained detector's class accuracy on held-out shapes (the reference "
                    f"reaches {reference['accuracy']:.1%})", unit=" %")


@check(points=3, timeout=40, uses=NETS,
       hint="trained as the handout says, the detector's boxes and classes must be about as good "
            "as the reference's: check the heads and the losses of compile_detector")
def detector_localises_and_classifies(lab, rng):
    return detector_probe(lab, rng, DETECTOR_TRAIN)


@detector_localises_and_classifies.verdict
def _(student, reference):
    judge_detector(student, reference)
