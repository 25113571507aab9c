"""Public checks of lab05b_detection, part 2: segmentation.py.

atrous_conv2d against keras.layers.Conv2D(dilation_rate=...) holding the same weights;
receptive_field against the pixels where the gradient of one output of a stack of dilated
Conv2Ds is non-zero; ASPP with the check's weights against the reference, and by gradients
(the pooling branch reaches every pixel, the rate branches exactly their taps); the given
U-Net with the student's ASPP trained on textured shapes against the best global threshold,
scored by scikit-learn's Jaccard index.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.checks.lab05b_detection.probes import (
    OVER_THRESHOLD,
    SEG,
    SEGMENTER_MARGIN,
    SEGMENTER_TRAIN,
    train_segmenter,
)
from autograder.verdicts import expect_at_least, expect_close_naming, expect_true

# ---------------------------------------------------------------------------------------------
# 9-10. Atrous convolution and receptive fields
# ---------------------------------------------------------------------------------------------

ATROUS_CASES = [  # x shape, kernel shape, rate
    ((2, 9, 8, 2), (3, 3, 2, 3), 2),
    ((1, 11, 11, 1), (3, 3, 1, 2), 3),
    ((2, 7, 9, 3), (5, 3, 3, 2), 2),
    ((1, 6, 6, 2), (3, 3, 2, 2), 1),
]


@check(points=2, uses=SEG, task="`atrous_conv2d`",
       hint="pad (K - 1) * rate // 2 zeros on each side; out += xp[:, a*rate : a*rate + H, "
            "b*rate : b*rate + W] @ kernel[a, b] for every tap (a, b); no kernel flip")
def atrous_conv2d_matches_keras(lab, rng):
    """Four dilated convolutions (rates 2, 3, 2 and 1; a 5x3 kernel; up to 3 channels in and
    out) against `keras.layers.Conv2D(dilation_rate=rate, padding="same")` holding the same
    kernel and bias."""
    import keras
    cases = []
    for x_shape, kernel_shape, rate in ATROUS_CASES:
        x = rng.normal(size=x_shape).astype("float32")
        kernel = rng.normal(size=kernel_shape).astype("float32")
        bias = rng.normal(size=kernel_shape[-1]).astype("float32")
        outputs = {}
        for key, (dilation, k) in {"keras": (rate, kernel), "no_rate": (1, kernel),
                                   "flipped": (rate, kernel[::-1, ::-1])}.items():
            layer = keras.layers.Conv2D(kernel_shape[-1], kernel_shape[:2], padding="same",
                                        dilation_rate=dilation)
            layer.build(x_shape)
            layer.kernel.assign(k)
            layer.bias.assign(bias)
            outputs[key] = np.asarray(layer(x))
        try:
            answer, error = np.asarray(lab.segmentation.atrous_conv2d(x, kernel, bias, rate)), ""
        except Exception as failure:  # a padding that does not fit the taps: named
            answer, error = np.zeros(0), f"{type(failure).__name__}: {failure}"[:300]
        cases.append({"student": answer, "error": error, "rate": rate, "x": list(x_shape),
                      "kernel": list(kernel_shape), **outputs})
    return {"cases": cases}


def _padding_advice(case):
    kh, kw = case["kernel"][:2]
    rate = case["rate"]
    return (f"the output is (N, H, W, C_out), the input's size: pad (K - 1) * rate // 2 zeros "
            f"on each side, here ({kh} - 1) * {rate} // 2 = {(kh - 1) * rate // 2} rows above "
            f"and below and ({kw} - 1) * {rate} // 2 = {(kw - 1) * rate // 2} columns left and "
            "right")


@atrous_conv2d_matches_keras.verdict
def _(student, _reference):
    for case in student["cases"]:
        what = f"atrous_conv2d(x {tuple(case['x'])}, kernel {tuple(case['kernel'])}, " \
               f"rate={case['rate']})"
        if case["error"] and "shape" in case["error"]:
            raise CheckFailed(f"{what} failed ({case['error']}): {_padding_advice(case)}")
        if case["error"]:
            raise CheckFailed(f"{what} raised {case['error']}")
        shape = np.shape(case["student"])
        if shape != np.shape(case["keras"]):
            raise CheckFailed(f"{what} has shape {shape}, expected "
                              f"{np.shape(case['keras'])}: {_padding_advice(case)}")
        mistakes = [(case["flipped"], "that is Conv2D with the kernel flipped: no flip "
                                      "(cross-correlation)")]
        if case["rate"] > 1:
            mistakes.append((case["no_rate"], "that is the convolution at rate 1: the taps are "
                                              "`rate` pixels apart, x[i + a*rate, j + b*rate]"))
        expect_close_naming(case["student"], case["keras"], what, mistakes, atol=1e-4,
                            rtol=1e-4, against="keras.layers.Conv2D(dilation_rate=rate, "
                                               "padding='same') with the same weights")


FIELD_CASES = [((3,), (1,)), ((3, 3, 3), (1, 1, 1)), ((3, 3, 3), (1, 2, 4)), ((5, 3), (3, 2)),
               ((3, 3, 3, 3), (1, 2, 4, 8)), ((1, 3), (4, 3))]


@check(points=1, uses=SEG, reference=False, task="`receptive_field`",
       hint="a k-tap kernel at rate r spans (k - 1) * r + 1 pixels; stacked, the field is "
            "1 + sum of (k - 1) * r")
def receptive_field(lab, rng):
    """Six stacks of stride-1 dilated convolutions (kernel sizes 1 to 5, rates 1 to 8): the
    receptive field against the width of the input region, first to last pixel, where
    `tf.GradientTape`'s gradient of the centre output of `Conv2D(dilation_rate=...)` layers
    of ones is non-zero."""
    import keras
    import tensorflow as tf
    measured, answers, holes = [], [], []
    for sizes, rates in FIELD_CASES:
        width = 2 * sum((k - 1) * r for k, r in zip(sizes, rates)) + 5
        layers = [keras.layers.Conv2D(1, k, padding="same", dilation_rate=r, use_bias=False,
                                      kernel_initializer="ones") for k, r in zip(sizes, rates)]
        x = tf.Variable(tf.zeros((1, width, width, 1)))
        with tf.GradientTape() as tape:
            y = x
            for layer in layers:
                y = layer(y)
            centre = y[0, width // 2, width // 2, 0]
        row = np.asarray(tape.gradient(centre, x))[0, width // 2, :, 0]
        seen = np.flatnonzero(row)
        measured.append(int(seen[-1] - seen[0] + 1))
        holes.append(int(seen[-1] - seen[0] + 1 - len(seen)))
        answers.append(int(lab.segmentation.receptive_field(sizes, rates)))
    return {"measured": measured, "answers": answers, "holes": holes}


@receptive_field.verdict
def _(student, _reference):
    for (sizes, rates), got, measured in zip(FIELD_CASES, student["answers"], student["measured"]):
        expect_true(got == measured, f"receptive_field({sizes}, {rates}) returned {got}, but "
                    f"the gradient of one output spans {measured} input pixels along a row, "
                    "first to last (each layer adds (k - 1) * rate)")


# ---------------------------------------------------------------------------------------------
# 11. ASPP
# ---------------------------------------------------------------------------------------------

ASPP_RATES = (1, 2, 3)


def _gradient_of_centre(block, x, row, col):
    import tensorflow as tf
    x = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(block(x)[0, row, col, :])
    return np.asarray(tape.gradient(out, x))[0].sum(axis=-1)


def _pool_first(block, x):
    """The block's own layers joined in the wrong order (the pooling branch first), to name
    that slip; zeros(0) when the block does not hold the layers the skeleton gives it."""
    try:
        pooled = block.pool_conv(np.mean(x, axis=(1, 2), keepdims=True))
        pooled = np.broadcast_to(np.asarray(pooled), (*x.shape[:3], block.filters))
        joined = np.concatenate([pooled] + [np.asarray(b(x)) for b in block.branches], axis=-1)
        return np.asarray(block.project(joined))
    except Exception:  # a block built another way: no slip to name
        return np.zeros(0)


@check(points=2, uses=SEG, task="`ASPP.call`",
       hint="concatenate [branch(x) for each rate] + [pool_conv(mean of x over H, W, keepdims) "
            "broadcast to H x W] on the channels, then project")
def aspp_outputs(lab, rng):
    """ASPP(4, rates=(1, 2, 3)) on (2, 9, 9, 3) inputs with the check's weights: the output
    against the reference's. By gradients, with positive weights: one output depends on
    every input pixel (the image-pooling branch); with the pooling branch's weights zero, on
    exactly the taps of the three rates around it."""
    from autograder.check_helpers import assign_random_weights
    block = lab.segmentation.ASPP(4, rates=ASPP_RATES)
    x = rng.normal(size=(2, 9, 9, 3)).astype("float32")
    block.build(x.shape)
    assign_random_weights(block, rng, scale=0.5)
    result = {"out": np.asarray(block(x)), "pool_first": _pool_first(block, x)}
    positive = rng.uniform(0.5, 1.0, size=(1, 15, 15, 3)).astype("float32")
    for weight in block.trainable_weights:
        weight.assign(np.abs(weight.numpy()) + 0.05)
    result["pooled"] = _gradient_of_centre(block, positive, 0, 0) != 0
    for weight in block.pool_conv.trainable_weights:
        weight.assign(np.zeros(weight.shape, "float32"))
    result["taps"] = _gradient_of_centre(block, positive, 7, 7) != 0
    return result


@aspp_outputs.verdict
def _(student, reference):
    what = "ASPP(4, rates=(1, 2, 3)) on (2, 9, 9, 3) inputs"
    pooled, taps = np.asarray(student["pooled"]), np.asarray(student["taps"])
    expect_true(bool(pooled.all()), f"{what}: the output at pixel (0, 0) does not depend on "
                f"{int((~pooled).sum())} of the 225 pixels of a 15x15 input: the image-pooling "
                "branch (the mean over all positions, pool_conv, broadcast back) makes every "
                "output see the whole image")
    expected = np.zeros((15, 15), dtype=bool)
    for rate in ASPP_RATES:
        for a in (-1, 0, 1):
            for b in (-1, 0, 1):
                expected[7 + a * rate, 7 + b * rate] = True
    if not np.array_equal(taps, expected):
        offsets = sorted({(int(r) - 7, int(c) - 7) for r, c in zip(*np.nonzero(taps))})
        raise CheckFailed(f"{what}, the pooling branch's weights set to 0: the output at "
                          f"(7, 7) depends on the input at the offsets {offsets}, expected the "
                          "3x3 taps of each rate (1, 2, 3): every branch of self.branches on x, "
                          "concatenated")
    expect_close_naming(student["out"], reference["out"], f"{what} with the check's weights",
                        [(student["pool_first"], "the pooling branch comes first in the "
                                                 "concatenation: the handout's order is the "
                                                 "rate branches in the order of `rates`, then "
                                                 "the pooling branch")],
                        rtol=1e-4, atol=1e-5)


@check(points=3, timeout=60, uses=SEG, task="`ASPP`",
       hint="the U-Net with your ASPP, trained on textured shapes, must find them clearly "
            "better than any brightness threshold")
def aspp_unet_beats_threshold(lab, rng):
    """The given one-level `build_aspp_unet` with your ASPP, trained for the budget below on
    16x16 shapes over textured backgrounds: its mean mask IoU on held-out shapes beats the
    best global brightness threshold (chosen on the training images) by 0.1 and comes within
    0.12 of the reference's."""
    return train_segmenter(lab, rng, SEGMENTER_TRAIN)


@aspp_unet_beats_threshold.verdict
def _(student, reference):
    expect_true(student["shape"] == reference["shape"], f"the U-Net's logits have shape "
                f"{tuple(student['shape'])}, expected {tuple(reference['shape'])}")
    expect_at_least(student["mean_iou"], student["threshold_iou"] + OVER_THRESHOLD,
                    f"the mean IoU of the trained ASPP U-Net on textured shapes (the best "
                    f"global threshold, {student['threshold']:.2f}, reaches "
                    f"{student['threshold_iou']:.3f}; it must be beaten by {OVER_THRESHOLD})")
    expect_at_least(student["mean_iou"], reference["mean_iou"] - SEGMENTER_MARGIN,
                    f"the mean IoU of the trained ASPP U-Net on textured shapes (the reference "
                    f"reaches {reference['mean_iou']:.3f})")
