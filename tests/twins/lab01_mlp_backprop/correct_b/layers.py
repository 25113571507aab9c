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
    z = logits - logits.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return np.exp(z - log_norm)


def cross_entropy(logits, labels):
    """Mean cross-entropy of the softmax of `logits` against integer `labels`.

    logits: (N, C); labels: (N,) ints in [0, C). Returns loss: float, the mean over the
    N rows of -log softmax(logits)[n, labels[n]]. Finite for logits of any size: use
    log-softmax = shifted - log(sum(exp(shifted))), never log(softmax(...)).
    """
    labels = np.asarray(labels).astype(int)
    m = logits.max(axis=-1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=-1))
    true_logit = np.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
    return float(np.mean(lse - true_logit))


def cross_entropy_backward(logits, labels):
    """Gradient of cross_entropy(logits, labels) with respect to the logits.

    logits: (N, C); labels: (N,). Returns dlogits: (N, C) = (softmax(logits) - onehot) / N.
    """
    labels = np.asarray(labels).astype(int)
    onehot = np.eye(logits.shape[1], dtype=logits.dtype)[labels]
    return (softmax(logits) - onehot) / len(labels)


def dense_forward(x, w, b):
    """Affine layer: out = x @ w + b.

    x: (N, D); w: (D, M); b: (M,). Returns out: (N, M).
    """
    return np.dot(x, w) + b[None, :]


def dense_backward(upstream, x, w):
    """Backward pass of dense_forward.

    upstream: (N, M) gradient of the loss w.r.t. out; x: (N, D) and w: (D, M) as in the
    forward pass. Returns (dx, dw, db) with shapes (N, D), (D, M), (M,).
    """
    dx = np.einsum("nm,dm->nd", upstream, w)
    dw = np.einsum("nd,nm->dm", x, upstream)
    db = np.einsum("nm->m", upstream)
    return dx, dw, db


def relu_forward(x):
    """max(x, 0) elementwise. x: any shape. Returns out: same shape."""
    return np.clip(x, 0, None)


def relu_backward(upstream, x):
    """Backward pass of relu_forward at the input x.

    upstream, x: same shape. Returns dx: the upstream gradient where x > 0, and 0 where
    x <= 0 (at exactly 0 we take the derivative to be 0, as TensorFlow does).
    """
    return np.where(x > 0, upstream, np.zeros_like(upstream))


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
        x[index] = saved - h
        below = f(x)
        x[index] = saved + h
        above = f(x)
        x[index] = saved
        grad[index] = (above - below) / (2.0 * h)
    return grad


def relative_error(a, b, eps=1e-12):
    """The largest elementwise relative error between two arrays of the same shape.

    Returns max over entries of |a - b| / max(|a| + |b|, eps): about 1e-7 or less when an
    analytic gradient agrees with a float64 numerical one, 1e-2 or more when it is wrong.
    """
    diff = np.abs(np.subtract(a, b, dtype=np.float64))
    scale = np.abs(a).astype(np.float64) + np.abs(b)
    return float((diff / np.clip(scale, eps, None)).max())
