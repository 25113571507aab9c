"""Public checks of lab05_cnn, part 1: convolution.py.

Keras is the reference implementation of the by-hand operations: each probe draws a random
configuration from the seed, copies one set of weights into the student's function and into
the Keras layer, and returns both outputs. conv2d, conv_transpose2d and the pooling
functions run on TensorFlow's "SAME" padding and patches standing in for same_padding and
im2col (probes.library_pieces), so each function is judged on its own.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.checks.lab05_cnn.probes import (
    ATOL,
    CONV,
    conv_against_keras,
    conv_transpose_against_keras,
    describe,
    draw_conv_case,
    judge_against_keras,
    keras_layer_with,
    library_pieces,
    pool_against_keras,
)
from autograder.verdicts import expect_close, expect_shape

# ---------------------------------------------------------------------------------------------
# 1-2. Padding and patches
# ---------------------------------------------------------------------------------------------

SAME_PADDING_CASES = [(size, kernel, stride) for size in range(3, 10) for kernel in range(1, 6)
                      for stride in range(1, 4)]


@check(points=1, uses=CONV, task="`same_padding`",
       hint="out = ceil(size / stride); total = max((out - 1) * stride + kernel_size - size, 0); "
            "before = total // 2, after = the rest")
def same_padding(lab, rng):
    """The (before, after) zeros of "same" padding for every size 3-9, kernel 1-5 and
    stride 1-3, odd totals included."""
    return {"pads": [list(lab.convolution.same_padding(*case)) for case in SAME_PADDING_CASES]}


@same_padding.verdict
def _(student, reference):
    got = expect_shape(student["pads"], (len(SAME_PADDING_CASES), 2),
                       "same_padding(...) over all the cases")
    for (size, kernel, stride), pads, expected in zip(SAME_PADDING_CASES, got, reference["pads"]):
        if tuple(pads) != tuple(expected):
            odd = " (an odd total: the extra zero goes AFTER the data)" \
                if tuple(pads) == tuple(expected)[::-1] else ""
            raise CheckFailed(f"same_padding(size={size}, kernel_size={kernel}, stride={stride}) "
                              f"returned {tuple(int(p) for p in pads)}, expected "
                              f"{tuple(int(p) for p in expected)} (before, after){odd}")


@check(points=1, uses=CONV, task="`im2col`",
       hint="window (i, j) starts at x[:, i*SH, j*SW]; flatten each window in (KH, KW, C) order")
def im2col(lab, rng):
    """The windows of a (1, 7, 6, 3) image for a 2x2 kernel, and of a (2, 7, 6, 3) image for
    a 3x2 kernel with strides (2, 1), flattened in (KH, KW, C) order."""
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
# 3-4. Convolution and transposed convolution
# ---------------------------------------------------------------------------------------------

@check(points=2, uses=CONV, reference=False, task="`conv2d`",
       hint="cross-correlation, as Conv2D: out[i, j] = sum x[i*s + a, j*s + b] . kernel[a, b] "
            "+ bias; the kernel is not flipped")
def conv2d_valid_matches_keras(lab, rng):
    """"valid" convolutions of random sizes, kernels, strides and channel counts (one with a
    3x2 kernel, 3 channels in and 4 out) against `keras.layers.Conv2D` with the same
    weights."""
    cases = [draw_conv_case(rng, "valid") for _ in range(3)]
    # Nothing square, nothing equal: a transposed kernel or swapped channels cannot match.
    cases[0].update(n=2, size=[7, 6], kernel=[3, 2], strides=[1, 1], channels=[3, 4])
    return {"cases": [conv_against_keras(lab, rng, case) for case in cases]}


conv2d_valid_matches_keras.verdict(lambda student, _: judge_against_keras(student["cases"]))


@check(points=2, uses=CONV, reference=False, task="`conv2d`",
       hint="'same' pads by same_padding on each axis (the odd zero after), so that "
            "out = ceil(in / stride)")
def conv2d_same_matches_keras(lab, rng):
    """"same" convolutions (one with an odd number of zeros to place) against
    `keras.layers.Conv2D` with the same weights."""
    cases = [draw_conv_case(rng, "same") for _ in range(3)]
    # An even kernel with stride 2 over an even size: an odd number of zeros to place.
    cases[0].update(size=[8, 7], kernel=[4, 2], strides=[2, 2])
    return {"cases": [conv_against_keras(lab, rng, case) for case in cases]}


conv2d_same_matches_keras.verdict(lambda student, _: judge_against_keras(student["cases"]))


@check(points=2, uses=CONV, reference=False, task="`conv_transpose2d`",
       hint="scatter y[:, i, j] @ kernel[a, b].T to full[:, i*s + a, j*s + b]; kernel is "
            "(KH, KW, C_out, C_in); crop 'same' padding by same_padding of the OUTPUT size; "
            "zero-fill up to the output size; add the bias")
def conv_transpose2d_matches_keras(lab, rng):
    """Transposed convolutions, "valid" and "same", one with a kernel smaller than the
    stride, against `keras.layers.Conv2DTranspose` with the same weights."""
    cases = [draw_conv_case(rng, padding, max_size=6)
             for padding in ("valid", "same", "same", "valid")]
    cases[0].update(kernel=[3, 3], strides=[2, 2], channels=[2, 3])
    cases[2].update(kernel=[4, 3], strides=[2, 3])
    cases[3].update(kernel=[1, 2], strides=[2, 3])  # kernel < stride: zero rows to fill
    return {"cases": [conv_transpose_against_keras(lab, rng, case) for case in cases]}


conv_transpose2d_matches_keras.verdict(lambda student, _: judge_against_keras(student["cases"]))


@check(points=1, uses=CONV, reference=False, task="`conv_transpose2d`",
       hint="the transposed convolution of g is the gradient of sum(conv2d(x) * g) with "
            "respect to x")
def conv_transpose2d_is_the_gradient_of_conv2d(lab, rng):
    """conv_transpose2d(g, kernel) equals `tf.GradientTape`'s gradient of
    sum(Conv2D(x) * g) with respect to x, for "valid" and "same"."""
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
        with library_pieces(lab):
            student = lab.convolution.conv_transpose2d(upstream, kernel, None, (sh, sw), padding)
        cases.append({"op": "conv_transpose2d", "x_shape": list(upstream.shape),
                      "kernel_shape": list(kernel.shape), "strides": [sh, sw],
                      "padding": padding, "keras": tape.gradient(loss, x), "student": student})
    return {"cases": cases}


@conv_transpose2d_is_the_gradient_of_conv2d.verdict
def _(student, _reference):
    for case in student["cases"]:
        expect_close(case["student"], case["keras"], describe(case), atol=ATOL, rtol=ATOL,
                     against="the gradient of Conv2D with respect to its input "
                             "(tf.GradientTape)")


# ---------------------------------------------------------------------------------------------
# 5. Pooling, equivariance and invariance
# ---------------------------------------------------------------------------------------------

def pool_cases(rng):
    cases = [draw_conv_case(rng, padding, max_kernel=3) for padding in ("valid", "same")]
    cases.append({"n": 2, "size": [7, 6], "kernel": [2, 3], "strides": [2, 2],
                  "channels": [3, 3], "padding": "same"})  # windows hanging over the border
    return cases


@check(points=1, uses=CONV, reference=False, task="`max_pool2d`",
       hint="the max of every window per channel; pad with -inf for 'same' so padding never wins")
def max_pool2d_matches_keras(lab, rng):
    """Max pooling, "valid" and "same" (windows hanging over the border), against
    `keras.layers.MaxPooling2D`."""
    return {"cases": [pool_against_keras(lab, rng, case, "max") for case in pool_cases(rng)]}


max_pool2d_matches_keras.verdict(lambda student, _: judge_against_keras(student["cases"]))


@check(points=1, uses=CONV, reference=False, task="`avg_pool2d`",
       hint="'same' average pooling divides by the number of REAL pixels in the window, not "
            "by its size")
def avg_pool2d_matches_keras(lab, rng):
    """Average pooling, "valid" and "same" (windows hanging over the border), against
    `keras.layers.AveragePooling2D`."""
    return {"cases": [pool_against_keras(lab, rng, case, "avg") for case in pool_cases(rng)]}


avg_pool2d_matches_keras.verdict(lambda student, _: judge_against_keras(student["cases"]))


@check(points=1, uses=CONV, reference=False, task="`conv2d`, pooling (nothing new to write)",
       hint="conv2d must treat every position alike (no position-dependent indexing); a "
            "global max/avg pool of its output then ignores where the object is")
def conv_is_equivariant_and_global_pooling_invariant(lab, rng):
    """Shifting an object shifts conv2d's output by as much (equivariance), and a global max
    or average pool of that output does not change (invariance)."""
    conv = lab.convolution
    x = np.zeros((1, 20, 20, 2), dtype="float32")
    x[:, 7:13, 6:14] = rng.normal(size=(1, 6, 8, 2))  # an object with an empty margin
    shift = [int(v) * int(rng.choice([-1, 1])) for v in rng.integers(1, 4, size=2)]
    shifted = np.roll(x, shift, axis=(1, 2))
    kernel = rng.normal(size=(3, 3, 2, 4)).astype("float32")
    bias = rng.normal(size=4).astype("float32")
    with library_pieces(lab):
        out, out_shifted = conv.conv2d(x, kernel, bias), conv.conv2d(shifted, kernel, bias)
        size = tuple(np.shape(out)[1:3])
        return {"shift": shift, "out": out, "out_shifted": out_shifted,
                "max": conv.max_pool2d(out, size),
                "max_shifted": conv.max_pool2d(out_shifted, size),
                "avg": conv.avg_pool2d(out, size),
                "avg_shifted": conv.avg_pool2d(out_shifted, size)}


@conv_is_equivariant_and_global_pooling_invariant.verdict
def _(student, _reference):
    (dy, dx) = student["shift"]
    out = expect_shape(student["out"], (1, 18, 18, 4),
                       "conv2d of a (1, 20, 20, 2) image, 3x3 kernel, 'valid'")
    h, w = out.shape[1:3]
    moved = np.asarray(student["out_shifted"])[:, max(dy, 0): h + min(dy, 0),
                                               max(dx, 0): w + min(dx, 0)]
    original = out[:, max(-dy, 0): h - max(dy, 0), max(-dx, 0): w - max(dx, 0)]
    expect_close(moved, original, f"conv2d of the image shifted by {(dy, dx)} pixels, shifted "
                 "back", atol=ATOL, against="conv2d of the image (equivariance: shifting the "
                                            "input must shift the output)")
    for kind in ("max", "avg"):
        expect_close(student[f"{kind}_shifted"], student[kind],
                     f"the global {kind} pooling ({kind}_pool2d over the whole map) of the conv2d "
                     f"output, image shifted by {(dy, dx)} pixels", atol=ATOL,
                     against="that of the image not shifted (invariance)")
