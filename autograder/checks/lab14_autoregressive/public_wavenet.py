"""Public checks of lab14_autoregressive, part 3: WaveNet-style causal convolutions
(wavenet.py) and sequential sampling (sampling.py).

The causal convolution against the reference with the same weights (its output also against
the usual slips computed here from its own weights, so a failure names the slip) and its
exact receptive field measured with gradients; the receptive field formula; WaveNet's
logits_from_one_hot with stand-in convolutions and gate against the reference's on the same,
and its causality; the .keras round trip. The draws against the reference on ordinary and
extreme logits; the sampler with a dummy model whose conditionals are known and a stand-in
draw of known behaviour, so each sample can be replayed.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import standing_in
from autograder.checks.lab14_autoregressive.probes import (
    CAUSAL_CONV_SLIPS,
    SAMPLING,
    WAVENET,
    assign_by_shape,
    causal_conv_variants,
    dependence,
    judge_causal_conv,
    judge_round_trip,
    judge_variants,
    judge_wavenet_dependence,
    logistic_autoregressive,
    open_every_unit,
    replay_draws,
    round_trip,
    standin_draw,
    standin_gate,
    with_layers,
)
from autograder.verdicts import expect_equal, expect_shape, expect_true

CAUSAL_CONVS = {"dilated": (3, 3, 2, None), "plain": (2, 2, 1, None),
                "dilated_tanh": (3, 3, 2, "tanh")}


@check(points=2, uses=WAVENET, task="`wavenet.CausalConv1D` (`build`, `call`)",
       hint="pad the time axis on the LEFT with (kernel_size - 1) * dilation_rate zeros, then a "
            "'VALID' convolution with that dilation, plus the bias, then self.activation: the "
            "output is as long as the input")
def causal_conv1d(lab, rng):
    """Kernel 3 with dilation 2 (also with a tanh), kernel 2 without, on (2, 12, 2) inputs
    with the reference's kernel and bias."""
    x = rng.normal(size=(2, 12, 2)).astype("float32")
    outputs = {}
    seed = int(rng.integers(1 << 30))
    for name, (filters, size, rate, activation) in CAUSAL_CONVS.items():
        layer = lab.wavenet.CausalConv1D(filters, size, rate, activation=activation)
        layer.build((None, 12, 2))
        weights_rng = np.random.default_rng(seed + size)   # dilated and dilated_tanh alike
        outputs[f"shapes_{name}"] = json.dumps(assign_by_shape(layer, weights_rng))
        outputs[name] = layer(x)
        if activation is None:
            for variant, y in causal_conv_variants(x, layer, size, rate).items():
                outputs[f"{name}_{variant}"] = y
    return outputs


@causal_conv1d.verdict
def _(student, reference):
    for name, (filters, size, rate, activation) in CAUSAL_CONVS.items():
        call = (f"CausalConv1D({filters}, kernel_size={size}, dilation_rate={rate}, "
                f"activation={activation!r})")
        expect_true(student[f"shapes_{name}"] == reference[f"shapes_{name}"],
                    f"{call}.build((None, 12, 2)) created weights of shapes "
                    f"{student[f'shapes_{name}']}, expected {reference[f'shapes_{name}']}")
        if activation is None:
            variants = {v: student[f"{name}_{v}"] for v in CAUSAL_CONV_SLIPS}
            slips = CAUSAL_CONV_SLIPS
        else:
            variants = {"linear": reference["dilated"]}
            slips = {"linear": "the activation is ignored: return self.activation(y + bias)"}
        judge_variants(student[name], {"expected": reference[name], **variants}, slips,
                       f"{call}(x) for x (2, 12, 2)", rtol=2e-4, atol=2e-5)


@check(points=2, uses=WAVENET, reference=False, task="`wavenet.CausalConv1D` (causality)",
       hint="y[t] must see exactly x[t], x[t - d], ..., x[t - (k-1) d]: pad on the left only, "
            "and pass dilations=dilation_rate to the convolution")
def causal_conv1d_is_causal(lab, rng):
    """Kernel 3, dilation 2: output t depends on exactly the inputs t, t - 2, t - 4
    (gradients)."""
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


@check(points=1, uses=WAVENET, task="`wavenet.receptive_field`",
       hint="1 + sum over the layers of (kernel_size - 1) * rate")
def receptive_field(lab, rng):
    """WaveNet's rates with kernel 2, rates (1, 3, 9) with kernel 3, and no layer."""
    return {"wavenet": lab.wavenet.receptive_field(2, [1, 2, 4, 8]),
            "kernel3": lab.wavenet.receptive_field(3, (1, 3, 9)),
            "empty": lab.wavenet.receptive_field(2, [])}


@receptive_field.verdict
def _(student, reference):
    expect_equal(student["wavenet"], reference["wavenet"], "receptive_field(2, [1, 2, 4, 8])")
    expect_equal(student["kernel3"], reference["kernel3"], "receptive_field(3, (1, 3, 9))")
    expect_equal(student["empty"], reference["empty"], "receptive_field(2, []) (no layers)")


@check(points=2, uses=WAVENET, task="`wavenet.WaveNet.logits_from_one_hot`",
       hint="shift right one step; h = input_conv(shifted); per block h = h + "
            "projection(gated_activation(gate_conv(h))); output_1x1(hidden_1x1(relu(h)))")
def wavenet_call(lab, rng):
    """With stand-ins for input_conv and the gate convolutions (plain 'same' Conv1D layers)
    and for gated_activation (a + 2 tanh(b), not the gate), random weights: the logits
    against the reference's on the same."""
    import keras
    import tensorflow as tf
    convs = []
    for filters in (6, 12, 12):
        convs.append(keras.layers.Conv1D(filters, 2, padding="same"))
        convs[-1].build((None, None, 5 if not convs[:-1] else 6))
        assign_by_shape(convs[-1], rng)
    model = with_layers(lab.wavenet.WaveNet, input_conv=convs[0], gate_convs=convs[1:])(
        levels=5, filters=6, dilation_rates=(1, 2), kernel_size=2)
    for projection in model.projections:   # the given build skips them: the convs are built
        if not projection.built:
            projection.build((None, None, 6))
    assign_by_shape(model, rng, scale=0.5)
    one_hot = np.asarray(tf.one_hot(rng.integers(0, 5, size=(2, 12)), 5))
    shifted = np.pad(one_hot, ((0, 0), (1, 0), (0, 0)))[:, :-1]

    def blocks(h, residual=True):
        for gate_conv, projection in zip(convs[1:], model.projections):
            out = projection(standin_gate(gate_conv(h)))
            h = h + out if residual else out
        return h

    def head(h):
        return model.output_1x1(model.hidden_1x1(tf.nn.relu(h)))

    with standing_in(lab.wavenet, gated_activation=standin_gate), \
            standing_in(lab.pixelcnn, gated_activation=standin_gate):
        logits = model.logits_from_one_hot(one_hot)
    return {"logits": logits,
            "no_residual": head(blocks(convs[0](shifted), residual=False)),
            "no_relu": model.output_1x1(model.hidden_1x1(blocks(convs[0](shifted)))),
            "no_shift": head(blocks(convs[0](one_hot)))}


@wavenet_call.verdict
def _(student, reference):
    judge_variants(student["logits"], {"expected": reference["logits"], **{
        name: student[name] for name in ("no_residual", "no_relu", "no_shift")}}, {
        "no_residual": "the gated blocks lose their residual connection: h = h + "
                       "projection(gated_activation(gate_conv(h)))",
        "no_relu": "the ReLU before hidden_1x1 is missing",
        "no_shift": "the one-hot input is not shifted right by one step (pad a zero step in "
                    "front, drop the last)"},
        "WaveNet(levels=5, filters=6, dilation_rates=(1, 2)).logits_from_one_hot(x) for x "
        "(2, 12, 5), with stand-ins for the convolutions and gated_activation (the same for "
        "the reference) and random weights")


@check(points=3, uses=WAVENET, reference=False, task="`wavenet.WaveNet` (causality)",
       hint="shift the one-hot input right by one step, then causal convolutions with the "
            "block's dilation rates: the logits at t see exactly x[t - R], ..., x[t - 1]")
def wavenet_is_causal(lab, rng):
    """Kernel 2, rates (1, 2, 4): the logits at t depend on exactly the inputs t - 9, ...,
    t - 1 (gradients)."""
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


@check(points=1, uses=WAVENET, reference=False, task="the `build`s of `wavenet.py`",
       hint="every layer creates its weights in build() with add_weight; WaveNet saves to "
            ".keras and reloads with the same outputs")
def wavenet_saves_and_loads(lab, rng):
    """A WaveNet reloads from `.keras` with the same config, weights and outputs."""
    model = lab.wavenet.WaveNet(levels=6, filters=8, dilation_rates=(1, 2))
    assign_by_shape(model, rng, scale=0.2)
    x = rng.integers(0, 6, size=(3, 10)).astype("int32")
    return round_trip(model, x, str(lab.tmpdir / "wavenet.keras"))


@wavenet_saves_and_loads.verdict
def _(student, _reference):
    judge_round_trip(student, "WaveNet(levels=6, filters=8, dilation_rates=(1, 2))")


# ---------------------------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------------------------

# Logits a float32 (or even float64) exp overflows on, with uniforms and the levels they
# must give: a softmax that does not subtract the row maximum gives inf / inf = NaN there.
EXTREME_CATEGORICAL = ([[1000.0, 0.0, -1000.0, 5.0, 3.0], [0.0, 1000.0, 999.0, 0.0, 0.0],
                        [100.0, 0.0, -100.0, 0.0, 0.0],
                        [-1500.0, -1600.0, -1200.0, -1300.0, -1250.0]],
                       [0.5, 0.9, 0.5, 0.3])
EXTREME_BERNOULLI = ([1000.0, -1000.0, 100.0, -100.0], [0.5, 0.5, 0.999, 0.001])


@check(points=2, uses=SAMPLING, task="`sampling.bernoulli_draw`, `sampling.categorical_draw`",
       hint="Bernoulli: 1.0 where u < sigmoid(logit); categorical: the smallest k with "
            "u < cumsum(softmax(logits))[k] (clip to K - 1), with a stable softmax: subtract "
            "each row's maximum before exp")
def draws(lab, rng):
    """Bernoulli draws of 20 logits and categorical draws of (30, 5) logits against the
    reference, also for logits from -1600 to 1000."""
    logits = (3.0 * rng.normal(size=(20,))).astype("float32")
    categorical_logits = (2.0 * rng.normal(size=(30, 5))).astype("float32")
    uniform = rng.random(size=30)
    uniform[:3] = [0.0, 0.999999, 0.5]
    return {"bernoulli": lab.sampling.bernoulli_draw(logits, rng.random(size=20)),
            "categorical": lab.sampling.categorical_draw(categorical_logits, uniform),
            "bernoulli_extreme": lab.sampling.bernoulli_draw(
                *(np.asarray(a, dtype="float32") for a in EXTREME_BERNOULLI)),
            "categorical_extreme": lab.sampling.categorical_draw(
                np.asarray(EXTREME_CATEGORICAL[0], dtype="float32"),
                np.asarray(EXTREME_CATEGORICAL[1]))}


@draws.verdict
def _(student, reference):
    expect_equal(student["bernoulli"], reference["bernoulli"],
                 "bernoulli_draw(logits, uniform) for 20 logits")
    expect_equal(student["categorical"], reference["categorical"],
                 "categorical_draw(logits, uniform) for logits (30, 5)")
    expect_equal(student["bernoulli_extreme"], reference["bernoulli_extreme"],
                 f"bernoulli_draw(logits, uniform) for logits {EXTREME_BERNOULLI[0]} (sigmoid "
                 "of +-1000 is 1 and 0, not NaN)")
    expect_equal(student["categorical_extreme"], reference["categorical_extreme"],
                 "categorical_draw(logits, uniform) for rows of logits from -1600 to 1000 (a "
                 "softmax without the row maximum subtracted overflows or underflows to NaN "
                 "there)")


@check(points=3, uses=SAMPLING, reference=False, task="`sampling.sample_autoregressive`",
       hint="start from zeros; for each d in order: call the model on the current x, then draw "
            "x[:, d] from its logits[:, d] (one model call per dimension, in the given order)")
def sample_autoregressive(lab, rng):
    """With a dummy model of known conditionals in a random order and a stand-in draw of
    known behaviour (not a Bernoulli draw): every sampled value is the draw of the model's
    logits given the values drawn before it."""
    dims, n = 9, 64
    order, weights, bias = logistic_autoregressive(rng, dims)
    calls = []

    def logits_fn(x):
        calls.append(1)
        return np.asarray(x, dtype=np.float64) @ weights.T + bias

    uniform = rng.random(size=(n, dims))
    x = lab.sampling.sample_autoregressive(logits_fn, order, uniform, draw=standin_draw)
    return {"x": x, "calls": len(calls), "order": order, "weights": weights, "bias": bias,
            "uniform": uniform}


@sample_autoregressive.verdict
def _(student, _reference):
    x = expect_shape(student["x"], student["uniform"].shape,
                     "sample_autoregressive(logits_fn, order, uniform (64, 9))")
    expect_true(np.isin(x, (0.0, 1.0)).all(), "sample_autoregressive with a draw that gives "
                "zeros and ones must return zeros and ones")
    expected = replay_draws(x, student["uniform"], student["weights"], student["bias"])
    wrong = np.argwhere(x != expected)
    if len(wrong):
        at_once = replay_draws(np.zeros_like(x), student["uniform"], student["weights"],
                                   student["bias"])
        why = ("they were all drawn from the model's output for x = 0: call the model again "
               "after every draw" if np.array_equal(x, at_once) else
               "draw the dimensions in the given order, each from a model call made after "
               "the dimensions before it were drawn")
        n, d = (int(v) for v in wrong[0])
        raise CheckFailed(f"sample_autoregressive: {len(wrong)} of {x.size} values are not "
                          f"draw(logits[:, d], uniform[:, d]) of the model's logits given the "
                          f"other sampled values "
                          f"(first: sample {n}, dimension {d}; the model was called "
                          f"{student['calls']} times for 9 dimensions); {why}")
