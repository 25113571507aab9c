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
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = model(x, training=False)
        score = target_scores(logits, target)
    grads = tape.gradient(score, x)  # a non-scalar target is summed by the tape
    return keras.ops.convert_to_numpy(grads).astype("float32")


def saliency_map(gradients) -> np.ndarray:
    """The saliency map of Simonyan et al.: the largest absolute gradient over the channels,
    (N, H, W, C) -> (N, H, W)."""
    return keras.ops.convert_to_numpy(keras.ops.max(keras.ops.abs(gradients), axis=-1))


# ---- SmoothGrad ----------------------------------------------------------------------------

def smoothgrad(model, x, target, sigma: float = SMOOTHGRAD_SIGMA,
               samples: int = SMOOTHGRAD_SAMPLES, seed: int = 0) -> np.ndarray:
    """SmoothGrad (Smilkov et al., 2017): the mean of input_gradients over `samples` noisy
    copies of x. The noise is drawn once, as rng.normal(size=(samples, *x.shape)) with
    rng = np.random.default_rng(seed), and scaled per example by sigma * (max - min) of that
    example's pixels. Returns (N, H, W, C) float32, the signed mean gradient."""
    x = np.asarray(x, dtype="float32")
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(samples, *x.shape)).astype("float32")
    flat = x.reshape(len(x), -1)
    scale = sigma * np.ptp(flat, axis=1)
    scale = scale[:, None, None, None] if x.ndim == 4 else scale.reshape((-1,) + (1,) * (x.ndim - 1))
    grads = [input_gradients(model, x + scale * eps, target) for eps in noise]
    return np.mean(np.stack(grads), axis=0).astype("float32")


# ---- Guided backpropagation ----------------------------------------------------------------

@tf.custom_gradient
def guided_relu(x):
    """ReLU forward; backward, only positive gradients pass, and only through positive inputs
    (Springenberg et al., 2015): grad_in = upstream * (x > 0) * (upstream > 0)."""
    y = tf.maximum(x, 0.0)

    def grad(upstream):
        mask = tf.logical_and(x > 0, upstream > 0)
        return tf.where(mask, upstream, tf.zeros_like(upstream))
    return y, grad


def guided_backprop(model, x, target) -> np.ndarray:
    """Guided backpropagation through a keras.Sequential whose nonlinearities are
    keras.layers.ReLU layers (like make_cnn): run the layers one by one on x, calling
    guided_relu in place of every ReLU layer, and return d score / d x, (N, H, W, C)."""
    x = tf.convert_to_tensor(np.asarray(x, dtype="float32"))
    relu_types = (keras.layers.ReLU,)
    with tf.GradientTape() as tape:
        tape.watch(x)
        h = x
        for layer in model.layers:
            h = guided_relu(h) if isinstance(layer, relu_types) else layer(h, training=False)
        total = tf.reduce_sum(target_scores(h, target))
    return np.asarray(tape.gradient(total, x), dtype="float32")


# ---- Integrated gradients ------------------------------------------------------------------

def integrated_gradients(model, x, target, baseline=None, steps: int = IG_STEPS) -> np.ndarray:
    """Integrated gradients (Sundararajan et al., 2017) with the MIDPOINT Riemann rule:

        IG(x) = (x - baseline) * mean_k grad f(baseline + a_k (x - baseline)),
        a_k = (k + 0.5) / steps,  k = 0 .. steps - 1

    baseline: same shape as x, or None for all zeros. Returns (N, H, W, C) float32."""
    x = np.asarray(x, dtype="float32")
    baseline = np.zeros_like(x) if baseline is None else np.asarray(baseline, dtype="float32")
    alphas = (np.arange(steps, dtype=np.float64) + 0.5) / steps
    delta = x - baseline
    mean_grad = sum(input_gradients(model, baseline + np.float32(a) * delta, target)
                    for a in alphas) / steps
    return (delta * mean_grad).astype("float32")


def completeness_gap(model, x, target, attributions, baseline=None) -> np.ndarray:
    """How far each example's attributions are from completeness: (N,) float64,
    sum(attributions[n]) - (score(x[n]) - score(baseline[n])). baseline None means zeros."""
    x = np.asarray(x, dtype="float32")
    baseline = np.zeros_like(x) if baseline is None else np.asarray(baseline, dtype="float32")
    both = np.concatenate([x, baseline], axis=0)
    t = np.broadcast_to(np.asarray(target), (len(x),))
    scores = target_scores(model(both), np.concatenate([t, t])).numpy().astype(np.float64)
    n = len(x)
    sums = np.sum(np.asarray(attributions, dtype=np.float64), axis=tuple(range(1, np.ndim(attributions))))
    return sums - (scores[:n] - scores[n:])
