"""Helpers the checks of lab24_information share: seeded inputs (probes, in the worker) and
judges (verdicts, in the grader). The independent references are computed in the probes
with libraries the student's path never touches: scipy.stats.entropy, scipy.special,
sklearn.metrics.mutual_info_score, keras.losses, tf.GradientTape."""
from __future__ import annotations

import numpy as np

from autograder.verdicts import CheckFailed, expect_close_naming, expect_true

# Deterministic float64 numpy against float64 libraries: rounding only.
EXACT = {"rtol": 1e-9, "atol": 1e-9}
# float32 TensorFlow against float64 libraries.
FLOAT32 = {"rtol": 1e-5, "atol": 1e-5}
# The training check: the held-out InfoNCE estimate (nats) may sit this far below the
# reference's at the same seed and budget (a correct train_step matches it to ~1e-4; the
# estimate's own sampling noise over 2048 held-out pairs is about 0.02 nats).
TRAIN_MARGIN = 0.05
# ... and may exceed the true MI by this much (noise of the held-out estimate): a lower
# bound that lands clearly above the truth is not a bound.
ABOVE_TRUTH = 0.06


def distributions(rng, rows: int, k: int, zeros: int = 0) -> np.ndarray:
    """rows random distributions over k values (float64), `zeros` cells per row set to 0."""
    p = rng.gamma(0.7, size=(rows, k))
    for row in p:
        row[rng.choice(k, size=zeros, replace=False)] = 0.0
    return p / p.sum(axis=1, keepdims=True)


def count_table(rng, kx: int, ky: int, zeros: int = 2) -> np.ndarray:
    """An integer contingency table with dependence and some empty cells."""
    counts = rng.integers(1, 30, size=(kx, ky))
    counts[np.arange(min(kx, ky)), np.arange(min(kx, ky))] += 40   # X and Y depend
    counts.ravel()[rng.choice(kx * ky, size=zeros, replace=False)] = 0
    return counts


def discrete_samples(rng, k: int, n: int, skip: int) -> np.ndarray:
    """n integer samples of values 0..k-1, never the value `skip` (so a bin is empty)."""
    p = rng.dirichlet(np.ones(k))
    p[skip] = 0.0
    return rng.choice(k, size=n, p=p / p.sum()).astype(np.int64)


def judge_values(student, reference, what, library, *, nats=None, base=2.0, tol=EXACT):
    """student against the library's value; names the natural-log (or log2) slip."""
    mistakes = []
    if nats is not None and base != np.e:
        mistakes.append((np.asarray(nats), f"gives nats (natural log) where base={base:g} "
                         "asks for log base 2: divide by log(base)"))
    if nats is not None and base == np.e:
        mistakes.append((np.asarray(reference) / np.log(2.0), "gives bits where base=e asks "
                         "for nats: divide by log(base), not by log(2)"))
    array = np.asarray(student, dtype=np.float64)
    if np.shape(array) == np.shape(reference) and np.any(np.isnan(array)):
        raise CheckFailed(f"{what} is NaN where {library} gives "
                          f"{np.ravel(reference)[np.isnan(array).ravel()][0]:.6g}: "
                          "a zero probability made 0 * log 0 = NaN; terms with p = 0 count 0")
    expect_close_naming(array, np.asarray(reference), what, mistakes, against=library, **tol)


def judge_inf_where(student, expected, what):
    got = np.isposinf(np.asarray(student, dtype=np.float64))
    want = np.isposinf(np.asarray(expected, dtype=np.float64))
    expect_true(np.array_equal(got, want), f"{what} is +inf at rows {np.flatnonzero(got).tolist()}"
                f", expected at rows {np.flatnonzero(want).tolist()} (where q = 0 but p > 0, "
                "and only there)")


# ---- The InfoNCE estimator -------------------------------------------------------------------

def stand_in_bound(scores):
    """The checks' stand-in for infonce_bound: NOT InfoNCE, a bound-like quantity of known,
    different behaviour (mean diagonal score minus the mean of all scores' softplus), so a
    train_step that calls infonce_bound as the handout says is graded on its own."""
    import tensorflow as tf
    scores = tf.convert_to_tensor(scores, tf.float32)
    return (tf.reduce_mean(tf.linalg.diag_part(scores))
            - tf.reduce_mean(tf.nn.softplus(scores)))


def flat(variables) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(v.numpy(), dtype=np.float64)) for v in variables])


def train_probe(lab, budget: dict) -> dict:
    """fit the student's InfoNCEEstimator for `budget` (seeded); its held-out estimate."""
    import keras

    from dlkit.data import correlated_gaussians, gaussian_mutual_information
    keras.utils.set_random_seed(budget["seed"])
    dim, rho = budget["dim"], budget["rho"]
    x, y = correlated_gaussians(budget["batch_size"] * budget["steps"], dim, rho,
                                seed=budget["seed"])
    x_test, y_test = correlated_gaussians(2048, dim, rho, seed=budget["seed"] + 1)
    model = lab.information.InfoNCEEstimator(dim, hidden_units=(64,), embed_dim=16)
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]))
    before = model.estimate(x_test, y_test, batch_size=budget["batch_size"])
    history = model.fit(x, y, batch_size=budget["batch_size"], epochs=1, verbose=0,
                        shuffle=False)
    return {"before": before, "estimate": model.estimate(x_test, y_test,
                                                         batch_size=budget["batch_size"]),
            "logged_mi": float(history.history.get("mi", [np.nan])[-1]),
            "truth": gaussian_mutual_information(dim, rho),
            "cap": float(np.log(budget["batch_size"]))}


def judge_training(student, reference, budget):
    what = (f"the held-out InfoNCE estimate after fit ({budget['steps']} steps of "
            f"{budget['batch_size']}, d={budget['dim']}, rho={budget['rho']})")
    estimate, truth = float(student["estimate"]), float(student["truth"])
    expect_true(np.isfinite(estimate), f"{what} is not finite: training diverged")
    expect_true(estimate <= min(truth + ABOVE_TRUTH, student["cap"] + 1e-4),
                f"{what} is {estimate:.4g} nats, above the true I(X;Y) = {truth:.4g}: a lower "
                "bound cannot exceed it (log N missing its softmax, or the positives are not "
                "the diagonal?)")
    floor = float(reference["estimate"]) - TRAIN_MARGIN
    expect_true(estimate >= floor,
                f"{what} is {estimate:.4g} nats, needs at least {floor:.4g}: the reference "
                f"reaches {reference['estimate']:.4g} (true MI {truth:.4g}) with the same seed "
                "and budget. Does train_step minimise -infonce_bound and apply the gradients?")
