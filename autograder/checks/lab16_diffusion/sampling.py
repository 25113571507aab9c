"""The checks' own sampler steps and DDIM timesteps, which stand in for the student's while
a sampler's loop is graded, and what they record; the judge of ddim_timesteps.

The stand-ins have known behaviour that is NOT DDPM's or DDIM's: a sampler's loop must call
ddpm_step / ddim_step / ddim_timesteps by name (as the skeleton says), and the checks see
which arguments it passed and how it chained the results."""
from __future__ import annotations

import numpy as np

from autograder.api import CheckFailed
from autograder.verdicts import expect_shape


def stand_in_ddim_timesteps(num_steps, num_sample_steps):
    """Stands in for ddim_timesteps: NOT DDIM's evenly spread steps, a known uneven
    sequence (denser near 0), strictly decreasing from T - 1 to 0."""
    points = np.floor((num_steps - 1) * np.linspace(1.0, 0.0, num_sample_steps) ** 1.5)
    for i in range(len(points) - 2, -1, -1):   # strictly decreasing
        points[i] = max(points[i], points[i + 1] + 1)
    return points.astype(np.int64)


def one_value(t, what):
    """The timestep of a sampler's step: every example of the batch at the same t."""
    values = np.unique(np.asarray(t))
    if values.size != 1:
        raise ValueError(f"{what} got timesteps {values.tolist()[:6]} in one batch: a sampler "
                         "passes the same t for the whole batch (tf.fill([batch], t))")
    return int(values[0])


def recording_steps(first_input, predict_noise):
    """(ddpm_step, ddim_step, calls, state): the checks' own steps, standing in for the
    student's (NOT DDPM's or DDIM's: x <- 0.9 x + 0.1 eps [+ 0.2 noise]), that note in `calls`
    for each step its timesteps, how far its input is from the previous step's output (the
    first step's from `first_input`), how far its predicted noise is from
    predict_noise(x_t, t), and its noise and variance (ddpm); state["previous"] is the last
    step's output."""
    import tensorflow as tf
    calls, state = [], {"previous": np.asarray(first_input, np.float64), "noise": None}

    def note(x_t, eps, out, **times):
        if not tf.executing_eagerly():   # a traced loop: judged by its result alone
            return {}
        call = {name: one_value(t, "the step") for name, t in times.items()}
        call["chained"] = float(np.max(np.abs(np.asarray(x_t, np.float64) - state["previous"])))
        expected = np.asarray(predict_noise(tf.cast(x_t, tf.float32), times["t"]), np.float64)
        call["prediction_gap"] = float(np.max(np.abs(np.asarray(eps, np.float64) - expected)))
        state["previous"] = np.asarray(out, np.float64)
        calls.append(call)
        return call

    def ddpm_step(x_t, t, predicted_noise, noise, schedule, variance="posterior"):
        x = tf.cast(x_t, tf.float32)
        out = 0.9 * x + 0.1 * tf.cast(predicted_noise, tf.float32) + 0.2 * tf.cast(noise, tf.float32)
        call = note(x_t, predicted_noise, out, t=t)
        if call:
            noise = np.asarray(noise, np.float64)
            call.update(noise_shape=list(noise.shape), noise_mean=float(noise.mean()),
                        noise_std=float(noise.std()), variance=str(variance),
                        same_noise=bool(state["noise"] is not None
                                        and np.allclose(noise, state["noise"])))
            state["noise"] = noise
        return out

    def ddim_step(x_t, t, t_prev, predicted_noise, schedule):
        out = 0.9 * tf.cast(x_t, tf.float32) + 0.1 * tf.cast(predicted_noise, tf.float32)
        note(x_t, predicted_noise, out, t=t, t_prev=t_prev)
        return out

    return ddpm_step, ddim_step, calls, state


def timestep_spy(predict_noise, seen):
    """predict_noise, noting the (one) timestep of each call in `seen`."""
    def spy(x_t, t):
        seen.append(one_value(t, "predict_noise") if np.ndim(t) == 1 else -99)
        return predict_noise(x_t, t)
    return spy


def judge_ddim_timesteps(got, expected, T, S):
    """The reference's ddim_timesteps(T, S), or where a point of linspace(T - 1, 0, S) lies
    exactly halfway between two integers, either neighbour."""
    what = f"ddim_timesteps({T}, {S})"
    got = expect_shape(got, (S,), what)
    expected = np.asarray(expected)
    points = np.linspace(T - 1, 0, S)
    low = np.floor(points)
    tie = np.abs(points - low - 0.5) < 1e-6
    right = (got == expected) | (tie & (np.abs(got - points) == 0.5))
    if right.all():
        return
    shown = ", ".join(f"{p:.4g}" for p in points)
    if np.array_equal(got, low) or np.array_equal(got, np.trunc(points)):
        raise CheckFailed(f"{what} gives {got.tolist()}, the values of linspace({T - 1}, 0, {S}) "
                          f"= [{shown}] rounded DOWN (astype(int) truncates): round to the "
                          "nearest integer first, e.g. np.round")
    i = int(np.argmin(right))
    raise CheckFailed(f"{what} gives {got.tolist()}: entry {i} is {got[i]}, but linspace({T - 1}, "
                      f"0, {S}) = [{shown}] puts it at {points[i]:.4g}, and the reference has "
                      f"{expected[i]}")
