"""Helpers the checks of lab14_autoregressive share (public and hidden): the autoregressive
property measured with gradients, the relative training probe, .keras round trips, the usual
slips of the layers, dummy models with known conditionals, and the stand-ins: components of
known behaviour that is NOT the lab's maths (degree and mask functions, a gate, a draw,
plain convolutions), plugged into the unit under test; what it makes of them is compared
with what the reference's unit makes of the same.

Probes run in the worker and import TensorFlow/Keras inside their functions; verdicts run in
the grader: this module imports numpy only at its top level.
"""
import json

import numpy as np

from autograder.api import CheckFailed
from autograder.check_helpers import build_for_fit
from autograder.verdicts import expect_at_most, expect_close, expect_true

LIKELIHOOD = "likelihood"
MADE = ("likelihood", "made")
PIXELCNN = ("likelihood", "pixelcnn")
WAVENET = ("likelihood", "pixelcnn", "wavenet")
SAMPLING = "sampling"

# The training budgets of the two training checks, stated in the handout.
MADE_TRAIN = {"hidden_units": (128,), "learning_rate": 1e-2, "batch_size": 64, "epochs": 8}
PIXELCNN_TRAIN = {"filters": 16, "num_blocks": 2, "learning_rate": 2e-2, "batch_size": 64,
                  "epochs": 4}
# How far a student's held-out bits per dimension may land from the reference's. Over
# training seeds the reference varies by about 0.01 bit/dim; a model that ignores its inputs
# stays near 0.8, and one that sees the pixel it predicts falls far below the reference.
MARGIN_BITS = 0.04
LEAK_MARGIN_BITS = 0.08
# A gradient counts as non-zero above this fraction of the largest one (float32 convolution
# algorithms may leave rounding dust where an exact computation gives 0).
DEPENDENCE_TOLERANCE = 1e-6


# ---------------------------------------------------------------------------------------------
# The autoregressive property, training, round trips
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
    """The held-out score of a training check, from scipy: the mean over the pixels of
    -log2 p(x) under Bernoulli(sigmoid(logits)) (float64)."""
    from scipy.special import log_expit
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    logits = np.asarray(logits, dtype=np.float64).reshape(len(x), -1)
    log_p = np.where(x > 0.5, log_expit(logits), log_expit(-logits))
    return float(-np.mean(log_p) / np.log(2.0))


def train_probe(build_model, x_train, x_test, budget, whole_batches=False):
    """Train a fresh model with fit() for `budget`; held-out bits per dimension before/after.
    whole_batches: drop the training images past the last whole batch (a smaller last batch
    traces the step a second time)."""
    import keras
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]))
    build_for_fit(model)
    if whole_batches:
        x_train = x_train[:len(x_train) // budget["batch_size"] * budget["batch_size"]]
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
# Dummy models with known conditionals (sampling)
# ---------------------------------------------------------------------------------------------

def logistic_autoregressive(rng, dims):
    """A dummy model with known conditionals: logit_d = b_d + sum over j before d of W[d, j] x_j,
    in a random order. Returns (order, W, b)."""
    order = rng.permutation(dims)
    position = np.argsort(order)
    before = position[None, :] < position[:, None]      # before[d, j]: j comes before d
    weights = 3.0 * rng.normal(size=(dims, dims)) * before
    return order, weights, rng.normal(size=dims)


def standin_draw(logits, uniform):
    """The draw the sampler check passes: a fixed rule of known behaviour, not a Bernoulli
    draw: 1.0 where the fractional part of (logits / 2 + 2 * uniform) is at least 0.5."""
    value = np.asarray(logits, dtype=np.float64) / 2.0 + 2.0 * np.asarray(uniform)
    return (value - np.floor(value) >= 0.5).astype(np.float32)


def replay_draws(x, uniform, weights, bias):
    """What each x_d must be, given the other dimensions of x: standin_draw(logit_d(x), u_d)."""
    return standin_draw(np.asarray(x, dtype=np.float64) @ weights.T + bias, uniform)


# ---------------------------------------------------------------------------------------------
# The layers' maths in numpy, and judging against the likely wrong variants
# ---------------------------------------------------------------------------------------------


def weights_by_rank(layer):
    """(kernel, bias) of a convolution layer, found by their ranks, as numpy arrays (the
    student may name or order them differently)."""
    weights = sorted(layer.trainable_weights, key=lambda w: -len(w.shape))
    return np.asarray(weights[0]), np.asarray(weights[-1])


def shifted_sum(x, kernel, bias, offsets):
    """y[t] = sum_j x[t + offsets[j]] @ kernel[j] + bias, zero outside the sequence: every
    1-D convolution, causal or not, dilated or not. x: (N, T, C_in); kernel (k, C_in, F)."""
    x = np.asarray(x, dtype=np.float64)
    length = x.shape[1]
    y = np.zeros((*x.shape[:2], kernel.shape[-1])) + bias
    for tap, offset in zip(kernel, offsets):
        moved = np.zeros_like(x)
        source = np.arange(length) + offset
        inside = (source >= 0) & (source < length)
        moved[:, inside] = x[:, source[inside]]
        y += moved @ tap
    return y


def causal_conv_variants(x, layer, kernel_size, rate):
    """What the usual slips of CausalConv1D(kernel_size, rate) give with the layer's own
    weights: {name: (N, T, F) outputs}."""
    kernel, bias = weights_by_rank(layer)
    k = kernel_size
    return {"taps_reversed": shifted_sum(x, kernel, bias, [-j * rate for j in range(k)]),
            "padded_right": shifted_sum(x, kernel, bias, [j * rate for j in range(k)]),
            "no_dilation": shifted_sum(x, kernel, bias, [-(k - 1 - j) for j in range(k)])}


CAUSAL_CONV_SLIPS = {
    "taps_reversed": "the kernel taps are in reverse order: y[t] = sum_i x[t - i * d] @ "
                     "kernel[k - 1 - i] (the last tap multiplies x[t]; a left-padded 'VALID' "
                     "convolution does exactly that)",
    "padded_right": "the output sees future steps: pad on the LEFT with (k - 1) * d zeros",
    "no_dilation": "the taps are 1 step apart: pass dilations=dilation_rate to the "
                   "convolution"}


def judge_variants(actual, variants, slips, what, *, expected="expected", rtol=1e-3,
                   atol=1e-4, against="the reference"):
    """actual against variants[expected]; when it matches one of the `slips` variants
    instead, the message names that slip ({variant: what is wrong})."""
    actual = np.asarray(actual, dtype=np.float64)
    right = np.asarray(variants[expected], dtype=np.float64)
    if actual.shape == right.shape and not np.allclose(actual, right, rtol=rtol, atol=atol):
        for name, slip in slips.items():
            wrong = np.asarray(variants[name], dtype=np.float64)
            if not np.allclose(wrong, right, rtol=rtol, atol=atol) and \
                    np.allclose(actual, wrong, rtol=rtol, atol=atol):
                raise CheckFailed(f"{what}: {slip}")
    expect_close(actual, right, what, rtol=rtol, atol=atol, against=against)


def copy_by_shape(source, target):
    """Give `target` the trainable weights of `source`, matched by shape (kernel, bias)."""
    values = {tuple(w.shape): np.asarray(w) for w in source.trainable_weights}
    for weight in target.trainable_weights:
        weight.assign(values[tuple(weight.shape)])


# ---------------------------------------------------------------------------------------------
# Stand-ins: check-defined components of known behaviour, not the lab's maths
# ---------------------------------------------------------------------------------------------


def degree_functions():
    """Stand-ins for input_degrees, hidden_degrees, hidden_mask and output_mask, with their
    signatures and known values that are not degrees or masks: made_masks, which must call
    them, is then judged by what it passes to each and where it puts the results."""
    def input_degrees(order):
        degrees = np.empty(len(order), dtype=np.int64)     # the REVERSED order's degrees
        degrees[np.asarray(order)] = np.arange(len(order), 0, -1)
        return degrees

    def hidden_degrees(num_units, input_dim):
        return 1 + (2 * np.arange(num_units, dtype=np.int64) + 1) % (input_dim + 1)

    def hidden_mask(in_degrees, out_degrees):
        return np.add.outer(np.sin(in_degrees), np.cos(out_degrees)).astype(np.float32)

    def output_mask(in_degrees, out_degrees):
        return np.subtract.outer(np.cos(in_degrees), np.sin(2.0 * np.asarray(out_degrees))
                                 ).astype(np.float32)

    return {"input_degrees": input_degrees, "hidden_degrees": hidden_degrees,
            "hidden_mask": hidden_mask, "output_mask": output_mask}


def standin_gate(h):
    """A stand-in for gated_activation with its contract (..., 2F) -> (..., F) and known
    behaviour, not the gate: a + 2 tanh(b) for the halves a (first F) and b (last F)."""
    import keras
    half = h.shape[-1] // 2
    return h[..., :half] + 2.0 * keras.ops.tanh(h[..., half:])


def standin_gated_block(filters, rng, input_shape):
    """A built stand-in for a PixelCNN block: a plain (unmasked) 3x3 Conv2D with a tanh and
    random weights, the shape of its input."""
    import keras
    layer = keras.layers.Conv2D(filters, 3, padding="same", activation="tanh")
    layer.build(input_shape)
    assign_by_shape(layer, rng)
    return layer


def with_layers(model_class, **layers):
    """A subclass of the student's model class whose named layers are the given stand-ins
    from the start (the given __init__ builds the model, after which Keras would not let
    them be swapped); the layers the given __init__ creates for those names are dropped."""
    def standing(name, value):
        return property(lambda self: value, lambda self, _unused: None)

    namespace = {name: standing(name, value) for name, value in layers.items()}
    return type(f"{model_class.__name__}WithStandIns", (model_class,), namespace)
