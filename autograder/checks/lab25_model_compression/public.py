"""Public checks of lab25_model_compression, part 1: the blocks, the distillation loss,
int8 quantisation, fake quantisation and low rank.

Every reference here is an independent computation made in the probe: Keras's own
activations (silu, mish), a numpy squeeze-and-excite on the layer's weights, scipy's
log_softmax and rel_entr, Keras's model.quantize("int8") on a Dense layer with the same
kernel, tf.quantization.fake_quant_with_min_max_vars and its gradient, numpy's SVD.
"""
import numpy as np

from autograder.api import check
from autograder.verdicts import expect_close, expect_close_naming, expect_equal, expect_true


def activations_probe(lab, rng, shape, betas):
    import keras
    x = (rng.normal(size=shape) * 4).astype("float32")
    sig = 1 / (1 + np.exp(-x.astype(np.float64)))
    out = {"swish": np.asarray(lab.compression.swish(x)),
           "silu": np.asarray(keras.activations.silu(x)),
           "mish": np.asarray(lab.compression.mish(x)),
           "keras_mish": np.asarray(keras.activations.mish(x)),
           "sigmoid": sig, "x_tanh_x": x * np.tanh(x), "relu_tanh": x * np.tanh(np.maximum(x, 0)),
           "betas": np.array(betas)}
    out["beta_swish"] = np.stack([np.asarray(lab.compression.swish(x, b)) for b in betas])
    out["beta_expected"] = np.stack([x / (1 + np.exp(-b * x.astype(np.float64))) for b in betas])
    out["beta_ignored"] = np.stack([x * sig for _ in betas])
    return out


def judge_activations(student):
    expect_close_naming(student["swish"], student["silu"], "swish(x)", [
        (student["sigmoid"], "is sigmoid(x): multiply it by x")],
        against="keras.activations.silu(x)", rtol=1e-5, atol=1e-6)
    expect_close_naming(student["beta_swish"], student["beta_expected"],
                        f"swish(x, beta) for beta in {student['betas'].tolist()}", [
        (student["beta_ignored"], "ignores beta: x * sigmoid(beta * x)")],
        against="x * sigmoid(beta * x) in numpy", rtol=1e-5, atol=1e-6)
    expect_close_naming(student["mish"], student["keras_mish"], "mish(x)", [
        (student["x_tanh_x"], "is x * tanh(x): the tanh is of softplus(x)"),
        (student["relu_tanh"], "is x * tanh(relu(x)): softplus is log(1 + exp(x))")],
        against="keras.activations.mish(x)", rtol=1e-5, atol=1e-6)


@check(points=1, task="`swish`, `mish`",
       hint="swish: x * sigmoid(beta x); mish: x * tanh(softplus(x))")
def swish_and_mish(lab, rng):
    """Swish and Mish on random inputs (scale 4) against keras.activations.silu and mish, and
    Swish with beta 0.5 and 3 against numpy."""
    return activations_probe(lab, rng, (5, 7), [0.5, 3.0])


@swish_and_mish.verdict
def _(student, _reference):
    judge_activations(student)


def squeeze_excite_probe(lab, rng, shape, ratio):
    """The student's SqueezeExcite on random feature maps, against numpy on its weights."""
    layer = lab.compression.SqueezeExcite(ratio)
    x = rng.normal(1.0, 1.0, size=shape).astype("float32")
    layer.build(shape)
    for weight in layer.weights:
        weight.assign(rng.normal(scale=0.8, size=weight.shape).astype("float32"))
    out = np.asarray(layer(x))
    w1, b1 = np.asarray(layer.reduce.kernel, np.float64), np.asarray(layer.reduce.bias, np.float64)
    w2, b2 = np.asarray(layer.expand.kernel, np.float64), np.asarray(layer.expand.bias, np.float64)

    def gates(squeezed):
        return 1 / (1 + np.exp(-(np.maximum(squeezed @ w1 + b1, 0) @ w2 + b2)))
    mean = x.mean(axis=(1, 2))
    return {"out": out, "expected": x * gates(mean)[:, None, None, :],
            "max_pooled": x * gates(x.max(axis=(1, 2)))[:, None, None, :],
            "gates_only": np.broadcast_to(gates(mean)[:, None, None, :], x.shape).copy(),
            "summed": x * gates(x.sum(axis=(1, 2)))[:, None, None, :]}


def judge_squeeze_excite(student, what):
    expect_close_naming(student["out"], student["expected"], what, [
        (student["max_pooled"], "squeezes by the maximum: take the spatial MEAN"),
        (student["gates_only"], "returns the gates: multiply the input by them"),
        (student["summed"], "squeezes by the spatial SUM: take the mean over axes 1 and 2")],
        against="numpy on the layer's own reduce and expand weights", rtol=1e-4, atol=1e-5)


@check(points=1, task="`SqueezeExcite.call`",
       hint="gates = expand(reduce(mean over H and W)); return x * gates[:, None, None, :]")
def squeeze_excite(lab, rng):
    """SqueezeExcite(ratio 2) on random (3, 4, 5, 6) maps with random weights, against numpy
    on the layer's own weights."""
    return squeeze_excite_probe(lab, rng, (3, 4, 5, 6), 2)


@squeeze_excite.verdict
def _(student, _reference):
    judge_squeeze_excite(student, "SqueezeExcite(2)(x)")


def distillation_loss_probe(lab, rng, n, classes, temperatures):
    """The student's loss against scipy's KL of the softened distributions, with slips."""
    from scipy.special import log_softmax, rel_entr, softmax
    teacher = rng.normal(size=(n, classes)) * 3
    student = rng.normal(size=(n, classes)) * 2
    out = {"temperatures": np.array(temperatures)}
    for key in ("got", "expected", "no_t2", "reversed", "t_once", "cross_entropy",
                "teacher_hard", "batch_sum"):
        out[key] = []
    for t in temperatures:
        p, q = softmax(teacher / t, axis=1), softmax(student / t, axis=1)
        kl = rel_entr(p, q).sum(axis=1).mean()
        out["got"].append(float(np.asarray(lab.compression.distillation_loss(
            teacher.astype("float32"), student.astype("float32"), t))))
        out["expected"].append(t * t * kl)
        out["batch_sum"].append(t * t * rel_entr(p, q).sum())
        out["no_t2"].append(kl)
        out["reversed"].append(t * t * rel_entr(q, p).sum(axis=1).mean())
        out["t_once"].append(t * kl)
        out["cross_entropy"].append(t * t * -(p * log_softmax(student / t, axis=1)).sum(1).mean())
        out["teacher_hard"].append(t * t * rel_entr(softmax(teacher, axis=1), q).sum(1).mean())
    out["batch"] = n
    return {key: np.array(value) for key, value in out.items()}


def judge_distillation_loss(student, what):
    for index, t in enumerate(student["temperatures"]):
        pick = {key: student[key][index] for key in student
                if key not in ("temperatures", "batch")}
        expect_close_naming(pick["got"], pick["expected"], f"{what} at T = {t:g}", [
            (pick["no_t2"], "is the KL without the factor T^2"),
            (pick["t_once"], "is scaled by T, not T^2"),
            (pick["reversed"], "is KL(q_T || p_T): the teacher's distribution comes first"),
            (pick["cross_entropy"], "is the cross-entropy: subtract the teacher's entropy "
                                    "(KL = sum p (log p - log q))"),
            (pick["teacher_hard"], "does not divide the teacher's logits by T"),
            (pick["batch_sum"], f"sums the KL over the batch ({int(student['batch'])} rows): "
                                "take its MEAN over the batch")],
            against="T^2 * KL(p_T || q_T) from scipy's rel_entr", rtol=1e-4, atol=1e-6)


@check(points=2, task="`distillation_loss`",
       hint="T^2 * mean over the batch of sum_c p_T log(p_T / q_T), both logits divided by T")
def distillation_loss(lab, rng):
    """The soft-target loss of random (6, 5) teacher and student logits at T = 1, 2.5 and 7,
    against T^2 times scipy's KL of the softened distributions."""
    return distillation_loss_probe(lab, rng, 6, 5, [1.0, 2.5, 7.0])


@distillation_loss.verdict
def _(student, _reference):
    judge_distillation_loss(student, "distillation_loss(teacher, student, T)")


def quantize_probe(lab, rng, inputs, outputs):
    """The student's per-channel int8 quantiser against Keras's model.quantize("int8") on a
    Dense layer holding the same kernel (columns of very different ranges)."""
    import keras
    kernel = (rng.normal(size=(inputs, outputs)) * rng.uniform(0.05, 3.0, outputs)).astype(
        "float32")
    model = keras.Sequential([keras.Input((inputs,)), keras.layers.Dense(outputs)])
    model.layers[0].kernel.assign(kernel)
    model.quantize("int8")
    layer = model.layers[0]
    q, scale = lab.compression.quantize_per_channel(kernel)
    absmax = np.abs(kernel).max()
    return {"q": np.asarray(q), "q_dtype": str(np.asarray(q).dtype), "scale": np.asarray(scale),
            "keras_q": np.asarray(layer._kernel), "keras_scale": 1.0 / np.asarray(
                layer.kernel_scale, np.float64),
            "per_tensor": np.full(outputs, absmax / 127), "per_row": np.abs(kernel).max(axis=1)
            / 127, "over_255": np.abs(kernel).max(axis=0) / 255,
            "dequantized": np.asarray(lab.compression.dequantize(q, scale)),
            "keras_dequantized": np.asarray(layer._kernel, np.float32) / np.asarray(
                layer.kernel_scale), "kernel": kernel}


def judge_quantize(student, what):
    expect_true(student["q_dtype"] == "int8", f"{what}: q has dtype {student['q_dtype']}, "
                "expected int8")
    expect_close_naming(student["scale"], student["keras_scale"], f"{what}: the scales", [
        (student["per_row"], "takes the maximum over each ROW (input): one scale per output "
                             "channel is the maximum of each column, axis 0"),
        (student["per_tensor"], "is one scale for the whole kernel: one per output channel"),
        (student["over_255"], "divides by 255: symmetric int8 uses [-127, 127]")],
        against="1 / kernel_scale of Keras's model.quantize(\"int8\")", rtol=1e-5, atol=0)
    expect_equal(student["q"], student["keras_q"],
                 f"{what}: the int8 kernel (against Keras's quantized kernel; round W / scale "
                 "to the nearest integer)")
    expect_close(student["dequantized"], student["keras_dequantized"], "dequantize(q, scale)",
                 against="Keras's int8 kernel / kernel_scale", rtol=1e-5, atol=1e-7)


@check(points=2, task="`quantize_per_channel`, `dequantize`",
       hint="scale = max |W| of each output column / 127; q = round(W / scale) as int8")
def int8_matches_keras(lab, rng):
    """A (9, 6) kernel with columns of very different ranges: the int8 kernel, the scales and
    the dequantized kernel against those of Keras's own model.quantize("int8")."""
    return quantize_probe(lab, rng, 9, 6)


@int8_matches_keras.verdict
def _(student, _reference):
    judge_quantize(student, "quantize_per_channel(kernel)")


def fake_quant_probe(lab, rng, ranges, bits, n=40):
    """fake_quant forward and tape gradient against TensorFlow's op, with the slips."""
    import tensorflow as tf
    out = {"ranges": np.array(ranges), "bits": np.array(bits)}
    for key in ("got", "expected", "grad", "expected_grad", "unnudged"):
        out[key] = []
    for (lo, hi), b in zip(ranges, bits):
        x = tf.constant(rng.uniform(lo - 1.0, hi + 1.0, n).astype("float32"))
        upstream = tf.constant(rng.normal(size=n).astype("float32"))
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = lab.compression.fake_quant(x, lo, hi, b)
            ref = tf.quantization.fake_quant_with_min_max_vars(x, lo, hi, num_bits=b)
        grad = tape.gradient(y, x, output_gradients=upstream)
        out["got"].append(np.asarray(y))
        out["expected"].append(np.asarray(ref))
        out["grad"].append(np.zeros(n) if grad is None else np.asarray(grad))
        out["expected_grad"].append(np.asarray(tape.gradient(ref, x, output_gradients=upstream)))
        step = (hi - lo) / (2 ** b - 1)
        out["unnudged"].append(lo + np.round((np.clip(np.asarray(x), lo, hi) - lo) / step) * step)
        out.setdefault("upstream", []).append(np.asarray(upstream))
    return {key: np.array(value) for key, value in out.items()}


def judge_fake_quant(student):
    for index, (lo, hi) in enumerate(student["ranges"]):
        what = f"fake_quant(x, {lo:g}, {hi:g}, num_bits={int(student['bits'][index])})"
        expect_close_naming(student["got"][index], student["expected"][index], what, [
            (student["unnudged"][index], "rounds on a grid from min itself: nudge min and max "
                                         "so that 0.0 is on the grid (the zero point is "
                                         "round(-min / scale), clipped)")],
            against="tf.quantization.fake_quant_with_min_max_vars", rtol=1e-5, atol=1e-5)
        expect_close_naming(student["grad"][index], student["expected_grad"][index],
                            f"the gradient of {what}", [
            (np.zeros_like(student["grad"][index]), "is 0: the gradient of round is 0 almost "
                                                    "everywhere; the straight-through "
                                                    "estimator passes the upstream gradient "
                                                    "through (tf.custom_gradient)"),
            (student["upstream"][index], "passes the gradient everywhere: it is 0 where x is "
                                         "clipped (outside [nudged_min, nudged_max])")],
            against="the gradient of TensorFlow's fake_quant op (straight-through inside the "
                    "range, 0 outside)", rtol=1e-6, atol=1e-6)


@check(points=2, task="`fake_quant`",
       hint="nudge min/max so 0 is on the grid; clip, round to the grid; straight-through "
            "gradient inside the range")
def fake_quant_matches_tensorflow(lab, rng):
    """Forward and tf.GradientTape gradient (random upstream) of fake_quant on x spread
    beyond the range, for ranges (-1.3, 2.1) at 4 bits, (0.3, 2) at 3 bits and (-3, -0.4)
    at 8 bits, against tf.quantization.fake_quant_with_min_max_vars."""
    return fake_quant_probe(lab, rng, [(-1.3, 2.1), (0.3, 2.0), (-3.0, -0.4)], [4, 3, 8])


@fake_quant_matches_tensorflow.verdict
def _(student, _reference):
    judge_fake_quant(student)


def low_rank_probe(lab, rng, inputs, outputs, rank):
    """The student's factors against numpy's SVD (Eckart-Young's error too)."""
    import tensorflow as tf
    kernel = rng.normal(size=(inputs, outputs)).astype("float32")
    a, b = lab.compression.low_rank_factors(kernel, rank)
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    u, s, vt = np.linalg.svd(kernel.astype(np.float64), full_matrices=False)
    best = (u[:, :rank] * s[:rank]) @ vt[:rank]
    s_tf, u_tf, v_tf = (np.asarray(m, np.float64) for m in tf.linalg.svd(kernel))
    return {"shapes": [list(a.shape), list(b.shape)], "product": a @ b, "best": best,
            "smallest": (u[:, -rank:] * s[-rank:]) @ vt[-rank:],
            # V^T taken for V: the first r columns of numpy's V^T (or rows of tf's V).
            "v_for_vt": [(u[:, :rank] * s[:rank]) @ vt[:, :rank].T,
                         (u_tf[:, :rank] * s_tf[:rank]) @ v_tf[:rank]],
            "error": float(np.linalg.norm(kernel - a @ b)),
            "eckart_young": float(np.sqrt(np.sum(s[rank:] ** 2)))}


def scipy_factors(kernel, rank):
    """The checks' factors for factorize_dense: scipy's SVD, A = U_r S_r and B = V_r^T (the
    same product as the handout's split of sqrt(s), another split)."""
    from scipy.linalg import svd
    u, s, vt = svd(np.asarray(kernel, np.float64), full_matrices=False)
    return (u[:, :rank] * s[:rank]).astype(np.float32), vt[:rank].astype(np.float32)


def factorize_probe(lab, rng, inputs, outputs, rank):
    """The student's factorised Dense (on the checks' scipy factors) against numpy."""
    import keras

    from autograder.check_helpers import standing_in
    kernel = rng.normal(size=(inputs, outputs)).astype("float32")
    u, s, vt = np.linalg.svd(kernel.astype(np.float64))
    best = (u[:, :rank] * s[:rank]) @ vt[:rank]
    layer = keras.layers.Dense(outputs, activation="tanh")
    layer.build((None, inputs))
    layer.kernel.assign(kernel)
    layer.bias.assign(rng.normal(size=outputs).astype("float32"))
    with standing_in(lab.compression, low_rank_factors=scipy_factors):
        model = lab.compression.factorize_dense(layer, rank)
    x = rng.normal(size=(5, inputs)).astype("float32")
    return {"outputs": np.asarray(model(x)),
            "expected_outputs": np.tanh(x @ best + np.asarray(layer.bias)),
            "no_activation": x @ best + np.asarray(layer.bias),
            "no_bias": np.tanh(x @ best),
            "params": int(model.count_params()),
            "expected_params": inputs * rank + rank * outputs + outputs}


def judge_low_rank(student, what, rank):
    expect_true(student["shapes"] == [[len(student["product"]), rank],
                                      [rank, student["product"].shape[1]]],
                f"{what}: the factors have shapes {student['shapes']}, expected (inputs, "
                f"{rank}) and ({rank}, outputs)")
    expect_close_naming(student["product"], student["best"], f"{what}: A @ B", [
        (student["smallest"], "keeps the SMALLEST singular values: np.linalg.svd sorts them "
                              "in decreasing order, keep the first r")] + [
        (v_for_vt, "takes V^T for V: np.linalg.svd returns V^T (keep its first r ROWS, "
                   "vt[:r]), tf.linalg.svd returns V (keep its first r COLUMNS, transposed)")
        for v_for_vt in student["v_for_vt"]],
        against="the truncated SVD from numpy", rtol=1e-4, atol=1e-4)
    expect_close(student["error"], student["eckart_young"], f"{what}: |W - A B|_F",
                 against="sqrt of the sum of the discarded squared singular values "
                         "(Eckart-Young)", rtol=1e-4, atol=1e-5)


def judge_factorized(student, what):
    expect_true(student["params"] == student["expected_params"],
                f"{what}: the factorised model has {student['params']} weights, expected "
                f"{student['expected_params']} (Dense(rank, use_bias=False), then Dense(m) "
                "with the layer's bias)")
    expect_close_naming(student["outputs"], student["expected_outputs"], f"{what}(x)", [
        (student["no_activation"], "drops the layer's activation: the second Dense keeps it"),
        (student["no_bias"], "drops the layer's bias: the second Dense gets it")],
        against="tanh(x @ W_r + bias), W_r the truncated SVD", rtol=1e-4, atol=1e-4)


@check(points=2, task="`low_rank_factors`",
       hint="np.linalg.svd(W, full_matrices=False); keep the r largest; split sqrt(s)")
def low_rank_factors(lab, rng):
    """Rank-3 factors of a random (8, 6) kernel: their shapes, A @ B against numpy's
    truncated SVD, and |W - AB|_F against the root of the discarded squared singular values."""
    return low_rank_probe(lab, rng, 8, 6, 3)


@low_rank_factors.verdict
def _(student, _reference):
    judge_low_rank(student, "low_rank_factors(W, 3)", 3)


@check(points=1, task="`factorize_dense`",
       hint="Sequential: Input, Dense(rank, use_bias=False) with A, Dense(m, activation) "
            "with B and the bias")
def factorize_dense(lab, rng):
    """A tanh Dense(6) on 8 inputs factorised at rank 3 (on the checks' own factors from
    scipy's SVD): the parameter count and the outputs on random inputs against tanh(x W_r + b)
    with numpy's truncated SVD."""
    return factorize_probe(lab, rng, 8, 6, 3)


@factorize_dense.verdict
def _(student, _reference):
    judge_factorized(student, "factorize_dense(Dense(6, tanh), 3)")
