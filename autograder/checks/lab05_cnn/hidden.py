"""Hidden checks of lab05_cnn: more random configurations against Keras (on TensorFlow's
padding and patches standing in for same_padding and im2col, as in public.py), fresh IoU
inputs, other block and model sizes (small_resnet on the stand-in block); references from
the solution."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab05_cnn.probes import (
    CONV,
    NETS,
    conv_against_keras,
    conv_transpose_against_keras,
    draw_conv_case,
    judge_against_keras,
    judge_layers,
    judge_logits,
    judge_residual_block,
    pool_against_keras,
    random_boxes,
    residual_block_probe,
    small_resnet_on_stand_in_block,
    weight_layers,
)
from autograder.verdicts import expect_close, expect_equal


def _paddings(rng, count):
    return [str(p) for p in rng.choice(["valid", "same"], size=count)]


@check(points=2, uses=CONV, reference=False,
       hint="conv2d must match Conv2D for any image size, kernel, strides, padding and "
            "channel counts")
def conv2d_random_configurations(lab, rng):
    cases = [draw_conv_case(rng, padding, max_size=13, max_channels=6, max_kernel=5,
                            max_stride=4) for padding in _paddings(rng, 6)]
    return {"cases": [conv_against_keras(lab, rng, case) for case in cases]}


conv2d_random_configurations.verdict(lambda student, _: judge_against_keras(student["cases"]))


@check(points=1, uses=CONV, reference=False,
       hint="conv_transpose2d must match Conv2DTranspose for any size, kernel (also smaller "
            "than the stride), strides, padding and channel counts")
def conv_transpose2d_random_configurations(lab, rng):
    cases = [draw_conv_case(rng, padding, max_size=7, max_channels=5, max_kernel=5,
                            max_stride=4) for padding in _paddings(rng, 4)]
    cases[0].update(kernel=[1, 2], strides=[3, 3], padding="valid")  # kernel < stride
    return {"cases": [conv_transpose_against_keras(lab, rng, case) for case in cases]}


@conv_transpose2d_random_configurations.verdict
def _(student, _reference):
    judge_against_keras(student["cases"])


@check(points=1, uses=CONV, reference=False,
       hint="max_pool2d and avg_pool2d must match Keras for any pool size, strides and padding")
def pooling_random_configurations(lab, rng):
    cases = [draw_conv_case(rng, padding, max_size=11, max_kernel=4, max_stride=4)
             for padding in _paddings(rng, 4)]
    return {"cases": [pool_against_keras(lab, rng, case, kind)
                      for case in cases for kind in ("max", "avg")]}


pooling_random_configurations.verdict(lambda student, _: judge_against_keras(student["cases"]))


@check(points=1, uses=CONV, hint="same_padding and im2col on larger sizes and strides")
def same_padding_and_im2col_other_sizes(lab, rng):
    cases = [[int(rng.integers(1, 64)), int(rng.integers(1, 8)), int(rng.integers(1, 6))]
             for _ in range(40)]
    x = rng.normal(size=(1, 11, 9, 2)).astype("float32")
    return {"cases": cases, "pads": [list(lab.convolution.same_padding(*c)) for c in cases],
            "cols": lab.convolution.im2col(x, (4, 3), (3, 2))}


@same_padding_and_im2col_other_sizes.verdict
def _(student, reference):
    for case, pads, expected in zip(reference["cases"], student["pads"], reference["pads"]):
        if list(pads) != list(expected):
            raise CheckFailed(f"same_padding(size={case[0]}, kernel_size={case[1]}, "
                              f"stride={case[2]}) returned {tuple(pads)}, expected "
                              f"{tuple(expected)}")
    expect_close(student["cols"], reference["cols"], "im2col(x (1, 11, 9, 2), (4, 3), (3, 2))")


@check(points=1, uses=NETS, hint="box_iou and mask_iou on fresh inputs (and pairs of empty boxes)")
def iou_fresh_inputs(lab, rng):
    n = int(rng.integers(3, 30))
    a, b = random_boxes(rng, n), random_boxes(rng, n)
    a[0] = b[0] = [0.3, 0.3, 0.3, 0.3]  # empty boxes: IoU 0, not NaN
    size = int(rng.integers(4, 12))
    masks = rng.random(size=(2, n, size, size, 1)) < rng.uniform(0.1, 0.9)
    return {"boxes": lab.networks.box_iou(a, b),
            "masks": lab.networks.mask_iou(masks[0], masks[1])}


@iou_fresh_inputs.verdict
def _(student, reference):
    expect_close(student["boxes"], reference["boxes"], "box_iou on fresh pairs (the first "
                 "pair empty boxes)")
    expect_close(student["masks"], reference["masks"], "mask_iou on fresh masks")


@check(points=1, uses=NETS, hint="the residual block for any filters, strides and channels")
def residual_block_other_sizes(lab, rng):
    channels, filters = (int(v) for v in rng.integers(1, 7, size=2))
    strides = int(rng.integers(1, 4))
    return residual_block_probe(lab, rng, n=2, size=int(rng.integers(4, 10)),
                                channels=channels, filters=filters, strides=strides)


residual_block_other_sizes.verdict(judge_residual_block)


@check(points=1, uses=NETS, hint="build_unet for any depth, base_filters and channels")
def unet_other_depth(lab, rng):
    model = lab.networks.build_unet(size=32, channels=3, base_filters=2, depth=3)
    x = rng.random(size=(1, 32, 32, 3)).astype("float32")
    return {"layers": weight_layers(model), "shape": list(np.shape(model(x)))}


@unet_other_depth.verdict
def _(student, reference):
    what = "build_unet(size=32, channels=3, base_filters=2, depth=3)"
    expect_equal(student["shape"], reference["shape"], f"the output shape of {what}")
    judge_layers(student["layers"], reference["layers"], what)


@check(points=1, uses=NETS, hint="small_resnet for any input shape, widths, blocks per stage and "
                                 "number of classes; the head averages, then Dense logits")
def small_resnet_other_sizes(lab, rng):
    model = small_resnet_on_stand_in_block(lab, (12, 10, 2), num_classes=4, widths=(5, 7),
                                          blocks_per_stage=1)
    assign_random_weights(model, rng, scale=0.4)
    x = rng.normal(size=(3, 12, 10, 2)).astype("float32")
    return {"layers": weight_layers(model), "logits": model(x, training=False)}


@small_resnet_other_sizes.verdict
def _(student, reference):
    what = "small_resnet((12, 10, 2), 4, widths=(5, 7), blocks_per_stage=1)"
    judge_layers(student["layers"], reference["layers"], what)
    judge_logits(student["logits"], reference["logits"], f"{what}(x) with the check's weights",
                 "the Dense(num_classes) head")
