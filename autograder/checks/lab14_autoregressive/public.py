"""Public checks of lab14_autoregressive.

The maths is compared with the reference on random inputs. The models are held to the
autoregressive property itself, measured with gradients: d output_i / d input_j must be
exactly zero for every j at or after i in the model's order, and non-zero for the inputs
just before i (so a model that ignores its inputs fails too). Training checks measure the
bits per dimension of the student's own model with plain numpy, against the reference's
within a margin on both sides: much *better* than the reference means the model sees the
pixel it predicts.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.verdicts import (
    expect_at_most,
    expect_close,
    expect_equal,
    expect_shape,
    expect_true,
)

LIKELIHOOD = "likelihood"
MADE = ("likelihood", "made")
PIXELCNN = ("likelihood", "pixelcnn")
WAVENET = ("likelihood", "pixelcnn", "wavenet")
SAMPLING = "sampling"

# The training budgets of the two training checks, stated in the handout.
MADE_TRAIN = {"hidden_units": (128,), "learning_rate": 1e-2, "batch_size": 64, "epochs": 8}
PIXELCNN_TRAIN = {"filters": 16, "num_blocks": 2, "learning_rate": 2e-2, "batch_size": 64,
                  "epochs": 8}
# How far a student's held-out bits per dimension may land from the reference's. Over
# training seeds the reference varies by about 0.01 bit/dim; a model that ignores its inputs
# stays near 0.8, and one that sees the pixel it predicts falls far below the reference.
MARGIN_BITS = 0.04
LEAK_MARGIN_BITS = 0.08
# A gradient counts as non-zero above this fraction of the largest one (float32 convolution
# algorithms may leave rounding dust where an exact computation gives 0).
DEPENDENCE_TOLERANCE = 1e-6


# ---------------------------------------------------------------------------------------------
# Helpers: run in the worker (probes) or here (verdicts); numpy only at module level
# ---------------------------------------------------------------------------------------------

def _digits(split):
    from dlkit.data import load_digits
    return load_digits(split, flatten=True, binarize=True)[0]


def assign_by_shape(layer, rng, scale=0.5):
    """Give every trainable weight random values, biggest arrays first, so that two layers
    with the same weight shapes get the same values whatever order they created them in."""
    weights = sorted(layer.trainable_weights,
                     key=lambda w: (-len(w.shape), -int(np.prod(w.shape))))
    for weight in weights:
        weight.assign(rng.normal(scale=scale, size=tuple(weight.shape)).astype("float32"))
    return [tuple(int(s) for s in w.shape) for w in weights]


def open_every_unit(model, bias=1.0):
    """Set every bias (every 1-D weight) to a positive value, so that ReLU units are active
    for most inputs: a path the masks allow is then never dead by chance (after a ReLU the
    activations are >= 0, so a unit whose few incoming weights are negative would be dead
    for every input)."""
    for weight in model.trainable_weights:
        if len(weight.shape) == 1:
            weight.assign(np.full(tuple(weight.shape), bias, dtype="float32"))


def dependence(fn, x, d_in, d_out, rng):
    """|d output_i / d input_j| summed over the examples of x: a (d_out, d_in) array.

    fn maps a batch (M, ...) to outputs (M, ...) that reshape to (M, d_out, K); the K values
    of an output dimension are projected on a random vector. x: (B, ...) float32 inputs that
    reshape to (B, d_in, G); the G entries of an input dimension are summed over. One
    gradient gives every row: example b is repeated d_out times, and copy i keeps output i.
    """
    import tensorflow as tf
    batch = len(x)
    copies = tf.constant(np.repeat(x, d_out, axis=0))
    keep = tf.constant(np.tile(np.eye(d_out, dtype="float32"), (batch, 1)))
    with tf.GradientTape() as tape:
        tape.watch(copies)
        y = tf.reshape(tf.cast(fn(copies), tf.float32), (batch * d_out, d_out, -1))
        projection = tf.constant(rng.normal(size=(int(y.shape[-1]),)).astype("float32"))
        total = tf.reduce_sum(tf.reduce_sum(y * projection, axis=-1) * keep)
    gradient = tape.gradient(total, copies)
    if gradient is None:  # the outputs do not depend on the inputs at all
        return np.zeros((d_out, d_in))
    gradient = np.abs(np.asarray(gradient, dtype=np.float64)).reshape(batch, d_out, d_in, -1)
    return gradient.sum(axis=(0, 3))


def depends(matrix):
    matrix = np.asarray(matrix, dtype=np.float64)
    return matrix > DEPENDENCE_TOLERANCE * max(float(matrix.max()), 1e-30)


def judge_autoregressive(matrix, order, what, *, just_before=True, name="dimension"):
    """matrix[i, j]: how much output i depends on input j. In the generation `order`, output i
    must not depend on inputs at or after it, and (just_before) must depend on the one just
    before it."""
    seen = depends(matrix)
    order = np.asarray(order)
    position = np.empty(len(order), dtype=int)
    position[order] = np.arange(len(order))
    leaks = [(int(i), int(j)) for i, j in np.argwhere(seen) if position[j] >= position[i]]
    if leaks:
        own = [i for i, j in leaks if i == j]
        first = leaks[0]
        detail = (f"output {own[0]} depends on its own input x[{own[0]}]" if own else
                  f"output {first[0]} depends on input {first[1]}, which comes after it")
        raise CheckFailed(f"{what}: {detail} ({len(leaks)} forbidden dependencies in all; "
                          f"order = {order.tolist()})")
    if just_before:
        missing = [int(order[k]) for k in range(1, len(order))
                   if not seen[order[k], order[k - 1]]]
        if missing:
            i = missing[0]
            k = int(position[i])
            raise CheckFailed(f"{what}: output {i} does not depend on input {int(order[k - 1])}, "
                              f"the {name} just before it in the order ({len(missing)} outputs "
                              f"ignore their predecessor; is a mask too strict, or are the "
                              f"inputs used at all?)")


def judge_raster_dependence(matrix, height, width, what):
    """An image model's logits in raster order: no dependence on the pixel itself or later
    ones; a dependence on the left and the upper neighbours."""
    judge_autoregressive(matrix, np.arange(height * width), f"{what} (pixel index = {width} * "
                         "row + column, raster order)", just_before=False)
    seen = depends(matrix)
    for r in range(height):
        for c in range(width):
            for (rr, cc), where in (((r, c - 1), "left"), ((r - 1, c), "upper")):
                if rr >= 0 and cc >= 0 and not seen[width * r + c, width * rr + cc]:
                    raise CheckFailed(f"{what}: the logit at (row {r}, column {c}) does not "
                                      f"depend on its {where} neighbour ({rr}, {cc}): a mask "
                                      "is too strict, or the layers are not all used")


def judge_causal_conv(matrix, kernel_size, rate, what):
    """A causal convolution's output t sees exactly the inputs t, t - rate, ..., t - (k-1) rate."""
    seen = depends(matrix)
    for t in range(len(seen)):
        expected = sorted(t - rate * i for i in range(kernel_size) if t - rate * i >= 0)
        got = [int(j) for j in np.flatnonzero(seen[t])]
        if got != expected:
            future = [j for j in got if j > t]
            why = (f"it sees the future steps {future}: pad on the left, not the right" if future
                   else "the taps must be dilation_rate steps apart, none missing")
            raise CheckFailed(f"{what}: output step {t} depends on input steps {got}, expected "
                              f"{expected}; {why}")


def judge_wavenet_dependence(matrix, field, what):
    """A WaveNet's logits at t see exactly the inputs t - field, ..., t - 1 (strictly causal)."""
    judge_autoregressive(matrix, np.arange(len(matrix)), what, name="step")
    seen = depends(matrix)
    for t in range(len(seen)):
        got = np.flatnonzero(seen[t])
        if got.size and t - int(got.min()) > field:
            raise CheckFailed(f"{what}: the logits at step {t} depend on step {int(got.min())}, "
                              f"further back than the receptive field of {field} steps")
    t = len(seen) - 1
    got = np.flatnonzero(seen[t])
    reach = t - int(got.min()) if got.size else 0
    expect_true(reach == field,
                f"{what}: the logits at step {t} reach back {reach} steps, expected the receptive "
                f"field, {field} (one step of shift, then receptive_field(kernel_size, (1, "
                "*dilation_rates))): is each block's dilation rate passed to its CausalConv1D?")


def bits_per_dim_np(logits, x):
    """Bernoulli negative log-likelihood of x under logits, in bits per dimension (float64)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    logits = np.asarray(logits, dtype=np.float64).reshape(len(x), -1)
    nll = np.sum(np.logaddexp(0.0, logits) - x * logits, axis=-1)
    return float(np.mean(nll) / (x.shape[1] * np.log(2.0)))


def train_probe(build_model, x_train, x_test, budget):
    """Train a fresh model with fit() for `budget`; held-out bits per dimension before/after."""
    import keras
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]))
    before = bits_per_dim_np(model(x_test), x_test)
    model.fit(x_train, batch_size=budget["batch_size"], epochs=budget["epochs"], shuffle=True,
              verbose=0)
    return {"before": before, "after": bits_per_dim_np(model(x_test), x_test)}


def judge_training(student, reference, what, margin=MARGIN_BITS, leak_margin=LEAK_MARGIN_BITS):
    after, reference_after = student["after"], reference["after"]
    expect_true(np.isfinite(after), f"after training, the {what}'s held-out bits per dimension "
                f"is {after} (NaN or inf): training diverged")
    expect_true(after >= reference_after - leak_margin,
                f"the {what} reaches {after:.3f} bits per dimension on the test digits, far "
                f"better than the reference's {reference_after:.3f}: too good to be true. Does "
                "the logit of a pixel see that pixel itself (a mask that lets the centre or "
                "the diagonal through)?")
    fallen = student["before"] - after
    expect_true(fallen >= 0.5 * (reference["before"] - reference_after),
                f"training did not lower the {what}'s held-out bits per dimension enough: from "
                f"{student['before']:.3f} to {after:.3f}, where the reference goes from "
                f"{reference['before']:.3f} to {reference_after:.3f}. Does call() use every "
                "layer, and do the masks let the earlier pixels through?")
    expect_at_most(after, reference_after + margin,
                   f"the {what}'s held-out bits per dimension after training", unit=" bits")


def round_trip(model, x, path):
    """Save `model` to .keras, reload it; plain data for judge_round_trip."""
    import keras
    outputs = model(x)
    model.save(path)
    try:
        loaded = keras.saving.load_model(path)
    except Exception as error:  # the message goes to the student
        return {"error": f"{type(error).__name__}: {error}"[:600]}
    return {"error": "", "class": type(loaded).__name__, "expected_class": type(model).__name__,
            "config": json.dumps(model.get_config(), sort_keys=True, default=str),
            "loaded_config": json.dumps(loaded.get_config(), sort_keys=True, default=str),
            "outputs": outputs, "loaded_outputs": loaded(x),
            "weights": len(model.weights), "loaded_weights": len(loaded.weights)}


def judge_round_trip(student, what):
    if student["error"]:
        raise CheckFailed(f"keras.saving.load_model could not rebuild the saved {what}: "
                          + student["error"])
    expect_true(student["class"] == student["expected_class"],
                f"load_model returned a {student['class']}, not a {student['expected_class']}")
    if student["loaded_config"] != student["config"]:
        before, after = json.loads(student["config"]), json.loads(student["loaded_config"])
        differ = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        raise CheckFailed(f"the reloaded {what}'s config differs in {differ}")
    expect_true(student["loaded_weights"] == student["weights"],
                f"the reloaded {what} has {student['loaded_weights']} weights, the saved one "
                f"{student['weights']}: create every weight in build() with add_weight")
    expect_close(student["loaded_outputs"], student["outputs"], f"{what}(x) after save and load",
                 against="the outputs before saving")


# ---------------------------------------------------------------------------------------------
# 1. Likelihoods
# ---------------------------------------------------------------------------------------------

@check(points=2, uses=LIKELIHOOD,
       hint="per dimension softplus(l) - x * l (stable for any l), summed over every axis but "
            "the batch axis: one value per example, in nats")
def bernoulli_nll(lab, rng):
    images = np.round(rng.random(size=(6, 8, 8, 1))).astype("float32")
    image_logits = (2.0 * rng.normal(size=(6, 8, 8, 1))).astype("float32")
    x = np.round(rng.random(size=(8, 16))).astype("float32")
    logits = rng.normal(size=(8, 16)).astype("float32")
    for row, (pixel, logit) in enumerate([(1, 100), (0, -100), (0, 100), (1, -100),
                                          (1, 30), (0, -30)]):
        x[row, 0], logits[row, 0] = pixel, logit
    return {"images": lab.likelihood.bernoulli_nll(images, image_logits),
            "extreme": lab.likelihood.bernoulli_nll(x, logits)}


@bernoulli_nll.verdict
def _(student, reference):
    expect_close(student["images"], reference["images"],
                 "bernoulli_nll(x, logits) on (6, 8, 8, 1) images (one value per image)")
    expect_close(student["extreme"], reference["extreme"],
                 "bernoulli_nll(x, logits) on (8, 16) vectors with logits of +-30 and +-100 "
                 "(rows 0-5)")


@check(points=1, uses=LIKELIHOOD,
       hint="-log softmax(logits)[x] per step (tf.nn.sparse_softmax_cross_entropy_with_logits), "
            "summed over the T steps")
def categorical_nll(lab, rng):
    x = rng.integers(0, 7, size=(5, 12)).astype("int32")
    logits = (3.0 * rng.normal(size=(5, 12, 7))).astype("float32")
    return {"nll": lab.likelihood.categorical_nll(x, logits)}


@categorical_nll.verdict
def _(student, reference):
    expect_close(student["nll"], reference["nll"],
                 "categorical_nll(x, logits) for x (5, 12) in 0..6, logits (5, 12, 7)")


@check(points=1, uses=LIKELIHOOD,
       hint="mean over the batch, divided by the number of dimensions AND by ln 2 (nats -> bits)")
def bits_per_dim(lab, rng):
    nll = rng.uniform(10.0, 60.0, size=10).astype("float32")
    return {"images": lab.likelihood.bits_per_dim(nll, 64),
            "sequences": lab.likelihood.bits_per_dim(nll, 12)}


@bits_per_dim.verdict
def _(student, reference):
    expect_close(student["images"], reference["images"],
                 "bits_per_dim(nll, 64) (10 examples of 64 dimensions)")
    expect_close(student["sequences"], reference["sequences"],
                 "bits_per_dim(nll, 12) (10 examples of 12 dimensions)")


# ---------------------------------------------------------------------------------------------
# 2. MADE
# ---------------------------------------------------------------------------------------------

@check(points=1, uses=MADE,
       hint="degrees[order[k]] = k + 1: the inverse permutation, plus one (not the order itself)")
def input_degrees(lab, rng):
    return {"example": lab.made.input_degrees([2, 0, 1]),
            "random": lab.made.input_degrees(rng.permutation(9))}


@input_degrees.verdict
def _(student, reference):
    expect_equal(student["example"], reference["example"], "input_degrees([2, 0, 1])")
    expect_equal(student["random"], reference["random"], "input_degrees(order) for a random order of 9")


@check(points=1, uses=MADE, hint="1 + (unit index mod (D - 1)): 1, 2, ..., D-1, 1, 2, ...")
def hidden_degrees(lab, rng):
    return {"wide": lab.made.hidden_degrees(20, 8), "narrow": lab.made.hidden_degrees(5, 10)}


@hidden_degrees.verdict
def _(student, reference):
    expect_equal(student["wide"], reference["wide"], "hidden_degrees(20, input_dim=8)")
    expect_equal(student["narrow"], reference["narrow"], "hidden_degrees(5, input_dim=10)")


@check(points=1, uses=MADE,
       hint="mask[k, j] = 1 where out_degrees[j] >= in_degrees[k]; shape (fan_in, fan_out)")
def hidden_mask(lab, rng):
    in_degrees, out_degrees = rng.integers(1, 7, size=9), rng.integers(1, 7, size=5)
    return {"mask": lab.made.hidden_mask(in_degrees, out_degrees)}


@hidden_mask.verdict
def _(student, reference):
    expect_equal(student["mask"], reference["mask"],
                 "hidden_mask(in_degrees (9,), out_degrees (5,))")


@check(points=1, uses=MADE,
       hint="mask[k, d] = 1 where out_degrees[d] > in_degrees[k]: strictly greater, or output d "
            "sees x_d through a hidden unit")
def output_mask(lab, rng):
    in_degrees, out_degrees = rng.integers(1, 7, size=9), rng.permutation(7) + 1
    return {"mask": lab.made.output_mask(in_degrees, out_degrees)}


@output_mask.verdict
def _(student, reference):
    expect_equal(student["mask"], reference["mask"],
                 "output_mask(in_degrees (9,), out_degrees (7,))")


@check(points=2, uses=MADE,
       hint="input degrees from the order; hidden_degrees per layer; hidden_mask between "
            "consecutive layers; output_mask from the last hidden layer to the input degrees")
def made_masks(lab, rng):
    masks = lab.made.made_masks(rng.permutation(7), (10, 6))
    return {"count": len(masks), "masks": list(masks)}


@made_masks.verdict
def _(student, reference):
    expect_true(student["count"] == reference["count"],
                f"made_masks(order, (10, 6)) returned {student['count']} masks, expected "
                f"{reference['count']} (one per kernel: input->10, 10->6, 6->output)")
    for index, (mask, expected) in enumerate(zip(student["masks"], reference["masks"])):
        expect_equal(mask, expected, f"mask {index} of made_masks(order of 7, (10, 6))")


@check(points=2, uses=MADE, reference=False,
       hint="build: add_weight kernel (fan_in, units) and bias (units,); "
            "call: activation(x @ (kernel * mask) + bias)")
def masked_dense(lab, rng):
    import tensorflow as tf
    mask = np.round(rng.random(size=(6, 5))).astype("float32")
    layer = lab.made.MaskedDense(5, mask, activation="relu")
    layer.build((None, 6))
    shapes = assign_by_shape(layer, rng)
    x = tf.constant(rng.normal(size=(4, 6)).astype("float32"))
    with tf.GradientTape() as tape:
        y = layer(x)
        total = tf.reduce_sum(y * rng.normal(size=(4, 5)).astype("float32"))
    weights = {tuple(w.shape): w for w in layer.trainable_weights}
    kernel_grad = tape.gradient(total, weights[(6, 5)]) if (6, 5) in weights else None
    kernel = np.asarray(weights[(6, 5)]) if (6, 5) in weights else np.zeros((6, 5))
    bias = np.asarray(weights[(5,)]) if (5,) in weights else np.zeros(5)
    expected = np.maximum(np.asarray(x) @ (kernel * mask) + bias, 0.0)
    return {"shapes": json.dumps(shapes), "y": y, "expected": expected.astype("float32"),
            "mask": mask, "kernel_grad": np.zeros((6, 5)) if kernel_grad is None else kernel_grad}


@masked_dense.verdict
def _(student, _reference):
    shapes = sorted(map(tuple, json.loads(student["shapes"])))
    expect_true(shapes == [(5,), (6, 5)],
                f"MaskedDense(5, mask (6, 5)).build((None, 6)) created trainable weights of "
                f"shapes {shapes}, expected a kernel (6, 5) and a bias (5,)")
    expect_close(student["y"], student["expected"], "MaskedDense(5, mask, 'relu')(x), against "
                 "relu(x @ (kernel * mask) + bias) with its own kernel and bias")
    leaked = (student["mask"] == 0) & (np.abs(student["kernel_grad"]) > 0)
    expect_true(not leaked.any(), "the masked kernel entries get a non-zero gradient: multiply "
                "the kernel by the mask inside call()")


@check(points=3, uses=MADE, reference=False,
       hint="output d must depend only on the inputs before d in model.order: check both masks' "
            "comparisons (>= into hidden layers, > into the outputs) and the degrees")
def made_is_autoregressive(lab, rng):
    order = rng.permutation(10)
    model = lab.made.MADE(10, (32, 32), order=order)
    open_every_unit(model)
    x = rng.normal(size=(16, 10)).astype("float32")
    shape = list(np.shape(model(x)))
    if shape != [16, 10]:
        return {"shape": shape}
    return {"shape": shape, "order": order,
            "dependence": dependence(model, x, 10, 10, rng)}


@made_is_autoregressive.verdict
def _(student, _reference):
    expect_true(student["shape"] == [16, 10], f"MADE(10, (32, 32))(x) for x (16, 10) has shape "
                f"{tuple(student['shape'])}, expected (4, 10): one logit per input")
    judge_autoregressive(student["dependence"], student["order"],
                         "MADE(10, (32, 32), order) on random inputs")


@check(points=3, uses=MADE, timeout=40,
       hint=f"MADE(64, (128,)) trained by fit() must reach the reference's held-out bits per "
            f"dimension within {MARGIN_BITS} (and not far below it: that would be a leak)")
def made_trains(lab, rng):
    budget = MADE_TRAIN
    return train_probe(lambda: lab.made.MADE(64, budget["hidden_units"]),
                       _digits("train"), _digits("test"), budget)


@made_trains.verdict
def _(student, reference):
    judge_training(student, reference, "MADE")


@check(points=1, uses=MADE, reference=False,
       hint="build() must create the weights with add_weight, so that a MADE (and a model "
            "holding a MaskedDense) saves to .keras and reloads with the same outputs")
def made_saves_and_loads(lab, rng):
    import keras
    model = lab.made.MADE(12, (16, 8), order=rng.permutation(12))
    assign_by_shape(model, rng)
    x = np.round(rng.random(size=(5, 12))).astype("float32")
    made_result = round_trip(model, x, str(lab.tmpdir / "made.keras"))
    mask = np.round(rng.random(size=(6, 4))).astype("float32")
    layer_model = keras.Sequential([keras.Input((6,)), lab.made.MaskedDense(4, mask)])
    assign_by_shape(layer_model, rng)
    layer_result = round_trip(layer_model, rng.normal(size=(3, 6)).astype("float32"),
                              str(lab.tmpdir / "masked_dense.keras"))
    return {"made": made_result, "layer": layer_result}


@made_saves_and_loads.verdict
def _(student, _reference):
    judge_round_trip(student["made"], "MADE(12, (16, 8), order)")
    judge_round_trip(student["layer"], "Sequential([Input((6,)), MaskedDense(4, mask)])")


# ---------------------------------------------------------------------------------------------
# 3. PixelCNN
# ---------------------------------------------------------------------------------------------

@check(points=2, uses=PIXELCNN,
       hint="ones on every row above the centre and left of the centre in the centre row; "
            "the centre is 1 for type B, 0 for type A; a (k, k) float32 array")
def causal_mask_2d(lab, rng):
    return {f"{mask_type}{size}": lab.pixelcnn.causal_mask_2d(size, mask_type)
            for size in (3, 5) for mask_type in ("A", "B")}


@causal_mask_2d.verdict
def _(student, reference):
    for key in ("A3", "B3", "A5", "B5"):
        expect_equal(student[key], reference[key],
                     f"causal_mask_2d({key[1:]}, {key[0]!r})")


@check(points=2, uses=PIXELCNN,
       hint="kernel (k, k, C_in, filters) times the (k, k) mask broadcast over the channels; "
            "tf.nn.conv2d with strides=1, padding='SAME'; plus the bias")
def masked_conv2d(lab, rng):
    x = rng.normal(size=(3, 8, 8, 2)).astype("float32")
    outputs = {}
    for name, (filters, size, mask_type) in {"A": (4, 5, "A"), "B": (3, 3, "B")}.items():
        layer = lab.pixelcnn.MaskedConv2D(filters, size, mask_type)
        layer.build((None, 8, 8, 2))
        outputs[f"shapes_{name}"] = json.dumps(assign_by_shape(layer, rng))
        outputs[name] = layer(x)
    return outputs


@masked_conv2d.verdict
def _(student, reference):
    for name, call in {"A": "MaskedConv2D(4, 5, 'A')", "B": "MaskedConv2D(3, 3, 'B')"}.items():
        expect_true(student[f"shapes_{name}"] == reference[f"shapes_{name}"],
                    f"{call}.build((None, 8, 8, 2)) created weights of shapes "
                    f"{student[f'shapes_{name}']}, expected {reference[f'shapes_{name}']}")
        expect_close(student[name], reference[name],
                     f"{call}(x) for x (3, 8, 8, 2) (same kernel and bias as the reference)")


@check(points=1, uses=PIXELCNN,
       hint="a = the first half of the channels, b = the second half: tanh(a) * sigmoid(b)")
def gated_activation(lab, rng):
    return {"flat": lab.pixelcnn.gated_activation(rng.normal(size=(4, 6)).astype("float32")),
            "images": lab.pixelcnn.gated_activation(
                rng.normal(size=(2, 3, 3, 8)).astype("float32"))}


@gated_activation.verdict
def _(student, reference):
    expect_close(student["flat"], reference["flat"], "gated_activation(h) for h (4, 6)")
    expect_close(student["images"], reference["images"], "gated_activation(h) for h (2, 3, 3, 8)")


@check(points=1, uses=PIXELCNN,
       hint="x + projection(gated_activation(masked_conv(x))); build both sublayers")
def gated_block(lab, rng):
    block = lab.pixelcnn.GatedBlock(4, 3)
    block.build((None, 6, 6, 4))
    shapes = assign_by_shape(block, rng)
    return {"shapes": json.dumps(shapes),
            "y": block(rng.normal(size=(2, 6, 6, 4)).astype("float32"))}


@gated_block.verdict
def _(student, reference):
    expect_true(student["shapes"] == reference["shapes"],
                f"GatedBlock(4, 3).build((None, 6, 6, 4)) created weights of shapes "
                f"{student['shapes']}, expected {reference['shapes']}")
    expect_close(student["y"], reference["y"], "GatedBlock(4, 3)(x) for x (2, 6, 6, 4)")


@check(points=3, uses=PIXELCNN, reference=False,
       hint="the logit at (r, c) may depend only on pixels before (r, c) in raster order: a "
            "type-A first layer (centre excluded), type-B masks after it, 1x1 convolutions only")
def pixelcnn_receptive_field(lab, rng):
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


@check(points=3, uses=PIXELCNN, timeout=40,
       hint=f"PixelCNN(filters=16, num_blocks=2) trained by fit() must reach the reference's "
            f"held-out bits per dimension within {MARGIN_BITS} (and not far below it)")
def pixelcnn_trains(lab, rng):
    budget = PIXELCNN_TRAIN
    return train_probe(
        lambda: lab.pixelcnn.PixelCNN((8, 8, 1), budget["filters"], budget["num_blocks"]),
        _digits("train").reshape(-1, 8, 8, 1), _digits("test").reshape(-1, 8, 8, 1), budget)


@pixelcnn_trains.verdict
def _(student, reference):
    judge_training(student, reference, "PixelCNN")


@check(points=1, uses=PIXELCNN, reference=False,
       hint="every layer creates its weights in build() with add_weight; PixelCNN saves to "
            ".keras and reloads with the same outputs")
def pixelcnn_saves_and_loads(lab, rng):
    model = lab.pixelcnn.PixelCNN((8, 8, 1), filters=8, num_blocks=1)
    assign_by_shape(model, rng, scale=0.2)
    x = np.round(rng.random(size=(4, 8, 8, 1))).astype("float32")
    return round_trip(model, x, str(lab.tmpdir / "pixelcnn.keras"))


@pixelcnn_saves_and_loads.verdict
def _(student, _reference):
    judge_round_trip(student, "PixelCNN(filters=8, num_blocks=1)")


# ---------------------------------------------------------------------------------------------
# 4. WaveNet
# ---------------------------------------------------------------------------------------------

@check(points=2, uses=WAVENET,
       hint="pad the time axis on the LEFT with (kernel_size - 1) * dilation_rate zeros, then a "
            "'VALID' convolution with that dilation: the output is as long as the input")
def causal_conv1d(lab, rng):
    x = rng.normal(size=(2, 12, 2)).astype("float32")
    outputs = {}
    for name, (filters, size, rate) in {"dilated": (3, 3, 2), "plain": (2, 2, 1)}.items():
        layer = lab.wavenet.CausalConv1D(filters, size, rate)
        layer.build((None, 12, 2))
        outputs[f"shapes_{name}"] = json.dumps(assign_by_shape(layer, rng))
        outputs[name] = layer(x)
    return outputs


@causal_conv1d.verdict
def _(student, reference):
    for name, call in {"dilated": "CausalConv1D(3, kernel_size=3, dilation_rate=2)",
                       "plain": "CausalConv1D(2, kernel_size=2, dilation_rate=1)"}.items():
        expect_true(student[f"shapes_{name}"] == reference[f"shapes_{name}"],
                    f"{call}.build((None, 12, 2)) created weights of shapes "
                    f"{student[f'shapes_{name}']}, expected {reference[f'shapes_{name}']}")
        expect_close(student[name], reference[name], f"{call}(x) for x (2, 12, 2)")


@check(points=2, uses=WAVENET, reference=False,
       hint="y[t] must see exactly x[t], x[t - d], ..., x[t - (k-1) d]: pad on the left only, "
            "and pass dilations=dilation_rate to the convolution")
def causal_conv1d_is_causal(lab, rng):
    layer = lab.wavenet.CausalConv1D(2, kernel_size=3, dilation_rate=2)
    x = rng.normal(size=(2, 16, 1)).astype("float32")
    shape = list(np.shape(layer(x)))
    assign_by_shape(layer, rng)
    if shape != [2, 16, 2]:
        return {"shape": shape}
    return {"shape": shape, "dependence": dependence(layer, x, 16, 16, rng)}


@causal_conv1d_is_causal.verdict
def _(student, _reference):
    expect_true(student["shape"] == [2, 16, 2], f"CausalConv1D(2, 3, 2)(x) for x (2, 16, 1) has "
                f"shape {tuple(student['shape'])}, expected (2, 16, 2): as long as the input")
    judge_causal_conv(student["dependence"], 3, 2, "CausalConv1D(kernel_size=3, dilation_rate=2)")


@check(points=1, uses=WAVENET, hint="1 + sum over the layers of (kernel_size - 1) * rate")
def receptive_field(lab, rng):
    return {"wavenet": lab.wavenet.receptive_field(2, [1, 2, 4, 8]),
            "kernel3": lab.wavenet.receptive_field(3, (1, 3, 9)),
            "empty": lab.wavenet.receptive_field(2, [])}


@receptive_field.verdict
def _(student, reference):
    expect_equal(student["wavenet"], reference["wavenet"], "receptive_field(2, [1, 2, 4, 8])")
    expect_equal(student["kernel3"], reference["kernel3"], "receptive_field(3, (1, 3, 9))")
    expect_equal(student["empty"], reference["empty"], "receptive_field(2, []) (no layers)")


@check(points=3, uses=WAVENET, reference=False,
       hint="shift the one-hot input right by one step, then causal convolutions with the "
            "block's dilation rates: the logits at t see exactly x[t - R], ..., x[t - 1]")
def wavenet_is_causal(lab, rng):
    import tensorflow as tf
    model = lab.wavenet.WaveNet(levels=5, filters=8, dilation_rates=(1, 2, 4), kernel_size=2)
    open_every_unit(model, bias=0.5)
    one_hot = np.asarray(tf.one_hot(rng.integers(0, 5, size=(2, 24)), 5))
    shape = list(np.shape(model.logits_from_one_hot(one_hot)))
    if shape != [2, 24, 5]:
        return {"shape": shape}
    return {"shape": shape,
            "dependence": dependence(model.logits_from_one_hot, one_hot, 24, 24, rng)}


@wavenet_is_causal.verdict
def _(student, _reference):
    expect_true(student["shape"] == [2, 24, 5], f"WaveNet(levels=5).logits_from_one_hot(x) for x "
                f"(2, 24, 5) has shape {tuple(student['shape'])}, expected (2, 24, 5)")
    # receptive_field(2, (1, 1, 2, 4)): the input conv (dilation 1), then one block per rate.
    judge_wavenet_dependence(student["dependence"], 1 + (1 + 1 + 2 + 4),
                             "WaveNet(kernel_size=2, dilation_rates=(1, 2, 4))")


@check(points=1, uses=WAVENET, reference=False,
       hint="every layer creates its weights in build() with add_weight; WaveNet saves to "
            ".keras and reloads with the same outputs")
def wavenet_saves_and_loads(lab, rng):
    model = lab.wavenet.WaveNet(levels=6, filters=8, dilation_rates=(1, 2))
    assign_by_shape(model, rng, scale=0.2)
    x = rng.integers(0, 6, size=(3, 10)).astype("int32")
    return round_trip(model, x, str(lab.tmpdir / "wavenet.keras"))


@wavenet_saves_and_loads.verdict
def _(student, _reference):
    judge_round_trip(student, "WaveNet(levels=6, filters=8, dilation_rates=(1, 2))")


# ---------------------------------------------------------------------------------------------
# 5. Sampling
# ---------------------------------------------------------------------------------------------

@check(points=2, uses=SAMPLING,
       hint="Bernoulli: 1.0 where u < sigmoid(logit); categorical: the smallest k with "
            "u < cumsum(softmax(logits))[k] (clip to K - 1)")
def draws(lab, rng):
    logits = (3.0 * rng.normal(size=(20,))).astype("float32")
    categorical_logits = (2.0 * rng.normal(size=(30, 5))).astype("float32")
    uniform = rng.random(size=30)
    uniform[:3] = [0.0, 0.999999, 0.5]
    return {"bernoulli": lab.sampling.bernoulli_draw(logits, rng.random(size=20)),
            "categorical": lab.sampling.categorical_draw(categorical_logits, uniform)}


@draws.verdict
def _(student, reference):
    expect_equal(student["bernoulli"], reference["bernoulli"],
                 "bernoulli_draw(logits, uniform) for 20 logits")
    expect_equal(student["categorical"], reference["categorical"],
                 "categorical_draw(logits, uniform) for logits (30, 5)")


def logistic_autoregressive(rng, dims):
    """A dummy model with known conditionals: logit_d = b_d + sum over j before d of W[d, j] x_j,
    in a random order. Returns (order, W, b)."""
    order = rng.permutation(dims)
    position = np.argsort(order)
    before = position[None, :] < position[:, None]      # before[d, j]: j comes before d
    weights = 3.0 * rng.normal(size=(dims, dims)) * before
    return order, weights, rng.normal(size=dims)


def replay_bernoulli(x, uniform, weights, bias):
    """What each x_d must be, given the other dimensions of x: u_d < sigmoid(logit_d(x))."""
    logits = np.asarray(x, dtype=np.float64) @ weights.T + bias
    return (uniform < 1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


@check(points=3, uses=SAMPLING, reference=False,
       hint="start from zeros; for each d in order: call the model on the current x, then draw "
            "x[:, d] from its logits[:, d] (one model call per dimension, in the given order)")
def sample_autoregressive(lab, rng):
    dims, n = 9, 64
    order, weights, bias = logistic_autoregressive(rng, dims)
    calls = []

    def logits_fn(x):
        calls.append(1)
        return (np.asarray(x, dtype=np.float64) @ weights.T + bias).astype("float32")

    def draw(logits, uniform):
        return (uniform < 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)))).astype("float32")

    uniform = rng.random(size=(n, dims))
    x = lab.sampling.sample_autoregressive(logits_fn, order, uniform, draw=draw)
    return {"x": x, "calls": len(calls), "order": order, "weights": weights, "bias": bias,
            "uniform": uniform}


@sample_autoregressive.verdict
def _(student, _reference):
    x = expect_shape(student["x"], student["uniform"].shape,
                     "sample_autoregressive(logits_fn, order, uniform (64, 9))")
    expect_true(np.isin(x, (0.0, 1.0)).all(), "sample_autoregressive with a Bernoulli draw must "
                "return zeros and ones")
    expected = replay_bernoulli(x, student["uniform"], student["weights"], student["bias"])
    wrong = np.argwhere(x != expected)
    if len(wrong):
        at_once = replay_bernoulli(np.zeros_like(x), student["uniform"], student["weights"],
                                   student["bias"])
        why = ("they were all drawn from the model's output for x = 0: call the model again "
               "after every draw" if np.array_equal(x, at_once) else
               "draw the dimensions in the given order, each from a model call made after "
               "the dimensions before it were drawn")
        n, d = (int(v) for v in wrong[0])
        raise CheckFailed(f"sample_autoregressive: {len(wrong)} of {x.size} values disagree "
                          f"with the model's conditionals given the other sampled values "
                          f"(first: sample {n}, dimension {d}; the model was called "
                          f"{student['calls']} times for 9 dimensions); {why}")
