"""Lab 16, part 1: the forward (noising) process of a diffusion model.

The forward process adds Gaussian noise in T small steps,

    q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I),

and the product of the steps has a closed form, so x_t is drawn from x_0 in one go:

    q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I),
    alpha_t = 1 - beta_t,  alpha_bar_t = alpha_1 * alpha_2 * ... * alpha_t.

Timesteps are 0-based in code: t = 0 is the first noising step, t = T - 1 the last, and
alpha_bar of "the step before t = 0" is 1 (no noise at all).

Shapes: T timesteps, N examples, D data dimensions (2 for the toy sets).
"""

import keras
import numpy as np
import tensorflow as tf

SCHEDULES = ("linear", "cosine")


def linear_betas(num_steps, beta_min=0.1, beta_max=20.0):
    """DDPM's linear schedule: beta grows linearly from beta_min / T to beta_max / T.

    With T = 1000 that is the paper's 1e-4 to 0.02; dividing by T keeps the total amount of
    noise (sum of the betas, about (beta_min + beta_max) / 2) the same for any T.

    Returns betas: float32 numpy array (T,).
    """
    # TODO: T values evenly spaced from beta_min / T to beta_max / T (both ends included)
    T = int(num_steps)
    if T == 1:
        return np.array([beta_min], dtype=np.float32)
    i = np.arange(T, dtype=np.float64)
    betas = (beta_min + (beta_max - beta_min) * i / (T - 1)) / T
    return betas.astype(np.float32)


def cosine_betas(num_steps, offset=0.008, max_beta=0.999):
    """Nichol & Dhariwal's cosine schedule, defined through alpha_bar.

    f(u) = cos^2(pi / 2 * (u + offset) / (1 + offset)) for u in [0, 1];
    alpha_bar_t = f((t + 1) / T) / f(0) for t = 0..T-1, and (with alpha_bar before the
    first step being f(0) / f(0) = 1) beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}, clipped to
    at most max_beta (the last steps would otherwise be 1: all signal gone at once).

    Returns betas: float32 numpy array (T,).
    """
    # TODO: alpha_bar on the grid u = 0, 1/T, ..., 1 (float64), then the ratios of neighbours
    T = int(num_steps)

    def f(u):
        return np.cos((u + offset) / (1.0 + offset) * np.pi / 2.0) ** 2

    t = np.arange(T, dtype=np.float64)
    alpha_bar = f((t + 1) / T) / f(0.0)
    alpha_bar_prev = f(t / T) / f(0.0)
    betas = np.clip(1.0 - alpha_bar / alpha_bar_prev, None, max_beta)
    return betas.astype(np.float32)


def make_betas(schedule, num_steps):
    """The betas of a named schedule: "linear" or "cosine"."""
    if schedule == "linear":
        return linear_betas(num_steps)
    if schedule == "cosine":
        return cosine_betas(num_steps)
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")


class NoiseSchedule:
    """The constants of the forward process, each a float32 tensor of shape (T,).

    betas:            beta_t, the noise variance added at step t
    alphas:           alpha_t = 1 - beta_t
    alpha_bars:       alpha_bar_t = alpha_0 * ... * alpha_t, the signal variance left at step t
    alpha_bars_prev:  alpha_bar_{t-1}, with 1 for t = 0 (before any noise)

    betas: anything array-like of shape (T,), e.g. linear_betas(T).
    """

    def __init__(self, betas):
        self.betas = tf.constant(np.asarray(betas, dtype=np.float32))
        self.num_steps = int(self.betas.shape[0])
        # TODO: alphas, alpha_bars (a cumulative product) and alpha_bars_prev (shifted by one, starting at 1)
        alphas = 1.0 - np.asarray(betas, dtype=np.float64)
        alpha_bars = np.cumprod(alphas)
        alpha_bars_prev = np.concatenate([[1.0], alpha_bars[:-1]])
        self.alphas = tf.constant(alphas.astype(np.float32))
        self.alpha_bars = tf.constant(alpha_bars.astype(np.float32))
        self.alpha_bars_prev = tf.constant(alpha_bars_prev.astype(np.float32))


def gather_per_example(values, t, like):
    """values[t] for a batch of timesteps, shaped to broadcast against `like`.

    values: (T,); t: (N,) integer timesteps; like: (N, ...). Returns (N, 1, ..., 1).
    Used by every function below to pick one constant per example.
    """
    picked = tf.gather(tf.convert_to_tensor(values, dtype=tf.float32), tf.cast(t, tf.int32))
    rank = len(tf.convert_to_tensor(like).shape)
    return tf.reshape(picked, [-1] + [1] * (rank - 1))


def q_sample(x0, t, noise, alpha_bars):
    """Draw x_t ~ q(x_t | x_0) with the given noise (the reparameterisation of the forward process).

    x_t = sqrt(alpha_bar_t) * x0 + sqrt(1 - alpha_bar_t) * noise, one t per example.

    x0, noise: (N, ...) float32; t: (N,) integers in [0, T); alpha_bars: (T,).
    Returns x_t: (N, ...).
    """
    # TODO: pick alpha_bar_t per example (gather_per_example), then scale signal and noise
    x0 = keras.ops.convert_to_tensor(x0, dtype="float32")
    noise = keras.ops.convert_to_tensor(noise, dtype="float32")
    signal_scale = keras.ops.sqrt(gather_per_example(alpha_bars, t, x0))
    noise_scale = keras.ops.sqrt(1.0 - gather_per_example(alpha_bars, t, x0))
    return signal_scale * x0 + noise_scale * noise


def noise_prediction_loss(predict_noise, x0, t, noise, alpha_bars):
    """DDPM's simplified training loss: how well the network recovers the noise.

    L = mean over every example and dimension of (noise - predict_noise(x_t, t))^2,
    with x_t = q_sample(x0, t, noise, alpha_bars).

    predict_noise: a callable (x_t (N, ...), t (N,)) -> predicted noise (N, ...);
    x0, noise: (N, ...); t: (N,) integers; alpha_bars: (T,).
    Returns a float32 scalar, even when the network computes in float16.
    """
    # TODO: noise x0 to x_t with q_sample, predict the noise, mean squared error in float32
    noisy = q_sample(x0, t, noise, alpha_bars)
    residual = keras.ops.cast(noise, "float32") - keras.ops.cast(predict_noise(noisy, t), "float32")
    return keras.ops.mean(residual * residual)
