"""The checks' own flow layers for lab15_flows: the student's FlowModel code runs on them.

They are not the lab's layers (no ActNorm, no affine coupling): each wraps a TFP bijector of
known behaviour, a lower-triangular linear map, a sinh-arcsinh map or an additive shear
(tfb.RealNVP with a shift only), and keeps the lab's contract: forward(x) -> (z, log_det),
inverse(z) -> (x, log_det). The right answer for a stack of them comes from TFP itself
(`generative`, `density`): tfb.Chain and tfd.TransformedDistribution, not the checks'
code, so no FlowModel method is written here."""
from __future__ import annotations

import numpy as np

_CLASSES: dict = {}


def _classes():
    """The stand-in layer classes, defined on first use (they need Keras and TFP)."""
    if _CLASSES:
        return _CLASSES
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp
    tfb = tfp.bijectors

    class BijectorLayer(keras.layers.Layer):
        """A flow layer whose generative map z -> x is the TFP bijector `bijector()`: its
        forward is the bijector's inverse, its inverse the bijector's forward."""

        def forward(self, x):
            g = self.bijector()
            return g.inverse(x), g.inverse_log_det_jacobian(x, event_ndims=1) + 0 * x[:, 0]

        def inverse(self, z):
            g = self.bijector()
            return g.forward(z), g.forward_log_det_jacobian(z, event_ndims=1) + 0 * z[:, 0]

        def call(self, x):
            return self.forward(x)

    class Linear(BijectorLayer):
        """x = L z + b, L lower-triangular with a positive diagonal."""

        def build(self, input_shape):
            dim = input_shape[-1]
            self.lower = self.add_weight(shape=(dim, dim), initializer="zeros", name="lower")
            self.log_diagonal = self.add_weight(shape=(dim,), initializer="zeros",
                                                name="log_diagonal")
            self.shift = self.add_weight(shape=(dim,), initializer="zeros", name="shift")

        def bijector(self):
            tril = (tf.linalg.band_part(self.lower, -1, 0)
                    - tf.linalg.band_part(self.lower, 0, 0) + tf.linalg.diag(tf.exp(self.log_diagonal)))
            return tfb.Chain([tfb.Shift(self.shift), tfb.ScaleMatvecTriL(scale_tril=tril)])

    class SinhArcsinh(BijectorLayer):
        """x = sinh((asinh(z) + skew) * tail) per dimension: a log-det that depends on z."""

        def build(self, input_shape):
            dim = input_shape[-1]
            self.skew = self.add_weight(shape=(dim,), initializer="zeros", name="skew")
            self.log_tail = self.add_weight(shape=(dim,), initializer="zeros", name="log_tail")

        def bijector(self):
            return tfb.SinhArcsinh(skewness=self.skew, tailweight=tf.exp(self.log_tail))

    class Shear(BijectorLayer):
        """An additive coupling: the first `kept` dimensions shift the others by an MLP of
        them (log-det 0), the dimensions reversed around it so each gets moved."""

        def __init__(self, kept, hidden_units, **kwargs):
            super().__init__(**kwargs)
            self.kept = int(kept)
            self.hidden = [keras.layers.Dense(u, activation="tanh") for u in hidden_units]
            self.head = None

        def build(self, input_shape):
            dim = input_shape[-1]
            self.head = keras.layers.Dense(dim - self.kept, kernel_initializer="zeros")
            shape = (None, self.kept)
            for layer in self.hidden:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)
            self.head.build(shape)
            self.dim = dim

        def _shift(self, kept, units):
            h = kept
            for layer in self.hidden:
                h = layer(h)
            return self.head(h), None

        def bijector(self):
            order = list(range(self.dim))[::-1]
            return tfb.Chain([tfb.Permute(order),
                              tfb.RealNVP(num_masked=self.kept,
                                          shift_and_log_scale_fn=self._shift)])

    _CLASSES.update(linear=Linear, sinh=SinhArcsinh, shear=Shear)
    return _CLASSES


def mixed_layers(dim, hidden_units):
    """[linear, sinh-arcsinh, shear, sinh-arcsinh]: layers that do not commute, with
    log-determinants that depend on where they are taken (the sinh-arcsinh's in a way that
    -forward log_det at z differs from the inverse log_det at z)."""
    c = _classes()
    return [c["linear"](), c["sinh"](), c["shear"](1, hidden_units), c["sinh"]()]


def training_layers(count, hidden_units):
    """`count` blocks [linear, shear, sinh-arcsinh] for 2-D data."""
    c = _classes()
    layers = []
    for _ in range(count):
        layers += [c["linear"](), c["shear"](1, hidden_units), c["sinh"]()]
    return layers


def generative(layers):
    """The stack's map z -> x as one TFP bijector: tfb.Chain applies its last bijector
    first, and the last layer is the latent side."""
    import tensorflow_probability as tfp
    return tfp.bijectors.Chain([layer.bijector() for layer in layers])


def density(layers, dim):
    """The stack's density, N(0, I) pushed through `generative(layers)` by TFP."""
    import tensorflow as tf
    import tensorflow_probability as tfp
    tfd = tfp.distributions
    base = tfd.MultivariateNormalDiag(loc=tf.zeros(dim), scale_diag=tf.ones(dim))
    return tfd.TransformedDistribution(base, generative(layers))


def expected_forward(layers, x):
    """(z, log |det dz/dx|) of the stack, by TFP."""
    import tensorflow as tf
    x = tf.convert_to_tensor(np.asarray(x, dtype="float32"))
    g = generative(layers)
    return np.asarray(g.inverse(x)), np.asarray(g.inverse_log_det_jacobian(x, event_ndims=1))


def expected_inverse(layers, z):
    """(x, log |det dx/dz|) of the stack, by TFP."""
    import tensorflow as tf
    z = tf.convert_to_tensor(np.asarray(z, dtype="float32"))
    g = generative(layers)
    return np.asarray(g.forward(z)), np.asarray(g.forward_log_det_jacobian(z, event_ndims=1))


def expected_log_prob(layers, x):
    import tensorflow as tf
    return np.asarray(density(layers, np.shape(x)[-1]).log_prob(tf.constant(
        np.asarray(x, dtype="float32"))))


def stand_in_bijector(layer, name=None, **_):
    """Stands in for FlowBijector(layer) while distribution() is graded: the layer's own
    TFP bijector, turned to the layer's direction (x -> z)."""
    import tensorflow_probability as tfp
    return tfp.bijectors.Invert(layer.bijector())


def stand_in_change_of_variables(x, forward, base):
    """Stands in for change_of_variables_log_prob while log_prob is graded: NOT the change
    of variables, a known other combination of what it is given (2 log base(z) + 3 log_det),
    so the check sees which forward and base log_prob passed on."""
    z, log_det = forward(x)
    return 2.0 * base.log_prob(z) + 3.0 * log_det


def stand_in_flow(lab, dim, layers, own_density=False):
    """The student's FlowModel holding the checks' layers. With own_density, its forward,
    inverse and log_prob are TFP's (`generative`, `density`): only train_step, test_step
    and the trackers are the student's."""
    import tensorflow as tf

    def __init__(self):
        lab.flows.FlowModel.__init__(self, dim)
        for layer in layers:
            self.flow_layers.append(layer)
        self.build((None, dim))

    def forward(self, x):
        x = tf.cast(x, tf.float32)
        g = generative(self.flow_layers)
        return g.inverse(x), g.inverse_log_det_jacobian(x, event_ndims=1) + 0 * x[:, 0]

    def inverse(self, z):
        z = tf.cast(z, tf.float32)
        g = generative(self.flow_layers)
        return g.forward(z), g.forward_log_det_jacobian(z, event_ndims=1) + 0 * z[:, 0]

    methods = {"__init__": __init__}
    if own_density:
        methods.update(forward=forward, inverse=inverse,
                       log_prob=lambda self, x: density(self.flow_layers, dim).log_prob(
                           tf.cast(x, tf.float32)))
    return type("StandInFlow", (lab.flows.FlowModel,), methods)()


def own_forward_flow(lab, dim, layers):
    """The student's FlowModel on the checks' layers with TFP's forward: its log_prob is the
    student's, on a forward that is right."""
    import tensorflow as tf
    model = stand_in_flow(lab, dim, layers)

    def forward(x):
        x = tf.cast(x, tf.float32)
        g = generative(layers)
        return g.inverse(x), g.inverse_log_det_jacobian(x, event_ndims=1) + 0 * x[:, 0]
    model.forward = forward
    return model
