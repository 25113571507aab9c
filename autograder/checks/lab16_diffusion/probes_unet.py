"""Helpers of the U-Net checks of lab16_diffusion (unet.py): the checks' own stand-ins, the
weights they set, and the checks' own trainer.

Stand-ins (known behaviour that is NOT the lab's): `ProbeEmbedding` for SinusoidalEmbedding
(tanh of t times fixed rates), `probe_film_class` for FiLM (an added projection, no scale)
and `probe_block_class` for ResidualBlock (one convolution of tanh(h) plus a projection of
the condition). The trainer (`train_on_digits`) draws t and noise itself and minimises the
stand-in loss of probes.py (a straight-line noising and the mean absolute error: NOT DDPM's),
so a U-Net is trained without any of the student's DiffusionModel code.
"""
from __future__ import annotations

import contextlib

import numpy as np

from autograder.check_helpers import standing_in
from autograder.checks.lab16_diffusion.probes import (
    alpha_bars_of,
    known_log_snr,
    stand_in_objective,
)

UNET = ("denoiser", "unet")
CLASSIFIER_GUIDANCE = ("denoiser", "classifier_guidance")


def probe_embedding_class():
    import keras

    class ProbeEmbedding(keras.layers.Layer):
        """Stands in for SinusoidalEmbedding: NOT sines and cosines, tanh(t * rate_k) with
        rates from 0.002 to 0.2."""

        def __init__(self, dim, max_period=10000.0, **kwargs):
            super().__init__(**kwargs)
            self.dim = int(dim)

        def call(self, t):
            rates = keras.ops.linspace(0.002, 0.2, self.dim)
            return keras.ops.tanh(keras.ops.cast(keras.ops.reshape(t, (-1, 1)), "float32") * rates)

    return ProbeEmbedding


def probe_film_class():
    import keras

    class ProbeFiLM(keras.layers.Layer):
        """Stands in for FiLM: NOT a scale and shift, h + projection(condition) per channel."""

        def __init__(self, channels, **kwargs):
            super().__init__(**kwargs)
            self.projection = keras.layers.Dense(int(channels))

        def call(self, h, condition):
            return h + self.projection(condition)[:, None, None, :]

    return ProbeFiLM


def probe_block_class():
    import keras

    class ProbeBlock(keras.layers.Layer):
        """Stands in for ResidualBlock: NOT a residual block, conv(tanh(h)) + projection(c)."""

        def __init__(self, filters, **kwargs):
            super().__init__(**kwargs)
            self.conv = keras.layers.Conv2D(int(filters), 3, padding="same")
            self.projection = keras.layers.Dense(int(filters))

        def call(self, h, condition):
            return self.conv(keras.ops.tanh(h)) + self.projection(condition)[:, None, None, :]

    return ProbeBlock


@contextlib.contextmanager
def unet_stand_ins(lab, block=True):
    """The checks' embedding (and, with block, residual block) in place of the names unet.py
    uses, looked up when a U-Net is made."""
    replacements = {"SinusoidalEmbedding": probe_embedding_class()}
    if block:
        replacements["ResidualBlock"] = probe_block_class()
    with standing_in(lab.unet, **replacements):
        yield


def set_random_weights(layer, rng, scale=1.0):
    """Every weight of `layer` from the rng, in the order of layer.weights (which follows the
    constructor's): kernels ~ N(0, scale^2 / fan_in), vectors ~ N(0, 0.1^2)."""
    for weight in layer.weights:
        shape = tuple(weight.shape)
        if len(shape) >= 2:
            fan_in = int(np.prod(shape[:-1]))
            values = rng.normal(size=shape) * scale / np.sqrt(fan_in)
        else:
            values = rng.normal(size=shape) * 0.1
        weight.assign(values.astype("float32"))


def weight_shapes(layer):
    """'path: shape' of each weight, in order."""
    return "\n".join(f"{w.path}: {tuple(w.shape)}" for w in layer.weights)


# ---- Training ----------------------------------------------------------------------------

NUM_STEPS_T = 20          # the checks' schedule: log-SNR from 7 to -7 over 20 steps


def baseline_denoiser(filters=16):
    """The checks' baseline: two 3x3 convolutions at full resolution with the timestep added
    as features (no down- or up-sampling, no skip across scales), on flat 8x8 images."""
    import keras

    class FlatConvDenoiser(keras.layers.Layer):
        def __init__(self, filters, **kwargs):
            super().__init__(**kwargs)
            self.conv_1 = keras.layers.Conv2D(filters, 3, padding="same", activation="silu")
            self.time = keras.layers.Dense(filters)
            self.conv_2 = keras.layers.Conv2D(filters, 3, padding="same", activation="silu")
            self.head = keras.layers.Conv2D(1, 3, padding="same")

        def call(self, x_t, t):
            h = self.conv_1(keras.ops.reshape(x_t, (-1, 8, 8, 1)))
            time = keras.ops.cast(keras.ops.reshape(t, (-1, 1)), "float32") / NUM_STEPS_T
            h = h + self.time(keras.ops.concatenate([time, time * time], axis=-1))[:, None, None, :]
            return keras.ops.reshape(self.head(self.conv_2(h)), (-1, 64))

    return FlatConvDenoiser(filters)


def train_on_digits(network, rng, steps, batch=64, learning_rate=3e-3):
    """Train `network` (flat 8x8 digits in [-1, 1]) with the checks' own loop: batches, t
    and noise drawn by `rng`, the stand-in loss (straight-line noising, mean absolute
    error), and the checks' own Adam on all the weights as one flat vector. One traced step
    without autograph (no Keras fit; eager steps cost ten times more here): tracing is most
    of the cost, and a flat Adam (one update, not one per weight) halves it. Returns the
    held-out stand-in loss on the digits' test split before and after."""
    import tensorflow as tf

    from dlkit.data import load_digits
    x, _ = load_digits("train", flatten=True)
    x_test, _ = load_digits("test", flatten=True)
    x, x_test = x * 2.0 - 1.0, x_test * 2.0 - 1.0
    alpha_bars = tf.constant(alpha_bars_of(known_log_snr(NUM_STEPS_T)), tf.float32)
    t_test = tf.constant(rng.integers(0, NUM_STEPS_T, size=len(x_test)).astype(np.int32))
    noise_test = tf.constant(rng.normal(size=x_test.shape).astype(np.float32))
    x_test = tf.constant(x_test)
    network(x_test[:1], t_test[:1])
    variables = network.trainable_variables
    sizes = [int(np.prod(v.shape)) for v in variables]
    moments = [tf.Variable(tf.zeros(sum(sizes))) for _ in range(2)]
    count = tf.Variable(0.0)

    def heldout():      # eager: cheaper than tracing the network once more
        return float(stand_in_objective(network, x_test, t_test, noise_test, alpha_bars))

    @tf.function(autograph=False)
    def step(x0, t, noise):
        with tf.GradientTape() as tape:
            loss = stand_in_objective(network, x0, t, noise, alpha_bars)
        gradient = tf.concat([tf.reshape(g, [-1]) for g in tape.gradient(loss, variables)], 0)
        count.assign_add(1.0)
        first = moments[0].assign(0.9 * moments[0] + 0.1 * gradient)
        second = moments[1].assign(0.999 * moments[1] + 0.001 * gradient * gradient)
        rate = learning_rate * tf.sqrt(1.0 - 0.999 ** count) / (1.0 - 0.9 ** count)
        update = tf.split(rate * first / (tf.sqrt(second) + 1e-7), sizes)
        for variable, change in zip(variables, update):
            variable.assign_sub(tf.reshape(change, variable.shape))

    before = heldout()
    for _ in range(steps):
        rows = rng.choice(len(x), size=batch, replace=False)
        step(tf.constant(x[rows]), tf.constant(rng.integers(0, NUM_STEPS_T, size=batch)
                                               .astype(np.int32)),
             tf.constant(rng.normal(size=(batch, x.shape[1])).astype(np.float32)))
    return before, heldout()
