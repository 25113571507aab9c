"""Public checks of lab14_autoregressive, part 1: likelihoods (likelihood.py) and MADE
(made.py).

The maths is compared with the reference on random inputs. The models are held to the
autoregressive property itself, measured with gradients: d output_i / d input_j must be
exactly zero for every j at or after i in the model's order, and non-zero for the inputs
just before i (so a model that ignores its inputs fails too); their call() is compared with
the reference's on the same weights, with stand-in layers where a layer is the student's. Training checks measure the bits per
dimension of the student's own model with plain numpy, against the reference's within a
margin on both sides: much *better* than the reference means the model sees the pixel it
predicts. PixelCNN: public_pixelcnn.py; WaveNet and sampling: public_wavenet.py.
"""
import json

import numpy as np

from autograder.api import check
from autograder.check_helpers import scalar, standing_in
from autograder.checks.lab14_autoregressive.probes import (
    LIKELIHOOD,
    MADE,
    MADE_TRAIN,
    MARGIN_BITS,
    _digits,
    assign_by_shape,
    copy_by_shape,
    degree_functions,
    dependence,
    judge_autoregressive,
    judge_round_trip,
    judge_training,
    judge_variants,
    open_every_unit,
    round_trip,
    train_probe,
    with_layers,
)
from autograder.verdicts import expect_close, expect_equal, expect_true

BITS_DIMS = (64, 12, 7)


# ---------------------------------------------------------------------------------------------
# 1. Likelihoods
# ---------------------------------------------------------------------------------------------

@check(points=2, uses=LIKELIHOOD, task="`likelihood.bernoulli_nll`",
       hint="per dimension softplus(l) - x * l (stable for any l), summed over every axis but "
            "the batch axis: one value per example, in nats")
def bernoulli_nll(lab, rng):
    """One value per example for (6, 8, 8, 1) images and (8, 16) vectors, finite and right
    for logits of ±30 and ±100."""
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


@check(points=1, uses=LIKELIHOOD, task="`likelihood.categorical_nll`",
       hint="-log softmax(logits)[x] per step (tf.nn.sparse_softmax_cross_entropy_with_logits), "
            "summed over the T steps")
def categorical_nll(lab, rng):
    """Nats per example for 12 steps of 7 levels, against the reference."""
    x = rng.integers(0, 7, size=(5, 12)).astype("int32")
    logits = (3.0 * rng.normal(size=(5, 12, 7))).astype("float32")
    return {"nll": lab.likelihood.categorical_nll(x, logits)}


@categorical_nll.verdict
def _(student, reference):
    expect_close(student["nll"], reference["nll"],
                 "categorical_nll(x, logits) for x (5, 12) in 0..6, logits (5, 12, 7)")


@check(points=1, uses=LIKELIHOOD, task="`likelihood.bits_per_dim`",
       hint="mean over the batch, divided by the number of dimensions AND by ln 2 (nats -> bits)")
def bits_per_dim(lab, rng):
    """Bits per dimension of 10 examples of 64, 12 and 7 dimensions, against the
    reference."""
    nll = rng.uniform(10.0, 60.0, size=10).astype("float32")
    return {"bits": [scalar(lab.likelihood.bits_per_dim(nll, dims), f"bits_per_dim(nll, {dims})")
                     for dims in BITS_DIMS]}


@bits_per_dim.verdict
def _(student, reference):
    expect_close(student["bits"], reference["bits"], f"bits_per_dim(nll, num_dims) for 10 "
                 f"examples of num_dims = {', '.join(map(str, BITS_DIMS))} (one value each)")



# ---------------------------------------------------------------------------------------------
# 2. MADE
# ---------------------------------------------------------------------------------------------

@check(points=1, uses=MADE, task="`made.input_degrees`",
       hint="degrees[order[k]] = k + 1: the inverse permutation, plus one (not the order itself)")
def input_degrees(lab, rng):
    """The degrees of the docstring's example order and of a random order of 9."""
    return {"example": lab.made.input_degrees([2, 0, 1]),
            "random": lab.made.input_degrees(rng.permutation(9))}


@input_degrees.verdict
def _(student, reference):
    expect_equal(student["example"], reference["example"], "input_degrees([2, 0, 1])")
    expect_equal(student["random"], reference["random"], "input_degrees(order) for a random order of 9")


@check(points=1, uses=MADE, task="`made.hidden_degrees`",
       hint="1 + (unit index mod (D - 1)): 1, 2, ..., D-1, 1, 2, ...")
def hidden_degrees(lab, rng):
    """Degrees of 20 units for D = 8 and of 5 units for D = 10."""
    return {"wide": lab.made.hidden_degrees(20, 8), "narrow": lab.made.hidden_degrees(5, 10)}


@hidden_degrees.verdict
def _(student, reference):
    expect_equal(student["wide"], reference["wide"], "hidden_degrees(20, input_dim=8)")
    expect_equal(student["narrow"], reference["narrow"], "hidden_degrees(5, input_dim=10)")


@check(points=1, uses=MADE, task="`made.hidden_mask`",
       hint="mask[k, j] = 1 where out_degrees[j] >= in_degrees[k]; shape (fan_in, fan_out)")
def hidden_mask(lab, rng):
    """The (9, 5) mask of random degrees, against the reference."""
    in_degrees, out_degrees = rng.integers(1, 7, size=9), rng.integers(1, 7, size=5)
    return {"mask": lab.made.hidden_mask(in_degrees, out_degrees)}


@hidden_mask.verdict
def _(student, reference):
    expect_equal(student["mask"], reference["mask"],
                 "hidden_mask(in_degrees (9,), out_degrees (5,))")


@check(points=1, uses=MADE, task="`made.output_mask`",
       hint="mask[k, d] = 1 where out_degrees[d] > in_degrees[k]: strictly greater, or output d "
            "sees x_d through a hidden unit")
def output_mask(lab, rng):
    """The (9, 7) output mask of random degrees (strictly greater), against the
    reference."""
    in_degrees, out_degrees = rng.integers(1, 7, size=9), rng.permutation(7) + 1
    return {"mask": lab.made.output_mask(in_degrees, out_degrees)}


@output_mask.verdict
def _(student, reference):
    expect_equal(student["mask"], reference["mask"],
                 "output_mask(in_degrees (9,), out_degrees (7,))")


@check(points=2, uses=MADE, task="`made.made_masks`",
       hint="degrees = input_degrees(order); per hidden layer hidden_degrees(units, D) and "
            "hidden_mask(previous degrees, these degrees); last output_mask(last hidden "
            "degrees, the input degrees)")
def made_masks(lab, rng):
    """With stand-ins for input_degrees, hidden_degrees, hidden_mask and output_mask (known
    values that are not degrees or masks): the three masks of a MADE of 7 inputs, hidden
    layers (10, 6), in a random order, against the reference's with the same stand-ins."""
    with standing_in(lab.made, **degree_functions()):
        masks = lab.made.made_masks(rng.permutation(7), (10, 6))
    return {"count": len(masks), "masks": list(masks)}


@made_masks.verdict
def _(student, reference):
    expect_true(student["count"] == reference["count"],
                f"made_masks(order, (10, 6)) returned {student['count']} masks, expected "
                f"{reference['count']} (one per kernel: input->10, 10->6, 6->output)")
    for index, (mask, expected) in enumerate(zip(student["masks"], reference["masks"])):
        expect_close(mask, expected, f"mask {index} of made_masks(order of 7, (10, 6)) with "
                     "stand-in degree and mask functions (the same for the reference): call "
                     "input_degrees, hidden_degrees, hidden_mask and output_mask with the "
                     "degrees their docstrings name", rtol=1e-6, atol=1e-6)


@check(points=2, uses=MADE, task="`made.MaskedDense` (`build`, `call`)",
       hint="build: add_weight kernel (fan_in, units) and bias (units,); "
            "call: activation(x @ (kernel * mask) + bias)")
def masked_dense(lab, rng):
    """A kernel and a bias; the output with random weights against the reference's (and, to
    name a slip, the same layer with a zero bias, an all-ones mask or no activation); zero
    gradient for the masked kernel entries."""
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
    out = {"shapes": json.dumps(shapes), "y": y, "mask": mask,
           "kernel_grad": np.zeros((6, 5)) if kernel_grad is None else kernel_grad}
    for name, variant_mask, activation in (("unmasked", np.ones_like(mask), "relu"),
                                           ("linear", mask, None), ("zero_bias", mask, "relu")):
        variant = lab.made.MaskedDense(5, variant_mask, activation=activation)
        variant.build((None, 6))
        copy_by_shape(layer, variant)
        if name == "zero_bias":
            for weight in variant.trainable_weights:
                if len(weight.shape) == 1:
                    weight.assign(np.zeros(tuple(weight.shape), dtype="float32"))
        out[name] = variant(x)
    return out


@masked_dense.verdict
def _(student, reference):
    shapes = sorted(map(tuple, json.loads(student["shapes"])))
    expect_true(shapes == [(5,), (6, 5)],
                f"MaskedDense(5, mask (6, 5)).build((None, 6)) created trainable weights of "
                f"shapes {shapes}, expected a kernel (6, 5) and a bias (5,)")
    judge_variants(student["y"], {"expected": reference["y"], **{
        name: reference[name] for name in ("zero_bias", "unmasked", "linear")}}, {
        "zero_bias": "the bias is not added: activation(x @ (kernel * mask) + bias)",
        "unmasked": "the kernel is not multiplied by the mask in call()",
        "linear": "the activation is not applied: return self.activation(...)"},
        "MaskedDense(5, mask, 'relu')(x) with random weights", rtol=2e-4, atol=2e-5)
    leaked = (student["mask"] == 0) & (np.abs(student["kernel_grad"]) > 0)
    expect_true(not leaked.any(), "the masked kernel entries get a non-zero gradient: multiply "
                "the kernel by the mask inside call()")


@check(points=3, uses=MADE, task="`made.MADE.call`",
       hint="call: the hidden MaskedDense layers in turn, then output_layer (no activation); "
            "output d must depend only on the inputs before d in model.order: check both masks' "
            "comparisons (>= into hidden layers, > into the outputs) and the degrees")
def made_is_autoregressive(lab, rng):
    """With stand-in layers (plain Dense layers, no masks) and random weights: the logits
    against the reference's on the same. With its own layers, in a random order: output d
    depends on no input at or after d and on the one just before it (gradients)."""
    import keras
    order = rng.permutation(10)
    layers = []
    for units, fan_in, activation in ((32, 10, "relu"), (32, 32, "relu"), (10, 32, None)):
        layers.append(keras.layers.Dense(units, activation=activation))
        layers[-1].build((None, fan_in))
        assign_by_shape(layers[-1], rng)
    x = rng.normal(size=(16, 10)).astype("float32")
    with standing_in(lab.made, made_masks=lambda order, hidden_units: [
            np.ones((a, b), "float32") for a, b in zip((len(order), *hidden_units),
                                                       (*hidden_units, len(order)))]):
        wired = with_layers(lab.made.MADE, hidden=layers[:2], output_layer=layers[2])(
            10, (32, 32), order=order)
    model = lab.made.MADE(10, (32, 32), order=order)
    open_every_unit(model)
    shape = list(np.shape(model(x)))
    if shape != [16, 10]:
        return {"shape": shape}
    return {"shape": shape, "order": order, "logits": wired(x),
            "dependence": dependence(model, x, 10, 10, rng)}


@made_is_autoregressive.verdict
def _(student, reference):
    expect_true(student["shape"] == [16, 10], f"MADE(10, (32, 32))(x) for x (16, 10) has shape "
                f"{tuple(student['shape'])}, expected (16, 10): one logit per input")
    expect_close(student["logits"], reference["logits"], "MADE(10, (32, 32))(x) with stand-in "
                 "layers (plain Dense, the same for the reference) and random weights",
                 rtol=1e-4, atol=1e-5)
    judge_autoregressive(student["dependence"], student["order"],
                         "MADE(10, (32, 32), order) on random inputs")


@check(points=3, uses=MADE, timeout=40, task="the whole `made.MADE`",
       hint=f"MADE(64, (128,)) trained by fit() must reach the reference's held-out bits per "
            f"dimension within {MARGIN_BITS} (and not far below it: that would be a leak)")
def made_trains(lab, rng):
    """Held-out bits per dimension on binarised digits after 8 epochs within 0.04 of the
    reference's (and not far below it: a leak)."""
    budget = MADE_TRAIN
    return train_probe(lambda: lab.made.MADE(64, budget["hidden_units"]),
                       _digits("train"), _digits("test"), budget)


@made_trains.verdict
def _(student, reference):
    judge_training(student, reference, "MADE")


@check(points=1, uses=MADE, reference=False, task="`made.MaskedDense`, `made.MADE` (`.keras`)",
       hint="build() must create the weights with add_weight, so that a MADE (and a model "
            "holding a MaskedDense) saves to .keras and reloads with the same outputs")
def made_saves_and_loads(lab, rng):
    """A MADE and a model holding a MaskedDense reload from `.keras` with the same config,
    weights and outputs."""
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
