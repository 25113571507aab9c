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
    # u < sigmoid(l)  <=>  log(u / (1 - u)) < l   (the logit is increasing)
    u = np.asarray(uniform, dtype=np.float64)
    with np.errstate(divide="ignore"):
        threshold = np.log(u) - np.log1p(-u)
    return (threshold < np.asarray(logits, dtype=np.float64)).astype(np.float32)


def categorical_draw(logits, uniform):
    """Categorical samples by inversion of the cumulative distribution.

    logits: (N, K); uniform: (N,). With p = softmax(logits) and c = cumsum(p) along K, the
    sample is the smallest k with uniform < c[k] (clipped to K - 1 against rounding).
    Returns float32 (N,) levels in 0..K-1.
    """
    logits = np.asarray(logits, dtype=np.float32)
    num_levels = logits.shape[-1]
    e = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
    cdf = np.cumsum(e / np.sum(e, axis=-1, keepdims=True), axis=-1)
    above = np.asarray(uniform)[:, None] < cdf
    first = np.argmax(above, axis=-1)
    first = np.where(above.any(axis=-1), first, num_levels - 1)
    return first.astype(np.float32)


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
    order = [int(d) for d in np.asarray(order)]
    for step in range(len(order)):
        dim = order[step]
        out = np.array(logits_fn(x), dtype=np.float32)
        x[:, dim] = draw(out[:, dim], uniform[:, dim])
    return x
