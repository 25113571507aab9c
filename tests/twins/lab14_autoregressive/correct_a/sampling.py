"""Lab 14, part 5: sequential sampling from an autoregressive model.

Training evaluates every conditional p(x_d | x_<d) in one pass, because the data fills in
x_<d. Sampling cannot: x_d must be drawn before the model can give the conditional of the
next dimension. So a sampler calls the model once per dimension, in the model's order:

    bernoulli_draw          x = 1 where u < sigmoid(logit)
    categorical_draw        x = the level k where u falls in the cumulative softmax
    sample_autoregressive   the loop: start from zeros, call the model, draw dimension
                            order[0], call again, draw order[1], ...

The randomness is passed in as uniform numbers u ~ U[0, 1), one per dimension, so a sample
is a deterministic function of u (and the checks can replay it). Everything is numpy; the
model is any function from a batch (N, D) to logits.
"""
import numpy as np


def bernoulli_draw(logits, uniform):
    """Bernoulli samples by inversion: 1.0 where uniform < sigmoid(logits), else 0.0.

    logits, uniform: (N,) (or any equal shapes). Returns float32 of the same shape.
    """
    logits = np.asarray(logits, dtype=np.float64)
    prob = np.where(logits >= 0, 1.0 / (1.0 + np.exp(-np.abs(logits))),
                    np.exp(-np.abs(logits)) / (1.0 + np.exp(-np.abs(logits))))
    return (np.asarray(uniform) < prob).astype(np.float32)


def categorical_draw(logits, uniform):
    """Categorical samples by inversion of the cumulative distribution.

    logits: (N, K); uniform: (N,). With p = softmax(logits) and c = cumsum(p) along K, the
    sample is the smallest k with uniform < c[k] (clipped to K - 1 against rounding).
    Returns float32 (N,) levels in 0..K-1.
    """
    logits = np.asarray(logits, dtype=np.float64)
    z = logits - logits.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    c = np.cumsum(p, axis=-1)
    k = (c <= np.asarray(uniform)[:, None]).sum(axis=-1)
    return np.minimum(k, logits.shape[-1] - 1).astype(np.float32)


def sample_autoregressive(logits_fn, order, uniform, draw=bernoulli_draw):
    """Draw N samples, one dimension at a time in the given order.

    logits_fn: x (N, D) float32 -> logits (N, D) (Bernoulli) or (N, D, K) (categorical),
    where logits[:, d] may depend on x[:, order before d] only.
    order: (D,) the generation order; uniform: (N, D) numbers in [0, 1), uniform[:, d] for
    dimension d; draw: bernoulli_draw or categorical_draw, called as
    draw(logits[:, d], uniform[:, d]).
    Returns x: (N, D) float32, every x[:, d] drawn from the model's conditional given the
    dimensions already drawn. Calls logits_fn D times.
    """
    uniform = np.asarray(uniform)
    x = np.zeros(uniform.shape, dtype=np.float32)
    for d in order:
        logits = np.asarray(logits_fn(x))
        x[:, d] = draw(logits[:, d], uniform[:, d])
    return x
