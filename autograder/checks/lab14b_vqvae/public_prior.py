"""Public checks of lab14b_vqvae, part 2: the PixelCNN prior over the codes (prior.py). The
masked convolution brought from lab 14, graded once more; the prior's causality measured by
changing one code at a time, on stand-in layers (shifts in raster order); the likelihood
against scipy; sampling replayed on a stand-in prior; one relative training check on the
checks' own code grids; the .keras round trips of both models."""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights, standing_in
from autograder.checks.lab14b_vqvae.probes import (
    PRIOR,
    VQ,
    code_dependence,
    digit_images,
    expect_scalar,
    held_out_bits,
    judge_finite,
    judge_logged,
    judge_raster_causality,
    judge_round_trip,
    library_bits_per_code,
    library_code_nll,
    patch_codes,
    position_baseline_bits,
    round_trip,
    shift_layer_class,
)
from autograder.verdicts import (
    expect_at_most,
    expect_close,
    expect_close_naming,
    expect_equal,
    expect_shape,
    expect_true,
)

# The relative training check: the student's prior on the checks' own 4x4 code grids.
PRIOR_TRAIN = {"num_codes": 16, "embedding_dim": 8, "filters": 16, "num_layers": 2,
               "learning_rate": 1e-2, "batch_size": 64, "steps": 300}
# Over 13 training seeds (the public one included) the reference's held-out bits per code
# span 1.64-1.77 (tracing the step costs more than its 300 steps: 150 steps spread the seeds
# twice as wide). A prior that sees the code it predicts falls to 0.01-0.35; per-position
# models score 2.08.
BITS_MARGIN = 0.2
LEAK_MARGIN = 0.3


def assign_by_shape(layer, rng, scale=0.5):
    """Random values for every trainable weight, biggest arrays first, so that two layers with
    the same weight shapes get the same values whatever order they made them in."""
    weights = sorted(layer.trainable_weights, key=lambda w: (-len(w.shape), -int(np.prod(w.shape))))
    for weight in weights:
        weight.assign(rng.normal(scale=scale, size=tuple(weight.shape)).astype("float32"))
    return [tuple(int(s) for s in w.shape) for w in weights]


# Not the defaults (5, 3), and apart: a hard-coded size or the two sizes swapped show.
CAUSAL_KERNEL_SIZES = (7, 3)
MASKED_CONVS = {"A": (4, 3, "A", None), "B_relu": (3, 5, "B", "relu")}


@check(points=1, uses=PRIOR, task="`causal_mask_2d`, `MaskedConv2D` (from lab 14)",
       hint="paste causal_mask_2d and MaskedConv2D's build and call from your "
            "lab14_autoregressive/pixelcnn.py: kernel * mask, a stride-1 'same' convolution, "
            "the bias, the activation")
def masked_conv_from_lab14(lab, rng):
    """The masks of types A and B for kernels of 3 and 5 against the reference; MaskedConv2D
    (4, 3, "A") and (3, 5, "B", ReLU) on (2, 6, 6, 2) inputs with random weights: the
    weights' shapes and the outputs against the reference's."""
    out = {f"mask_{t}{k}": np.asarray(lab.prior.causal_mask_2d(k, t))
           for k in (3, 5) for t in ("A", "B")}
    x = rng.normal(size=(2, 6, 6, 2)).astype("float32")
    for name, (filters, size, mask_type, activation) in MASKED_CONVS.items():
        layer = lab.prior.MaskedConv2D(filters, size, mask_type, activation=activation)
        layer.build((None, 6, 6, 2))
        out[f"shapes_{name}"] = json.dumps(assign_by_shape(layer, rng))
        out[name] = np.asarray(layer(x))
    return out


@masked_conv_from_lab14.verdict
def _(student, reference):
    for key in ("A3", "B3", "A5", "B5"):
        expect_equal(student[f"mask_{key}"], reference[f"mask_{key}"],
                     f"causal_mask_2d({key[1:]}, {key[0]!r})")
    for name, (filters, size, mask_type, activation) in MASKED_CONVS.items():
        call = f"MaskedConv2D({filters}, {size}, {mask_type!r}, activation={activation!r})"
        expect_true(student[f"shapes_{name}"] == reference[f"shapes_{name}"],
                    f"{call}.build((None, 6, 6, 2)) made weights of shapes "
                    f"{student[f'shapes_{name}']}, expected {reference[f'shapes_{name}']}")
        expect_close(student[name], reference[name], f"{call}(x) for x (2, 6, 6, 2), random "
                     "weights", rtol=2e-4, atol=2e-5)


def weight_shapes(layer):
    """The shapes of a layer's weights, as lists (JSON)."""
    return [[int(s) for s in weight.shape] for weight in layer.weights]


def judge_embedding(shapes_json, num_codes, embedding_dim, filters, what):
    """The embedding CodePrior.__init__ made: one (num_codes, embedding_dim) table."""
    shapes = json.loads(shapes_json)
    expected = [[num_codes, embedding_dim]]
    slip = " (its width is embedding_dim, not filters)" if shapes == [[num_codes, filters]] \
        else ""
    expect_true(shapes == expected, f"CodePrior.__init__ made an embedding with weights of "
                f"shapes {shapes} for {what}, expected {expected}: "
                f"keras.layers.Embedding(num_codes, embedding_dim){slip}")


def prior_on_shift_layers(lab, rng, num_codes, grid_shape, num_layers, kernel_sizes):
    """The student's CodePrior built on the stand-in ShiftLayer (not a masked convolution),
    every weight set at random layer by layer: the mask types and kernel sizes of its
    first_conv and hidden_convs, its embedding's shape, which logits move with which code,
    and its logits on random grids. kernel_sizes: (first_kernel_size, kernel_size)."""
    with standing_in(lab.prior, MaskedConv2D=shift_layer_class()):
        model = lab.prior.CodePrior(num_codes, grid_shape, embedding_dim=3, filters=4,
                                    num_layers=num_layers, first_kernel_size=kernel_sizes[0],
                                    kernel_size=kernel_sizes[1])
        convs = [model.first_conv, *model.hidden_convs]
        out = {"mask_types": json.dumps([getattr(layer, "mask_type", "?") for layer in convs]),
               "kernel_sizes": json.dumps([str(getattr(layer, "kernel_size", "?"))
                                           for layer in convs]),
               "embedding": json.dumps(weight_shapes(model.embedding))}
        if json.loads(out["embedding"]) != [[num_codes, 3]]:   # call would fail further on
            return {**out, "changed": np.zeros((1, 1), bool), "logits": np.zeros(0)}
        for layer in [model.embedding, *convs, model.output_conv]:
            assign_random_weights(layer, rng, 0.6)
        codes = rng.integers(0, num_codes, size=(3, *grid_shape)).astype("int32")
        logits = np.asarray(model(codes))
        changed = (code_dependence(model, codes, num_codes)
                   if logits.shape == (3, *grid_shape, num_codes) else np.zeros((1, 1), bool))
    return {**out, "changed": changed, "logits": logits}


def judge_prior_on_shift_layers(student, reference, num_codes, grid_shape, num_layers,
                                kernel_sizes):
    what = f"CodePrior({num_codes}, {tuple(grid_shape)}, num_layers={num_layers})"
    types = json.loads(student["mask_types"])
    expected = ["A"] + ["B"] * num_layers
    expect_true(types == expected, f"the mask types of {what}'s first_conv and hidden_convs "
                f"are {types}, expected {expected}: a type-A first_conv (the centre excluded: "
                "a position must not see its own code), then num_layers type-B hidden_convs")
    first, rest = kernel_sizes
    sizes = json.loads(student["kernel_sizes"])
    expected = [str(first)] + [str(rest)] * num_layers
    expect_true(sizes == expected, f"CodePrior(..., first_kernel_size={first}, kernel_size="
                f"{rest}) made first_conv and hidden_convs with kernel sizes "
                f"[{', '.join(sizes)}], expected [{', '.join(expected)}]: first_conv takes "
                "first_kernel_size, each hidden conv kernel_size")
    judge_embedding(student["embedding"], num_codes, 3, 4, f"{what[:-1]}, embedding_dim=3, "
                    "filters=4)")
    expect_shape(student["logits"], (3, *grid_shape, num_codes), f"{what}(codes) for codes "
                 f"(3, {grid_shape[0]}, {grid_shape[1]})")
    judge_raster_causality(student["changed"], grid_shape[1], f"{what} on the checks' stand-in "
                           "layers")
    expect_close(student["logits"], reference["logits"], f"{what}(codes), on the checks' "
                 "stand-in layers with random weights", rtol=1e-4, atol=1e-5,
                 against="the reference's on the same (call: embedding, first_conv, each "
                         "hidden conv in turn, output_conv)")


@check(points=2, uses=PRIOR, task="`CodePrior.__init__`, `call`",
       hint="embedding, a type-A first_conv, type-B hidden_convs (ReLU), a 1x1 output_conv to "
            "K logits; call applies them in that order")
def code_prior_is_causal(lab, rng):
    """CodePrior(5 codes, a 3x4 grid, 2 hidden layers, first_kernel_size 7, kernel_size 3) on
    the checks' stand-in for MaskedConv2D (a Dense map of the previous position in raster
    order, plus one of the position itself for type B): the mask types and kernel sizes it
    asks for, its embedding's shape; the logits at each position change with the codes before
    it, the one just before included, and with none at or after it (one code changed at a
    time); its logits against the reference's."""
    return prior_on_shift_layers(lab, rng, 5, (3, 4), 2, CAUSAL_KERNEL_SIZES)


@code_prior_is_causal.verdict
def _(student, reference):
    judge_prior_on_shift_layers(student, reference, 5, (3, 4), 2, CAUSAL_KERNEL_SIZES)


# What a wrong bits per code is, by its ratio to the right one.
BITS_SLIPS = [(np.log(2.0), "not divided by ln 2, those are nats per code"),
              (np.log(10.0), "that is ln 10, from dividing by log10(2), the base-10 log; "
                             "divide by ln 2 (math.log(2.0))"),
              (1 / np.log(2.0), "multiplied by ln 2 where it should divide")]


@check(points=1, uses=PRIOR, task="`code_nll`, `bits_per_code`",
       hint="code_nll: tf.nn.sparse_softmax_cross_entropy_with_logits per position, summed "
            "over the grid; bits_per_code: mean(nll) / (positions * ln 2)")
def code_likelihood(lab, rng):
    """code_nll on (3, 2, 3) grids of 4 codes, with logits up to +-60 (a log of a softmax
    underflows there), against scipy's log_softmax; bits_per_code of the NLLs."""
    codes = rng.integers(0, 4, size=(3, 2, 3)).astype("int32")
    logits = rng.normal(scale=2.0, size=(3, 2, 3, 4)).astype("float32")
    logits[0, 0, 0] = [60.0, -60.0, 0.0, 1.0]
    codes[0, 0, 0] = 1
    nll = np.asarray(lab.prior.code_nll(codes, logits), dtype=np.float64)
    bits = np.asarray(lab.prior.bits_per_code(nll.astype("float32"), 6), dtype=np.float64)
    return {"codes": codes, "logits": logits, "nll": nll, "bits": bits}


@code_likelihood.verdict
def _(student, _reference):
    from scipy.special import log_softmax
    log_p = log_softmax(student["logits"].astype(np.float64), axis=-1)
    per_position = -np.take_along_axis(log_p, student["codes"][..., None], axis=-1)[..., 0]
    expected = per_position.sum(axis=(1, 2))
    nll = np.asarray(student["nll"], dtype=np.float64)
    if nll.shape == expected.shape and not np.all(np.isfinite(nll)):
        raise CheckFailed("code_nll(codes, logits) is not finite where a logit is 60: take a "
                          "log-softmax (tf.nn.sparse_softmax_cross_entropy_with_logits), not "
                          "the log of a softmax")
    expect_close_naming(nll, expected, "code_nll(codes, logits) for grids (3, 2, 3) of 4 codes", [
        (per_position.mean(axis=(1, 2)), "that is the MEAN over the positions: the NLL of a "
                                         "grid is the SUM of its positions' terms")],
        rtol=1e-4, atol=1e-4)
    bits = expected.mean() / (6 * np.log(2.0))
    expect_scalar(student["bits"], bits, "bits_per_code(nll, 6)", BITS_SLIPS,
                  against="the mean nll / (6 ln 2)", rtol=1e-4, atol=1e-5)


@check(points=3, timeout=60, uses=PRIOR,
       task="`CodePrior.train_step`, `test_step` (and the prior)",
       hint="loss = mean(code_nll(codes, logits)) in the tape, scale_loss, apply; the prior "
            "must beat a per-position model, like the reference")
def code_prior_trains(lab, rng):
    """The student's CodePrior (16 codes on a 4x4 grid, 16 filters, 2 hidden layers) trained
    by fit() on the checks' own code grids of the digits (each 2x2 patch thresholded into a
    4-bit code) for the budget below, with the checks' own code_nll and bits_per_code
    standing in (Keras's cross-entropy), so that a slip in those costs code_likelihood
    only: held-out bits per code within 0.2 of the reference's, not 0.3 below it (a prior
    that sees the code it predicts), and below independent per-position models (numpy); the
    loss fit logs is the batch mean of code_nll (nats per grid: the bits_per_code it logs
    times h * w * ln 2); evaluate logs the loss and bits_per_code of the test grids."""
    import keras
    budget = PRIOR_TRAIN
    train, test = (patch_codes(x) for x in digit_images())
    with standing_in(lab.prior, code_nll=library_code_nll, bits_per_code=library_bits_per_code):
        model = lab.prior.CodePrior(budget["num_codes"], (4, 4),
                                    embedding_dim=budget["embedding_dim"],
                                    filters=budget["filters"], num_layers=budget["num_layers"])
        model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]),
                      steps_per_execution=budget["steps"])
        model.optimizer.build(model.trainable_variables)
        order = rng.integers(0, len(train), size=budget["steps"] * budget["batch_size"])
        history = model.fit(train[order], batch_size=budget["batch_size"], epochs=1,
                            shuffle=False, verbose=0).history
        evaluated = model.evaluate(test, batch_size=len(test), verbose=0, return_dict=True)
    return {"bits": held_out_bits(model(test), test),
            "per_position": position_baseline_bits(train, test, budget["num_codes"]),
            "test_size": len(test),
            "logged": json.dumps(sorted(history)),
            "fit_logs": json.dumps({k: float(v[-1]) for k, v in history.items()}),
            "evaluated": json.dumps({k: float(v) for k, v in evaluated.items()})}


def loss_slips(batch_size):
    """What a wrong loss (nats per grid) is, by its ratio to the right one."""
    return [(batch_size, f"that is the SUM of code_nll over the batch of {batch_size}; the "
                         "loss is its MEAN"),
            (1 / 16, "divided by h * w = 16, that is nats per code; the loss is nats per grid, "
                     "the mean code_nll"),
            (1 / np.log(2.0), "divided by ln 2, that is bits per grid; the loss is in nats"),
            (1 / (16 * np.log(2.0)), "that is bits_per_code; the loss is the mean code_nll, "
                                     "nats per grid")]


@code_prior_trains.verdict
def _(student, reference):
    judge_logged(student["logged"], ["bits_per_code", "loss"], "CodePrior")
    bits, ref = student["bits"], reference["bits"]
    judge_finite(bits, "the prior's held-out bits per code")
    expect_true(bits >= ref - LEAK_MARGIN, f"the prior reaches {bits:.3f} bits per code on "
                f"the test grids, far better than the reference's {ref:.3f}: too good to be "
                "true. Does the logit of a position see that position's own code (a type-B or "
                "unmasked first convolution)?")
    expect_at_most(bits, student["per_position"], "the prior's held-out bits per code, against "
                   "independent per-position models (numpy): it must use the codes before "
                   "each position", unit=" bits")
    expect_at_most(bits, ref + BITS_MARGIN, "the prior's held-out bits per code (the "
                   f"reference reaches {ref:.3f} with the same training)", unit=" bits")
    logs = json.loads(student["fit_logs"])
    expect_scalar(logs["loss"], logs["bits_per_code"] * 16 * np.log(2.0), "the loss fit() logs "
                  "(nats per grid: the mean code_nll of a batch)",
                  loss_slips(PRIOR_TRAIN["batch_size"]), against="the bits_per_code it logs, "
                  "from the checks' own bits_per_code, times 16 ln 2")
    evaluated = json.loads(student["evaluated"])
    expect_true(sorted(evaluated) == ["bits_per_code", "loss"], f"evaluate() logged "
                f"{sorted(evaluated)}: CodePrior.test_step must return the trackers' results")
    expect_scalar(evaluated["bits_per_code"], bits, "the bits_per_code evaluate() logs on the "
                  "test grids in one batch", BITS_SLIPS,
                  against="the checks' own from the prior's logits (scipy)")
    expect_scalar(evaluated["loss"], bits * 16 * np.log(2.0), "the loss evaluate() logs on the "
                  "test grids in one batch (nats per grid: the mean code_nll)",
                  loss_slips(student["test_size"]), atol=1e-2,
                  against="the checks' own from the prior's logits (scipy)")


def stand_in_prior(rng, num_codes, grid_shape):
    """A prior of known conditionals, no network: the logits at position p are
    table[p] + left[code at p - 1] + above[code at p - width] + above_right[code at
    p - width + 1] (raster order; a missing neighbour adds 0). The upper-right neighbour is
    drawn before p in raster order only: an order that draws column by column hands it a
    zero. Counts its calls; reads a code out of 0..K-1 as the nearest valid one (the verdict
    reports it)."""
    height, width = grid_shape
    tables = {"position": rng.normal(size=(height * width, num_codes)),
              **{name: 2.0 * rng.normal(size=(num_codes, num_codes))
                 for name in ("left", "above", "above_right")}}
    # Position 0 sees no neighbour: its cumulative probabilities, rounded in float64, end
    # below 1, so that a uniform of nextafter(1, 0) passes them all (the clip to K - 1).
    while not np.cumsum(softmax_rows(tables["position"][0]))[-1] < 1.0:
        tables["position"][0] = rng.normal(size=num_codes)

    class Prior:
        calls = 0

        def __call__(self, codes):
            Prior.calls += 1
            codes = np.clip(np.asarray(codes).astype(int), 0, num_codes - 1)
            return logits_of(tables, codes, width).astype("float32")
    return Prior(), tables


def softmax_rows(logits):
    from scipy.special import softmax
    return softmax(np.asarray(logits, dtype=np.float64), axis=-1)


def logits_of(tables, codes, width):
    """The stand-in prior's logits (N, h, w, K) for grids codes (N, h, w)."""
    n = len(codes)
    flat = codes.reshape(n, -1)
    positions = np.arange(flat.shape[1])
    logits = np.repeat(tables["position"][None], n, axis=0).astype(np.float64)
    logits[:, 1:] += tables["left"][flat[:, :-1]] * (positions[1:] % width != 0)[None, :, None]
    logits[:, width:] += tables["above"][flat[:, :-width]]
    logits[:, width:] += (tables["above_right"][flat[:, 1:flat.shape[1] - width + 1]]
                          * (positions[width:] % width != width - 1)[None, :, None])
    return logits.reshape(*codes.shape, -1)


def draw_in_order(tables, uniform, order):
    """What a sampler that visits the positions in `order` ((r, c) pairs) draws from the
    stand-in prior: the slips' answers, for the messages."""
    codes = np.zeros(uniform.shape, dtype=int)
    for r, c in order:
        cumulative = np.cumsum(softmax_rows(logits_of(tables, codes, uniform.shape[2])[:, r, c]),
                               axis=-1)
        codes[:, r, c] = np.minimum((cumulative <= uniform[:, r, c, None]).sum(-1),
                                    cumulative.shape[-1] - 1)
    return codes


SAMPLE_SHAPE = (6, 3, 4)
SAMPLE_CODES = 5


@check(points=2, uses=PRIOR, task="`sample_codes`",
       hint="for each position in raster order: the prior's logits on the grid drawn so far, "
            "p = softmax, the smallest k with u < cumsum(p)[k], at most K - 1; h * w calls "
            "of the prior")
def sample_codes_replay(lab, rng):
    """sample_codes on a stand-in prior (5 codes, a 3x4 grid, logits from tables of the
    position, the left, the upper and the upper-right neighbour) with given uniforms, one
    of them nextafter(1, 0) where the cumulative distribution ends below 1 by rounding:
    every code replayed from the stand-in's conditional by inverting its cumulative
    distribution (scipy's softmax), and the prior called once per position."""
    prior, tables = stand_in_prior(rng, SAMPLE_CODES, SAMPLE_SHAPE[1:])
    uniform = rng.random(size=SAMPLE_SHAPE)
    uniform[0, 0, 0] = np.nextafter(1.0, 0.0)
    codes = np.asarray(lab.prior.sample_codes(prior, uniform))
    return {"codes": codes, "uniform": uniform, "calls": type(prior).calls, **tables}


@sample_codes_replay.verdict
def _(student, _reference):
    codes = expect_shape(student["codes"], SAMPLE_SHAPE, "sample_codes(prior, uniform) for "
                         f"uniform {SAMPLE_SHAPE}")
    if codes.dtype.kind not in "iu":
        raise CheckFailed(f"sample_codes returned values of type {codes.dtype}: codes are "
                          "integers (int32)")
    uniform, last = student["uniform"], SAMPLE_CODES - 1
    outside = np.argwhere((codes < 0) | (codes > last))
    if len(outside):
        n, r, c = (int(i) for i in outside[0])
        u = float(uniform[n, r, c])
        raise CheckFailed(f"sample_codes drew code {int(codes[n, r, c])} of {SAMPLE_CODES} "
                          f"(grid {n}, row {r}, column {c}, u = {u!r}): codes lie in "
                          f"0..{last}. Rounded, the cumulative probabilities can end below 1, "
                          f"and a u above the last of them counts all {SAMPLE_CODES}: clip "
                          "the count to K - 1")
    positions = SAMPLE_SHAPE[1] * SAMPLE_SHAPE[2]
    expect_true(student["calls"] == positions, f"sample_codes called the prior "
                f"{student['calls']} times for a {SAMPLE_SHAPE[1]}x{SAMPLE_SHAPE[2]} grid: once "
                "per position, each on the grid drawn so far")
    logits = logits_of(student, codes, SAMPLE_SHAPE[2])      # what each position saw
    cumulative = np.cumsum(softmax_rows(logits), axis=-1)
    expected = np.minimum((cumulative <= uniform[..., None]).sum(-1), last)
    if np.array_equal(codes, expected):
        return
    if np.array_equal(codes, logits.argmax(-1)):
        raise CheckFailed("sample_codes returns the most likely code at each position: draw "
                          "it, the smallest k with uniform < cumsum(softmax(logits))[k]")
    height, width = SAMPLE_SHAPE[1:]
    by_columns = [(r, c) for c in range(width) for r in range(height)]
    if np.array_equal(codes, draw_in_order(student, uniform, by_columns)):
        raise CheckFailed("sample_codes draws the positions column by column: the prior's "
                          "logits at (r, c) are right only once every code before (r, c) in "
                          "RASTER order is drawn (row by row, left to right; the one above "
                          "and to the right included): for r in rows, then for c in columns")
    wrong = np.argwhere(codes != expected)
    n, r, c = (int(i) for i in wrong[0])
    raise CheckFailed(f"sample_codes: {len(wrong)} of {codes.size} codes are not the "
                      "draw of their position given the codes before them; first, grid "
                      f"{n}, row {r}, column {c}: got {int(codes[n, r, c])}, the inverse of "
                      f"the cumulative distribution at u = {uniform[n, r, c]:.3f} gives "
                      f"{int(expected[n, r, c])}")


@check(points=1, uses=(VQ, PRIOR), reference=False,
       task="`MaskedConv2D.build` (from lab 14), `CodePrior.__init__`",
       hint="weights made in build() with add_weight; the prior's layers made in __init__ are "
            "saved with it")
def models_save_and_reload(lab, rng):
    """A CodePrior (its embedding (num_codes, embedding_dim)) with weights set at random
    reloads from `.keras` with the same config, weights and logits; a VQVAE with an EMA
    codebook, its running counts and sums set at random, with the same config and
    weights."""
    prior = lab.prior.CodePrior(6, (4, 4), embedding_dim=3, filters=4, num_layers=1)
    embedding = json.dumps(weight_shapes(prior.embedding))
    assign_random_weights(prior, rng, 0.4)
    codes = rng.integers(0, 6, size=(3, 4, 4)).astype("int32")
    vqvae = lab.vq.VQVAE((8, 8, 1), num_codes=6, code_dim=3, filters=4, ema_decay=0.8)
    for weight in vqvae.weights:
        weight.assign(rng.uniform(0.5, 1.5, size=weight.shape).astype("float32"))
    return {"embedding": embedding,   # a wrong one would fail in call, far from its cause
            "prior": (round_trip(prior, codes, str(lab.tmpdir / "prior.keras"))
                      if json.loads(embedding) == [[6, 3]] else {}),
            "vqvae": round_trip(vqvae, None, str(lab.tmpdir / "vqvae.keras"))}


@models_save_and_reload.verdict
def _(student, _reference):
    judge_embedding(student["embedding"], 6, 3, 4, "CodePrior(6, (4, 4), embedding_dim=3, "
                    "filters=4)")
    judge_round_trip(student["prior"], "CodePrior(6, (4, 4), num_layers=1)", "CodePrior")
    judge_round_trip(student["vqvae"], "VQVAE(ema_decay=0.8)", "VQVAE")
