"""Hidden checks of lab14_autoregressive: fresh sizes, orders, kernels and dilations; a
categorical sampler; a MADE with a random order trained against the reference."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import scalar
from autograder.checks.lab14_autoregressive.probes import (
    MADE,
    PIXELCNN,
    SAMPLING,
    WAVENET,
    _digits,
    assign_by_shape,
    dependence,
    judge_autoregressive,
    judge_causal_conv,
    judge_raster_dependence,
    judge_training,
    judge_wavenet_dependence,
    open_every_unit,
    train_probe,
)
from autograder.verdicts import expect_close, expect_equal, expect_shape, expect_true


@check(points=1, uses=MADE, hint="degrees and masks must work for any D, any order and any "
                                 "number of hidden layers")
def made_masks_other_sizes(lab, rng):
    dims = int(rng.integers(3, 15))
    hidden = tuple(int(h) for h in rng.integers(2, 20, size=3))
    order = rng.permutation(dims)
    masks = lab.made.made_masks(order, hidden)
    return {"degrees": lab.made.input_degrees(order),
            "hidden_degrees": lab.made.hidden_degrees(hidden[0], dims),
            "count": len(masks), "masks": list(masks), "call": f"D={dims}, hidden={hidden}"}


@made_masks_other_sizes.verdict
def _(student, reference):
    call = reference["call"]
    expect_equal(student["degrees"], reference["degrees"], f"input_degrees(order) ({call})")
    expect_equal(student["hidden_degrees"], reference["hidden_degrees"],
                 f"hidden_degrees of the first layer ({call})")
    expect_true(student["count"] == reference["count"],
                f"made_masks returned {student['count']} masks for {call}, expected "
                f"{reference['count']}")
    for index, (mask, expected) in enumerate(zip(student["masks"], reference["masks"])):
        expect_equal(mask, expected, f"mask {index} of made_masks ({call})")


@check(points=1, uses=MADE, reference=False,
       hint="a deeper MADE must stay autoregressive in its order: >= into every hidden layer, "
            "> into the outputs")
def deep_made_is_autoregressive(lab, rng):
    dims = int(rng.integers(5, 14))
    hidden = tuple(int(h) for h in rng.integers(2 * dims, 3 * dims, size=3))
    order = rng.permutation(dims)
    model = lab.made.MADE(dims, hidden, order=order)
    open_every_unit(model)
    x = rng.normal(size=(32, dims)).astype("float32")
    return {"order": order, "hidden": list(hidden),
            "dependence": dependence(model, x, dims, dims, rng)}


@deep_made_is_autoregressive.verdict
def _(student, _reference):
    judge_autoregressive(student["dependence"], student["order"],
                         f"MADE({len(student['order'])}, {tuple(student['hidden'])}, order)")


@check(points=2, uses=MADE, timeout=40,
       hint="a MADE with a random order must train as well as the reference's")
def made_trains_in_random_order(lab, rng):
    budget = {"hidden_units": (96,), "learning_rate": 1e-2, "batch_size": 64, "epochs": 6}
    order = rng.permutation(64)
    return train_probe(lambda: lab.made.MADE(64, budget["hidden_units"], order=order),
                       _digits("train"), _digits("test"), budget)


@made_trains_in_random_order.verdict
def _(student, reference):
    judge_training(student, reference, "MADE in a random order")


@check(points=1, uses=PIXELCNN, hint="masks of any odd size; masked convolutions of any size, "
                                     "channels and image shape")
def masked_convolutions_other_sizes(lab, rng):
    x = rng.normal(size=(2, 5, 9, 3)).astype("float32")
    outputs = {f"{t}{k}": lab.pixelcnn.causal_mask_2d(k, t) for k in (1, 7) for t in ("A", "B")}
    for name, (filters, size, mask_type) in {"B7": (5, 7, "B"), "A3": (2, 3, "A")}.items():
        layer = lab.pixelcnn.MaskedConv2D(filters, size, mask_type)
        layer.build((None, 5, 9, 3))
        assign_by_shape(layer, rng)
        outputs[f"conv_{name}"] = layer(x)
    return outputs


@masked_convolutions_other_sizes.verdict
def _(student, reference):
    for key in ("A1", "B1", "A7", "B7"):
        expect_equal(student[key], reference[key], f"causal_mask_2d({key[1:]}, {key[0]!r})")
    for name, call in {"B7": "MaskedConv2D(5, 7, 'B')", "A3": "MaskedConv2D(2, 3, 'A')"}.items():
        expect_close(student[f"conv_{name}"], reference[f"conv_{name}"],
                     f"{call}(x) for x (2, 5, 9, 3)")


@check(points=1, uses=PIXELCNN, reference=False,
       hint="the PixelCNN must be causal in raster order for any image shape, kernel sizes and "
            "number of blocks")
def pixelcnn_other_shape_is_causal(lab, rng):
    model = lab.pixelcnn.PixelCNN(image_shape=(6, 7, 1), filters=6, num_blocks=3,
                                  first_kernel_size=3, kernel_size=3)
    open_every_unit(model, bias=0.5)
    x = rng.normal(size=(6, 6, 7, 1)).astype("float32")
    return {"dependence": dependence(model, x, 42, 42, rng)}


@pixelcnn_other_shape_is_causal.verdict
def _(student, _reference):
    judge_raster_dependence(student["dependence"], 6, 7, "PixelCNN(image_shape=(6, 7, 1), "
                            "num_blocks=3, first_kernel_size=3)")


@check(points=1, uses=WAVENET, hint="causal convolutions and receptive fields for any kernel "
                                    "size and dilation rate")
def causal_convolutions_other_sizes(lab, rng):
    kernel_size, rate = 4, 3
    layer = lab.wavenet.CausalConv1D(3, kernel_size, rate)
    x = rng.normal(size=(2, 20, 3)).astype("float32")
    layer.build((None, 20, 3))
    assign_by_shape(layer, rng)
    rates = [int(r) for r in rng.integers(1, 9, size=5)]
    return {"y": layer(x), "dependence": dependence(layer, x, 20, 20, rng),
            "field": lab.wavenet.receptive_field(3, rates), "rates": rates}


@causal_convolutions_other_sizes.verdict
def _(student, reference):
    expect_close(student["y"], reference["y"], "CausalConv1D(3, 4, 3)(x) for x (2, 20, 3)")
    judge_causal_conv(student["dependence"], 4, 3, "CausalConv1D(kernel_size=4, dilation_rate=3)")
    expect_equal(student["field"], reference["field"],
                 f"receptive_field(3, {reference['rates']})")


@check(points=1, uses=WAVENET, reference=False,
       hint="a WaveNet with kernel_size 3 sees exactly receptive_field(3, (1, *rates)) steps back")
def wavenet_other_kernel_is_causal(lab, rng):
    import tensorflow as tf
    model = lab.wavenet.WaveNet(levels=4, filters=6, dilation_rates=(1, 3), kernel_size=3)
    open_every_unit(model, bias=0.5)
    one_hot = np.asarray(tf.one_hot(rng.integers(0, 4, size=(2, 30)), 4))
    return {"dependence": dependence(model.logits_from_one_hot, one_hot, 30, 30, rng)}


@wavenet_other_kernel_is_causal.verdict
def _(student, _reference):
    judge_wavenet_dependence(student["dependence"], 1 + 2 * (1 + 1 + 3),
                             "WaveNet(kernel_size=3, dilation_rates=(1, 3))")


@check(points=1, uses="likelihood", hint="sum over every non-batch axis; bits per dimension "
                                         "for any number of dimensions")
def likelihoods_other_shapes(lab, rng):
    x = np.round(rng.random(size=(4, 5, 7))).astype("float32")
    logits = (3.0 * rng.normal(size=(4, 5, 7))).astype("float32")
    levels = rng.integers(0, 3, size=(6, 20)).astype("int32")
    categorical_logits = rng.normal(size=(6, 20, 3)).astype("float32")
    nll = rng.uniform(1.0, 30.0, size=7).astype("float32")
    return {"bernoulli": lab.likelihood.bernoulli_nll(x, logits),
            "categorical": lab.likelihood.categorical_nll(levels, categorical_logits),
            "bits": [scalar(lab.likelihood.bits_per_dim(nll, dims), f"bits_per_dim(nll, {dims})")
                     for dims in (35, 3)]}


@likelihoods_other_shapes.verdict
def _(student, reference):
    expect_close(student["bernoulli"], reference["bernoulli"], "bernoulli_nll on (4, 5, 7)")
    expect_close(student["categorical"], reference["categorical"],
                 "categorical_nll with 3 levels, x (6, 20)")
    expect_close(student["bits"], reference["bits"], "bits_per_dim(nll, 35) and (nll, 3)")


def inverse_cdf(logits, uniform):
    from scipy.special import softmax
    cumulative = np.cumsum(softmax(logits, axis=-1), axis=-1)
    return np.minimum(np.sum(cumulative <= uniform[..., None], axis=-1),
                      logits.shape[-1] - 1).astype(np.float32)


def categorical_logits(x, weights, bias):
    """logits[n, d, k] = bias[d, k] + sum_j weights[d, j, k] * x[n, j]."""
    return np.einsum("nj,djk->ndk", np.asarray(x, dtype=np.float64), weights) + bias


@check(points=2, uses=SAMPLING, reference=False,
       hint="the sampler must work with (N, D, K) logits and categorical draws too: one model "
            "call per dimension, draw(logits[:, d], uniform[:, d])")
def categorical_sampling(lab, rng):
    dims, levels, n = 7, 4, 40
    order = rng.permutation(dims)
    position = np.argsort(order)
    before = (position[None, :] < position[:, None]).astype(float)
    weights = rng.normal(size=(dims, dims, levels)) * before[..., None]
    bias = rng.normal(size=(dims, levels))
    uniform = rng.random(size=(n, dims))
    x = lab.sampling.sample_autoregressive(
        lambda x: categorical_logits(x, weights, bias).astype("float32"), order, uniform,
        draw=lambda logits, u: inverse_cdf(np.asarray(logits, dtype=np.float64), u))
    return {"x": x, "weights": weights, "bias": bias, "uniform": uniform}


@categorical_sampling.verdict
def _(student, _reference):
    x = expect_shape(student["x"], student["uniform"].shape,
                     "sample_autoregressive with categorical draws, uniform (40, 7)")
    expected = inverse_cdf(categorical_logits(x, student["weights"], student["bias"]),
                           student["uniform"])
    wrong = np.argwhere(x != expected)
    if len(wrong):
        n, d = (int(v) for v in wrong[0])
        raise CheckFailed(f"sample_autoregressive with 4 levels: {len(wrong)} of {x.size} values "
                          "disagree with the model's conditionals given the other sampled "
                          f"values (first: sample {n}, dimension {d})")
