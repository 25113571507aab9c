"""Lab 13, part 3: f-GAN (Nowozin et al., 2016), the GAN family of f-divergences.

An f-divergence D_f(P || Q) = E_Q[f(p(x) / q(x))] (f convex, f(1) = 0) has the variational
lower bound

    D_f(P || Q) >= sup over T of  E_P[T(x)] - E_Q[f*(T(x))],

where f*(t) = sup_u (u t - f(u)) is the convex conjugate of f. The critic outputs a raw
score v(x); an output activation g_f maps it into the domain of f*, T = g_f(v). The critic
maximises the bound; the bound is tight at T*(x) = f'(p(x) / q(x)).

    divergence   f(u)                              g_f(v)               f*(t)
    "kl"         u log u                           v                    exp(t - 1)
    "js"         u log u - (u+1) log((u+1)/2)      log 2 - softplus(-v) -log(2 - exp(t))
    "pearson"    (u - 1)^2                         v                    t^2/4 + t

("js" is 2 * JS(P || Q) with this f, so the bound is at most 2 log 2.)
"""
import math

import tensorflow as tf

DIVERGENCES = ("kl", "js", "pearson")


def _check(divergence):
    if divergence not in DIVERGENCES:
        raise ValueError(f"divergence must be one of {DIVERGENCES}, got {divergence!r}")


def fgan_activation(v, divergence):
    """T = g_f(v), elementwise: the critic's raw scores v mapped into the domain of f*.

    v: any shape. Returns the same shape. kl and pearson: v itself; js: log 2 - softplus(-v)
    (always below log 2, where -log(2 - exp(t)) is defined).
    """
    _check(divergence)
    v = tf.convert_to_tensor(v)
    if divergence == "js":
        return math.log(2.0) - tf.nn.softplus(-v)
    return v


def fgan_conjugate(v, divergence):
    """f*(g_f(v)), elementwise, computed stably from the raw score v.

    v: any shape. Returns the same shape. kl: exp(v - 1); pearson: v^2/4 + v; js: work out
    -log(2 - exp(g_f(v))) by hand first (exp(g_f(v)) = 2 sigmoid(v)): it is a softplus
    minus a constant, finite for every v, whereas the literal formula is log(0) = -inf
    once sigmoid(v) rounds to 1.
    """
    _check(divergence)
    v = tf.convert_to_tensor(v)
    if divergence == "kl":
        return tf.exp(v - 1.0)
    if divergence == "pearson":
        return tf.square(v) / 4.0 + v
    return tf.nn.softplus(v) - math.log(2.0)


def fgan_critic_loss(real_scores, fake_scores, divergence):
    """Minus the variational lower bound: -(mean g_f(v_real) - mean f*(g_f(v_fake))).

    real_scores: (N, 1) or (N,) raw critic scores on data; fake_scores: (M, 1) or (M,) on
    generated samples. Returns a scalar; the critic minimises it, so -loss is its current
    estimate (from below) of D_f(data || model).
    """
    return -(tf.reduce_mean(fgan_activation(real_scores, divergence))
             - tf.reduce_mean(fgan_conjugate(fake_scores, divergence)))


def fgan_generator_loss(fake_scores, divergence):
    """The generator's loss: -mean g_f(v_fake).

    fake_scores: (M, 1) or (M,). Returns a scalar. This is Nowozin et al.'s alternative to
    minimising the bound itself (the same trick as the non-saturating GAN loss: for "js" it
    is mean softplus(-v) - log 2, the non-saturating loss up to a constant).
    """
    return -tf.reduce_mean(fgan_activation(fake_scores, divergence))
