"""Lab 11, part 3: two ways to differentiate an expectation, E_{z ~ N(mu, sigma^2)}[f(z)].

The VAE differentiates E_q[log p(x|z)] with respect to the parameters of q. Two unbiased
Monte-Carlo estimators of such a gradient, here for one scalar Gaussian
q(z) = N(mu, sigma^2), sigma = exp(log_sigma), and the parameters theta = (mu, log_sigma):

  reparameterisation (pathwise):  z = mu + sigma * eps, so d/dtheta E[f(z)] = E[f'(z) dz/dtheta]
  score function (REINFORCE):     d/dtheta E[f(z)] = E[f(z) d log q(z)/dtheta]

The first needs f to be differentiable; the second only needs values of f (a reward, a
discrete decoder...), and pays for it with a much larger variance, which a baseline
(control variate) lowers without adding bias.

Conventions: f maps a float64 tensor of draws (S,) to (S,) values, elementwise, with
TensorFlow ops (so a GradientTape can differentiate it); mu and log_sigma are numbers;
epsilon: (S,) standard normal draws, given, so that both estimators see the same z.
Every estimator returns the S per-draw estimates, (S, 2), the columns d/dmu and
d/dlog_sigma: their mean is the gradient estimate, their variance the estimator's variance.
"""
import math

import numpy as np
import tensorflow as tf

LOG_2PI = math.log(2.0 * math.pi)


def draws(mu, log_sigma, epsilon):
    """z = mu + exp(log_sigma) * epsilon: (S,) float64 tensor."""
    epsilon = tf.convert_to_tensor(np.asarray(epsilon, dtype=np.float64))
    return mu + math.exp(log_sigma) * epsilon


def reparameterization_gradient(f, mu, log_sigma, epsilon):
    """Per-draw pathwise estimates of d/d(mu, log_sigma) E[f(z)], z = mu + sigma * epsilon.

    d f(z)/d mu = f'(z) and d f(z)/d log_sigma = f'(z) * dz/dlog_sigma = f'(z) * sigma * eps
    (the chain rule through sigma = exp(log_sigma)). f'(z) by a GradientTape: f is
    elementwise, so the gradient of sum(f(z)) with respect to z is f'(z), draw by draw.

    Returns (S, 2): the columns d/dmu, d/dlog_sigma.
    """
    # TODO: z = draws(...) watched by a GradientTape; f'(z) = tape.gradient(sum f(z), z); the
    #       columns f'(z) and f'(z) * sigma * epsilon
    sigma = math.exp(log_sigma)
    eps = tf.convert_to_tensor(np.asarray(epsilon, dtype=np.float64))
    z = draws(mu, log_sigma, eps)
    with tf.GradientTape() as tape:
        tape.watch(z)
        total = tf.reduce_sum(f(z))
    slope = tape.gradient(total, z)
    return tf.stack([slope, slope * sigma * eps], axis=1)


def score_function_gradient(f, mu, log_sigma, epsilon, baseline=0.0):
    """Per-draw REINFORCE estimates (f(z) - baseline) * d log q(z)/d(mu, log_sigma).

    With q(z) = N(z | mu, sigma^2),
    log q(z) = -0.5 log(2 pi) - log_sigma - (z - mu)^2 / (2 sigma^2), so
      d log q / d mu        = (z - mu) / sigma^2
      d log q / d log_sigma = (z - mu)^2 / sigma^2 - 1
    baseline: a number, or (S,) one per draw (e.g. leave_one_out_baseline of the values); it
    must not depend on its own draw, or the estimate is biased.

    Returns (S, 2): the columns d/dmu, d/dlog_sigma.
    """
    # TODO: z = draws(...); the two scores above (sigma^2 = exp(2 log_sigma)); multiply each by f(z)
    #       - baseline
    eps = tf.convert_to_tensor(np.asarray(epsilon, dtype=np.float64))
    z = draws(mu, log_sigma, eps)
    sigma2 = math.exp(2.0 * log_sigma)
    score_mu = (z - mu) / sigma2
    score_log_sigma = tf.square(z - mu) / sigma2 - 1.0
    advantage = f(z) - tf.cast(baseline, tf.float64)
    return tf.stack([advantage * score_mu, advantage * score_log_sigma], axis=1)


def leave_one_out_baseline(values):
    """For each draw s, the mean of the OTHER S - 1 values: b_s = (sum_t values_t - values_s) /
    (S - 1). Independent of draw s, so (f(z_s) - b_s) * score_s stays unbiased (the mean
    over all S values, draw s included, would not be).

    values: (S,), S >= 2. Returns (S,).
    """
    # TODO: the total minus each value, divided by S - 1
    values = tf.convert_to_tensor(values, dtype=tf.float64)
    s = tf.cast(tf.shape(values)[0], tf.float64)
    return (tf.reduce_sum(values) - values) / (s - 1.0)


def score_function_surrogate(f, mu, log_sigma, epsilon):
    """A scalar whose gradient with respect to the variables mu and log_sigma is the mean
    REINFORCE estimate (no baseline): the surrogate loss of a policy gradient.

    mean_s(f(z_s) * log q(z_s)), with log q computed from mu and log_sigma, and the draws
    z = mu + sigma * eps held CONSTANT (tf.stop_gradient): the gradient must flow through
    log q only, not through f(z) (that would add the pathwise gradient on top).

    mu, log_sigma: scalar tf.Variable (float64). Returns a scalar tensor.
    """
    # TODO: z = tf.stop_gradient(mu + exp(log_sigma) * epsilon); log q(z) from mu and log_sigma as
    #       in score_function_gradient's docstring; the mean of f(z) * log q(z)
    eps = tf.convert_to_tensor(np.asarray(epsilon, dtype=np.float64))
    z = tf.stop_gradient(mu + tf.exp(log_sigma) * eps)
    log_q = -0.5 * LOG_2PI - log_sigma - tf.square(z - mu) / (2.0 * tf.exp(2.0 * log_sigma))
    return tf.reduce_mean(f(z) * log_q)
