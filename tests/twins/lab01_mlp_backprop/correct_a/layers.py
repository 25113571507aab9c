"""Lab 01, part 1: the building blocks of a neural network, forward and backward, in numpy.

Every backward function takes `upstream`, the gradient of the scalar loss with respect to
the function's output, and returns the gradient of that loss with respect to each input
(the chain rule: upstream times the Jacobian of this step, never forming the Jacobian).
Arrays keep the dtype they come in with; the gradient checks use float64.
"""
import numpy as np


def softmax(logits):
    """Row-wise softmax, finite for any finite logits (even +-1000).

    logits: (N, C). Returns probs: (N, C), each row non-negative and summing to 1.
    """
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=1, keepdims=True)


def cross_entropy(logits, labels):
    """Mean cross-entropy of the softmax of `logits` against integer `labels`.

    logits: (N, C); labels: (N,) ints in [0, C). Returns loss: float, the mean over the
    N rows of -log softmax(logits)[n, labels[n]]. Finite for logits of any size: use
    log-softmax = shifted - log(sum(exp(shifted))), never log(softmax(...)).
    """
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return float(-np.mean(log_probs[np.arange(len(labels)), labels]))


def cross_entropy_backward(logits, labels):
    """Gradient of cross_entropy(logits, labels) with respect to the logits.

    logits: (N, C); labels: (N,). Returns dlogits: (N, C) = (softmax(logits) - onehot) / N.
    """
    n = logits.shape[0]
    d = softmax(logits).copy()
    d[np.arange(n), labels] -= 1
    return d / n


def dense_forward(x, w, b):
    """Affine layer: out = x @ w + b.

    x: (N, D); w: (D, M); b: (M,). Returns out: (N, M).
    """
    return x @ w + b


def dense_backward(upstream, x, w):
    """Backward pass of dense_forward.

    upstream: (N, M) gradient of the loss w.r.t. out; x: (N, D) and w: (D, M) as in the
    forward pass. Returns (dx, dw, db) with shapes (N, D), (D, M), (M,).
    """
    dx = upstream @ w.T
    dw = x.T @ upstream
    db = upstream.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    """max(x, 0) elementwise. x: any shape. Returns out: same shape."""
    return np.maximum(x, 0)


def relu_backward(upstream, x):
    """Backward pass of relu_forward at the input x.

    upstream, x: same shape. Returns dx: the upstream gradient where x > 0, and 0 where
    x <= 0 (at exactly 0 we take the derivative to be 0, as TensorFlow does).
    """
    return upstream * (x > 0)


def numerical_gradient(f, x, h=1e-5):
    """Central-difference estimate of the gradient of a scalar function.

    f: callable taking an array shaped like x and returning a float; x: float64 array of
    any shape (left unchanged). Returns grad: x's shape, where
    grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h).
    """
    x = np.array(x, dtype=np.float64)  # our own copy: we perturb it in place
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + h
        f_plus = f(x)
        x[index] = saved - h
        f_minus = f(x)
        x[index] = saved
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(a, b, eps=1e-12):
    """The largest elementwise relative error between two arrays of the same shape.

    Returns max over entries of |a - b| / max(|a| + |b|, eps): about 1e-7 or less when an
    analytic gradient agrees with a float64 numerical one, 1e-2 or more when it is wrong.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), eps)))
