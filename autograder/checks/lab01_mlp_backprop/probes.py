"""What the checks of lab01_mlp_backprop share: inputs that tell right from wrong, the
check's own stand-ins for the graded pieces, and verdict helpers.

A model-level check runs the student's model code on stand-ins for the pieces it calls
(`check_helpers.standing_in`), so a wrong `dense_backward` costs the points of
`dense_backward` and not those of `mlp_loss_and_grads`, `train_mlp_manual` and the Keras
model as well.
"""
from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

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
        hidden = _library_relu_forward(_library_dense_forward(hidden, w, b))
    w, b = params[-1]
    params[-1] = (w, b - np.median(_library_dense_forward(hidden, w, b)))
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


# ---- Stand-ins ----------------------------------------------------------------------------
# A model-level check runs the student's unit on the check's own versions of what it calls
# (check_helpers.standing_in). Where the unit may as well do the work itself, the stand-in
# behaves like the correct piece but is computed by a library (TensorFlow's autodiff,
# scipy); where the handout says the unit calls a piece by name, the stand-in has simple,
# known behaviour of its own. None is the reference's code.

def tape_vjp(function, inputs, upstream):
    """The gradient of sum(upstream * function(*inputs)) w.r.t. each input, by
    tf.GradientTape: a vector-Jacobian product computed by TensorFlow, not by hand."""
    import tensorflow as tf
    tensors = [tf.constant(np.asarray(value)) for value in inputs]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        out = function(*tensors)
    upstream = tf.constant(np.asarray(upstream), dtype=out.dtype)
    return [g.numpy() for g in tape.gradient(out, tensors, output_gradients=upstream)]


def _affine(x, w, b):
    import tensorflow as tf
    return tf.nn.bias_add(tf.linalg.matmul(x, w), b)


def _relu(x):
    import tensorflow as tf
    return tf.nn.relu(x)


def _matching_shapes(call, x, w, out=None):
    """A clear error where the shapes a dense layer gets do not fit together."""
    x_shape, w_shape = np.shape(x), np.shape(w)
    fits = len(x_shape) == 2 and len(w_shape) == 2 and x_shape[1] == w_shape[0]
    if fits and out is not None:
        fits = np.shape(out) == (x_shape[0], w_shape[1])
    if not fits:
        given = f"x {x_shape}, w {w_shape}" + ("" if out is None else f", upstream {np.shape(out)}")
        raise ValueError(f"{call} was called with {given}: x must be (N, D), w (D, M) and "
                         "upstream (N, M); are the layer's input, weight and upstream gradient "
                         "those of the same layer?")


def _library_dense_forward(x, w, b):
    _matching_shapes("dense_forward", x, w)
    return _affine(np.asarray(x), np.asarray(w), np.asarray(b)).numpy()


def _library_dense_backward(upstream, x, w):
    _matching_shapes("dense_backward", x, w, upstream)
    zero_bias = np.zeros(np.shape(w)[-1], dtype=np.asarray(w).dtype)
    return tuple(tape_vjp(_affine, [x, w, zero_bias], upstream))


def _library_relu_forward(x):
    return _relu(np.asarray(x)).numpy()


def _library_relu_backward(upstream, x):
    return tape_vjp(_relu, [x], upstream)[0]


def _library_cross_entropy(logits, labels):
    picked = np.take_along_axis(log_softmax(np.asarray(logits), axis=1),
                                np.asarray(labels).reshape(-1, 1), axis=1)
    return float(-picked.mean())


def _library_cross_entropy_backward(logits, labels):
    import tensorflow as tf
    labels = tf.constant(np.asarray(labels).reshape(-1))

    def mean_loss(z):
        return tf.reduce_mean(tf.reduce_logsumexp(z, axis=1)
                              - tf.gather(z, labels, axis=1, batch_dims=1))
    return tape_vjp(mean_loss, [logits], 1.0)[0]


# The pieces of layers.py that mlp.py imports, as mlp.py names them: correct, computed by
# TensorFlow and scipy (a student may write a piece inline instead of calling it).
LAYERS = {
    "cross_entropy": _library_cross_entropy,
    "cross_entropy_backward": _library_cross_entropy_backward,
    "dense_forward": _library_dense_forward,
    "dense_backward": _library_dense_backward,
    "relu_forward": _library_relu_forward,
    "relu_backward": _library_relu_backward,
}


def pull_gradients(params, x, labels):
    """Stand-in for mlp_loss_and_grads in train_mlp_manual, which calls it by name: known,
    simple gradients that are not the MLP's. With s = mean(x**2) and t = 1 + mean(labels)
    of the batch, the loss is the sum over layers of s/2 (|w|^2 + |b|^2) - t (sum(w) +
    sum(b)), whose gradients are (s * w - t, s * b - t): SGD pulls every parameter towards
    t / s of the batches it sees."""
    s = float(np.mean(np.square(x)))
    t = 1.0 + float(np.mean(labels))
    loss = sum(0.5 * s * (np.sum(np.square(w)) + np.sum(np.square(b)))
               - t * (np.sum(w) + np.sum(b)) for w, b in params)
    return float(loss), [(s * w - t, s * b - t) for w, b in params]


def linear_layer():
    """A correct `Linear` for build_keras_mlp: Keras's Dense takes the same arguments and
    creates the same weights (kernel (D, M), then bias (M,))."""
    import keras
    return keras.layers.Dense


def spaced_breakpoints(weights, biases, lo, hi):
    """Stand-in for activation_breakpoints in count_linear_regions, which uses it by name:
    not the network's breakpoints but a known number of them, one per hidden unit plus one
    per unit of length of [lo, hi], evenly spaced inside it."""
    return np.linspace(lo, hi, spaced_breakpoint_count(weights, lo, hi) + 2)[1:-1]


def spaced_breakpoint_count(weights, lo, hi):
    return int(sum(np.shape(w)[1] for w in weights[:-1]) + round(hi - lo))


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
