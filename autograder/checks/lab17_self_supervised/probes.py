"""Helpers that the checks of lab17_self_supervised share.

The references here are written differently from what the student writes: the contrastive
losses by explicit enumeration of each row's positive and negatives in float64 Python loops,
BYOL's loss as the squared distance of unit vectors. The stand-ins have known behaviour that
differs from the lab's components: an augmenter that scales its input by a factor that
depends on how many times it was called, and losses that record their arguments.
"""
from __future__ import annotations

import math

import numpy as np

from autograder.verdicts import CheckFailed, expect_close

# ---- references by enumeration (numpy, float64) ----------------------------------------------


def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / math.sqrt(float(np.dot(v, v)))


def _log_sum_exp(scores):
    top = max(scores)
    return top + math.log(sum(math.exp(s - top) for s in scores))


def nt_xent_enumerated(z1, z2, temperature, *, normalise=True, both_views=True,
                       skip_self=True, divide=True):
    """NT-Xent by enumeration: for each anchor, its positive and its list of negatives.
    The keyword flags give the value of a known slip (all True: the right answer)."""
    rows = [np.asarray(r, np.float64) for r in list(z1) + list(z2)]
    if normalise:
        rows = [_unit(r) for r in rows]
    n = len(z1)
    anchors = range(2 * n) if both_views else range(n)
    terms = []
    for a in anchors:
        partner = a + n if a < n else a - n
        def score(b):
            s = float(np.dot(rows[a], rows[b]))
            return s / temperature if divide else s * temperature
        others = [score(b) for b in range(2 * n) if b != a or not skip_self]
        terms.append(_log_sum_exp(others) - score(partner))
    return sum(terms) / len(terms)


def info_nce_enumerated(predictions, targets, *, transpose=False, normalise=False):
    """InfoNCE by enumeration: row i's positive is target i, its negatives every other
    target. transpose: the slip that normalises over predictions instead of targets."""
    p = [np.asarray(r, np.float64) for r in predictions]
    t = [np.asarray(r, np.float64) for r in targets]
    if normalise:
        p, t = [_unit(r) for r in p], [_unit(r) for r in t]
    if transpose:
        p, t = t, p
    terms = []
    for i in range(len(p)):
        scores = [float(np.dot(p[i], t[j])) for j in range(len(t))]
        terms.append(_log_sum_exp(scores) - scores[i])
    return sum(terms) / len(terms)


def byol_distance(predictions, targets):
    """Mean squared distance between the unit vectors: ||p/|p| - t/|t|||^2 = 2 - 2 cos."""
    total = 0.0
    for p, t in zip(predictions, targets):
        d = _unit(p) - _unit(t)
        total += float(np.dot(d, d))
    return total / len(predictions)


# ---- stand-ins (run in the worker) ---------------------------------------------------------

def counting_augmenter():
    """A Keras layer of known behaviour standing in for the augmenter: with training=True,
    call number c (counted while TensorFlow traces) returns x * (1 + 0.25 c) + 0.05 c, so
    two calls give two different views; with training=False it returns x unchanged."""
    import keras

    class CountingAugmenter(keras.layers.Layer):
        def __init__(self):
            super().__init__(name="counting_augmenter")
            self.calls = 0
            self.inference_calls = 0

        def call(self, x, training=None):
            if not training:
                self.inference_calls += 1
                return x
            c = self.calls
            self.calls += 1
            return x * (1.0 + 0.25 * c) + 0.05 * c

    return CountingAugmenter()


def view_of(x, c):
    """The counting augmenter's call number c, in numpy."""
    return np.asarray(x, np.float32) * (1.0 + 0.25 * c) + 0.05 * c


def training_flag_layer():
    """A layer standing in for dropout and batch norm: its output depends on the training
    flag. training=True multiplies its input by 1.5; training=False or None (the default of
    a call without the flag) leaves it unchanged. It has no weights and clones like any
    Keras layer (the mean teacher's teacher is a clone)."""
    import keras

    class TrainingFlag(keras.layers.Layer):
        def call(self, x, training=None):
            return x * 1.5 if training else x

    return TrainingFlag(name="training_flag")


def tiny_encoder(rng, feature_dim=6, name="encoder", flag=False):
    """The checks' encoder: Flatten -> Dense(feature_dim, tanh) with random weights, then
    (flag=True) the training-flag layer."""
    import keras
    layers = [keras.Input((8, 8, 1)), keras.layers.Flatten(),
              keras.layers.Dense(feature_dim, activation="tanh")]
    encoder = keras.Sequential(layers + ([training_flag_layer()] if flag else []), name=name)
    randomise(encoder, rng)
    return encoder


def randomise(model, rng, scale=0.3):
    for v in model.weights:
        v.assign(rng.normal(scale=scale, size=tuple(v.shape)).astype("float32"))


def weights_of(variables):
    return [np.array(v.numpy(), dtype=np.float64) for v in variables]


def judge_lists(got, expected, what, **tolerances):
    if len(got) != len(expected):
        raise CheckFailed(f"{what}: {len(got)} arrays, expected {len(expected)}")
    for k, (g, e) in enumerate(zip(got, expected)):
        expect_close(g, e, f"{what} [{k}]", **tolerances)


def sgd_step_expected(variables, gradients, learning_rate):
    """The weights after one plain SGD step (None gradients leave a weight unchanged)."""
    return [np.array(v.numpy(), np.float64) - (0.0 if g is None else
                                                learning_rate * np.asarray(g, np.float64))
            for v, g in zip(variables, gradients)]


def few_labels(y, per_class, seed):
    """Indices of `per_class` training examples of each class, seeded."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False)
                           for c in np.unique(y)])


def sklearn_probe_accuracy(train_features, y_train, test_features, y_test):
    """The checks' own linear probe: scikit-learn's logistic regression on standardised
    features (an independent library, not the student's linear_probe_accuracy)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    scaler = StandardScaler().fit(train_features)
    model = LogisticRegression(max_iter=2000, C=1.0)
    model.fit(scaler.transform(train_features), y_train)
    return float(model.score(scaler.transform(test_features), y_test))


# ---- CPC's pairs (public and hidden) -------------------------------------------------------------

def stand_in_scores(predictions, targets):
    """The checks' stand-in for info_nce_loss: the mean product (order-free over rows)."""
    import tensorflow as tf
    return tf.reduce_mean(tf.cast(predictions, tf.float32) * tf.cast(targets, tf.float32))


def sorted_pairs(predictions, targets, latent):
    """The (prediction, target) rows, concatenated and sorted: any row order is fine."""
    rows = np.concatenate([np.asarray(predictions, np.float64).reshape(-1, latent),
                           np.asarray(targets, np.float64).reshape(-1, latent)], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


def cpc_pairs_probe(lab, rng, *, latent, context, steps, n, length):
    """The student's CPC.cpc_loss with a recording stand-in for info_nce_loss, and the
    pairs and value the checks expect, from the model's own encoder, GRU and W_k."""
    import tensorflow as tf

    from autograder.check_helpers import standing_in
    model = lab.selfsup.CPC(latent_dim=latent, context_dim=context, steps_ahead=steps)
    randomise(model, rng, 0.5)
    x = rng.normal(size=(n, length, 1)).astype("float32")
    calls = []

    def recording(predictions, targets):
        calls.append(sorted_pairs(predictions, targets, latent))
        return stand_in_scores(predictions, targets)
    with standing_in(lab.selfsup, info_nce_loss=recording):
        loss = float(model.cpc_loss(tf.constant(x)))
    z = model.encoder(x)
    c = model.context(z)
    expected, values = [], []
    for k in range(1, steps + 1):
        p, t = model.predictors[k - 1](c[:, :-k]), z[:, k:]
        expected.append(sorted_pairs(p, t, latent))
        values.append(float(stand_in_scores(p, t)))
    return {"calls": calls, "expected": expected, "loss": loss, "steps": steps,
            "expected_loss": float(np.mean(values)), "sequences": n,
            "off_by_one": sorted_pairs(model.predictors[0](c[:, :-1]), z[:, :-1], latent)}


def judge_cpc_pairs(student):
    calls, expected, steps = student["calls"], student["expected"], int(student["steps"])
    if len(calls) != steps:
        raise CheckFailed(f"CPC(steps_ahead={steps}).cpc_loss called info_nce_loss {len(calls)} "
                          "times: once per step ahead k = 1..steps_ahead")
    n = int(student["sequences"])
    for k, (got, want) in enumerate(zip(calls, expected), start=1):
        if k == 1 and got.shape == student["off_by_one"].shape and np.allclose(
                got, student["off_by_one"], atol=1e-5):
            raise CheckFailed("cpc_loss for k = 1 pairs W_1 c_t with z_t, the present: the "
                              "target of c_t is z_(t+k) (targets z[:, k:], contexts c[:, :-k])")
        if got.shape != want.shape:
            raise CheckFailed(f"cpc_loss for k = {k} gives info_nce_loss {got.shape[0]} rows, "
                              f"expected {want.shape[0]} ({n} sequences x {want.shape[0] // n} "
                              "times t with t + k inside the encoded sequence)")
        expect_close(got, want, f"the (W_{k} c_t, z_t+{k}) rows cpc_loss gives info_nce_loss",
                     rtol=1e-4, atol=1e-5)
    expect_close(student["loss"], student["expected_loss"], "cpc_loss (the MEAN over k of the "
                 "InfoNCE terms)", rtol=1e-5, atol=1e-6)
