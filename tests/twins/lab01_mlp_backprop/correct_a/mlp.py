"""Lab 01, part 2: one multilayer perceptron, three ways.

1. By hand: forward and backward passes composed from the blocks of layers.py, trained with
   minibatch SGD. No autodiff anywhere.
2. With tf.GradientTape: the same network in TensorFlow ops; the tape finds the gradients.
3. With Keras: a `Linear` layer of our own, stacked into a `keras.Sequential` and fitted.

The network is dense -> ReLU -> dense -> ReLU -> ... -> dense: a ReLU after every layer but
the last, whose outputs are the logits. Parameters are a list of (w, b) pairs, one per
layer, with w: (D_in, D_out) and b: (D_out,).
"""
import keras
import numpy as np
import tensorflow as tf
from layers import (
    cross_entropy,
    cross_entropy_backward,
    dense_backward,
    dense_forward,
    relu_backward,
    relu_forward,
)


def init_mlp(layer_sizes, seed=0):
    """He-normal weights and zero biases.

    layer_sizes: (D, H1, ..., C), the input size, hidden widths and number of classes.
    Returns params: list of (w (D_in, D_out), b (D_out,)) float64 pairs.
    """
    rng = np.random.default_rng(seed)
    # std sqrt(2 / fan_in) keeps the activations' scale steady through ReLU layers.
    return [(rng.normal(0.0, np.sqrt(2.0 / d_in), size=(d_in, d_out)), np.zeros(d_out))
            for d_in, d_out in zip(layer_sizes[:-1], layer_sizes[1:])]


# ---- 1. By hand ---------------------------------------------------------------------------

def mlp_forward(params, x):
    """Forward pass of the MLP.

    params: list of (w, b); x: (N, D). Returns (logits, cache): logits (N, C), and cache,
    whatever mlp_loss_and_grads needs for the backward pass (e.g. each layer's input and
    pre-activation).
    """
    cache = []
    out = x
    for i, (w, b) in enumerate(params):
        pre = dense_forward(out, w, b)
        cache.append((out, pre))
        out = relu_forward(pre) if i < len(params) - 1 else pre
    return out, cache


def mlp_loss_and_grads(params, x, labels):
    """Mean cross-entropy of the MLP and its gradient w.r.t. every parameter, by backprop.

    params: list of (w, b); x: (N, D); labels: (N,) ints. Returns (loss, grads): loss a
    float, grads a list of (dw, db) pairs shaped like params.
    """
    logits, cache = mlp_forward(params, x)
    loss = cross_entropy(logits, labels)
    upstream = cross_entropy_backward(logits, labels)
    grads = [None] * len(params)
    for i in reversed(range(len(params))):
        inp, pre = cache[i]
        if i < len(params) - 1:
            upstream = relu_backward(upstream, pre)
        dx, dw, db = dense_backward(upstream, inp, params[i][0])
        grads[i] = (dw, db)
        upstream = dx
    return loss, grads


def train_mlp_manual(params, x, labels, *, epochs, batch_size=32, learning_rate=0.1, seed=0):
    """Minibatch SGD on the manual gradients.

    params: list of (w, b); x: (N, D); labels: (N,). Returns (params, losses): the trained
    parameters and the mean training loss of each epoch.
    """
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            loss, grads = mlp_loss_and_grads(params, x[batch], labels[batch])
            params = [(w - learning_rate * dw, b - learning_rate * db)
                      for (w, b), (dw, db) in zip(params, grads)]
            total += loss * len(batch)
        losses.append(total / len(x))
    return params, losses


def predict(params, x):
    """Class predictions of the MLP. x: (N, D). Returns (N,) ints."""
    logits, _ = mlp_forward(params, x)
    return np.argmax(logits, axis=1)


# ---- 2. With tf.GradientTape ----------------------------------------------------------------

def tape_train_step(variables, x, labels, learning_rate):
    """One SGD step of the same MLP, with gradients from tf.GradientTape.

    variables: list of (w, b) pairs of tf.Variable; x: (N, D) float32; labels: (N,) ints.
    Updates the variables in place (w <- w - learning_rate * dw) and returns (loss, grads):
    the mean cross-entropy before the step, and a list of (dw, db) pairs shaped like
    variables.
    """
    with tf.GradientTape() as tape:
        out = x
        for i, (w, b) in enumerate(variables):
            out = tf.matmul(out, w) + b
            if i < len(variables) - 1:
                out = tf.nn.relu(out)
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=out))
    flat = [v for pair in variables for v in pair]
    flat_grads = tape.gradient(loss, flat)
    for v, g in zip(flat, flat_grads):
        v.assign_sub(learning_rate * g)
    grads = [(flat_grads[2 * i], flat_grads[2 * i + 1]) for i in range(len(variables))]
    return loss, grads


def train_mlp_tape(params, x, labels, *, epochs, batch_size=32, learning_rate=0.1, seed=0):
    """Minibatch SGD with tape_train_step, compiled into a graph with tf.function.

    Same arguments and returns as train_mlp_manual.
    """
    variables = [(tf.Variable(w, dtype=tf.float32), tf.Variable(b, dtype=tf.float32))
                 for w, b in params]
    step = tf.function(tape_train_step)
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype=np.float32)
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            loss, _ = step(variables, x[batch], labels[batch], learning_rate)
            total += float(loss) * len(batch)
        losses.append(total / len(x))
    return [(w.numpy(), b.numpy()) for w, b in variables], losses


# ---- 3. With Keras --------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab01_mlp_backprop")
class Linear(keras.layers.Layer):
    """A dense layer: activation(x @ kernel + bias).

    units: output size M; activation: a Keras activation name ("relu") or None.
    Input (N, D), output (N, M). Weights, in this order: kernel (D, M), bias (M,).
    """

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        d = input_shape[-1]
        self.kernel = self.add_weight(name="kernel", shape=(d, self.units),
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def call(self, x):
        return self.activation(keras.ops.matmul(x, self.kernel) + self.bias)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units,
                      activation=keras.activations.serialize(self.activation))
        return config


def build_keras_mlp(input_dim, hidden_units, num_classes, learning_rate=1e-3):
    """The MLP as a compiled keras.Sequential of Linear layers.

    input_dim: D; hidden_units: widths of the ReLU layers, e.g. (128,); num_classes: C.
    The model maps (N, D) inputs to (N, C) logits. Compiled with Adam(learning_rate), a
    sparse categorical cross-entropy on logits, and the "accuracy" metric.
    """
    model = keras.Sequential([keras.Input((input_dim,))]
                             + [Linear(u, "relu") for u in hidden_units]
                             + [Linear(num_classes)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model
