"""Helpers that the checks of lab21_explainability share: probes run in the worker (they
import TensorFlow inside), verdicts in the grader.

Stand-ins: SineModel is a check-defined "classifier" whose logits are (k + 1) * sum(sin(x))
for class k, and sine_gradients its exact gradient (k + 1) * cos(x), derived by hand: put in
place of input_gradients, SmoothGrad and integrated gradients are graded on their own lines,
and completeness can be measured against the exact path integral sin(x) - sin(baseline).
Games: value tables over the 2^M coalitions (bit i = player i), and their Shapley values as
the average marginal contribution over every one of the M! orders (itertools), which is not
how the lab computes them.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from autograder.verdicts import expect_close, expect_shape, expect_true


class SineModel:
    """logits[n, k] = (k + 1) * sum(sin(x[n]) + offset) for k < classes: the score of class k
    has the exact gradient (k + 1) * cos(x); with an offset, the zero image scores nonzero."""

    def __init__(self, classes: int = 3, offset: float = 0.0):
        self.classes = classes
        self.offset = offset

    def __call__(self, x, training=None):
        import tensorflow as tf
        x = tf.convert_to_tensor(x, tf.float32)
        total = tf.reduce_sum(tf.reshape(tf.sin(x) + self.offset, (tf.shape(x)[0], -1)), axis=1)
        return total[:, None] * tf.range(1, self.classes + 1, dtype=tf.float32)[None, :]


def sine_gradients(model, x, target):
    """The exact input gradient of SineModel's target score: (target + 1) * cos(x)."""
    x = np.asarray(x, dtype=np.float32)
    factor = np.broadcast_to(np.asarray(target), (len(x),)).astype(np.float32) + 1.0
    return (factor.reshape(-1, *([1] * (x.ndim - 1))) * np.cos(x)).astype(np.float32)


_SWITCH = []


def training_switch():
    """A layer whose output depends on the training flag, like Dropout but deterministic:
    the identity at inference (training False or None); with training=True every other unit
    is zeroed and the others doubled. A model holding it tells whether its layers were called
    with training=False."""
    if not _SWITCH:
        import keras

        class TrainingSwitch(keras.layers.Layer):
            def call(self, h, training=False):
                if not training:
                    return h
                units = h.shape[-1]
                return h * np.tile([2.0, 0.0], units // 2 + 1)[:units].astype("float32")
        _SWITCH.append(TrainingSwitch)
    return _SWITCH[0]()


def tiny_convnet(rng, activation_layers=True, classes=3, size=5, channels=1):
    """A random Conv2D-ReLU-Flatten-Switch-Dense-ReLU-Dense network on (size, size, channels),
    Switch a training_switch() (the identity at inference)."""
    import keras
    model = keras.Sequential([
        keras.Input((size, size, channels)),
        keras.layers.Conv2D(3, 3, padding="same"), keras.layers.ReLU(),
        keras.layers.Flatten(), training_switch(),
        keras.layers.Dense(6), keras.layers.ReLU(),
        keras.layers.Dense(classes)])
    for variable in model.weights:
        variable.assign(rng.normal(scale=0.7, size=variable.shape).astype("float32"))
    return model


def layerwise_gradient(model, x, target, relu_backward, relu_forward=None, training=False):
    """d score / d x by an explicit backward sweep over model.layers: record each layer's
    input on the way up, then, from the one-hot seed at the logits, take each layer's
    vector-Jacobian product alone with tf.GradientTape, and at ReLU layers apply
    relu_backward(layer_input, upstream) instead (and relu_forward on the way up, if given).
    training: the flag the other layers are called with."""
    import tensorflow as tf
    h = tf.constant(np.asarray(x, dtype="float32"))
    inputs = []
    for layer in model.layers:
        inputs.append(h)
        is_relu = layer.__class__.__name__ == "ReLU"
        if is_relu and relu_forward is not None:
            h = relu_forward(h)
        else:
            h = layer(h, training=training)
    target = np.broadcast_to(np.asarray(target), (len(x),))
    upstream = tf.constant(np.eye(h.shape[-1], dtype="float32")[target])
    for layer, layer_input in zip(reversed(model.layers), reversed(inputs)):
        if layer.__class__.__name__ == "ReLU":
            upstream = relu_backward(layer_input, upstream)
            continue
        with tf.GradientTape() as tape:
            tape.watch(layer_input)
            out = layer(layer_input, training=training)
        upstream = tape.gradient(out, layer_input, output_gradients=upstream)
    return upstream.numpy()


def softplus_backward(layer_input, upstream):
    """The backward pass of softplus (the stand-in of guided_relu): upstream * sigmoid(x)."""
    import tensorflow as tf
    return upstream * tf.sigmoid(layer_input)


# ---- Games ---------------------------------------------------------------------------------

def table_game(table):
    """value_fn of a game given by its table over coalitions (index = bits of the members)."""
    table = np.asarray(table, dtype=np.float64)
    n_players = int(round(math.log2(len(table))))

    def value_fn(masks):
        masks = np.asarray(masks, dtype=bool)
        return table[(masks * (1 << np.arange(n_players))).sum(axis=1)]
    return value_fn


def shapley_by_orders(table) -> np.ndarray:
    """Shapley values as the average over all M! orders of each player's marginal
    contribution when it joins the players before it."""
    table = np.asarray(table, dtype=np.float64)
    n_players = int(round(math.log2(len(table))))
    phi = np.zeros(n_players, dtype=np.float64)
    for order in itertools.permutations(range(n_players)):
        members = 0
        for player in order:
            phi[player] += table[members | (1 << player)] - table[members]
            members |= 1 << player
    return phi / math.factorial(n_players)


def crafted_games(rng, n_players=5):
    """Games for the axioms: 'symmetric' (players 0 and 1 interchangeable), 'dummy' (player 2
    adds nothing to any coalition), both with v(empty) != 0; as value tables."""
    bits = np.arange(2 ** n_players)
    member = (bits[:, None] >> np.arange(n_players)) & 1
    # symmetric: a random function of (count of {0, 1}, the other members).
    base = rng.normal(size=(3, 2 ** (n_players - 2)))
    rest = bits >> 2
    symmetric = base[member[:, 0] + member[:, 1], rest]
    # dummy: a random table that ignores player 2's bit.
    free = rng.normal(size=2 ** n_players)
    dummy = free[bits & ~(1 << 2)]
    return {"symmetric": symmetric, "dummy": dummy}


def judge_shapley(phi, table, what, *, atol=1e-9):
    """phi has the shape (M,), is efficient, and equals the average over all orders."""
    table = np.asarray(table)
    n_players = int(round(math.log2(len(table))))
    phi = expect_shape(phi, (n_players,), what)
    total = float(table[-1] - table[0])
    expect_true(abs(float(np.sum(phi)) - total) < 1e-6 + 1e-6 * abs(total),
                f"{what}: the values sum to {float(np.sum(phi)):.6g}, not to v(everyone) - "
                f"v(empty) = {total:.6g} (efficiency): are the coalition weights right, and "
                "is v(empty) subtracted?")
    expect_close(phi, shapley_by_orders(table), f"{what} (against the average over all "
                 f"{math.factorial(n_players)} orders)", rtol=1e-7, atol=atol)
