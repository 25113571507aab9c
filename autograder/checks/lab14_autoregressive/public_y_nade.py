"""Public checks of lab14_autoregressive, part 4: NADE (nade.py). (The y_ and z_ prefixes of
this file and public_z_gated.py put their rows after the older parts in the handout table.)

The O(D H) logits against a brute force written here (every hidden layer recomputed from
scratch for every dimension, O(D^2 H)); the autoregressive property by perturbation (flip
inputs, see which logits move); normalisation by enumerating every binary vector of a tiny
D; the sampler replayed against the brute-force conditionals; training on binarised digits
relative to the reference.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.checks.lab14_autoregressive.probes import (
    _digits,
    assign_by_shape,
    judge_autoregressive,
    judge_training,
    judge_variants,
    train_probe,
)
from autograder.verdicts import expect_close, expect_equal

NADE = ("likelihood", "nade")
NADE_TRAIN = {"hidden_units": 32, "learning_rate": 2e-2, "batch_size": 64, "epochs": 4}


def brute_force_logits(x, W, c, V, b, *, inclusive=False, activation=None):
    """NADE's logits by its definition, one dimension at a time, each hidden layer computed
    from scratch: O(D^2 H). inclusive: the slip where a_d also holds x_d; activation: the
    hidden nonlinearity (the sigmoid unless a slip is asked for)."""
    x = np.asarray(x, dtype=np.float64)
    W, c, V, b = (np.asarray(w, dtype=np.float64) for w in (W, c, V, b))
    activation = activation or (lambda a: 1.0 / (1.0 + np.exp(-a)))
    logits = np.empty(x.shape)
    for d in range(x.shape[1]):
        seen = d + 1 if inclusive else d
        hidden = activation(c[None, :] + x[:, :seen] @ W[:, :seen].T)    # (N, H)
        logits[:, d] = b[d] + hidden @ V[d]
    return logits


def random_nade_weights(rng, dims, hidden, scale=1.0):
    return tuple(rng.normal(scale=scale, size=shape).astype("float32")
                 for shape in ((hidden, dims), (hidden,), (dims, hidden), (dims,)))


@check(points=3, uses=NADE, reference=False, task="`nade.nade_logits`",
       hint="a_d = c + sum over j < d of W[:, j] x_j (an EXCLUSIVE cumulative sum over the D "
            "axis), logits[:, d] = b[d] + V[d] @ sigmoid(a_d)")
def nade_logits(lab, rng):
    """Random weights (D = 10, H = 7) and 6 binary vectors: the logits against a brute force
    that recomputes every hidden layer from scratch (O(D^2 H))."""
    x = (rng.random((6, 10)) < 0.5).astype("float32")
    weights = random_nade_weights(rng, 10, 7)
    return {"logits": lab.nade.nade_logits(x, *weights),
            "expected": brute_force_logits(x, *weights),
            "inclusive": brute_force_logits(x, *weights, inclusive=True),
            "no_sigmoid": brute_force_logits(x, *weights, activation=lambda a: a),
            "tanh": brute_force_logits(x, *weights, activation=np.tanh)}


@nade_logits.verdict
def _(student, _reference):
    judge_variants(student["logits"], student, {
        "inclusive": "logit_d sees x_d: a_d must sum x_j W[:, j] over j < d only (an exclusive "
                     "cumulative sum: the term of x_d enters a_{d+1})",
        "no_sigmoid": "the hidden layer has no sigmoid: h_d = sigmoid(a_d)",
        "tanh": "the hidden layer is tanh(a_d), not sigmoid(a_d)"},
        "nade_logits(x, W, c, V, b) for x (6, 10), H = 7, random weights", rtol=1e-4,
        atol=1e-5, against="the brute-force logits (every hidden layer from scratch)")


@check(points=2, uses=NADE, reference=False, task="`nade.nade_logits` (autoregressive)",
       hint="logit_d may depend on x_0 .. x_{d-1} only: the running sum adds x_{d-1} W[:, d-1] "
            "to reach a_d, never x_d")
def nade_is_autoregressive(lab, rng):
    """NADE(12, 8) with random weights, by perturbation: flipping x_j moves no logit at or
    before j and moves logit_{j+1}; replacing every x_{>= d} moves logit_d by nothing."""
    model = lab.nade.NADE(12, 8)
    assign_by_shape(model, rng, scale=1.0)
    x = (rng.random((4, 12)) < 0.5).astype("float32")
    base = np.asarray(model(x), dtype=np.float64)
    moves = np.zeros((12, 12))
    for j in range(12):
        flipped = x.copy()
        flipped[:, j] = 1.0 - flipped[:, j]
        moves[:, j] = np.abs(np.asarray(model(flipped), dtype=np.float64) - base).sum(axis=0)
    tail = np.zeros(12)
    for d in range(12):
        changed = x.copy()
        changed[:, d:] = (rng.random((4, 12 - d)) < 0.5)
        changed[:, d] = 1.0 - x[:, d]                   # x_d itself always changes
        tail[d] = np.abs(np.asarray(model(changed), dtype=np.float64)[:, d] - base[:, d]).max()
    return {"moves": moves, "tail": tail, "scale": float(np.abs(base).max())}


@nade_is_autoregressive.verdict
def _(student, _reference):
    tail = np.asarray(student["tail"])
    moved = np.flatnonzero(tail > 1e-5 * max(student["scale"], 1.0))
    if moved.size:
        d = int(moved[0])
        raise CheckFailed(f"NADE(12, 8): logit {d} moved by {tail[d]:.3g} when x_{d}, ..., "
                          f"x_11 changed: the conditional of x_{d} must not see x_{d} or later "
                          "dimensions (an exclusive running sum)")
    judge_autoregressive(student["moves"], np.arange(12), "NADE(12, 8), inputs flipped one at "
                         "a time")


@check(points=1, uses=NADE, reference=False, task="`nade.nade_logits` (a distribution)",
       hint="exact autoregressive logits make sum over every binary x of p(x) exactly 1")
def nade_normalises(lab, rng):
    """NADE(8, 5) with random weights: the probabilities of all 256 binary vectors (from the
    model's logits, by scipy) sum to 1."""
    from scipy.special import log_expit
    model = lab.nade.NADE(8, 5)
    assign_by_shape(model, rng, scale=1.0)
    every = ((np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1).astype("float32")
    logits = np.asarray(model(every), dtype=np.float64)
    log_p = np.where(every > 0.5, log_expit(logits), log_expit(-logits)).sum(axis=1)
    return {"total": float(np.exp(log_p).sum())}


@nade_normalises.verdict
def _(student, _reference):
    expect_close(student["total"], 1.0, "the sum of p(x) over the 256 binary x of D = 8",
                 rtol=1e-4, atol=1e-5, against="1 (a distribution)")


@check(points=2, uses=NADE, reference=False, task="`nade.nade_sample`",
       hint="per d: logit from sigmoid(a), x_d = uniform_d < sigmoid(logit), and only THEN "
            "a += x_d W[:, d]")
def nade_sample(lab, rng):
    """Random weights (D = 10, H = 6), 40 samples: every x_d is the draw (u_d < sigmoid) of
    the brute-force conditional of x_d given the x_<d sampled before it."""
    weights = random_nade_weights(rng, 10, 6, scale=1.5)
    uniform = rng.random((40, 10))
    x = np.asarray(lab.nade.nade_sample(*weights, uniform))
    if x.shape != (40, 10):
        return {"x": x, "replayed": np.zeros((40, 10))}
    W, c, V, b = weights

    def replay(*slip, **kwargs):
        logits = brute_force_logits(x, *slip, **kwargs)
        return (uniform < 1.0 / (1.0 + np.exp(-logits))).astype("float32")
    # The replays of the usual slips: a starts at 0, not c; the logit from a, not sigmoid(a);
    # a never holds the drawn x_<d (it stays c).
    return {"x": x, "replayed": replay(W, c, V, b), "no_c": replay(W, 0 * c, V, b),
            "no_sigmoid": replay(W, c, V, b, activation=lambda a: a),
            "stays_c": replay(0 * W, c, V, b)}


@nade_sample.verdict
def _(student, _reference):
    x, replayed = np.asarray(student["x"]), np.asarray(student["replayed"])
    expect_equal(x.shape, (40, 10), "nade_sample(W, c, V, b, uniform).shape for uniform (40, 10)")
    wrong = np.argwhere(x != replayed)
    if len(wrong):
        n, d = (int(i) for i in wrong[0])
        slips = {"no_c": "a must start at c (the hidden bias), not at 0",
                 "no_sigmoid": "the logit is b_d + V[d] @ sigmoid(a), not V[d] @ a",
                 "stays_c": "a never holds the drawn x_<d: draw x_d first, THEN add "
                            "x_d W[:, d] (adding it before the draw adds x_d = 0)"}
        named = [why for name, why in slips.items()
                 if name in student and np.array_equal(x, np.asarray(student[name]))]
        why = named[0] if named else (
            "draw x_d from a that holds x_0 .. x_{d-1}, then add x_d W[:, d]; a starts at c, "
            "and the logit is b_d + V[d] @ sigmoid(a)")
        raise CheckFailed(f"nade_sample: sample {n} has x_{d} = {x[n, d]:g}, but the draw "
                          f"u < sigmoid(logit_{d}) given its x_<{d} gives {replayed[n, d]:g} "
                          f"({len(wrong)} of 400 values differ): {why}")


@check(points=2, uses=NADE, timeout=40, task="the whole `nade.NADE`",
       hint="NADE(64, 32) trained by fit() must reach the reference's held-out bits per "
            "dimension within 0.04 (and not far below it)")
def nade_trains(lab, rng):
    """Held-out bits per dimension on binarised digits after 4 epochs within 0.04 of the
    reference's (and not far below it: a leak)."""
    budget = NADE_TRAIN
    return train_probe(lambda: lab.nade.NADE(64, budget["hidden_units"]), _digits("train"),
                       _digits("test"), budget)


@nade_trains.verdict
def _(student, reference):
    judge_training(student, reference, "NADE")
