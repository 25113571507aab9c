"""Helpers that the checks of lab16b_energy_models share: probes run in the worker (they
import TensorFlow inside), verdicts in the grader.

The RBM is judged against brute force: on a tiny RBM every (v, h) pair is enumerated from
the energy E(v, h) = -v W h - b v - c h, and the conditionals, free energies, log Z and the
distribution of v follow from sums over the table (scipy's logsumexp). The Gibbs checks
stand in for RBM.sample with `RecordedSampler`, which records every probability it is asked
for and answers with the checks' own draws, so a Gibbs chain is replayed exactly. The CD
loss and a CD step run on stand-ins of known, other behaviour for the pieces they use (a
free energy G in place of F, recorded Gibbs steps, the loss), so that a slip elsewhere does
not cost them. The EBM's checks run on the checks' own energies (quadratics with known
Langevin behaviour) and, for train_step, on stand-ins of known, other behaviour.
"""
from __future__ import annotations

import itertools
import json

import numpy as np

from autograder.api import CheckFailed
from autograder.verdicts import expect_at_least, expect_true

HOPFIELD, RBM, EBM = "hopfield", "rbm", "ebm"


# ---- Hopfield ---------------------------------------------------------------------------------

def spins(rng, rows, units):
    """Random states of +-1: float64 (rows, units)."""
    return rng.choice([-1.0, 1.0], size=(rows, units))


def symmetric_weights(rng, units, scale=1.0):
    """A random symmetric matrix with a zero diagonal: couplings of a spin glass, on which
    synchronous and asynchronous updates part ways at once."""
    a = rng.normal(scale=scale, size=(units, units))
    return (a + a.T) / 2.0 * (1.0 - np.eye(units))


def projection_weights(patterns):
    """The projection (pseudo-inverse) rule, zero diagonal: W = pinv(Xi) Xi. Not the
    lab's Hebbian rule: every pattern it stores is a fixed point up to P close to N."""
    xi = np.asarray(patterns, dtype=float)
    projector = np.linalg.pinv(xi) @ xi
    return projector * (1.0 - np.eye(len(projector)))


# ---- RBM: brute force on tiny sizes -------------------------------------------------------

def binary_table(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def joint_energies(W, b, c):
    """E(v, h) for every visible row v of binary_table(V) and hidden row h of
    binary_table(H): float64 (2^V, 2^H)."""
    vs, hs = binary_table(len(b)), binary_table(len(c))
    return -(vs @ W @ hs.T + (vs @ b)[:, None] + (hs @ c)[None, :])


def brute_force(W, b, c, v=None):
    """Everything a tiny RBM's table gives, float64: for the visible rows v (default every
    configuration), the free energies, p(h_j = 1 | v); log Z; the exact p(v) of every
    configuration; and for every hidden configuration p(v_i = 1 | h)."""
    from scipy.special import logsumexp
    W, b, c = (np.asarray(a, dtype=np.float64) for a in (W, b, c))
    vs, hs = binary_table(len(b)), binary_table(len(c))
    v = vs if v is None else np.asarray(v, dtype=np.float64)
    # E(v, h) for the given rows v: (N, 2^H)
    energies = -(v @ W @ hs.T + (v @ b)[:, None] + (hs @ c)[None, :])
    weights_h = np.exp(-energies - logsumexp(-energies, axis=1, keepdims=True))
    table = joint_energies(W, b, c)
    log_z = float(logsumexp(-table))
    weights_v = np.exp(-table - logsumexp(-table, axis=0, keepdims=True))   # p(v | h) columns
    return {"free_energy": -logsumexp(-energies, axis=1),
            "p_hidden": weights_h @ hs,
            "log_z": log_z,
            "p_v": np.exp(logsumexp(-table, axis=1) - log_z),
            "hidden_table": hs,
            "p_visible_given_h": weights_v.T @ vs}


def random_rbm(lab, rng, num_visible, num_hidden, scale=1.0, **kwargs):
    """An RBM of the lab's class with every weight drawn at random (numpy copies too)."""
    model = lab.rbm.RBM(num_visible, num_hidden, **kwargs)
    W = rng.normal(scale=scale, size=(num_visible, num_hidden))
    b = rng.normal(scale=scale, size=num_visible)
    c = rng.normal(scale=scale, size=num_hidden)
    for variable, value in ((model.kernel, W), (model.visible_bias, b), (model.hidden_bias, c)):
        variable.assign(value.astype("float32"))
    return model, W.astype("float32").astype(np.float64), \
        b.astype("float32").astype(np.float64), c.astype("float32").astype(np.float64)


class RecordedSampler:
    """Stands in for RBM.sample: records each probability array it is given and returns
    binary draws u < p with u from the checks' own generator, so that a chain is replayed
    exactly and its draws are known."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.asked, self.returned = [], []

    def __call__(self, probabilities):
        import tensorflow as tf
        p = np.asarray(probabilities, dtype=np.float64)
        draws = (self.rng.uniform(size=p.shape) < p).astype("float32")
        self.asked.append(p)
        self.returned.append(draws)
        return tf.constant(draws)


def rbm_weights(model):
    return [np.asarray(v.numpy(), dtype=np.float64)
            for v in (model.kernel, model.visible_bias, model.hidden_bias)]


# ---- RBM: stand-ins for one unit, one judgement ------------------------------------------

def stand_in_free_energy(model):
    """The checks' stand-in for RBM.free_energy, of known, other behaviour, on the model's own
    weights (so that gradients reach them): G(v) = sum_j cos(v @ kernel + hidden_bias)_j +
    (v . visible_bias)^2 / 2. Not F: the loss and train_step are judged on it alone."""
    import tensorflow as tf

    def free_energy(v):
        v = tf.cast(v, tf.float32)
        inputs = tf.matmul(v, model.kernel) + model.hidden_bias
        return (tf.reduce_sum(tf.cos(inputs), axis=-1)
                + 0.5 * tf.square(tf.reduce_sum(v * model.visible_bias, axis=-1)))
    return free_energy


def stand_in_mean_and_gradients(W, b, c, v):
    """mean G(v) over the rows and its gradients with respect to (W, b, c), in numpy."""
    inputs, linear = v @ W + c, v @ b
    value = float(np.mean(np.cos(inputs).sum(axis=1) + 0.5 * linear ** 2))
    return value, [-(v.T @ np.sin(inputs)) / len(v), (v * linear[:, None]).mean(0),
                   -np.sin(inputs).mean(0)]


class TrainStepStandIns:
    """The RBM's pieces that train_step uses, stood in for by ones of known, other behaviour
    that record what they are given, so that train_step alone is judged: gibbs_step flips
    each unit with probability 0.3 (the checks' own draws) and gibbs_chain runs `steps` of
    those; free_energy and contrastive_divergence_loss use G (stand_in_free_energy) in place
    of F; the conditionals that reconstruction_error calls are sigmoid(cos(...)) of the
    weights."""

    def __init__(self, model, seed):
        self.model, self.rng = model, np.random.default_rng(seed)
        self.steps, self.losses = [], []
        self.free_energy = stand_in_free_energy(model)

    def install(self):
        for name in ("gibbs_step", "gibbs_chain", "free_energy", "hidden_probabilities",
                     "visible_probabilities"):
            setattr(self.model, name, getattr(self, name))

    def gibbs_step(self, v):
        import tensorflow as tf
        v = np.asarray(tf.convert_to_tensor(v), dtype=np.float32)
        flipped = np.where(self.rng.uniform(size=v.shape) < 0.3, 1.0 - v, v).astype("float32")
        self.steps.append({"input": v, "output": flipped})
        return tf.constant(flipped)

    def gibbs_chain(self, v, steps):
        for _ in range(int(steps)):
            v = self.gibbs_step(v)
        return v

    def hidden_probabilities(self, v):
        import tensorflow as tf
        return tf.sigmoid(tf.cos(tf.matmul(tf.cast(v, tf.float32), self.model.kernel)
                                 + self.model.hidden_bias))

    def visible_probabilities(self, h):
        import tensorflow as tf
        return tf.sigmoid(tf.cos(tf.matmul(tf.cast(h, tf.float32), self.model.kernel,
                                           transpose_b=True) + self.model.visible_bias))

    def contrastive_divergence_loss(self, rbm, v_data, v_model):
        import tensorflow as tf
        self.losses.append({"data": np.asarray(tf.convert_to_tensor(v_data)),
                            "model": np.asarray(tf.convert_to_tensor(v_model))})
        return (tf.reduce_mean(self.free_energy(v_data))
                - tf.reduce_mean(self.free_energy(v_model)))


def assign_rbm_weights(model, values):
    for variable, value in zip((model.kernel, model.visible_bias, model.hidden_bias), values):
        variable.assign(np.asarray(value, dtype="float32"))


# ---- RBM and EBM data and metrics -------------------------------------------------------------

def binarised_digits():
    """The binarised 8x8 digits, flattened: (train, test), float32 of 0 and 1."""
    from dlkit.data import load_digits
    train, _ = load_digits("train", flatten=True, binarize=True)
    test, _ = load_digits("test", flatten=True, binarize=True)
    return train, test


def exact_rbm_log_likelihood(W, b, c, v):
    """The mean exact log-likelihood of rows v (nats), float64: log Z summed over every
    hidden configuration (H up to about 18), the free energy in closed form."""
    from scipy.special import logsumexp
    W, b, c = (np.asarray(a, dtype=np.float64) for a in (W, b, c))
    v = np.asarray(v, dtype=np.float64)
    hs = binary_table(len(c))
    log_z = float(logsumexp(hs @ c + np.logaddexp(0.0, hs @ W.T + b).sum(axis=1)))
    free = -(v @ b) - np.logaddexp(0.0, v @ W + c).sum(axis=1)
    return float(np.mean(-free - log_z))


def independent_pixels_log_likelihood(train, test):
    """Independent Bernoulli pixels fitted to the training set (counts + 1): the baseline an
    RBM must beat. Mean log-likelihood of the test rows, nats."""
    p = (train.sum(axis=0) + 1.0) / (len(train) + 2.0)
    return float(np.mean(test @ np.log(p) + (1.0 - test) @ np.log(1.0 - p)))


GRID_LIMIT, GRID_POINTS = 4.0, 161


def grid_log_likelihood(energies_fn, points):
    """The mean log-density of `points` under exp(-E) normalised on a grid over
    [-4, 4]^2 (161 x 161 cells), float64: the EBM's test log-likelihood."""
    from scipy.special import logsumexp
    ticks = np.linspace(-GRID_LIMIT, GRID_LIMIT, GRID_POINTS)
    grid = np.stack(np.meshgrid(ticks, ticks), -1).reshape(-1, 2).astype("float32")
    energies = np.asarray(energies_fn(grid), dtype=np.float64).reshape(-1)
    log_z = logsumexp(-energies) + 2 * np.log(ticks[1] - ticks[0])
    return float(np.mean(-np.asarray(energies_fn(points), dtype=np.float64).reshape(-1)) - log_z)


def gaussian_log_likelihood(train, test):
    """A full-covariance Gaussian fitted to the training points (scipy): the baseline."""
    from scipy.stats import multivariate_normal
    train = np.asarray(train, dtype=np.float64)
    return float(np.mean(multivariate_normal(train.mean(0), np.cov(train.T)).logpdf(test)))


# ---- Verdict helpers ------------------------------------------------------------------------

def judge_logged(logged_json, expected, what):
    logged = json.loads(logged_json)
    expect_true(logged == sorted(expected), f"fit() logged {logged}; {what}.train_step must "
                f"return exactly {sorted(expected)} (the trackers' results)")


def judge_relative(reached, reference, margin, what, unit, baseline=None, baseline_name=""):
    """A higher-is-better metric within `margin` of the reference's, and above a baseline."""
    if not np.isfinite(reached):
        raise CheckFailed(f"{what} is {reached} after training: training diverged")
    if baseline is not None and reached <= baseline:
        raise CheckFailed(f"{what} is {reached:.3f}{unit}, no better than {baseline_name} "
                          f"({baseline:.3f}{unit}; the reference reaches {reference:.3f}): the "
                          "model did not learn")
    expect_at_least(reached, reference - margin, f"{what} (the reference reaches "
                    f"{reference:.3f} with the same training)", unit=unit)
