"""Public checks of lab10_autoencoders, part 5: anomaly detection by reconstruction error
(regularized.py).

`roc_auc` is compared with scikit-learn's `roc_auc_score`; `reconstruction_errors` with the
reference's on a stand-in "autoencoder" (a fixed numpy map, on flat inputs and on images).
`anomaly_detection` runs on the checks' own autoencoder with stand-ins for the two
functions above (a mean absolute error as the score, scikit-learn's AUROC), so it judges the
pipeline alone: which digits it trains on, which it scores, and the labels of the unseen
class; the training budget (Adam's learning rate, the number of steps) and the test MSE of
the seen classes and the AUROC are compared with the reference's after the same training.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import standing_in
from autograder.checks.lab10_autoencoders.probes import digits, mse
from autograder.checks.lab10_autoencoders.probes_regularized import (
    ANOMALY,
    AUROC_MARGIN,
    MSE_FACTOR,
    REGULARIZED,
    plain_autoencoder,
    stacks,
)
from autograder.verdicts import (
    expect_at_least,
    expect_at_most,
    expect_close,
    expect_close_naming,
    expect_equal,
    expect_shape,
    expect_true,
)


class Blur:
    """A stand-in "autoencoder": a fixed smooth map of numpy arrays, any input shape."""

    def __call__(self, x):
        x = np.asarray(x, np.float32)
        return 0.5 * x + 0.25 * np.roll(x, 1, axis=-1) + 0.1


@check(points=1, uses=REGULARIZED, task="`reconstruction_errors`",
       hint="np.mean((x_hat - x) ** 2) over every axis but the first: one error per input")
def reconstruction_errors(lab, rng):
    """With a stand-in map as the autoencoder: the mean squared error of each input, for
    flat inputs (6, 10) and for images (5, 4, 3, 2)."""
    flat = rng.random((6, 10)).astype("float32")
    images = rng.random((5, 4, 3, 2)).astype("float32")
    out = {}
    for name, x in (("flat", flat), ("images", images)):
        errors = lab.regularized.reconstruction_errors(Blur(), x)
        squares = (Blur()(x).astype(np.float64) - x) ** 2
        out.update({name: None if errors is None else np.asarray(errors, np.float64),
                    f"{name}_sum": squares.reshape(len(x), -1).sum(axis=1),
                    f"{name}_last_axis": squares.mean(axis=-1)})
    return out


@reconstruction_errors.verdict
def _(student, reference):
    for name, shape in (("flat", (6, 10)), ("images", (5, 4, 3, 2))):
        what = f"reconstruction_errors(autoencoder, x) for x {shape}"
        expect_true(student[name] is not None, f"{what} returned None")
        if np.shape(student[name]) == np.shape(student[f"{name}_last_axis"]) != (shape[0],):
            raise CheckFailed(f"{what} averages over the last axis only: average over every "
                              "axis but the first, one error per input")
        errors = expect_shape(student[name], (shape[0],), f"{what} (one error per input)")
        expect_close_naming(errors, reference[name], what, mistakes=(
            (student[f"{name}_sum"], "it sums the squared errors: take their MEAN per input"),))


@check(points=2, uses=REGULARIZED, task="`roc_auc`",
       hint="the share of (positive, negative) pairs where the positive scores higher, ties "
            "counting 1/2 (the Mann-Whitney statistic)")
def roc_auc(lab, rng):
    """Against scikit-learn's `roc_auc_score`: scores with many ties (integers) and 0/1
    labels, continuous scores with boolean labels, and a perfect and an inverted detector."""
    from sklearn.metrics import roc_auc_score
    tied = rng.integers(0, 4, size=40).astype("float64")
    tied_labels = (rng.random(40) < 0.35 + 0.1 * tied).astype("int64")
    scores = rng.normal(size=30)
    labels = scores + rng.normal(size=30) > 0.3
    separable = np.arange(10, dtype=np.float64)
    cases = {"tied": (tied, tied_labels), "continuous": (scores, labels),
             "perfect": (separable, separable >= 7), "inverted": (separable, separable < 3)}
    out = {}
    for name, (s, y) in cases.items():
        value = lab.regularized.roc_auc(s, y)
        positives, negatives = s[y.astype(bool)], s[~y.astype(bool)]
        out.update({name: np.nan if value is None else float(value),
                    f"{name}_sklearn": roc_auc_score(y, s),
                    f"{name}_strict": float(np.mean(positives[:, None] > negatives[None, :]))})
    return out


@roc_auc.verdict
def _(student, _reference):
    for name, what in (("tied", "integer scores with ties and 0/1 labels"),
                       ("continuous", "continuous scores and boolean labels"),
                       ("perfect", "a perfect detector (every positive scores highest)"),
                       ("inverted", "an inverted detector (every positive scores lowest)")):
        expected = student[f"{name}_sklearn"]
        expect_close_naming(np.float64(student[name]), np.float64(expected),
                            f"roc_auc(scores, labels) for {what}, against scikit-learn", mistakes=(
                                (np.float64(1.0 - expected), "it is 1 - AUROC: a higher score "
                                 "must mean more likely POSITIVE"),
                                (np.float64(student[f"{name}_strict"]), "ties must count 1/2, "
                                 "not 0"),), rtol=1e-6)


@check(points=2, uses=REGULARIZED, timeout=40, task="`anomaly_detection`",
       hint="train on the training digits whose label is NOT unseen_class, score EVERY test "
            "digit with reconstruction_errors, is_unseen = (y_test == unseen_class), auroc = "
            "roc_auc(scores, is_unseen)")
def anomaly_detection(lab, rng):
    """The checks' autoencoder (code 8) with 2 as the unseen class, Adam 1e-2, 100 steps of
    64, stand-in scores and AUROC: `is_unseen` and the scores of all 450 test digits, the
    optimizer's learning rate and step count, a test MSE of the seen classes within 25 % of
    the reference's, and an AUROC within 0.1 of the reference's."""
    from sklearn.metrics import roc_auc_score
    x_train, y_train = digits("train"), _labels("train")
    x_test, y_test = digits("test"), _labels("test")
    encoder, decoder = stacks(64, ANOMALY["code_dim"], ANOMALY["hidden"], None)
    autoencoder = plain_autoencoder(encoder, decoder)

    def scores(model, x):   # not the squared error: the mean ABSOLUTE error of each input
        x = np.asarray(x, np.float32)
        return np.mean(np.abs(np.asarray(model(x), np.float64) - x).reshape(len(x), -1), axis=1)

    def auroc(s, y):
        return float(roc_auc_score(np.asarray(y).astype(int), s))
    with standing_in(lab.regularized, reconstruction_errors=scores, roc_auc=auroc):
        out = lab.regularized.anomaly_detection(
            autoencoder, x_train, y_train, x_test, y_test, ANOMALY["unseen_class"],
            steps=ANOMALY["steps"], batch_size=ANOMALY["batch_size"],
            learning_rate=ANOMALY["learning_rate"], seed=int(rng.integers(1 << 30)))
    if not isinstance(out, dict) or not {"scores", "is_unseen", "auroc"} <= set(out):
        return {"error": f"returned {type(out).__name__} "
                         f"{sorted(out) if isinstance(out, dict) else ''}: expected a dict with "
                         "scores, is_unseen and auroc"}
    optimizer = getattr(autoencoder, "optimizer", None)
    seen = x_test[y_test != ANOMALY["unseen_class"]]
    return {"error": "", "scores": np.asarray(out["scores"], np.float64),
            "seen_mse": mse(autoencoder(seen), seen),
            "optimizer": type(optimizer).__name__,
            "iterations": -1 if optimizer is None else int(np.asarray(optimizer.iterations)),
            "learning_rate": _rate(optimizer),
            "own_scores": scores(autoencoder, x_test),
            "train_scores": scores(autoencoder, x_train),
            "is_unseen": np.asarray(out["is_unseen"]).astype(np.int64),
            "y_test": y_test, "auroc": float(out["auroc"]),
            "trained": bool(getattr(autoencoder, "optimizer", None) is not None)}


def _rate(optimizer):
    """The optimizer's learning rate, NaN when it has none or a schedule."""
    try:
        return float(np.asarray(optimizer.learning_rate))
    except (AttributeError, TypeError, ValueError):
        return float("nan")


def _labels(split):
    from dlkit.data import load_digits
    return load_digits(split, flatten=True)[1].astype(np.int64)


@anomaly_detection.verdict
def _(student, reference):
    what = "anomaly_detection(autoencoder, x_train, y_train, x_test, y_test, unseen_class=2)"
    if student["error"]:
        raise CheckFailed(f"{what} {student['error']}")
    expect_true(student["trained"], f"{what} never compiled the autoencoder: compile it with "
                "Adam(learning_rate) and loss='mse', then fit it")
    unseen = np.asarray(student["y_test"]) == ANOMALY["unseen_class"]
    is_unseen = np.asarray(student["is_unseen"])
    if is_unseen.shape == unseen.shape and np.array_equal(is_unseen, ~unseen):
        raise CheckFailed(f"{what}: is_unseen is True for the SEEN classes: it must be "
                          "y_test == unseen_class")
    expect_equal(is_unseen.astype(bool), unseen, f"{what}['is_unseen'] (y_test == unseen_class)")
    scores = np.asarray(student["scores"])
    if scores.shape == np.shape(student["train_scores"]) and scores.shape != unseen.shape:
        raise CheckFailed(f"{what} scores the TRAINING digits: score every test digit")
    scores = expect_shape(scores, unseen.shape, f"{what}['scores'] (one per test digit)")
    expect_close(scores.astype(np.float32), np.asarray(student["own_scores"], np.float32),
                 f"{what}['scores'], against reconstruction_errors(autoencoder, x_test) of the "
                 "trained autoencoder", rtol=1e-4, atol=1e-6)
    steps, rate = ANOMALY["steps"], ANOMALY["learning_rate"]
    if student["iterations"] != steps:
        raise CheckFailed(f"{what} trained for {student['iterations']} steps, expected steps="
                          f"{steps}: fit `steps` batches of `batch_size` from a repeated, "
                          "shuffled dataset (fit(data, steps_per_epoch=steps, epochs=1)), not one "
                          "pass over the training digits")
    if not np.isclose(student["learning_rate"], rate, rtol=1e-4):
        raise CheckFailed(f"{what} trained {student['optimizer']} at a learning rate of "
                          f"{student['learning_rate']:g}, expected learning_rate={rate:g}: "
                          "compile(optimizer=keras.optimizers.Adam(learning_rate), ...) "
                          "(compile(optimizer=\"adam\") takes Adam's default, 1e-3)")
    expect_at_most(student["seen_mse"], MSE_FACTOR * reference["seen_mse"],
                   f"the test MSE of the seen classes after {what} (the reference: "
                   f"{reference['seen_mse']:.4f}, trained with Adam at {rate:g} for {steps} steps "
                   f"of {ANOMALY['batch_size']}): train with "
                   "Adam(learning_rate) on the MSE for `steps` batches of `batch_size`")
    expect_at_least(student["auroc"], reference["auroc"] - AUROC_MARGIN,
                    f"the AUROC of the unseen class 2 against the seen test digits (the "
                    f"reference reaches {reference['auroc']:.3f}; trained on every class, "
                    "digits included, an autoencoder reaches about 0.55: train on the other "
                    "classes only)")
