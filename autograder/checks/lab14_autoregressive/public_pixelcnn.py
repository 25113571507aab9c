"""Public checks of lab14_autoregressive, part 2: PixelCNN (pixelcnn.py).

The mask, the masked convolution (with and without its activation), the gate and the block
against the reference with the same weights; PixelCNN.call against its own layers wired as
the docstring says; causality in raster order measured with gradients; training on binarised
digits relative to the reference; the .keras round trip.
"""
import json

import numpy as np

from autograder.api import check
from autograder.checks.lab14_autoregressive.probes import (
    MARGIN_BITS,
    PIXELCNN,
    PIXELCNN_TRAIN,
    _digits,
    assign_by_shape,
    dependence,
    judge_raster_dependence,
    judge_round_trip,
    judge_training,
    judge_variants,
    open_every_unit,
    round_trip,
    train_probe,
    weights_by_rank,
)
from autograder.verdicts import expect_close, expect_equal, expect_true


@check(points=2, uses=PIXELCNN, task="`pixelcnn.causal_mask_2d`",
       hint="ones on every row above the centre and left of the centre in the centre row; "
            "the centre is 1 for type B, 0 for type A; a (k, k) float32 array")
def causal_mask_2d(lab, rng):
    """The masks of types A and B for kernels of 3 and 5, against the reference."""
    return {f"{mask_type}{size}": lab.pixelcnn.causal_mask_2d(size, mask_type)
            for size in (3, 5) for mask_type in ("A", "B")}


@causal_mask_2d.verdict
def _(student, reference):
    for key in ("A3", "B3", "A5", "B5"):
        expect_equal(student[key], reference[key],
                     f"causal_mask_2d({key[1:]}, {key[0]!r})")


MASKED_CONVS = {"A": (4, 5, "A", None), "B": (3, 3, "B", None), "A_relu": (4, 5, "A", "relu")}


@check(points=2, uses=PIXELCNN, task="`pixelcnn.MaskedConv2D` (`build`, `call`)",
       hint="kernel (k, k, C_in, filters) times the (k, k) mask broadcast over the channels; "
            "tf.nn.conv2d with strides=1, padding='SAME'; plus the bias; then self.activation")
def masked_conv2d(lab, rng):
    """Types A and B, and type A with a ReLU, on (3, 8, 8, 2) inputs: the weights' shapes,
    and the output against activation(conv(x, kernel * mask) + bias) with the layer's own
    kernel, bias and kernel_mask."""
    import tensorflow as tf
    x = rng.normal(size=(3, 8, 8, 2)).astype("float32")
    outputs = {}
    for name, (filters, size, mask_type, activation) in MASKED_CONVS.items():
        layer = lab.pixelcnn.MaskedConv2D(filters, size, mask_type, activation=activation)
        layer.build((None, 8, 8, 2))
        outputs[f"shapes_{name}"] = json.dumps(assign_by_shape(layer, rng))
        outputs[name] = layer(x)
        kernel, bias = weights_by_rank(layer)
        mask = np.asarray(layer.kernel_mask, dtype="float32")[:, :, None, None]
        linear = np.asarray(tf.nn.conv2d(x, kernel * mask, 1, "SAME")) + bias
        outputs[f"{name}_expected"] = np.maximum(linear, 0.0) if activation else linear
        outputs[f"{name}_linear"] = linear
        outputs[f"{name}_unmasked"] = np.asarray(tf.nn.conv2d(x, kernel, 1, "SAME")) + bias
    return outputs


@masked_conv2d.verdict
def _(student, reference):
    for name, (filters, size, mask_type, activation) in MASKED_CONVS.items():
        call = f"MaskedConv2D({filters}, {size}, {mask_type!r}, activation={activation!r})"
        expect_true(student[f"shapes_{name}"] == reference[f"shapes_{name}"],
                    f"{call}.build((None, 8, 8, 2)) created weights of shapes "
                    f"{student[f'shapes_{name}']}, expected {reference[f'shapes_{name}']}")
        slips = {f"{name}_unmasked": "the kernel is not multiplied by the mask"}
        if activation:
            slips[f"{name}_linear"] = "the activation is ignored: return self.activation(...)"
        judge_variants(student[name], student, slips, f"{call}(x) for x (3, 8, 8, 2), against "
                       "activation(conv2d(x, kernel * kernel_mask, 'SAME') + bias) with its own "
                       "weights", expected=f"{name}_expected", rtol=2e-4, atol=2e-5,
                       against="that")


@check(points=1, uses=PIXELCNN, task="`pixelcnn.gated_activation`",
       hint="a = the first half of the channels, b = the second half: tanh(a) * sigmoid(b)")
def gated_activation(lab, rng):
    """On (4, 6) and (2, 3, 3, 8) inputs, against the reference."""
    return {"flat": lab.pixelcnn.gated_activation(rng.normal(size=(4, 6)).astype("float32")),
            "images": lab.pixelcnn.gated_activation(
                rng.normal(size=(2, 3, 3, 8)).astype("float32"))}


@gated_activation.verdict
def _(student, reference):
    expect_close(student["flat"], reference["flat"], "gated_activation(h) for h (4, 6)")
    expect_close(student["images"], reference["images"], "gated_activation(h) for h (2, 3, 3, 8)")


@check(points=1, uses=PIXELCNN, task="`pixelcnn.GatedBlock` (`build`, `call`)",
       hint="x + projection(gated_activation(masked_conv(x))); build both sublayers")
def gated_block(lab, rng):
    """GatedBlock(4, 3) on (2, 6, 6, 4) inputs: its weights' shapes, and its output against
    x + projection(gated_activation(masked_conv(x))) from its own sublayers."""
    block = lab.pixelcnn.GatedBlock(4, 3)
    block.build((None, 6, 6, 4))
    shapes = assign_by_shape(block, rng)
    x = rng.normal(size=(2, 6, 6, 4)).astype("float32")
    gated = block.projection(lab.pixelcnn.gated_activation(block.masked_conv(x)))
    return {"shapes": json.dumps(shapes), "y": block(x), "expected": x + gated,
            "no_residual": gated}


@gated_block.verdict
def _(student, reference):
    expect_true(student["shapes"] == reference["shapes"],
                f"GatedBlock(4, 3).build((None, 6, 6, 4)) created weights of shapes "
                f"{student['shapes']}, expected {reference['shapes']}")
    judge_variants(student["y"], student, {
        "no_residual": "the input is not added back: x + projection(...)"},
        "GatedBlock(4, 3)(x) for x (2, 6, 6, 4), against x + projection(gated_activation("
        "masked_conv(x))) from its own sublayers", against="that")


@check(points=2, uses=PIXELCNN, reference=False, task="`pixelcnn.PixelCNN.call`",
       hint="call: first_conv, each block in turn, ReLU, hidden_1x1, output_1x1")
def pixelcnn_call(lab, rng):
    """The logits against its own layers wired as the docstring says: first_conv, the
    blocks, ReLU, hidden_1x1, output_1x1."""
    import tensorflow as tf
    model = lab.pixelcnn.PixelCNN(image_shape=(6, 6, 1), filters=6, num_blocks=2)
    assign_by_shape(model, rng, scale=0.5)
    x = np.round(rng.random(size=(3, 6, 6, 1))).astype("float32")
    h = model.first_conv(x)
    for block in model.blocks:
        h = block(h)
    return {"logits": model(x),
            "expected": model.output_1x1(model.hidden_1x1(tf.nn.relu(h))),
            "no_relu": model.output_1x1(model.hidden_1x1(h)),
            "no_hidden_1x1": model.output_1x1(tf.nn.relu(h)),
            "no_blocks": model.output_1x1(model.hidden_1x1(tf.nn.relu(model.first_conv(x))))}


@pixelcnn_call.verdict
def _(student, _reference):
    judge_variants(student["logits"], student, {
        "no_relu": "the ReLU before hidden_1x1 is missing: "
                   "output_1x1(hidden_1x1(relu(h)))",
        "no_hidden_1x1": "hidden_1x1 is skipped: output_1x1(hidden_1x1(relu(h)))",
        "no_blocks": "the gated blocks are not applied: h = block(h) for every block"},
        "PixelCNN(filters=6, num_blocks=2)(x) for x (3, 6, 6, 1), against output_1x1("
        "hidden_1x1(relu(blocks(first_conv(x))))) from its own layers", against="that")


@check(points=3, uses=PIXELCNN, reference=False, task="`pixelcnn.PixelCNN` (causality)",
       hint="the logit at (r, c) may depend only on pixels before (r, c) in raster order: a "
            "type-A first layer (centre excluded), type-B masks after it, 1x1 convolutions only")
def pixelcnn_receptive_field(lab, rng):
    """On 8x8 images: the logit at (r, c) depends on no pixel at or after (r, c) in raster
    order, and on its left and upper neighbours (gradients)."""
    model = lab.pixelcnn.PixelCNN(image_shape=(8, 8, 1), filters=8, num_blocks=2)
    open_every_unit(model, bias=0.5)
    x = rng.normal(size=(3, 8, 8, 1)).astype("float32")
    shape = list(np.shape(model(x)))
    if shape != [3, 8, 8, 1]:
        return {"shape": shape}
    return {"shape": shape, "dependence": dependence(model, x, 64, 64, rng)}


@pixelcnn_receptive_field.verdict
def _(student, _reference):
    expect_true(student["shape"] == [3, 8, 8, 1], f"PixelCNN(filters=8)(x) for x (3, 8, 8, 1) "
                f"has shape {tuple(student['shape'])}, expected (3, 8, 8, 1)")
    judge_raster_dependence(student["dependence"], 8, 8, "PixelCNN on 8x8 images")


@check(points=3, uses=PIXELCNN, timeout=40, task="the whole `pixelcnn.PixelCNN`",
       hint=f"PixelCNN(filters=16, num_blocks=2) trained by fit() must reach the reference's "
            f"held-out bits per dimension within {MARGIN_BITS} (and not far below it)")
def pixelcnn_trains(lab, rng):
    """Held-out bits per dimension on binarised 8x8 digits after 8 epochs within 0.04 of the
    reference's (and not far below it: a leak)."""
    budget = PIXELCNN_TRAIN
    return train_probe(
        lambda: lab.pixelcnn.PixelCNN((8, 8, 1), budget["filters"], budget["num_blocks"]),
        _digits("train").reshape(-1, 8, 8, 1), _digits("test").reshape(-1, 8, 8, 1), budget)


@pixelcnn_trains.verdict
def _(student, reference):
    judge_training(student, reference, "PixelCNN")


@check(points=1, uses=PIXELCNN, reference=False, task="the `build`s of `pixelcnn.py`",
       hint="every layer creates its weights in build() with add_weight; PixelCNN saves to "
            ".keras and reloads with the same outputs")
def pixelcnn_saves_and_loads(lab, rng):
    """A PixelCNN reloads from `.keras` with the same config, weights and outputs."""
    model = lab.pixelcnn.PixelCNN((8, 8, 1), filters=8, num_blocks=1)
    assign_by_shape(model, rng, scale=0.2)
    x = np.round(rng.random(size=(4, 8, 8, 1))).astype("float32")
    return round_trip(model, x, str(lab.tmpdir / "pixelcnn.keras"))


@pixelcnn_saves_and_loads.verdict
def _(student, _reference):
    judge_round_trip(student, "PixelCNN(filters=8, num_blocks=1)")
