"""Helpers that several labs' checks share. Probes (in the worker) and verdicts (in the
grader) may both import this module: its top level imports numpy only, and the jail ships it
with the engine, unlike another lab's check package."""
from __future__ import annotations

import numpy as np


def tensor(array, dtype: str = "float32"):
    """A TensorFlow constant of `array` (probes only)."""
    import tensorflow as tf
    return tf.constant(np.asarray(array, dtype=dtype))


def scalar(value, what: str, dtype: str = "float32", expected: str = "a scalar"):
    """A loss or distance as one number of `dtype`; a clear error naming `what` when the
    student's function returned more than one number."""
    array = np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=dtype)
    if array.size != 1:
        raise ValueError(f"{what} returned shape {array.shape}, expected {expected}")
    return array.reshape(())


def trajectory(optimizer, initial, gradients):
    """Apply `optimizer` to fresh variables, one gradient list per step.
    Returns (steps, P): all variables, flattened and concatenated, after each step."""
    import keras
    # Distinct names, so slots keyed by variable name or path are distinct too.
    variables = [keras.Variable(value, name=f"weight_{i}") for i, value in enumerate(initial)]
    after = []
    for step in gradients:
        optimizer.apply([keras.ops.convert_to_tensor(g) for g in step], variables)
        after.append(np.concatenate([np.ravel(v.numpy()) for v in variables]))
    return np.stack(after)


def energy_distance(x, y) -> float:
    """2 E|X - Y| - E|X - X'| - E|Y - Y'| of two 2-D samples: 0 exactly when the two
    distributions agree."""
    x, y = (np.asarray(a, dtype=np.float64).reshape(-1, 2) for a in (x, y))

    def mean_distance(a, b):
        return float(np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).mean())
    return 2 * mean_distance(x, y) - mean_distance(x, x) - mean_distance(y, y)
