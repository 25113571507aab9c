"""Public checks of lab14_autoregressive, part 5: the gated and the class-conditional PixelCNN
(gated_pixelcnn.py).

The two masks and the down-shift against the reference; one gated layer with stand-ins (all-
ones masks, a gate that is not the gate, a two-row shift) against the reference's on the
same; the receptive field of the whole model measured with gradients, against the geometry
written here (every pixel above within reach, full width, and the left of the row) and
against a plain masked stack built here from Keras layers (which has the blind spot). The
model's call, the label, class sampling and training: public_z_gated_model.py.
"""
import contextlib
import re

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import standing_in
from autograder.checks.lab14_autoregressive.probes import (
    assign_by_shape,
    dependence,
    depends,
    judge_variants,
    open_every_unit,
    standin_gate,
)
from autograder.verdicts import expect_close, expect_equal, expect_true

GATED = ("likelihood", "pixelcnn", "gated_pixelcnn")
FIELD_LAYERS = 3   # the receptive-field check: 3 layers of kernel 3 on 8x8 images


@check(points=1, uses=GATED, task="`gated_pixelcnn.vertical_mask`, `horizontal_mask`",
       hint="vertical: ones on the rows 0 .. k // 2 (the centre row included), all columns; "
            "horizontal: the centre row only, left of the centre, the centre for type B")
def gated_masks(lab, rng):
    """Both masks for kernels of 3 and 5 (types A and B), against the reference."""
    out = {f"v{k}": lab.gated_pixelcnn.vertical_mask(k) for k in (3, 5)}
    out.update({f"h{k}{t}": lab.gated_pixelcnn.horizontal_mask(k, t)
                for k in (3, 5) for t in "AB"})
    return out


@gated_masks.verdict
def _(student, reference):
    for k in (3, 5):
        expect_equal(student[f"v{k}"], reference[f"v{k}"], f"vertical_mask({k})")
        for t in "AB":
            expect_equal(student[f"h{k}{t}"], reference[f"h{k}{t}"],
                         f"horizontal_mask({k}, {t!r})")


@check(points=1, uses=GATED, task="`gated_pixelcnn.down_shift`",
       hint="out[:, r] = x[:, r - 1] and out[:, 0] = 0: pad one row of zeros on top of axis 1, "
            "drop the last row")
def down_shift(lab, rng):
    """(2, 5, 4, 3) feature maps, against the reference."""
    x = rng.normal(size=(2, 5, 4, 3)).astype("float32")
    return {"x": x, "y": lab.gated_pixelcnn.down_shift(x)}


@down_shift.verdict
def _(student, reference):
    x = np.asarray(reference["x"])
    up = np.concatenate([x[:, 1:], np.zeros_like(x[:, :1])], axis=1)
    right = np.concatenate([np.zeros_like(x[:, :, :1]), x[:, :, :-1]], axis=2)
    judge_variants(student["y"], {"expected": reference["y"], "up": up, "right": right}, {
        "up": "the rows move up: out[:, r] must be x[:, r - 1] (zeros on TOP)",
        "right": "the columns move, not the rows: shift along axis 1 (the rows)"},
        "down_shift(x) for x (2, 5, 4, 3)")


def ones_mask(kernel_size, mask_type=None):
    """A stand-in for both masks where the mask does not matter: all ones."""
    return np.ones((kernel_size, kernel_size), dtype="float32")


def two_row_shift(x):
    """A stand-in for down_shift of known, different behaviour: down by TWO rows."""
    import tensorflow as tf
    return tf.pad(x, [[0, 0], [2, 0], [0, 0], [0, 0]])[:, :-2]


def identity(x):
    return x


LAYERS = {"first": (True, 2), "later": (False, 4)}   # first layer?, input channels


@check(points=3, uses=GATED, task="`gated_pixelcnn.GatedLayer.call`",
       hint="v_pre = v_conv(v); h_pre = h_conv(h) + v_to_h(down_shift(v_pre)); add the label's "
            "v_embedding and h_embedding; v_out = gate(v_pre); h_out = h_out_1x1(gate(h_pre)) "
            "+ h (not in the first layer)")
def gated_layer(lab, rng):
    """GatedLayer(4, 3, num_classes=3), first and not, on (2, 6, 6, C) inputs with labels and
    random weights; the masks, gated_activation and down_shift stand-ins (all-ones masks,
    a + 2 tanh(b), a shift by two rows): (v_out, h_out) against the reference's on the same
    stand-ins, also without a label."""
    module = lab.gated_pixelcnn
    out = {}
    labels = np.array([2, 0])
    for name, (first, channels) in LAYERS.items():
        v = rng.normal(size=(2, 6, 6, channels)).astype("float32")
        h = rng.normal(size=(2, 6, 6, channels)).astype("float32")
        with standing_in(module, vertical_mask=ones_mask, horizontal_mask=ones_mask,
                         gated_activation=standin_gate, down_shift=two_row_shift):
            layer = module.GatedLayer(4, 3, first=first, num_classes=3)
            layer.build((None, 6, 6, channels))
            assign_by_shape(layer, rng)
            try:
                v_out, h_out = layer(v, h, label=labels)
            except Exception as error:                  # noqa: BLE001 - judged below
                lines = [line.strip() for line in str(error).splitlines() if any(
                    word in line for word in ("ncompatible shapes", "broadcast",
                                              "must be equal", "Dimensions"))]
                if not first or not lines:
                    raise
                found = re.search(r"[Ii]ncompatible shapes:? *\S+ vs\.? *\S+", lines[0])
                return {"first_crash": found.group(0) if found else "a shape mismatch"}
            out[f"{name}_v"], out[f"{name}_h"], out[f"{name}_input_h"] = v_out, h_out, h
            out[f"{name}_v_no_label"], out[f"{name}_h_no_label"] = layer(v, h)
        with standing_in(module, vertical_mask=ones_mask, horizontal_mask=ones_mask,
                         gated_activation=standin_gate, down_shift=identity):
            out[f"{name}_h_unshifted"] = layer(v, h, label=labels)[1]
    return out


def close(actual, wanted):
    """Whether two outputs agree within judge_variants' tolerances."""
    actual, wanted = (np.asarray(value, dtype=np.float64) for value in (actual, wanted))
    return actual.shape == wanted.shape and np.allclose(actual, wanted, rtol=1e-3, atol=1e-4)


@contextlib.contextmanager
def noted(note):
    """A failure inside the block with `note` appended to its message, unless judge_variants
    named a slip."""
    try:
        yield
    except CheckFailed as failure:
        if not note or " differs from " not in str(failure):    # a named slip: as it is
            raise
        raise CheckFailed(f"{failure}{note}") from None


@gated_layer.verdict
def _(student, reference):
    if "first_crash" in student:
        raise CheckFailed("GatedLayer(4, 3, first=True) on v, h (2, 6, 6, 2) crashes with a "
                          f"shape error ({student['first_crash']}): the first layer has no "
                          "residual: its h is the image, with C_in = 2 channels, not "
                          "filters = 4 (and adding it would pass each pixel on to its own "
                          "logit); add h to h_out only when not first")
    for name, (first, channels) in LAYERS.items():
        what = (f"GatedLayer(4, 3, first={first}, num_classes=3)(v, h, label) for v, h "
                f"(2, 6, 6, {channels}), with stand-in masks, gate and down_shift (the same "
                "for the reference)")
        no_label = "the label's embeddings are not added (h_pre += h_embedding(label), " \
                   "v_pre += v_embedding(label))"
        # Right without a label but not with one: the embeddings are added in the wrong place.
        plain_ok = {stack: close(student[f"{name}_{stack}_no_label"],
                                 reference[f"{name}_{stack}_no_label"]) for stack in "vh"}
        v_note = ("; but without a label v_out is right: add v_embedding(label) to v_pre, before "
                  "the gate (v_out = gate(v_pre + v_embedding(label)))"
                  if plain_ok["v"] else "")
        with noted(v_note):
            judge_variants(student[f"{name}_v"], {"expected": reference[f"{name}_v"],
                                                  "no_label": reference[f"{name}_v_no_label"]},
                           {"no_label": no_label}, f"v_out of {what}")
        variants = {"expected": reference[f"{name}_h"],
                    "no_label": reference[f"{name}_h_no_label"],
                    "unshifted": reference[f"{name}_h_unshifted"]}
        slips = {"no_label": no_label,
                 "unshifted": "the vertical-to-horizontal link is not shifted: "
                              "v_to_h(down_shift(v_pre)), with the module's down_shift"}
        if not first:
            variants["no_residual"] = reference[f"{name}_h"] - reference[f"{name}_input_h"]
            slips["no_residual"] = "the horizontal residual is missing: h_out = ... + h"
        h_note = ("; but without a label h_out is right, and v_out with one: the embedding goes "
                  "after the link (h_pre = h_conv(h) + v_to_h(down_shift(v_pre)) with v_pre "
                  "before its embedding, then h_pre += h_embedding(label), before the gate)"
                  if plain_ok["h"] else "")
        with noted(h_note):
            judge_variants(student[f"{name}_h"], variants, slips, f"h_out of {what}")
        for stack in "vh":
            expect_close(student[f"{name}_{stack}_no_label"],
                         reference[f"{name}_{stack}_no_label"], f"{stack}_out of {what}, called "
                         "without a label (label=None: no class bias)")


def plain_masked_stack(layers, filters, rng):
    """A plain PixelCNN stack built here from Keras layers, without masks: each raster-masked
    3x3 convolution is the sum of a (1, 3) convolution of the row above (the input padded on
    top) and a convolution of the left of the row (the input padded on the left); type A
    takes the pixel to the left only, type B also the pixel itself. Returns a function."""
    import keras

    def masked(mask_type):
        above = keras.Sequential([keras.layers.ZeroPadding2D(((1, 0), (1, 1))),
                                  keras.layers.Cropping2D(((0, 1), (0, 0))),
                                  keras.layers.Conv2D(filters, (1, 3))])
        width = 1 if mask_type == "A" else 2
        left = keras.Sequential([keras.layers.ZeroPadding2D(((0, 0), (1, 0))),
                                 keras.layers.Cropping2D(((0, 0), (0, 2 - width))),
                                 keras.layers.Conv2D(filters, (1, width))])
        return lambda x: above(x) + left(x)

    convs = [masked("A" if i == 0 else "B") for i in range(layers)]
    head = keras.layers.Conv2D(1, 1)

    def model(x):
        h = x
        for conv in convs:
            h = keras.ops.tanh(conv(h))
        return head(h)
    return model


def expected_field(height, width, reach):
    """What the logit at (r, c) of a gated PixelCNN of reach L * (k // 2) sees: the rows
    r - 1 - reach .. r - 1, columns c - reach .. c + reach, and the pixels c - reach .. c - 1
    of its own row. A (H W, H W) boolean matrix, pixel index = width * row + column."""
    rows, cols = np.divmod(np.arange(height * width), width)
    dr = rows[:, None] - rows[None, :]          # output row - input row
    dc = cols[None, :] - cols[:, None]          # input column - output column
    above = (dr >= 1) & (dr <= 1 + reach) & (np.abs(dc) <= reach)
    left = (dr == 0) & (dc < 0) & (dc >= -reach)
    return above | left


@check(points=3, uses=GATED, reference=False, task="`gated_pixelcnn.GatedPixelCNN` (receptive "
       "field)", hint="the logit at (r, c) must see every pixel of the rows above within reach, "
                      "the full width, and the left of its row, nothing else: the vertical mask "
                      "stops at the centre row, the link is shifted down, the first horizontal "
                      "mask is type A")
def gated_receptive_field(lab, rng):
    """GatedPixelCNN(filters=4, num_layers=3, kernel_size=3) on 8x8 images, random weights:
    the logit at (r, c) depends (gradients) on exactly the rows r - 4 .. r - 1 at columns
    c - 3 .. c + 3 and the pixels c - 3 .. c - 1 of row r; a plain masked stack of 3 layers
    built by the check misses some of them (its blind spot)."""
    model = lab.gated_pixelcnn.GatedPixelCNN((8, 8, 1), filters=4, num_layers=FIELD_LAYERS,
                                             kernel_size=3)
    assign_by_shape(model, rng, scale=0.5)
    open_every_unit(model, bias=1.0)
    # The head's ReLU units always active (its input is a ReLU's): no output dead by chance.
    kernel = model.hidden_1x1.kernel
    kernel.assign(np.abs(np.asarray(kernel)))
    x = rng.normal(size=(6, 8, 8, 1)).astype("float32")
    shape = list(np.shape(model(x)))
    plain = dependence(plain_masked_stack(FIELD_LAYERS, 4, rng), x, 64, 64, rng)
    if shape != [6, 8, 8, 1]:
        return {"shape": shape, "plain": plain}
    return {"shape": shape, "gated": dependence(model, x, 64, 64, rng), "plain": plain,
            "first_centre": first_mask_centre(model)}


def describe(pixels, r, c, width):
    return ", ".join(f"({int(i) // width}, {int(i) % width})" for i in pixels[:6]) + \
        (" ..." if len(pixels) > 6 else "") + f" for the logit at ({r}, {c})"


def first_mask_centre(model):
    """Whether the first gated layer's horizontal mask holds its centre (None: unknown)."""
    try:
        mask = np.asarray(model.gated_layers[0].h_conv.kernel_mask)
        return bool(mask[mask.shape[0] // 2, mask.shape[1] // 2] != 0)
    except Exception:                                   # noqa: BLE001 - only a diagnosis
        return None


def judge_gated_field(matrix, plain, height, width, reach, what, first_centre=None):
    """A gated PixelCNN's dependence matrix against expected_field; plain (or None): the
    check's plain masked stack, which must show the blind spot; first_centre: whether the
    first layer's horizontal mask holds its centre (first_mask_centre), to tell the causes
    of an output that sees its own pixel apart."""
    expected = expected_field(height, width, reach)
    if plain is not None:
        plain = depends(plain)
        if (plain & ~expected).any() or not (expected & ~plain).any():
            raise CheckFailed("the check's plain masked stack does not behave as it should: "
                              "report this to your instructor")
    seen = depends(matrix)
    for i in range(height * width):
        r, c = divmod(i, width)
        extra = np.flatnonzero(seen[i] & ~expected[i])
        if extra.size:
            rows, cols = extra // width, extra % width
            if (rows > r).any():
                why = ("it sees rows below its own row: the vertical mask must stop at its "
                       "centre row (the vertical stack may see its own row only because the "
                       "link shifts it down one row)")
            elif ((rows == r) & (cols > c)).any():
                why = ("it sees pixels to its right in its own row: shift the vertical stack "
                       "down one row before v_to_h (v_to_h(down_shift(v_pre)))")
            elif i in extra:
                why = {True: "the first layer's horizontal mask has its centre: it must be "
                             "type A (the given __init__ asks horizontal_mask(k, 'A') there)",
                       False: "the first layer adds the residual: it has none (there h = x, "
                              "so h_out + h passes the pixel itself on)",
                       None: "the first layer adds the residual h (it has none), or its "
                             "horizontal mask is not type A"}[first_centre]
                why = f"it sees its own pixel (nothing to its right or below): {why}"
            else:
                why = "it sees pixels above beyond the kernels' reach"
            raise CheckFailed(f"{what}: the logit depends on {describe(extra, r, c, width)}: "
                              f"{why}")
    for i in range(height * width):
        r, c = divmod(i, width)
        missing = np.flatnonzero(expected[i] & ~seen[i])
        if missing.size:
            blind = plain is not None and any(not plain[i, j] for j in missing)
            why = (" (the plain stack's blind spot: the vertical stack must see the full "
                   "width of the rows above)" if blind else "")
            raise CheckFailed(f"{what}: the logit does not depend on "
                              f"{describe(missing, r, c, width)}{why}: is every stack used, the "
                              "link added, every layer applied?")


@gated_receptive_field.verdict
def _(student, _reference):
    expect_true(student["shape"] == [6, 8, 8, 1], "GatedPixelCNN((8, 8, 1))(x) for x (6, 8, 8, "
                f"1) has shape {tuple(student['shape'])}, expected (6, 8, 8, 1)")
    judge_gated_field(student["gated"], student["plain"], 8, 8, FIELD_LAYERS,
                      "GatedPixelCNN(filters=4, num_layers=3) on 8x8 images",
                      student.get("first_centre"))
