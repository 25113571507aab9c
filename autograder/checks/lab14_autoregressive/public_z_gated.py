"""Public checks of lab14_autoregressive, part 5: the gated and the class-conditional PixelCNN
(gated_pixelcnn.py).

The two masks and the down-shift against the reference; one gated layer with stand-ins (all-
ones masks, a gate that is not the gate, a two-row shift) against the reference's on the
same; the receptive field of the whole model measured with gradients, against the geometry
written here (every pixel above within reach, full width, and the left of the row) and
against a plain masked stack built here from Keras layers (which has the blind spot); the
label's role (it moves the logits, and with zero embeddings the model is the unconditional
one); class sampling replayed against a stand-in model of known conditionals; training of
the unconditional and the conditional model relative to the reference; the .keras round trip.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import standing_in
from autograder.checks.lab14_autoregressive.probes import (
    assign_by_shape,
    bits_per_dim_np,
    dependence,
    depends,
    judge_round_trip,
    judge_training,
    judge_variants,
    open_every_unit,
    round_trip,
    standin_gate,
)
from autograder.verdicts import expect_close, expect_equal, expect_true

GATED = ("likelihood", "pixelcnn", "gated_pixelcnn")
GATED_TRAIN = {"filters": 8, "num_layers": 2, "learning_rate": 2e-2, "batch_size": 64,
               "epochs": 3}
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
            v_out, h_out = layer(v, h, label=labels)
            out[f"{name}_v"], out[f"{name}_h"], out[f"{name}_input_h"] = v_out, h_out, h
            out[f"{name}_v_no_label"], out[f"{name}_h_no_label"] = layer(v, h)
        with standing_in(module, vertical_mask=ones_mask, horizontal_mask=ones_mask,
                         gated_activation=standin_gate, down_shift=identity):
            out[f"{name}_h_unshifted"] = layer(v, h, label=labels)[1]
    return out


@gated_layer.verdict
def _(student, reference):
    for name, (first, channels) in LAYERS.items():
        what = (f"GatedLayer(4, 3, first={first}, num_classes=3)(v, h, label) for v, h "
                f"(2, 6, 6, {channels}), with stand-in masks, gate and down_shift (the same "
                "for the reference)")
        no_label = "the label's embeddings are not added (h_pre += h_embedding(label), " \
                   "v_pre += v_embedding(label))"
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
    return {"shape": shape, "gated": dependence(model, x, 64, 64, rng), "plain": plain}


def describe(pixels, r, c, width):
    return ", ".join(f"({int(i) // width}, {int(i) % width})" for i in pixels[:6]) + \
        (" ..." if len(pixels) > 6 else "") + f" for the logit at ({r}, {c})"


def judge_gated_field(matrix, plain, height, width, reach, what):
    """A gated PixelCNN's dependence matrix against expected_field; plain (or None): the
    check's plain masked stack, which must show the blind spot."""
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
                why = "it sees its own pixel: the first layer's horizontal mask must be type A"
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
                      "GatedPixelCNN(filters=4, num_layers=3) on 8x8 images")


@check(points=2, uses=GATED, task="`gated_pixelcnn.GatedPixelCNN.call` (the label)",
       hint="call: v = h = x; v, h = layer(v, h, label) for every layer; logits = "
            "output_1x1(hidden_1x1(relu(h))). The label enters only as the embeddings' bias")
def conditional_logits(lab, rng):
    """GatedPixelCNN(6x6, filters=4, num_layers=2, num_classes=3), random weights: the logits
    for labels 0, 1, 2 against the reference's; with zero embeddings they no longer depend on
    the label and equal the unconditional model's with the same other weights."""
    module = lab.gated_pixelcnn
    model = module.GatedPixelCNN((6, 6, 1), filters=4, num_layers=2, num_classes=3)
    assign_by_shape(model, rng, scale=0.5)
    x = (rng.random((3, 6, 6, 1)) < 0.5).astype("float32")
    out = {"logits": model({"image": x, "label": np.array([0, 1, 2])}),
           "other_label": model({"image": x, "label": np.array([2, 0, 1])})}
    embeddings = [w for w in model.trainable_weights if tuple(w.shape) == (3, 8)]
    for weight in embeddings:
        weight.assign(np.zeros((3, 8), dtype="float32"))
    out["zero_v"] = model({"image": x, "label": np.array([0, 1, 2])})
    out["zero_v_other"] = model({"image": x, "label": np.array([2, 0, 1])})
    plain = module.GatedPixelCNN((6, 6, 1), filters=4, num_layers=2, num_classes=0)
    values = [np.asarray(w) for w in model.trainable_weights if tuple(w.shape) != (3, 8)]
    for weight, value in zip(plain.trainable_weights, values):
        weight.assign(value)
    out["unconditional"] = plain(x)
    out["embeddings"] = len(embeddings)
    return out


@conditional_logits.verdict
def _(student, reference):
    expect_equal(student["embeddings"], 4, "the number of (num_classes, 2F) embedding weights "
                 "of a 2-layer conditional model")
    expect_close(student["logits"], reference["logits"], "GatedPixelCNN(num_classes=3)({image, "
                 "label}) for images (3, 6, 6, 1), random weights")
    change = float(np.abs(np.asarray(student["logits"]) - student["other_label"]).max())
    expect_true(change > 1e-3, f"the logits move by only {change:.2g} when the labels change: "
                "pass the label to every GatedLayer")
    expect_close(student["zero_v"], student["zero_v_other"], "the logits with zero embeddings "
                 "(V = 0) for other labels", against="those for labels 0, 1, 2: the label may "
                 "enter only through the embeddings", rtol=1e-5, atol=1e-6)
    expect_close(student["zero_v"], student["unconditional"], "the logits with zero embeddings",
                 against="the unconditional model's with the same other weights",
                 rtol=1e-5, atol=1e-6)


class StandInConditional:
    """A stand-in model of known raster-order conditionals (not a PixelCNN): logit_d = b_d +
    2 label - 1 + sum over j < d of W[d, j] x_j on flattened (4, 4, 1) images; it records the
    labels it is called with."""

    def __init__(self, rng):
        self.weights = np.tril(3.0 * rng.normal(size=(16, 16)), k=-1)
        self.bias = rng.normal(size=16)
        self.labels = set()

    def logits(self, flat, labels):
        return flat @ self.weights.T + self.bias + 2.0 * np.asarray(labels)[:, None] - 1.0

    def __call__(self, inputs):
        images, labels = np.asarray(inputs["image"]), np.asarray(inputs["label"])
        self.labels.add(tuple(int(v) for v in labels))
        return self.logits(images.reshape(len(images), -1), labels).reshape(images.shape)


@check(points=1, uses=("likelihood", "pixelcnn", "sampling", "gated_pixelcnn"),
       reference=False, task="`gated_pixelcnn.sample_class`",
       hint="logits_fn(flat) = model({'image': flat reshaped to (N, H, W, C), 'label': an (N,) "
            "array of the label}) flattened; sample_autoregressive in raster order")
def sample_class(lab, rng):
    """A stand-in model of known conditionals on 4x4 images, labels 0 and 1, 12 samples each:
    every pixel is the Bernoulli draw (u < sigmoid) of its conditional given the pixels
    drawn before it and the label."""
    model = StandInConditional(rng)
    out = {}
    for label in (0, 1):
        uniform = rng.random((12, 16))
        x = np.asarray(lab.gated_pixelcnn.sample_class(model, (4, 4, 1), label, uniform))
        flat = x.reshape(12, -1) if x.size == 12 * 16 else np.zeros((12, 16))
        logits = model.logits(flat, np.full(12, label))
        out[f"shape_{label}"] = list(x.shape)
        out[f"x_{label}"] = flat
        out[f"replayed_{label}"] = (uniform < 1 / (1 + np.exp(-logits))).astype("float32")
    out["labels"] = sorted(model.labels)
    return out


@sample_class.verdict
def _(student, _reference):
    for label in (0, 1):
        expect_equal(tuple(student[f"shape_{label}"]), (12, 4, 4, 1),
                     f"sample_class(model, (4, 4, 1), {label}, uniform (12, 16)).shape")
        x, replayed = np.asarray(student[f"x_{label}"]), np.asarray(student[f"replayed_{label}"])
        wrong = np.argwhere(x != replayed)
        if len(wrong):
            n, d = (int(i) for i in wrong[0])
            raise CheckFailed(f"sample_class(..., label={label}): sample {n}, pixel {d} (raster "
                              f"order) is {x[n, d]:g}, but its conditional given the pixels "
                              f"before it draws {replayed[n, d]:g} ({len(wrong)} of 192 differ): "
                              "call the model on the current images with the label, once per "
                              "pixel, through sample_autoregressive")
    expect_equal([list(t) for t in student["labels"]], [[0] * 12, [1] * 12],
                 "the labels the model was called with")


@check(points=3, uses=GATED, timeout=40, task="the whole `gated_pixelcnn.GatedPixelCNN`",
       hint="GatedPixelCNN(filters=8, num_layers=2), unconditional and with num_classes=10, "
            "trained by fit() must reach the reference's held-out bits per dimension within "
            "0.04, and the label must help")
def gated_trains(lab, rng):
    """The unconditional and the conditional model (filters 8, 2 layers), 3 epochs each on
    binarised digits: held-out bits per dimension within 0.04 of the reference's, and the
    conditional model at least half the reference's gain below the unconditional one."""
    import keras

    from dlkit.data import load_digits
    budget = GATED_TRAIN
    (x, y), (x_test, y_test) = (load_digits(split, binarize=True) for split in ("train", "test"))
    x, x_test = x.reshape(-1, 8, 8, 1), x_test.reshape(-1, 8, 8, 1)
    out = {}
    for name, classes in (("unconditional", 0), ("conditional", 10)):
        model = lab.gated_pixelcnn.GatedPixelCNN((8, 8, 1), budget["filters"],
                                                 budget["num_layers"], num_classes=classes)
        model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]))
        train = {"image": x, "label": y} if classes else x
        test = {"image": x_test, "label": y_test} if classes else x_test
        before = bits_per_dim_np(model(test), x_test)
        model.fit(train, batch_size=budget["batch_size"], epochs=budget["epochs"],
                  shuffle=True, verbose=0)
        out[name] = {"before": before, "after": bits_per_dim_np(model(test), x_test)}
    return out


@gated_trains.verdict
def _(student, reference):
    judge_training(student["unconditional"], reference["unconditional"], "gated PixelCNN")
    judge_training(student["conditional"], reference["conditional"],
                   "class-conditional gated PixelCNN")
    gain = student["unconditional"]["after"] - student["conditional"]["after"]
    reference_gain = reference["unconditional"]["after"] - reference["conditional"]["after"]
    expect_true(gain >= 0.5 * reference_gain,
                f"the label helps too little: the conditional model reaches "
                f"{student['conditional']['after']:.3f} bits per dimension, the unconditional "
                f"one {student['unconditional']['after']:.3f} (the reference gains "
                f"{reference_gain:.3f} bits): is the label's embedding added in every layer?")


@check(points=1, uses=GATED, reference=False, task="the `gated_pixelcnn.py` models (`.keras`)",
       hint="the given __init__ and build make the weights; call() must work on a reloaded "
            "model (the masks are set again in __init__)")
def gated_saves_and_loads(lab, rng):
    """A conditional GatedPixelCNN reloads from `.keras` with the same config, weights and
    outputs."""
    model = lab.gated_pixelcnn.GatedPixelCNN((6, 6, 1), filters=4, num_layers=2, num_classes=3)
    assign_by_shape(model, rng, scale=0.3)
    x = {"image": (rng.random((3, 6, 6, 1)) < 0.5).astype("float32"),
         "label": np.array([0, 2, 1])}
    return round_trip(model, x, str(lab.tmpdir / "gated.keras"))


@gated_saves_and_loads.verdict
def _(student, _reference):
    judge_round_trip(student, "GatedPixelCNN(num_classes=3)")
