"""Public checks of lab14_autoregressive, part 2: PixelCNN (pixelcnn.py).

The mask, the masked convolution (with and without its activation) and the gate against the
reference with the same weights; the block (with a stand-in convolution and gate) and
PixelCNN.call (with stand-in layers) against the reference's on the same stand-ins;
causality in raster order measured with gradients; training on binarised digits relative to
the reference; the .keras round trip.
"""
import json

import numpy as np

from autograder.api import check
from autograder.check_helpers import standing_in
from autograder.checks.lab14_autoregressive.probes import (
    MARGIN_BITS,
    PIXELCNN,
    PIXELCNN_TRAIN,
    _digits,
    assign_by_shape,
    copy_by_shape,
    dependence,
    judge_raster_dependence,
    judge_round_trip,
    judge_training,
    judge_variants,
    open_every_unit,
    round_trip,
    standin_gate,
    standin_gated_block,
    train_probe,
    with_layers,
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
    """Types A and B, and type A with a ReLU, on (3, 8, 8, 2) inputs with random weights:
    the weights' shapes, and the output against the reference's (and, to name a slip, the
    same layer with an all-ones kernel_mask)."""
    x = rng.normal(size=(3, 8, 8, 2)).astype("float32")
    outputs = {}
    seed = int(rng.integers(1 << 30))
    for name, (filters, size, mask_type, activation) in MASKED_CONVS.items():
        layer = lab.pixelcnn.MaskedConv2D(filters, size, mask_type, activation=activation)
        layer.build((None, 8, 8, 2))
        weights_rng = np.random.default_rng(seed + size)   # "A" and "A_relu" alike
        outputs[f"shapes_{name}"] = json.dumps(assign_by_shape(layer, weights_rng))
        outputs[name] = layer(x)
        unmasked = lab.pixelcnn.MaskedConv2D(filters, size, mask_type, activation=activation)
        unmasked.build((None, 8, 8, 2))
        copy_by_shape(layer, unmasked)
        unmasked.kernel_mask = np.ones_like(unmasked.kernel_mask)
        outputs[f"{name}_unmasked"] = unmasked(x)
    return outputs


@masked_conv2d.verdict
def _(student, reference):
    for name, (filters, size, mask_type, activation) in MASKED_CONVS.items():
        call = f"MaskedConv2D({filters}, {size}, {mask_type!r}, activation={activation!r})"
        expect_true(student[f"shapes_{name}"] == reference[f"shapes_{name}"],
                    f"{call}.build((None, 8, 8, 2)) created weights of shapes "
                    f"{student[f'shapes_{name}']}, expected {reference[f'shapes_{name}']}")
        variants = {"expected": reference[name], "unmasked": reference[f"{name}_unmasked"]}
        slips = {"unmasked": "the kernel is not multiplied by the mask"}
        if activation:
            variants["linear"] = reference["A"]         # the same weights, no activation
            slips["linear"] = "the activation is ignored: return self.activation(...)"
        judge_variants(student[name], variants, slips, f"{call}(x) for x (3, 8, 8, 2), with "
                       "random weights", rtol=2e-4, atol=2e-5)


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


def ones_mask(kernel_size, mask_type):
    """A stand-in for causal_mask_2d where the mask does not matter: all ones."""
    return np.ones((kernel_size, kernel_size), dtype="float32")


@check(points=1, uses=PIXELCNN, task="`pixelcnn.GatedBlock` (`build`, `call`)",
       hint="x + projection(gated_activation(masked_conv(x))); build both sublayers")
def gated_block(lab, rng):
    """GatedBlock(4, 3) on (2, 6, 6, 4) inputs, its masked_conv a stand-in (a plain Conv2D)
    and gated_activation a stand-in (a + 2 tanh(b), not the gate): its weights' shapes, and
    its output with random weights against the reference's on the same stand-ins."""
    import keras
    with standing_in(lab.pixelcnn, gated_activation=standin_gate,
                     causal_mask_2d=ones_mask):
        block = lab.pixelcnn.GatedBlock(4, 3)
        block.masked_conv = keras.layers.Conv2D(8, 3, padding="same", name="masked_conv")
        block.build((None, 6, 6, 4))
        shapes = assign_by_shape(block, rng)
        x = rng.normal(size=(2, 6, 6, 4)).astype("float32")
        return {"shapes": json.dumps(shapes), "x": x, "y": block(x)}


@gated_block.verdict
def _(student, reference):
    expect_true(student["shapes"] == reference["shapes"],
                f"GatedBlock(4, 3).build((None, 6, 6, 4)) created weights of shapes "
                f"{student['shapes']}, expected {reference['shapes']}")
    judge_variants(student["y"], {"expected": reference["y"],
                                  "no_residual": reference["y"] - reference["x"]}, {
        "no_residual": "the input is not added back: x + projection(...)"},
        "GatedBlock(4, 3)(x) for x (2, 6, 6, 4), with a stand-in masked_conv and "
        "gated_activation (the same for the reference)")


@check(points=2, uses=PIXELCNN, task="`pixelcnn.PixelCNN.call`",
       hint="call: first_conv, each block in turn, ReLU, hidden_1x1, output_1x1")
def pixelcnn_call(lab, rng):
    """With stand-ins for first_conv and the blocks (plain convolutions) and random weights:
    the logits against the reference's on the same."""
    import keras
    import tensorflow as tf
    first_conv = keras.layers.Conv2D(6, 3, padding="same", activation="relu")
    first_conv.build((None, 6, 6, 1))
    assign_by_shape(first_conv, rng)
    blocks = [standin_gated_block(6, rng, (None, 6, 6, 6)) for _ in range(2)]
    with standing_in(lab.pixelcnn, causal_mask_2d=ones_mask):   # for the dropped layers
        model = with_layers(lab.pixelcnn.PixelCNN, first_conv=first_conv, blocks=blocks)(
            image_shape=(6, 6, 1), filters=6, num_blocks=2)
    assign_by_shape(model, rng, scale=0.5)
    x = np.round(rng.random(size=(3, 6, 6, 1))).astype("float32")
    h = first_conv(x)
    for block in blocks:
        h = block(h)
    return {"logits": model(x), "no_relu": model.output_1x1(model.hidden_1x1(h)),
            "no_hidden_1x1": model.output_1x1(tf.nn.relu(h)),
            "no_blocks": model.output_1x1(model.hidden_1x1(tf.nn.relu(first_conv(x))))}


@pixelcnn_call.verdict
def _(student, reference):
    judge_variants(student["logits"], {"expected": reference["logits"], **{
        name: student[name] for name in ("no_relu", "no_hidden_1x1", "no_blocks")}}, {
        "no_relu": "the ReLU before hidden_1x1 is missing: "
                   "output_1x1(hidden_1x1(relu(h)))",
        "no_hidden_1x1": "hidden_1x1 is skipped: output_1x1(hidden_1x1(relu(h)))",
        "no_blocks": "the gated blocks are not applied: h = block(h) for every block"},
        "PixelCNN(filters=6, num_blocks=2)(x) for x (3, 6, 6, 1), with stand-ins for "
        "first_conv and the blocks (the same for the reference) and random weights")


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
    """Held-out bits per dimension on binarised 8x8 digits after 4 epochs within 0.04 of the
    reference's (and not far below it: a leak)."""
    budget = PIXELCNN_TRAIN
    return train_probe(
        lambda: lab.pixelcnn.PixelCNN((8, 8, 1), budget["filters"], budget["num_blocks"]),
        _digits("train").reshape(-1, 8, 8, 1), _digits("test").reshape(-1, 8, 8, 1), budget,
        whole_batches=True)


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
