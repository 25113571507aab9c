"""The engine's GPU-readiness probes on models the tests define."""
from __future__ import annotations

import numpy as np
import pytest

from autograder import readiness
from autograder.verdicts import CheckFailed


def two_input_model():
    import keras

    class Sum(keras.Model):
        """Adds a projection of each of its two inputs: x is a tuple (a, b)."""

        def __init__(self):
            super().__init__()
            self.left, self.right = keras.layers.Dense(1), keras.layers.Dense(1)

        def call(self, inputs):
            a, b = inputs
            return self.left(a) + self.right(b)

    return Sum()


def compile_mse(model):
    import keras
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")


def test_retracing_probe_cuts_every_input_of_a_tuple_to_the_batch_size():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(32, 3)), rng.normal(size=(32, 2))
    data = ((a.astype("float32"), b.astype("float32")), rng.normal(size=(32, 1)).astype("float32"))
    result = readiness.traces_over_batch_sizes(two_input_model, compile_mse, data)
    assert result["weights_moved"]
    assert 1 <= result["traces"] <= readiness.MAX_TRACES
    readiness.judge_traces(result)


def dense_model_with_a_step(noise_of, logged):
    """A one-Dense model whose train_step adds noise_of(x) to its output in the loss and
    logs logged(loss)."""
    import keras
    import tensorflow as tf

    class Stepped(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(self(x) + noise_of(x) - y))
            self.optimizer.apply(tape.gradient(loss, self.trainable_variables),
                                 self.trainable_variables)
            return {"loss": logged(loss)}

    return Stepped()


def batch_bound_model():
    """Noise drawn with the static batch size, x.shape[0]: fine eagerly, and wrong once the
    batch dimension is relaxed to None."""
    import tensorflow as tf
    return dense_model_with_a_step(lambda x: tf.random.normal((x.shape[0], 1)), lambda loss: loss)


def test_retracing_probe_fails_a_step_bound_to_the_static_batch_size():
    rng = np.random.default_rng(0)
    data = (rng.normal(size=(64, 3)).astype("float32"), rng.normal(size=(64, 1)).astype("float32"))
    with pytest.raises(Exception, match="None"):   # the relaxed trace has no batch size
        readiness.traces_over_batch_sizes(batch_bound_model, compile_mse, data)
    fine = readiness.traces_over_batch_sizes(_dense_model, _compile_sgd, data)
    assert fine["weights_moved"] and 1 <= fine["traces"] <= readiness.MAX_TRACES


def test_a_step_skipped_for_float16_overflow_is_named_as_such():
    student = {"compute_dtype": "float16", "variable_dtypes": ["float32"],
               "scale_loss_calls": [1], "gradients_through_scaled_loss": [3],
               "loss_scaled": [True], "applied": [False], "largest_unscaled_loss": 7e4,
               "logs": ["loss"], "last": [7e4], "weights_moved": 0.0, "weights_finite": True}
    with pytest.raises(CheckFailed, match="skipped every step.*overflowed float16"):
        readiness.judge_mixed_precision(student)


def python_step_model():
    """A train_step that runs a Python function on a tensor: fine eagerly and in a graph,
    and refused by XLA (tf.py_function has no XLA kernel)."""
    import tensorflow as tf
    return dense_model_with_a_step(lambda x: 0.0,
                                   lambda loss: tf.py_function(lambda t: t, [loss], tf.float32))


def test_xla_probe_refuses_an_op_xla_cannot_compile_and_passes_a_plain_model():
    rng = np.random.default_rng(0)
    data = (rng.normal(size=(64, 3)).astype("float32"), rng.normal(size=(64, 1)).astype("float32"))
    plain = readiness.jit_trains(_dense_model, _compile_sgd, data)
    readiness.judge_jit(plain)
    with pytest.raises(Exception, match="EagerPyFunc|unsupported operations"):
        readiness.jit_trains(python_step_model, _compile_sgd, data)


def _dense_model():
    import keras
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])


def _compile_sgd(model, jit_compile="auto"):
    import keras
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", jit_compile=jit_compile)
