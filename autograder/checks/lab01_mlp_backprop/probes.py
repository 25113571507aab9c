"""What the checks of lab01_mlp_backprop share: inputs that tell right from wrong, the
check's own correct versions of the graded pieces (stand-ins), and verdict helpers.

A model-level check runs the student's model code on stand-ins for the pieces it calls
(`standing_in`), so a wrong `dense_backward` costs the points of `dense_backward` and not
those of `mlp_loss_and_grads`, `train_mlp_manual` and the Keras model as well.
"""
from __future__ import annotations

import contextlib

import numpy as np
from scipy.special import log_softmax, softmax

from autograder.verdicts import expect_close, expect_true

# ---- Inputs -------------------------------------------------------------------------------


def extreme_logits(rng, rows, classes):
    """Logits a naive softmax turns into NaN: ordinary rows shifted by +-1000, and rows
    spread over [-1000, 1000]."""
    ordinary = 3 * rng.normal(size=(rows, classes))
    spread = rng.uniform(-1000, 1000, size=(rows, classes))
    return np.concatenate([ordinary + 1000, ordinary - 1000, spread])


def random_mlp(rng, sizes, x):
    """Random parameters with non-zero biases (so a bias mistake shows), the last bias set
    so that half the logits of x are negative (so a ReLU on the logits shows too)."""
    params = [(rng.normal(size=(d_in, d_out)), rng.normal(size=d_out))
              for d_in, d_out in zip(sizes[:-1], sizes[1:])]
    hidden = x
    for w, b in params[:-1]:
        hidden = np.maximum(hidden @ w + b, 0.0)
    w, b = params[-1]
    params[-1] = (w, b - np.median(hidden @ w + b))
    return params


def random_relu_network(rng, sizes):
    weights = [rng.normal(size=(d_in, d_out)) for d_in, d_out in zip(sizes[:-1], sizes[1:])]
    return weights, [rng.normal(size=d_out) for d_out in sizes[1:]]


def network_name(weights):
    return "-".join(str(w.shape[0]) for w in weights) + f"-{weights[-1].shape[1]}"


def digits():
    """The digits as float64 inputs: (x_train, y_train, x_test, y_test)."""
    from dlkit.data import load_digits
    x, y = load_digits("train", flatten=True)
    x_test, y_test = load_digits("test", flatten=True)
    return x.astype(np.float64), y, x_test.astype(np.float64), y_test


# ---- Stand-ins: the check's own, correct, pieces -------------------------------------------

@contextlib.contextmanager
def standing_in(module, **replacements):
    """Replace names in a graded module while the block runs, then put the originals back
    (the worker keeps the module for the next check)."""
    missing = object()
    saved = {name: getattr(module, name, missing) for name in replacements}
    for name, value in replacements.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                delattr(module, name)
            else:
                setattr(module, name, value)


def _cross_entropy(logits, labels):
    return float(-np.mean(log_softmax(logits, axis=1)[np.arange(len(labels)), labels]))


def _cross_entropy_backward(logits, labels):
    dlogits = softmax(logits, axis=1)
    dlogits[np.arange(len(labels)), labels] -= 1
    return dlogits / len(labels)


def _dense_backward(upstream, x, w):
    return upstream @ w.T, x.T @ upstream, upstream.sum(axis=0)


# The pieces of layers.py that mlp.py imports, as mlp.py names them.
LAYERS = {
    "cross_entropy": _cross_entropy,
    "cross_entropy_backward": _cross_entropy_backward,
    "dense_forward": lambda x, w, b: x @ w + b,
    "dense_backward": _dense_backward,
    "relu_forward": lambda x: np.maximum(x, 0),
    "relu_backward": lambda upstream, x: upstream * (x > 0),
}


def mlp_loss_and_grads(params, x, labels):
    """The MLP's mean cross-entropy and its gradients, for train_mlp_manual to call."""
    inputs, pre_activations, out = [], [], x
    for index, (w, b) in enumerate(params):
        inputs.append(out)
        pre_activations.append(out @ w + b)
        out = pre_activations[-1] if index == len(params) - 1 else np.maximum(
            pre_activations[-1], 0)
    upstream = _cross_entropy_backward(out, labels)
    grads = []
    for index in reversed(range(len(params))):
        if index < len(params) - 1:
            upstream = upstream * (pre_activations[index] > 0)
        upstream, dw, db = _dense_backward(upstream, inputs[index], params[index][0])
        grads.insert(0, (dw, db))
    return _cross_entropy(out, labels), grads


def linear_layer():
    """A correct `Linear` for build_keras_mlp: Keras's Dense takes the same arguments and
    creates the same weights (kernel (D, M), then bias (M,))."""
    import keras
    return keras.layers.Dense


def pre_activations(weights, biases, t):
    """Every hidden unit's pre-activation (M, hidden units) at inputs t (M,)."""
    out, pre = np.asarray(t, dtype=np.float64).reshape(-1, 1), []
    for w, b in zip(weights[:-1], biases[:-1]):
        pre.append(out @ w + b)
        out = np.maximum(pre[-1], 0.0)
    return np.concatenate(pre, axis=1)


def pattern(weights, biases, t):
    """Activation pattern (M, hidden units) of the network at inputs t (M,)."""
    return pre_activations(weights, biases, t) > 0


def activation_breakpoints(weights, biases, lo, hi):
    """The exact breakpoints (sorted), for count_linear_regions to call: split [lo, hi]
    layer by layer where a unit's affine pre-activation crosses zero."""
    pieces = [(lo, hi, np.ones(1), np.zeros(1))]
    for w, b in zip(weights[:-1], biases[:-1]):
        split = []
        for left, right, slope, offset in pieces:
            slope, offset = slope @ w, offset @ w + b
            crossings = [-c / a for a, c in zip(slope, offset) if a != 0 and left < -c / a < right]
            edges = [left, *sorted(set(crossings)), right]
            for start, end in zip(edges[:-1], edges[1:]):
                on = slope * (start + end) / 2 + offset > 0
                split.append((start, end, slope * on, offset * on))
        pieces = split
    return np.array([piece[0] for piece in pieces[1:]], dtype=np.float64)


# ---- Verdict helpers ----------------------------------------------------------------------

def expect_layer_grads(student, reference, what):
    expect_true(student is not None, f"{what} is None (is a `return` missing?)")
    expect_true(len(student) == len(reference),
                f"{what} has {len(student)} (dw, db) pairs, expected one per layer "
                f"({len(reference)})")
    for layer, (mine, theirs) in enumerate(zip(student, reference), start=1):
        expect_true(len(mine) == 2, f"{what}: layer {layer} must give a (dw, db) pair")
        expect_close(mine[0], theirs[0], f"{what}: dw of layer {layer}")
        expect_close(mine[1], theirs[1], f"{what}: db of layer {layer}")


def layer_pairs(pairs):
    """A list of (w, b) pairs as lists, for the wire; None stays None."""
    return None if pairs is None else [list(pair) for pair in pairs]
