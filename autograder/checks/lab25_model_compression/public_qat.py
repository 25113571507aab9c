"""Public checks of lab25_model_compression, part 3: quantisation-aware training (qat.py).

Every reference is TensorFlow's own fake-quantisation ops and their gradients:
tf.quantization.fake_quant_with_min_max_vars_per_channel (narrow_range=True: the symmetric
127-level grid of Keras's int8) for the kernel, tf.quantization.fake_quant_with_min_max_vars
for the activations, the tracked range as a numpy moving average, and tf.GradientTape through
those ops for the QATDense layer's gradients. One short training run: a QAT MLP on the
digits, then Keras's own model.quantize("int8"), relative to the reference at the same seed.
"""
import numpy as np

from autograder.api import check
from autograder.verdicts import (
    expect_at_least,
    expect_at_most,
    expect_close,
    expect_close_naming,
    expect_true,
)

# The QAT run of qat_survives_int8 (stated in the handout): an MLP 64-16-10 of QATDense
# layers and the same MLP of float Dense layers, 40 Adam steps (1e-2) of 128 training digits
# at seed 0; both then quantised by Keras's own model.quantize("int8") (the QAT model's float
# weights copied into Dense layers).
QAT_TRAIN = {"hidden": 16, "steps": 40, "seed": 0}
QAT_MARGIN = 0.05
# The QAT model may lose at most this to int8 (the reference's loss at seeds 0-3: 0.0, -0.2,
# +0.2 and +0.4 points; the float model's 0.0, 0.0, +0.2 and -0.4: at 8 bits both are within
# two test digits of lossless on this MLP, so the check does not ask QAT to lose less).
QAT_INT8_LOSS = 0.01


def per_channel_probe(lab, rng, shape, bits):
    """fake_quant_per_channel forward and tape gradient against TensorFlow's per-channel op."""
    import tensorflow as tf
    kernel = (rng.normal(size=shape) * rng.uniform(0.02, 3.0, shape[-1])).astype("float32")
    top = np.abs(kernel).max(axis=0)
    k = tf.constant(kernel)
    upstream = tf.constant(rng.normal(size=shape).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(k)
        got = lab.qat.fake_quant_per_channel(k, bits)
        ref = tf.quantization.fake_quant_with_min_max_vars_per_channel(
            k, -top, top, num_bits=bits, narrow_range=True)
    grad = tape.gradient(got, k, output_gradients=upstream)
    levels = 2 ** (bits - 1) - 1
    whole = np.abs(kernel).max() / levels
    fixed = top / 127  # 127 levels whatever the bit width
    return {"got": np.asarray(got), "expected": np.asarray(ref), "bits": bits,
            "grad": np.zeros(shape) if grad is None else np.asarray(grad),
            "expected_grad": np.asarray(tape.gradient(ref, k, output_gradients=upstream)),
            "per_tensor": np.round(kernel / whole) * whole,
            "fixed_127": np.round(kernel / fixed) * fixed,
            "per_row": np.round(kernel / (top[None, :] * 0 + np.abs(kernel).max(1, keepdims=True)
                                          / levels)) * (np.abs(kernel).max(1, keepdims=True)
                                                        / levels),
            "full_range": np.round(kernel / (2 * top / (2 ** bits - 1))) * (2 * top / (2 ** bits
                                                                                   - 1))}


def judge_per_channel(student, what):
    expect_close_naming(student["got"], student["expected"], what, [
        (student["per_tensor"], "uses one scale for the whole kernel: one per output channel "
                                "(the max over axis 0)"),
        (student["per_row"], "takes the max over the last axis: a scale per OUTPUT channel is "
                             "the max over the inputs (axis 0)"),
        (student["full_range"], "uses 2^bits - 1 levels over [-max, max]: the symmetric grid "
                                "has 2^(bits-1) - 1 each side")] + ([
        (student["fixed_127"], f"uses 127 levels each side whatever num_bits: at "
                               f"{student['bits']} bits there are 2^(bits-1) - 1 = "
                               f"{2 ** (student['bits'] - 1) - 1}")]
        if student["bits"] != 8 else []),
        against="tf.quantization.fake_quant_with_min_max_vars_per_channel(narrow_range=True)",
        rtol=1e-5, atol=1e-6)
    expect_true(bool(np.abs(student["grad"]).max() > 0),
                f"{what}: no gradient reaches the kernel: round has zero gradient, use the "
                "straight-through estimator (kernel + tf.stop_gradient(q - kernel))")
    expect_close(student["grad"], student["expected_grad"], f"the gradient of {what}",
                 against="the straight-through gradient (the upstream gradient itself)",
                 rtol=1e-5, atol=1e-6)


@check(points=1, reference=False, task="`fake_quant_per_channel`",
       hint="scale_c = max_i |W[i, c]| / (2^(bits-1) - 1); round(W / scale) * scale; "
            "straight-through gradient")
def fake_quant_per_channel(lab, rng):
    """A (7, 5) kernel with columns of very different ranges at 8 and 4 bits: forward and
    tf.GradientTape gradient (random upstream) against
    tf.quantization.fake_quant_with_min_max_vars_per_channel with narrow_range=True."""
    return [per_channel_probe(lab, rng, (7, 5), bits) for bits in (8, 4)]


@fake_quant_per_channel.verdict
def _(student, _reference):
    for out in student:
        judge_per_channel(out, f"fake_quant_per_channel(kernel (7, 5), {out['bits']})")


def range_probe(lab, rng, ranges, bits, n=40):
    """fake_quant_range with tensor bounds, forward and gradients, against TensorFlow's op."""
    import tensorflow as tf
    out = []
    for (lo, hi), b in zip(ranges, bits):
        x = tf.constant(rng.uniform(lo - 1.0, hi + 1.0, n).astype("float32"))
        low, high = tf.constant(lo, tf.float32), tf.constant(hi, tf.float32)
        upstream = tf.constant(rng.normal(size=n).astype("float32"))
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([x, low, high])
            got = lab.qat.fake_quant_range(x, low, high, b)
            ref = tf.quantization.fake_quant_with_min_max_vars(x, lo, hi, num_bits=b)
        grads = tape.gradient(got, [x, low, high], output_gradients=upstream)
        step = (hi - lo) / (2 ** b - 1)
        unnudged = lo + np.round((np.clip(np.asarray(x), lo, hi) - lo) / step) * step
        out.append({"got": np.asarray(got), "expected": np.asarray(ref), "range": (lo, hi),
                    "bits": b, "unnudged": unnudged,
                    "grad": np.zeros(n) if grads[0] is None else np.asarray(grads[0]),
                    "expected_grad": np.asarray(tape.gradient(ref, x, output_gradients=upstream)),
                    "range_grad": float(sum(0.0 if g is None else abs(float(g))
                                            for g in grads[1:]))})
    return out


def judge_range(student, name="fake_quant_range"):
    for out in student:
        what = f"{name}(x, min {out['range'][0]:g}, max {out['range'][1]:g}, {out['bits']} bits)"
        expect_close_naming(out["got"], out["expected"], what, [
            (out["unnudged"], "does not nudge the range so that 0.0 is on the grid")],
            against="tf.quantization.fake_quant_with_min_max_vars", rtol=1e-5, atol=1e-5)
        expect_close(out["grad"], out["expected_grad"], f"the gradient of {what} in x",
                     against="the straight-through gradient: upstream inside the nudged range, "
                             "0 where x was clipped", rtol=1e-5, atol=1e-6)
        expect_true(out["range_grad"] == 0.0, f"{what}: a gradient of {out['range_grad']:.3g} "
                    "reaches the range: it is tracked, not trained (tf.stop_gradient)")


@check(points=1, reference=False, task="`fake_quant_range`",
       hint="fake_quant's nudged grid in TensorFlow ops on tensor bounds, the bounds under "
            "tf.stop_gradient; clipped + tf.stop_gradient(rounded - clipped)")
def fake_quant_range(lab, rng):
    """x spread beyond the range, for tensor ranges (-1.3, 2.1) at 8 bits and (0.4, 3) at 4:
    forward and gradient in x against tf.quantization.fake_quant_with_min_max_vars, and no
    gradient in the range."""
    return range_probe(lab, rng, [(-1.3, 2.1), (0.4, 3.0)], [8, 4])


@fake_quant_range.verdict
def _(student, _reference):
    judge_range(student)


def qat_dense_probe(lab, rng, inputs, units, batches, momentum, bits):
    """A QATDense(units, tanh) with random weights, called in training on `batches` random
    batches (different ranges) and then in inference; the tracked range after each call
    against a numpy moving average; each training call's output against TensorFlow's
    fake-quant ops on the range after that call's update (and on the range before it, the
    stale range, named); the inference output and the tape gradients in the kernel, the bias
    and x against TensorFlow's fake-quant ops on the same range."""
    import keras
    import tensorflow as tf

    def forward(inputs, lo, hi, kernel_bits, quantise_x=True, quantise_kernel=True):
        xq = tf.quantization.fake_quant_with_min_max_vars(inputs, lo, hi, num_bits=bits)
        top = np.abs(kernel).max(axis=0)
        wq = tf.quantization.fake_quant_with_min_max_vars_per_channel(
            kernel, -top, top, num_bits=kernel_bits, narrow_range=True)
        return np.tanh(np.asarray(xq if quantise_x else inputs)
                       @ np.asarray(wq if quantise_kernel else kernel) + bias)
    layer = lab.qat.QATDense(units, activation="tanh", momentum=momentum, num_bits=bits)
    layer.build((None, inputs))
    kernel = (rng.normal(size=(inputs, units)) * rng.uniform(0.1, 1.5, units)).astype("float32")
    bias = rng.normal(0, 0.3, units).astype("float32")
    layer.kernel.assign(kernel)
    layer.bias.assign(bias)
    ranges, expected, train_out, train_ref, train_stale = [], [], [], [], []
    low = high = None
    for index in range(batches):
        # the first batch mostly negative: the initial [0, 1] differs most from its range
        centre = -1.5 if index == 0 else rng.uniform(-1, 1)
        batch = rng.normal(centre, rng.uniform(0.5, 2), (6, inputs)).astype("float32")
        before = (float(np.asarray(layer.input_min)), float(np.asarray(layer.input_max)))
        train_out.append(np.asarray(layer(tf.constant(batch), training=True)))
        ranges.append((float(np.asarray(layer.input_min)), float(np.asarray(layer.input_max))))
        train_ref.append(forward(batch, *ranges[-1], bits))
        train_stale.append(forward(batch, *before, bits))
        if low is None:
            low, high = float(batch.min()), float(batch.max())
        else:
            low = momentum * low + (1 - momentum) * float(batch.min())
            high = momentum * high + (1 - momentum) * float(batch.max())
        expected.append((low, high))
    x = tf.constant(rng.normal(0, 3.0, (5, inputs)).astype("float32"))  # some clipped
    upstream = tf.constant(rng.normal(size=(5, units)).astype("float32"))
    k, b = tf.constant(kernel), tf.constant(bias)
    lo, hi = ranges[-1]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        got = layer(x, training=False)
        tape.watch([k, b])
        xq = tf.quantization.fake_quant_with_min_max_vars(x, lo, hi, num_bits=bits)
        top = tf.reduce_max(tf.abs(k), axis=0)
        wq = tf.quantization.fake_quant_with_min_max_vars_per_channel(
            k, -top, top, num_bits=bits, narrow_range=True)
        ref = keras.ops.tanh(xq @ wq + b)
    grads = tape.gradient(got, [layer.kernel, layer.bias, x], output_gradients=upstream)
    ref_grads = tape.gradient(ref, [k, b, x], output_gradients=upstream)
    after = (float(np.asarray(layer.input_min)), float(np.asarray(layer.input_max)))
    return {"ranges": np.array(ranges), "expected_ranges": np.array(expected),
            "after_inference": np.array(after), "momentum": momentum,
            "output": np.asarray(got), "expected_output": np.asarray(ref),
            "float_output": np.tanh(np.asarray(x) @ kernel + bias),
            "kernel_127": forward(np.asarray(x), lo, hi, 8), "bits": bits,
            "float_kernel": forward(np.asarray(x), lo, hi, bits, quantise_kernel=False),
            "float_inputs": forward(np.asarray(x), lo, hi, bits, quantise_x=False),
            "train_output": np.array(train_out), "train_expected": np.array(train_ref),
            "train_stale": np.array(train_stale),
            "grads": [np.zeros(1) if g is None else np.asarray(g) for g in grads],
            "expected_grads": [np.asarray(g) for g in ref_grads]}


def judge_qat_dense(student, what):
    m = student["momentum"]
    expect_close_naming(student["ranges"], student["expected_ranges"],
                        f"{what}: the tracked [input_min, input_max] after each training call", [
        (student["expected_ranges"][:1].repeat(len(student["ranges"]), 0),
         "keeps the first batch's range: update it by the moving average after that")],
        against=f"the first batch's min and max, then {m:g} * range + {1 - m:g} * the batch's",
        rtol=1e-5, atol=1e-5)
    expect_close(student["after_inference"], student["ranges"][-1],
                 f"{what}: the range after a call with training=False",
                 against="the range before it (inference never updates the range)",
                 rtol=0, atol=0)
    expect_close_naming(student["output"], student["expected_output"],
                        f"{what}: the output in inference", [
        (student["float_output"], "is the float layer: fake-quantise the inputs on the tracked "
                                  "range and the kernel per output channel"),
        (student["float_kernel"], "uses the float kernel: fake-quantise it per output channel "
                                  "(fake_quant_per_channel(kernel, num_bits))"),
        (student["float_inputs"], "uses the float inputs: fake-quantise them on the tracked "
                                  "range (fake_quant_range(x, input_min, input_max, num_bits))")
        ] + ([
        (student["kernel_127"], f"quantises the kernel on 127 levels whatever num_bits: at "
                                f"{student['bits']} bits, 2^(bits-1) - 1 each side")]
        if student["bits"] != 8 else []),
        against="tanh(fq(x) @ fq_c(W) + b) with TensorFlow's fake-quant ops", rtol=1e-4,
        atol=1e-5, advice="if fake_quant_per_channel or fake_quant_range fail their own "
                          "checks, fix them first")
    for name, got, expected in zip(("the kernel", "the bias", "x"), student["grads"],
                                   student["expected_grads"]):
        expect_close(got, expected, f"{what}: the gradient in {name}",
                     against="the straight-through gradients of TensorFlow's fake-quant ops",
                     rtol=1e-4, atol=1e-5)
    expect_close_naming(student["train_output"], student["train_expected"],
                        f"{what}: the output of each training call", [
        (student["train_stale"], "quantises x on the range from BEFORE this batch's update (on "
                                 "the first call the initial [0, 1]): update the range first, "
                                 "then fake_quant_range on the updated range")],
        against="tanh(fq(x) @ fq_c(W) + b) on the range after this call's update", rtol=1e-4,
        atol=1e-5)


@check(points=2, reference=False, task="`QATDense.call`",
       hint="track the range in training only (the first batch's, then the moving average); "
            "fake_quant_range(x, range) @ fake_quant_per_channel(kernel) + bias")
def qat_dense_forward_and_gradient(lab, rng):
    """A QATDense(4, tanh) on 6 inputs (momentum 0.8, 8 bits) with random weights, three
    training calls on batches of different ranges, then one in inference on inputs partly
    outside the range; then a QATDense(3, tanh) on 5 inputs (momentum 0.5, 4 bits), two
    training calls and one in inference: the tracked range after each call against a numpy
    moving average, the output of each training call (on the range after its update), the
    inference output and the tf.GradientTape gradients in the kernel, bias and inputs
    against TensorFlow's fake-quant ops."""
    return [qat_dense_probe(lab, rng, 6, 4, 3, 0.8, 8),
            qat_dense_probe(lab, rng, 5, 3, 2, 0.5, 4)]


@qat_dense_forward_and_gradient.verdict
def _(student, _reference):
    judge_qat_dense(student[0], "QATDense(4, tanh)")
    judge_qat_dense(student[1], "QATDense(3, tanh, momentum 0.5, 4 bits)")


def qat_training(lab, rng, config):
    import keras
    import tensorflow as tf

    from dlkit.backend import reset_keras
    from dlkit.data import load_digits
    x, y = load_digits("train", flatten=True)
    test_x, test_y = load_digits("test", flatten=True)
    hidden, seed = config["hidden"], config["seed"]

    def accuracy(model):   # an eager call: predict would trace a function for each model
        return float((np.asarray(model(test_x)).argmax(1) == test_y).mean())

    def float_mlp():
        return keras.Sequential([keras.Input((64,)), keras.layers.Dense(hidden, activation="relu"),
                                 keras.layers.Dense(10)])

    out = {}
    for name in ("float", "qat"):
        reset_keras(seed)
        model = lab.qat.make_qat_mlp((hidden,)) if name == "qat" else float_mlp()
        # Adam's slots built before fit: created inside its first trace, they trace it again.
        optimizer = keras.optimizers.Adam(1e-2)
        optimizer.build(model.trainable_variables)
        model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(tf.data.Dataset.from_tensor_slices((x, y)).shuffle(2000, seed=seed).repeat()
                  .batch(128), steps_per_epoch=config["steps"], epochs=1, verbose=0)
        out[name] = accuracy(model)
        plain = float_mlp()
        for dense, layer in zip(plain.layers, model.layers):
            dense.set_weights([np.asarray(layer.kernel), np.asarray(layer.bias)])
        plain.quantize("int8")
        out[f"{name}_int8"] = accuracy(plain)
    return out


@check(points=2, timeout=90, task="`QATDense.call`, `fake_quant_per_channel`, `fake_quant_range`",
       hint="QATDense trains through the straight-through gradients")
def qat_survives_int8(lab, rng):
    """An MLP of QATDense layers and the same float MLP trained 40 steps at seed 0, both then
    quantised by Keras's model.quantize("int8"): the QAT model's test accuracy, before and
    after, within 5 points of the reference's, and at most 1 point lost to int8."""
    return qat_training(lab, rng, QAT_TRAIN)


@qat_survives_int8.verdict
def _(student, reference):
    expect_at_least(student["qat"], reference["qat"] - QAT_MARGIN,
                    "the QAT MLP's test accuracy (the reference reaches "
                    f"{reference['qat']:.3f} at the same seed and budget: check QATDense's "
                    "straight-through gradients)")
    expect_at_least(student["qat_int8"], reference["qat_int8"] - QAT_MARGIN,
                    "the QAT MLP's test accuracy after model.quantize('int8') (the reference "
                    f"reaches {reference['qat_int8']:.3f})")
    expect_at_most(student["qat"] - student["qat_int8"], QAT_INT8_LOSS,
                   "the QAT MLP's test accuracy lost to model.quantize('int8') (the reference "
                   f"loses {reference['qat'] - reference['qat_int8']:.3f}: QATDense's kernel grid "
                   "must be Keras's, symmetric per output channel)")
