"""Lab 16, part 3: denoising score matching and annealed Langevin dynamics.

The score of a density is s(x) = grad_x log p(x). Perturb data with Gaussian noise of
scale sigma, x_noisy = x + sigma * z; the score of the perturbed density is what denoising
recovers: E[-z / sigma | x_noisy] = s_sigma(x_noisy). So a network that predicts the noise
is a score model in disguise, score = -predicted noise / sigma (for a DDPM step t,
sigma = sqrt(1 - alpha_bar_t)).

Langevin dynamics samples from p using only its score; annealed Langevin runs it at a
decreasing sequence of noise levels, so that it starts where the perturbed densities are
broad and easy to explore, and ends close to the data.

Shapes: N examples, D data dimensions; sigma is a number or an (N, 1) array.
"""
import keras
import numpy as np
import tensorflow as tf


def score_from_noise(predicted_noise, sigma):
    """The score estimate of a noise-predicting network: -predicted_noise / sigma.

    predicted_noise: (N, ...); sigma: a number or (N, 1, ...). Returns the score: (N, ...).
    """
    # TODO: the noise points away from the data: flip it and divide by the noise scale
    return tf.negative(predicted_noise) / sigma


def denoising_score_matching_loss(score, noise, sigma):
    """Vincent's denoising score matching loss, weighted by sigma^2 (Song & Ermon).

    With x_noisy = x + sigma * noise and score = s(x_noisy, sigma), the regression target of
    the score is -noise / sigma; weighted by sigma^2 the loss reads
        L = mean over examples of 0.5 * sum over dimensions of (sigma * score + noise)^2,
    so every noise level contributes on the same scale (noise is O(1) at any sigma).

    score, noise: (N, D); sigma: a number or (N, 1). Returns a float32 scalar.
    """
    # TODO: 0.5 * squared norm of sigma * score + noise per example, then the batch mean
    residual = tf.cast(sigma, tf.float32) * tf.cast(score, tf.float32) + tf.cast(noise, tf.float32)
    axes = list(range(1, len(residual.shape)))
    return 0.5 * tf.reduce_mean(tf.reduce_sum(residual ** 2, axis=axes))


def langevin_step(x, score, step_size, noise):
    """One step of (unadjusted) Langevin dynamics.

    x_new = x + step_size / 2 * score + sqrt(step_size) * noise.

    x, score, noise: (N, D); step_size: a positive number. Returns the new x: (N, D).
    """
    # TODO: half a step along the score, plus noise of variance step_size
    return x + 0.5 * step_size * score + (step_size ** 0.5) * noise


def annealed_step_sizes(sigmas, epsilon):
    """Song & Ermon's step size per noise level: epsilon * sigma_i^2 / sigma_L^2.

    The step shrinks with the noise scale, so that each level takes steps of the same size
    relative to how spread out its density is. sigmas: (L,) decreasing; the last level gets
    epsilon. Returns a float numpy array (L,).
    """
    sigmas = np.asarray(sigmas, dtype=np.float64)
    # TODO: scale epsilon by (sigma_i / sigma_L)^2
    return epsilon * sigmas ** 2 / sigmas[-1] ** 2


def annealed_langevin(score_fn, x, sigmas, epsilon, steps_per_level, seed=None):
    """Annealed Langevin dynamics: steps_per_level langevin_steps at each noise level in turn.

    score_fn: a callable (x (N, D), sigma: float) -> score (N, D); x: (N, D) the start;
    sigmas: (L,) decreasing noise levels; step sizes from annealed_step_sizes(sigmas, epsilon);
    seed: int, keras.random.SeedGenerator or None, for the noise of each step (drawn with
    keras.random.normal(shape, seed=...)). Returns the final x: (N, D).
    """
    if not isinstance(seed, keras.random.SeedGenerator):
        seed = keras.random.SeedGenerator(seed)
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    # TODO: for each level (sigma, step size): steps_per_level Langevin steps with fresh noise
    sizes = annealed_step_sizes(sigmas, epsilon)
    for level in range(len(sizes)):
        sigma = float(np.asarray(sigmas, dtype=np.float64)[level])
        for _ in range(steps_per_level):
            score = score_fn(x, sigma)
            x = langevin_step(x, score, float(sizes[level]), keras.random.normal(x.shape, seed=seed))
    return x
