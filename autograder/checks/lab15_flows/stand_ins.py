"""The checks' own flow layers and model for lab15_flows: the student's FlowModel code runs
on them (an affine layer, affine couplings and a sinh-arcsinh layer, written here), and the
checks chain them with their own code to know the right answer. For train_step and
test_step the stand-in model's density is the checks' own too
(`stand_in_flow(..., own_density=True)`)."""
from __future__ import annotations

import numpy as np

_CLASSES: dict = {}


def stand_in_classes():
    """(StandInAffine, StandInCoupling): flow layers written by the checks, with the lab's
    forward/inverse contract (and _CLASSES["sinh"], an elementwise sinh-arcsinh layer).
    Defined on first use (they need Keras)."""
    if _CLASSES:
        return _CLASSES["affine"], _CLASSES["coupling"]
    import keras
    import tensorflow as tf

    class StandInAffine(keras.layers.Layer):
        """z = (x - loc) * exp(-log_scale) per dimension; log_det = -sum(log_scale)."""

        def build(self, input_shape):
            dim = input_shape[-1]
            self.loc = self.add_weight(shape=(dim,), initializer="zeros", name="loc")
            self.log_scale = self.add_weight(shape=(dim,), initializer="zeros", name="log_scale")

        def forward(self, x):
            z = (x - self.loc) * tf.exp(-self.log_scale)
            return z, -tf.reduce_sum(self.log_scale) * tf.ones_like(x[:, 0])

        def inverse(self, z):
            x = z * tf.exp(self.log_scale) + self.loc
            return x, tf.reduce_sum(self.log_scale) * tf.ones_like(z[:, 0])

        def call(self, x):
            return self.forward(x)

    class StandInCoupling(keras.layers.Layer):
        """An affine coupling: the mask-1 dimensions condition a bounded affine map of the
        others; the heads start at zero (a fresh coupling is the identity)."""

        def __init__(self, mask, hidden_units, bound=2.0, **kwargs):
            super().__init__(**kwargs)
            self.mask = np.asarray(mask, dtype="float32")
            self.bound = float(bound)
            self.hidden = [keras.layers.Dense(u, activation="relu") for u in hidden_units]
            self.head = keras.layers.Dense(2 * len(self.mask), kernel_initializer="zeros")

        def build(self, input_shape):
            shape = input_shape
            for layer in self.hidden:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)
            self.head.build(shape)

        def parameters(self, x):
            h = x * self.mask
            for layer in self.hidden:
                h = layer(h)
            shift, raw = tf.split(self.head(h), 2, axis=-1)
            return shift, self.bound * tf.tanh(raw / self.bound)

        def forward(self, x):
            shift, log_scale = self.parameters(x)
            z = self.mask * x + (1 - self.mask) * (x * tf.exp(log_scale) + shift)
            return z, tf.reduce_sum((1 - self.mask) * log_scale, axis=-1)

        def inverse(self, z):
            shift, log_scale = self.parameters(z)
            x = self.mask * z + (1 - self.mask) * (z - shift) * tf.exp(-log_scale)
            return x, -tf.reduce_sum((1 - self.mask) * log_scale, axis=-1)

        def call(self, x):
            return self.forward(x)

    class StandInSinhArcsinh(keras.layers.Layer):
        """z = sinh(a * asinh(x) + skew) per dimension, a = exp(log_tail): a non-linear
        elementwise bijection whose log-determinant depends on where it is taken."""

        def build(self, input_shape):
            dim = input_shape[-1]
            self.log_tail = self.add_weight(shape=(dim,), initializer="zeros", name="log_tail")
            self.skew = self.add_weight(shape=(dim,), initializer="zeros", name="skew")

        def forward(self, x):
            w = tf.exp(self.log_tail) * tf.asinh(x) + self.skew
            log_det = self.log_tail + tf.math.log(tf.cosh(w)) - 0.5 * tf.math.log1p(x * x)
            return tf.sinh(w), tf.reduce_sum(log_det, axis=-1)

        def inverse(self, z):
            u = (tf.asinh(z) - self.skew) * tf.exp(-self.log_tail)
            log_det = -self.log_tail + tf.math.log(tf.cosh(u)) - 0.5 * tf.math.log1p(z * z)
            return tf.sinh(u), tf.reduce_sum(log_det, axis=-1)

        def call(self, x):
            return self.forward(x)

    _CLASSES.update(affine=StandInAffine, coupling=StandInCoupling, sinh=StandInSinhArcsinh)
    return StandInAffine, StandInCoupling


def stand_in_layers(dim, couplings, hidden_units):
    """[affine, coupling, affine, coupling, ...]: `couplings` couplings with alternating
    masks (0, 1, 0, ... then its complement), each after an affine layer."""
    affine, coupling = stand_in_classes()
    first = np.arange(dim) % 2
    layers = []
    for k in range(couplings):
        layers += [affine(), coupling(first if k % 2 == 0 else 1 - first, hidden_units)]
    return layers


def mixed_layers(dim, hidden_units):
    """[affine, coupling, sinh-arcsinh, coupling]: layers that do not commute, with
    log-determinants that depend on where they are taken (the sinh-arcsinh's in a way that
    -forward log_det at z differs from the inverse log_det at z)."""
    affine, coupling = stand_in_classes()
    first = np.arange(dim) % 2
    return [affine(), coupling(first, hidden_units), _CLASSES["sinh"](),
            coupling(1 - first, hidden_units)]


def chain_forward(layers, x):
    """The checks' own chaining: z and the summed log_det of the layers, data side first."""
    import tensorflow as tf
    h = tf.convert_to_tensor(x, tf.float32)
    log_det = tf.zeros_like(h[:, 0])
    for layer in layers:
        h, layer_log_det = layer.forward(h)
        log_det += layer_log_det
    return h, log_det


def chain_inverse(layers, z):
    import tensorflow as tf
    h = tf.convert_to_tensor(z, tf.float32)
    log_det = tf.zeros_like(h[:, 0])
    for layer in reversed(layers):
        h, layer_log_det = layer.inverse(h)
        log_det += layer_log_det
    return h, log_det


def gaussian_log_prob(z):
    import tensorflow as tf
    dim = float(z.shape[-1])
    return -0.5 * tf.reduce_sum(tf.square(z), axis=-1) - 0.5 * dim * np.log(2 * np.pi)


def check_log_prob(layers, x):
    """log p(x) of a stack of the checks' layers on N(0, I), by the checks' own code."""
    z, log_det = chain_forward(layers, x)
    return gaussian_log_prob(z) + log_det


def check_change_of_variables(x, forward, base):
    """The checks' own change_of_variables_log_prob, standing in for the student's."""
    z, log_det = forward(x)
    return base.log_prob(z) + log_det


def stand_in_flow(lab, dim, layers, own_density=False):
    """The student's FlowModel holding the checks' layers. With own_density, its forward,
    inverse and log_prob are the checks' too: only train_step, test_step and the trackers
    are the student's."""
    import tensorflow as tf

    def __init__(self):
        lab.flows.FlowModel.__init__(self, dim)
        for layer in layers:
            self.flow_layers.append(layer)
        self.build((None, dim))

    methods = {"__init__": __init__}
    if own_density:
        methods.update(
            forward=lambda self, x: chain_forward(self.flow_layers, tf.cast(x, tf.float32)),
            inverse=lambda self, z: chain_inverse(self.flow_layers, tf.cast(z, tf.float32)),
            log_prob=lambda self, x: check_log_prob(self.flow_layers, tf.cast(x, tf.float32)))
    return type("StandInFlow", (lab.flows.FlowModel,), methods)()


def initialize_affine(layers, x):
    """The checks' data-dependent init: each affine layer maps what reaches it to mean 0,
    std 1 per dimension."""
    import tensorflow as tf
    affine, _ = stand_in_classes()
    h = tf.convert_to_tensor(x, tf.float32)
    for layer in layers:
        if isinstance(layer, affine):
            layer.loc.assign(tf.reduce_mean(h, axis=0))
            layer.log_scale.assign(tf.math.log(tf.math.reduce_std(h, axis=0) + 1e-6))
        h, _ = layer.forward(h)
