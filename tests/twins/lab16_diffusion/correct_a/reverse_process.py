"""Lab 16, part 2: the reverse process, from noise back to data.

A trained network predicts the noise eps in x_t. From it we estimate x_0, and the forward
process's posterior q(x_{t-1} | x_t, x_0) then tells us where to step:

- DDPM (ancestral sampling): x_{t-1} ~ N(posterior mean, sigma_t^2 I), one step at a time,
  t = T-1, ..., 0, with no noise added in the last step;
- DDIM (eta = 0): a deterministic update that can jump over timesteps, so a sub-sequence
  of, say, 20 of the T steps already gives good samples.

Every function takes the timesteps as a batch t: (N,) integers (a sampler passes the same t
for the whole batch). `schedule` is a forward_process.NoiseSchedule: these functions read
its betas, alphas, alpha_bars and alpha_bars_prev, each (T,).
"""
import keras
import numpy as np
import tensorflow as tf
from forward_process import gather_per_example

VARIANCES = ("posterior", "beta")


def predict_x0(x_t, t, predicted_noise, alpha_bars):
    """The x_0 that x_t came from if its noise were `predicted_noise` (q_sample solved for x0).

    x0 = (x_t - sqrt(1 - alpha_bar_t) * eps) / sqrt(alpha_bar_t).

    x_t, predicted_noise: (N, ...); t: (N,) integers; alpha_bars: (T,). Returns x0: (N, ...).
    """
    # TODO: invert x_t = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) eps for x0
    alpha_bar = gather_per_example(alpha_bars, t, x_t)
    return (x_t - tf.sqrt(1.0 - alpha_bar) * predicted_noise) / tf.sqrt(alpha_bar)


def posterior_mean_variance(x0, x_t, t, schedule):
    """Mean and variance of the forward process's posterior q(x_{t-1} | x_t, x_0).

    mean     = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) * x0
               + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) * x_t
    variance = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) * beta_t        (beta tilde)

    x0, x_t: (N, ...); t: (N,) integers. Returns mean: (N, ...) and variance: (N, 1, ...),
    one value per example shaped to broadcast against x_t. At t = 0 the variance is 0.
    """
    # TODO: gather beta_t, alpha_t, alpha_bar_t and alpha_bar_{t-1} per example; the two formulas
    beta = gather_per_example(schedule.betas, t, x_t)
    alpha = gather_per_example(schedule.alphas, t, x_t)
    alpha_bar = gather_per_example(schedule.alpha_bars, t, x_t)
    alpha_bar_prev = gather_per_example(schedule.alpha_bars_prev, t, x_t)
    mean = (tf.sqrt(alpha_bar_prev) * beta / (1.0 - alpha_bar) * x0
            + tf.sqrt(alpha) * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar) * x_t)
    variance = (1.0 - alpha_bar_prev) / (1.0 - alpha_bar) * beta
    return mean, variance


def ddpm_step(x_t, t, predicted_noise, noise, schedule, variance="posterior"):
    """One ancestral sampling step: x_{t-1} ~ p(x_{t-1} | x_t).

    The mean is the posterior mean with x_0 replaced by predict_x0(x_t, t, predicted_noise).
    The variance sigma_t^2 is beta tilde_t (variance="posterior") or beta_t ("beta"): the
    DDPM paper's two choices. x_{t-1} = mean + sigma_t * noise, except where t = 0: the last
    step returns the mean, with no noise added.

    x_t, predicted_noise, noise: (N, ...); t: (N,) integers. Returns x_{t-1}: (N, ...).
    """
    if variance not in VARIANCES:
        raise ValueError(f"variance must be one of {VARIANCES}, got {variance!r}")
    # TODO: x0 estimate, posterior mean; sigma^2 = beta tilde or beta; add sigma * noise only where t > 0
    x0 = predict_x0(x_t, t, predicted_noise, schedule.alpha_bars)
    mean, posterior_variance = posterior_mean_variance(x0, x_t, t, schedule)
    if variance == "posterior":
        var = posterior_variance
    else:
        var = gather_per_example(schedule.betas, t, x_t)
    not_last = tf.reshape(tf.cast(tf.greater(t, 0), tf.float32), tf.shape(var))
    return mean + not_last * tf.sqrt(var) * noise


def ddpm_sample(predict_noise, x_T, schedule, seed=None, variance="posterior"):
    """Ancestral sampling: T ddpm_steps from x_T down to x_0.

    predict_noise: a callable (x_t (N, ...), t (N,) int32) -> predicted noise (N, ...);
    x_T: (N, ...) the starting noise; seed: an int, a keras.random.SeedGenerator or None,
    for the noise of each step (drawn with keras.random.normal(shape, seed=...)).
    Returns x_0: (N, ...).
    """
    if not isinstance(seed, keras.random.SeedGenerator):
        seed = keras.random.SeedGenerator(seed)
    x = tf.convert_to_tensor(x_T, dtype=tf.float32)
    # TODO: for t = T-1 down to 0: the same t for the whole batch, predict the noise, one ddpm_step
    n = tf.shape(x)[0]
    for step in range(schedule.num_steps - 1, -1, -1):
        t = tf.fill([n], tf.constant(step, tf.int32))
        eps = tf.cast(predict_noise(x, t), tf.float32)
        noise = keras.random.normal(tf.shape(x), seed=seed)
        x = ddpm_step(x, t, eps, noise, schedule, variance)
    return x


def ddim_timesteps(num_steps, num_sample_steps):
    """The sub-sequence of timesteps DDIM visits: num_sample_steps of them, evenly spread.

    Rounded values of num_sample_steps evenly spaced points from T - 1 down to 0, so the
    first is T - 1 and the last 0 (a single step: just T - 1).
    Returns int numpy array (num_sample_steps,), strictly decreasing.
    """
    if not 1 <= num_sample_steps <= num_steps:
        raise ValueError(f"num_sample_steps must be in [1, {num_steps}], got {num_sample_steps}")
    # TODO: np.linspace from T - 1 to 0, rounded to integers
    return np.round(np.linspace(num_steps - 1, 0, num_sample_steps)).astype(int)


def ddim_step(x_t, t, t_prev, predicted_noise, schedule):
    """One deterministic DDIM step (eta = 0) from timestep t to the earlier timestep t_prev.

    x_{t_prev} = sqrt(alpha_bar_{t_prev}) * x0 + sqrt(1 - alpha_bar_{t_prev}) * eps,
    with eps the predicted noise and x0 = predict_x0(x_t, t, eps): keep the predicted x_0
    and the predicted noise, re-mix them at the noise level of t_prev. t_prev = -1 means
    "past the first step": alpha_bar = 1, so the step returns x0 itself.

    x_t, predicted_noise: (N, ...); t, t_prev: (N,) integers, t_prev < t.
    Returns x_{t_prev}: (N, ...).
    """
    # TODO: x0 from the predicted noise; alpha_bar at t_prev (1 where t_prev is -1); re-mix
    x0 = predict_x0(x_t, t, predicted_noise, schedule.alpha_bars)
    t_prev = tf.cast(t_prev, tf.int32)
    gathered = gather_per_example(schedule.alpha_bars, tf.maximum(t_prev, 0), x_t)
    is_start = tf.reshape(t_prev < 0, tf.shape(gathered))
    alpha_bar_prev = tf.where(is_start, tf.ones_like(gathered), gathered)
    return tf.sqrt(alpha_bar_prev) * x0 + tf.sqrt(1.0 - alpha_bar_prev) * predicted_noise


def ddim_sample(predict_noise, x_T, schedule, num_sample_steps):
    """Deterministic DDIM sampling along ddim_timesteps(T, num_sample_steps).

    From each visited t to the next one (to -1 after the last): one ddim_step. The same x_T
    always gives the same x_0. predict_noise: a callable (x_t, t (N,) int32) -> (N, ...);
    x_T: (N, ...). Returns x_0: (N, ...).
    """
    x = tf.convert_to_tensor(x_T, dtype=tf.float32)
    # TODO: walk the pairs (t, next t) of ddim_timesteps, with -1 after the last one
    n = tf.shape(x)[0]
    steps = list(ddim_timesteps(schedule.num_steps, num_sample_steps)) + [-1]
    for t_now, t_next in zip(steps[:-1], steps[1:]):
        t = tf.fill([n], tf.constant(int(t_now), tf.int32))
        t_prev = tf.fill([n], tf.constant(int(t_next), tf.int32))
        eps = tf.cast(predict_noise(x, t), tf.float32)
        x = ddim_step(x, t, t_prev, eps, schedule)
    return x
