"""Gradient-based explanations of an image classifier: vanilla gradients (saliency),
SmoothGrad, guided backpropagation and integrated gradients.

Shapes: x is a float32 batch (N, H, W, C); `target` is the class explained, one int for the
whole batch or an int array (N,); attributions have the shape of x. "The score" of an
example is its target logit, model(x)[n, target[n]] (a logit, not a probability: the softmax
would mix in the other classes).
"""
from __future__ import annotations

import numpy as np

from dlkit import backend

keras = backend.keras()
tf = backend.tensorflow()

# The reference settings the handout quotes.
SMOOTHGRAD_SIGMA = 0.15   # noise std as a fraction of each image's value range (max - min)
SMOOTHGRAD_SAMPLES = 16
IG_STEPS = 32


# ---- Given: the small CNN the notebook explains ----------------------------------------

def make_cnn(num_classes: int = 3, size: int = 32, channels: int = 1) -> keras.Sequential:
    """A small CNN whose every ReLU is its own `keras.layers.ReLU` layer (guided
    backpropagation swaps exactly those) and whose Conv2D and Dense layers are linear."""
    return keras.Sequential([
        keras.Input((size, size, channels)),
        keras.layers.Conv2D(16, 3, padding="same"), keras.layers.ReLU(),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(32, 3, padding="same"), keras.layers.ReLU(),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(32, 3, padding="same"), keras.layers.ReLU(),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(32), keras.layers.ReLU(),
        keras.layers.Dense(num_classes),
    ], name="shape_cnn")


def target_scores(logits, target):
    """logits[n, target[n]] for a batch of logits (N, K); target: int or int array (N,)."""
    logits = tf.convert_to_tensor(logits)
    target = tf.broadcast_to(tf.cast(target, tf.int32), tf.shape(logits)[:1])
    return tf.gather(logits, target, axis=1, batch_dims=1)


# ---- Vanilla gradients ---------------------------------------------------------------------

def input_gradients(model, x, target) -> np.ndarray:
    """d score / d x for every example: (N, H, W, C) float32, where score =
    model(x)[n, target[n]]. One backward pass for the whole batch: each score depends on its
    own example only, so the gradient of their SUM is every example's own gradient."""
    x = tf.convert_to_tensor(np.asarray(x, dtype="float32"))
    # BEGIN SOLUTION under a tf.GradientTape that watches x, score = target_scores(model(x),
    #   target); return the gradient of the SUM of the scores with respect to x, as numpy
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(target_scores(model(x, training=False), target))
    return tape.gradient(total, x).numpy()
    # END SOLUTION


def saliency_map(gradients) -> np.ndarray:
    """The saliency map of Simonyan et al.: the largest absolute gradient over the channels,
    (N, H, W, C) -> (N, H, W)."""
    # BEGIN SOLUTION the max over the LAST axis of the absolute values
    return np.abs(np.asarray(gradients)).max(axis=-1)
    # END SOLUTION


# ---- SmoothGrad ----------------------------------------------------------------------------

def smoothgrad(model, x, target, sigma: float = SMOOTHGRAD_SIGMA,
               samples: int = SMOOTHGRAD_SAMPLES, seed: int = 0) -> np.ndarray:
    """SmoothGrad (Smilkov et al., 2017): the mean of input_gradients over `samples` noisy
    copies of x. The noise is drawn once, as rng.normal(size=(samples, *x.shape)) with
    rng = np.random.default_rng(seed), and scaled per example by sigma * (max - min) of that
    example's pixels. Returns (N, H, W, C) float32, the signed mean gradient."""
    x = np.asarray(x, dtype="float32")
    # BEGIN SOLUTION noise as the docstring says; scale[n] = sigma * (x[n].max() - x[n].min()),
    #   shaped to broadcast over (H, W, C); average input_gradients(model, x + scale * noise[k],
    #   target) over k = 0..samples-1
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(samples, *x.shape))
    value_range = x.reshape(len(x), -1).max(axis=1) - x.reshape(len(x), -1).min(axis=1)
    scale = (sigma * value_range).reshape(-1, *([1] * (x.ndim - 1)))
    total = np.zeros_like(x)
    for k in range(samples):
        total += input_gradients(model, (x + scale * noise[k]).astype("float32"), target)
    return total / samples
    # END SOLUTION


# ---- Guided backpropagation ----------------------------------------------------------------

@tf.custom_gradient
def guided_relu(x):
    """ReLU forward; backward, only positive gradients pass, and only through positive inputs
    (Springenberg et al., 2015): grad_in = upstream * (x > 0) * (upstream > 0)."""
    # BEGIN SOLUTION y = tf.nn.relu(x); an inner grad(upstream) returning upstream masked by
    #   (x > 0) AND (upstream > 0) (cast the masks to upstream's dtype); return y, grad
    y = tf.nn.relu(x)

    def grad(upstream):
        keep = tf.cast(x > 0, upstream.dtype) * tf.cast(upstream > 0, upstream.dtype)
        return upstream * keep
    return y, grad
    # END SOLUTION


def guided_backprop(model, x, target) -> np.ndarray:
    """Guided backpropagation through a keras.Sequential whose nonlinearities are
    keras.layers.ReLU layers (like make_cnn): run the layers one by one on x, calling
    guided_relu in place of every ReLU layer, and return d score / d x, (N, H, W, C)."""
    x = tf.convert_to_tensor(np.asarray(x, dtype="float32"))
    # BEGIN SOLUTION in a GradientTape watching x: h = x; for each layer of model.layers,
    #   h = guided_relu(h) if it is a keras.layers.ReLU, else layer(h, training=False); then the
    #   gradient of the summed target_scores(h, target), as numpy
    with tf.GradientTape() as tape:
        tape.watch(x)
        h = x
        for step in model.layers:
            is_relu = isinstance(step, keras.layers.ReLU)
            h = guided_relu(h) if is_relu else step(h, training=False)
        total = tf.reduce_sum(target_scores(h, target))
    return tape.gradient(total, x).numpy()
    # END SOLUTION


# ---- Integrated gradients ------------------------------------------------------------------

def integrated_gradients(model, x, target, baseline=None, steps: int = IG_STEPS) -> np.ndarray:
    """Integrated gradients (Sundararajan et al., 2017) with the MIDPOINT Riemann rule:

        IG(x) = (x - baseline) * mean_k grad f(baseline + a_k (x - baseline)),
        a_k = (k + 0.5) / steps,  k = 0 .. steps - 1

    baseline: same shape as x, or None for all zeros. Returns (N, H, W, C) float32."""
    x = np.asarray(x, dtype="float32")
    baseline = np.zeros_like(x) if baseline is None else np.asarray(baseline, dtype="float32")
    # BEGIN SOLUTION alphas (k + 0.5) / steps; the mean of input_gradients at each point of the
    #   straight path; multiply by (x - baseline)
    total = np.zeros_like(x)
    for k in range(steps):
        alpha = (k + 0.5) / steps
        total += input_gradients(model, baseline + alpha * (x - baseline), target)
    return (x - baseline) * total / steps
    # END SOLUTION


def completeness_gap(model, x, target, attributions, baseline=None) -> np.ndarray:
    """How far each example's attributions are from completeness: (N,) float64,
    sum(attributions[n]) - (score(x[n]) - score(baseline[n])). baseline None means zeros."""
    x = np.asarray(x, dtype="float32")
    baseline = np.zeros_like(x) if baseline is None else np.asarray(baseline, dtype="float32")
    # BEGIN SOLUTION the scores of x and of the baseline with target_scores(model(.), target);
    #   sum the attributions over every axis but the first (in float64)
    score_x = target_scores(model(x, training=False), target).numpy().astype(np.float64)
    score_b = target_scores(model(baseline, training=False), target).numpy().astype(np.float64)
    total = np.asarray(attributions, dtype=np.float64).reshape(len(x), -1).sum(axis=1)
    return total - (score_x - score_b)
    # END SOLUTION
