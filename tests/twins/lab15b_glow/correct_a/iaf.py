"""Lab 15b, part 2: the inverse autoregressive flow, and fitting a flow to an unnormalised
density by reverse KL. Fill in the parts marked TODO.

Same conventions as lab15_flows and glow.py: FORWARD maps data to latent (x -> z, the density
direction), INVERSE maps latent to data (z -> x, the sampling direction); both return
(values, log_det) with log_det = log |det| of their own Jacobian, one value per example.

The pieces, in the order the handout builds them:

1. the IAF layer       InverseAutoregressiveFlow (inverse in one pass, forward in D passes),
                       on the given AutoregressiveNetwork (a MADE); MaskedAutoregressiveFlow
                       is the same layer turned around (given)
2. reverse KL          reverse_kl_loss, estimate_log_normalizer
3. the model           ReverseKLFlow.train_step: a flow fitted with samples of itself, no data

Shapes: N examples, D dimensions. Log-densities are in nats.
"""
import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from dlkit.training import LossTrackers

tfd = tfp.distributions

ORDERS = ("left-to-right", "right-to-left")


def standard_normal(dim):
    """The base density N(0, I) on R^dim (its log_prob maps (N, dim) to (N,))."""
    return tfd.MultivariateNormalDiag(loc=tf.zeros(dim), scale_diag=tf.ones(dim))


# ---------------------------------------------------------------------------------------------
# Unnormalised targets (given)
# ---------------------------------------------------------------------------------------------

def banana_log_density(x):
    """An unnormalised banana: log p~(x) = -x0^2 / 8 - (x1 - x0^2 / 4)^2 / 0.5 for x (N, 2).

    x0 ~ N(0, 2^2) and, given x0, x1 ~ N(x0^2 / 4, 0.5^2): a bent ridge. Unnormalised on
    purpose (the constant is dropped): Z = 2 pi * 2 * 0.5 = 2 pi.
    """
    x = tf.convert_to_tensor(x)
    x0, x1 = x[..., 0], x[..., 1]
    return -0.5 * (x0 / 2.0) ** 2 - 0.5 * ((x1 - 0.25 * x0 ** 2) / 0.5) ** 2


def two_moons_log_density(x):
    """An unnormalised two-moons energy (Rezende & Mohamed, 2015, U_2-like): a ring of
    radius 2 cut into two blobs along x0. x: (N, 2). Returns log p~(x): (N,)."""
    x = tf.convert_to_tensor(x)
    radius = tf.norm(x, axis=-1)
    ring = -0.5 * ((radius - 2.0) / 0.4) ** 2
    sides = tf.math.reduce_logsumexp(
        tf.stack([-0.5 * ((x[..., 0] - 2.0) / 0.6) ** 2,
                  -0.5 * ((x[..., 0] + 2.0) / 0.6) ** 2]), axis=0)
    return ring + sides


TARGETS = {"banana": banana_log_density, "two_moons": two_moons_log_density}


# ---------------------------------------------------------------------------------------------
# 1. The IAF layer, on a MADE (given)
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab15b_glow")
class AutoregressiveNetwork(keras.layers.Layer):
    """A MADE (given): ReLU hidden layers whose kernels are masked so that output i depends
    only on the inputs before i in the order. Returns (shift, raw_log_scale), each (N, D).
    The output layer starts at zero: a fresh flow layer is the identity."""

    def __init__(self, dim, hidden_units=(32, 32), order="left-to-right", **kwargs):
        super().__init__(**kwargs)
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
        self.dim, self.order = int(dim), order
        self.hidden_units = tuple(int(u) for u in hidden_units)
        # Positions 0..D-1 in the order; hidden units cycle through 0..D-2. A unit sees the
        # units of a lower or equal position; an output only those of a strictly lower one.
        position = np.arange(self.dim) if order == ORDERS[0] else np.arange(self.dim)[::-1]
        levels = [position] + [np.arange(u) % max(self.dim - 1, 1) for u in self.hidden_units]
        self.masks = [np.less_equal.outer(a, b).astype("float32")
                      for a, b in zip(levels[:-1], levels[1:])]
        self.masks.append(np.less.outer(levels[-1], np.tile(position, 2)).astype("float32"))

    def build(self, input_shape):
        self.kernels, self.biases = [], []
        for k, mask in enumerate(self.masks):
            last = k == len(self.masks) - 1
            self.kernels.append(self.add_weight(
                shape=mask.shape, name=f"kernel_{k}",
                initializer="zeros" if last else "glorot_uniform"))
            self.biases.append(self.add_weight(shape=mask.shape[1:], name=f"bias_{k}",
                                               initializer="zeros"))

    def call(self, x):
        h = x
        for k, (kernel, bias) in enumerate(zip(self.kernels, self.biases)):
            h = tf.matmul(h, kernel * tf.constant(self.masks[k], h.dtype)) + bias
            if k < len(self.masks) - 1:
                h = tf.nn.relu(h)
        return h[..., :self.dim], h[..., self.dim:]

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "order": self.order,
                "hidden_units": list(self.hidden_units)}


@keras.saving.register_keras_serializable(package="dlkit_lab15b_glow")
class InverseAutoregressiveFlow(keras.layers.Layer):
    """An IAF layer (Kingma et al., 2016): an autoregressive affine map whose network reads z.

    InverseAutoregressiveFlow(dim, hidden_units, order, log_scale_bound). The sampling map
    (inverse, z -> x) is, for every dimension i, with z_<i the dimensions before i in the
    order,

        x_i = z_i * exp(log_scale_i(z_<i)) + shift_i(z_<i)

    All the shifts and log-scales depend on z alone: ONE conditioner call. The density map
    (forward, x -> z) solves z_i = (x_i - shift_i(z_<i)) * exp(-log_scale_i(z_<i)), and z_i
    needs the earlier z_<i first: start from z = 0 and call the conditioner D times, each
    call fixing one more dimension. dx/dz is triangular with exp(log_scale_i) on its
    diagonal: log |det dx/dz| = sum_i log_scale_i (at z), and the forward's log_det is its
    negative. (A MAF is the opposite: density in one pass, sampling in D.)

    Call self.conditioner(z) for the shifts and log-scales: it counts its calls in
    self.conditioner_calls. x, z: (N, D).
    """

    def __init__(self, dim, hidden_units=(32, 32), order="left-to-right", log_scale_bound=2.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.order = order
        self.log_scale_bound = float(log_scale_bound)
        self.network = AutoregressiveNetwork(self.dim, self.hidden_units, order, name="made")
        self.conditioner_calls = 0

    def build(self, input_shape):
        self.network.build(input_shape)

    def conditioner(self, z):
        """(shift, log_scale), each (N, D) in z's dtype; entry i depends on z_<i only. The
        log-scale is squashed into (-log_scale_bound, log_scale_bound) by a tanh."""
        self.conditioner_calls += 1
        shift, raw = self.network(z)
        bound = self.log_scale_bound
        return (keras.ops.cast(shift, z.dtype),
                bound * tf.math.tanh(keras.ops.cast(raw, z.dtype) / bound))

    def inverse(self, z):
        """z -> x in ONE conditioner call. Returns (x (N, D), log_det (N,)) = log |det dx/dz|."""
        shift, log_scale = self.conditioner(z)
        x = z * tf.exp(log_scale) + shift
        return x, tf.reduce_sum(log_scale, axis=-1)

    def forward(self, x):
        """x -> z in D conditioner calls. Returns (z (N, D), log_det (N,)) = log |det dz/dx|."""
        z = tf.zeros_like(x)
        for _ in range(self.dim):
            shift, log_scale = self.conditioner(z)
            z = (x - shift) * tf.exp(-log_scale)
        return z, -tf.reduce_sum(log_scale, axis=-1)

    def call(self, x):
        return self.forward(x)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "hidden_units": list(self.hidden_units),
                "order": self.order, "log_scale_bound": self.log_scale_bound}


@keras.saving.register_keras_serializable(package="dlkit_lab15b_glow")
class MaskedAutoregressiveFlow(InverseAutoregressiveFlow):
    """A MAF layer (given): the IAF's map turned around. Its density map (forward, x -> z) is
    the IAF's sampling map, z_i = x_i * exp(log_scale_i(x_<i)) + shift_i(x_<i): one pass,
    the network reads x. Its sampling map (inverse) is the IAF's density map: D passes."""

    def forward(self, x):
        return super().inverse(x)

    def inverse(self, z):
        return super().forward(z)


def conditioner_calls(layer, method, values):
    """How many conditioner calls layer.<method>(values) makes (given): the cost of one pass
    of that direction, counted, not timed."""
    layer.conditioner_calls = 0
    getattr(layer, method)(values)
    return layer.conditioner_calls


# ---------------------------------------------------------------------------------------------
# 2. Reverse KL
# ---------------------------------------------------------------------------------------------

def reverse_kl_loss(flow, log_target, z):
    """The reverse KL, up to the unknown log Z: E_q[log q(x) - log p~(x)] over x = flow(z).

    flow: anything with inverse(z) -> (x, log_det = log |det dx/dz|) (the sampling map);
    log_target: x (N, D) -> log p~(x) (N,), unnormalised; z: (N, D) base samples from
    N(0, I). The flow's density at its own sample is log q(x) = log N(z; 0, I) - log_det.
    Returns the Monte-Carlo mean over the N samples, a scalar:
    mean(log q(x) - log p~(x)) = KL(q || p) - log Z >= -log Z.
    """
    z = tf.convert_to_tensor(z, dtype="float32")
    x, log_det = flow.inverse(z)
    log_q = standard_normal(z.shape[-1]).log_prob(z) - log_det
    return tf.reduce_mean(log_q - log_target(x))


def estimate_log_normalizer(flow, log_target, z):
    """Importance-sampling estimate of log Z = log E_q[p~(x) / q(x)], with x = flow(z).

    Same arguments as reverse_kl_loss. Returns log((1/N) sum_n exp(log p~(x_n) - log q(x_n))),
    a scalar, computed stably (tf.reduce_logsumexp). Exact when q is the normalised target.
    """
    z = tf.convert_to_tensor(z, dtype="float32")
    x, log_det = flow.inverse(z)
    log_q = standard_normal(z.shape[-1]).log_prob(z) - log_det
    w = log_target(x) - log_q
    n = tf.cast(tf.shape(w)[0], w.dtype)
    return tf.reduce_logsumexp(w) - tf.math.log(n)


# ---------------------------------------------------------------------------------------------
# 3. The model
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab15b_glow")
class ReverseKLFlow(keras.Model):
    """A stack of IAF layers fitted to an unnormalised density by reverse KL, without data.

    ReverseKLFlow(target, dim, num_layers, hidden_units, log_scale_bound, seed): target is a
    name in TARGETS; the layers alternate their orders. fit(x) only reads the batch size of
    x: each train_step draws that many base samples z from self.seed_generator and takes a
    step on reverse_kl_loss. fit logs "loss": the batch's reverse-KL estimate (nats).
    """

    def __init__(self, target="banana", dim=2, num_layers=4, hidden_units=(32, 32),
                 log_scale_bound=2.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.target, self.dim, self.num_layers = target, int(dim), int(num_layers)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.log_scale_bound = float(log_scale_bound)
        self.seed = int(seed)
        self.log_target = TARGETS[target]
        self.flow_layers = [InverseAutoregressiveFlow(self.dim, self.hidden_units, ORDERS[k % 2],
                                                      self.log_scale_bound, name=f"iaf_{k}")
                            for k in range(self.num_layers)]
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.trackers = LossTrackers("loss")
        for layer in self.flow_layers:
            layer.build((None, self.dim))
        self.built = True

    @property
    def metrics(self):
        return self.trackers.metrics

    def inverse(self, z):
        """z -> x through every layer's inverse, the last layer first: the sampling map in
        one conditioner call per layer. Returns (x (N, D), log_det (N,)) = log |det dx/dz|."""
        x = keras.ops.cast(z, "float32")
        total = tf.zeros_like(x[:, 0])
        for layer in self.flow_layers[::-1]:
            x, part = layer.inverse(x)
            total = total + part
        return x, total

    def sample(self, n, seed=None):
        """n samples of q: x = inverse(keras.random.normal((n, D), seed=seed)). Returns (n, D)."""
        return self.inverse(keras.random.normal((int(n), self.dim), seed=seed))[0]

    def train_step(self, data):
        """Draw z ~ N(0, I) with as many rows as the batch, one step on reverse_kl_loss."""
        x = data[0] if isinstance(data, tuple) else data
        z = keras.random.normal((tf.shape(x)[0], self.dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            loss = reverse_kl_loss(self, self.log_target, z)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self.trackers.update(loss=loss)
        return self.trackers.results()

    def call(self, z):
        return self.inverse(z)[0]

    def get_config(self):
        return {**super().get_config(), "target": self.target, "dim": self.dim,
                "num_layers": self.num_layers, "hidden_units": list(self.hidden_units),
                "log_scale_bound": self.log_scale_bound, "seed": self.seed}
