"""The checks' own sampler steps and DDIM timesteps, which stand in for the student's while
a sampler's loop is graded, and what they record; the judge of ddim_timesteps."""
from __future__ import annotations

import numpy as np

from autograder.api import CheckFailed
from autograder.verdicts import expect_shape


def numpy_gaussian_noise(x_t, alpha_bar, mean, std):
    """gaussian_noise_predictor in float64 numpy, at one alpha_bar."""
    return np.sqrt(1 - alpha_bar) * (x_t - np.sqrt(alpha_bar) * np.asarray(mean)) / (
        alpha_bar * std ** 2 + 1 - alpha_bar)


def gather(values, t):
    import tensorflow as tf
    return tf.reshape(tf.gather(values, tf.cast(t, tf.int32)), (-1, 1))


def check_ddpm_step(x_t, t, predicted_noise, noise, schedule, variance="posterior"):
    import tensorflow as tf
    x_t = tf.cast(x_t, tf.float32)
    beta, alpha = gather(schedule.betas, t), gather(schedule.alphas, t)
    a, a_prev = gather(schedule.alpha_bars, t), gather(schedule.alpha_bars_prev, t)
    mean = (x_t - beta / tf.sqrt(1.0 - a) * predicted_noise) / tf.sqrt(alpha)
    sigma2 = beta if variance == "beta" else (1.0 - a_prev) / (1.0 - a) * beta
    last = tf.reshape(tf.cast(t, tf.int32) == 0, (-1, 1))
    return tf.where(last, mean, mean + tf.sqrt(sigma2) * tf.cast(noise, tf.float32))


def check_ddim_step(x_t, t, t_prev, predicted_noise, schedule):
    import tensorflow as tf
    x_t = tf.cast(x_t, tf.float32)
    a = gather(schedule.alpha_bars, t)
    x0 = (x_t - tf.sqrt(1.0 - a) * predicted_noise) / tf.sqrt(a)
    padded = tf.concat([[1.0], schedule.alpha_bars], axis=0)   # alpha_bar of t = -1 is 1
    a_prev = gather(padded, tf.cast(t_prev, tf.int32) + 1)
    return tf.sqrt(a_prev) * x0 + tf.sqrt(1.0 - a_prev) * predicted_noise


def check_ddim_timesteps(num_steps, num_sample_steps):
    return np.round(np.linspace(num_steps - 1, 0, num_sample_steps)).astype(np.int64)


def one_value(t, what):
    """The timestep of a sampler's step: every example of the batch at the same t."""
    values = np.unique(np.asarray(t))
    if values.size != 1:
        raise ValueError(f"{what} got timesteps {values.tolist()[:6]} in one batch: a sampler "
                         "passes the same t for the whole batch (tf.fill([batch], t))")
    return int(values[0])


def recording_steps(first_input):
    """(ddpm_step, ddim_step, calls, state): the checks' own steps, standing in for the
    student's, that note in `calls` for each step its timesteps, how far its input is from
    the previous step's output (the first step's from `first_input`), and its noise (ddpm);
    state["previous"] is the last step's output."""
    import tensorflow as tf
    calls, state = [], {"previous": np.asarray(first_input, np.float64), "noise": None}

    def note(x_t, out, **times):
        if not tf.executing_eagerly():   # a traced loop: judged by its result alone
            return {}
        call = {name: one_value(t, "the step") for name, t in times.items()}
        call["chained"] = float(np.max(np.abs(np.asarray(x_t, np.float64) - state["previous"])))
        state["previous"] = np.asarray(out, np.float64)
        calls.append(call)
        return call

    def ddpm_step(x_t, t, predicted_noise, noise, schedule, variance="posterior"):
        out = check_ddpm_step(x_t, t, predicted_noise, noise, schedule, variance)
        call = note(x_t, out, t=t)
        if call:
            noise = np.asarray(noise, np.float64)
            call.update(noise_shape=list(noise.shape), noise_mean=float(noise.mean()),
                        noise_std=float(noise.std()),
                        same_noise=bool(state["noise"] is not None
                                        and np.allclose(noise, state["noise"])))
            state["noise"] = noise
        return out

    def ddim_step(x_t, t, t_prev, predicted_noise, schedule):
        out = check_ddim_step(x_t, t, t_prev, predicted_noise, schedule)
        note(x_t, out, t=t, t_prev=t_prev)
        return out

    return ddpm_step, ddim_step, calls, state


def timestep_spy(predict_noise, seen):
    """predict_noise, noting the (one) timestep of each call in `seen`."""
    def spy(x_t, t):
        seen.append(one_value(t, "predict_noise") if np.ndim(t) == 1 else -99)
        return predict_noise(x_t, t)
    return spy


def judge_ddim_timesteps(got, T, S):
    """The rounded values of linspace(T - 1, 0, S): the nearest integer, either neighbour
    where a value lies exactly halfway."""
    what = f"ddim_timesteps({T}, {S})"
    got = expect_shape(got, (S,), what)
    points = np.linspace(T - 1, 0, S)
    low, high = np.floor(points), np.ceil(points)
    tie = np.abs(points - low - 0.5) < 1e-6
    right = (got == np.round(points)) | (tie & ((got == low) | (got == high)))
    if right.all():
        return
    shown = ", ".join(f"{p:.4g}" for p in points)
    if np.array_equal(got, low) or np.array_equal(got, np.trunc(points)):
        raise CheckFailed(f"{what} gives {got.tolist()}, the values of linspace({T - 1}, 0, {S}) "
                          f"= [{shown}] rounded DOWN (astype(int) truncates): round to the "
                          "nearest integer first, e.g. np.round")
    i = int(np.argmin(right))
    raise CheckFailed(f"{what} gives {got.tolist()}: entry {i} is {got[i]}, but linspace({T - 1}, "
                      f"0, {S}) = [{shown}] puts it at {points[i]:.4g}, whose nearest integer is "
                      f"{int(np.round(points[i]))}")
