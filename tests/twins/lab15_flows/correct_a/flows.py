"""Lab 15: normalizing flows. Fill in the parts marked TODO.

A flow is an invertible map f from data x to a latent z whose density is simple: here the
standard normal N(0, I). By the change of variables,

    log p(x) = log N(f(x); 0, I) + log |det df/dx|

so a flow gives exact log-likelihoods (train by minimising the negative log-likelihood) and
exact samples (draw z ~ N(0, I), return f^-1(z)).

Direction convention of this lab: FORWARD maps data to latent (x -> z: evaluates densities,
trains), INVERSE maps latent to data (z -> x: samples). Every flow layer has

    forward(x) -> (z, log_det)     log_det = log |det dz/dx|, one value per example
    inverse(z) -> (x, log_det)     log_det = log |det dx/dz| = -(forward's log_det at x)

The pieces, in the order the handout builds them:

1. change of variables   change_of_variables_log_prob (base density: standard_normal)
2. bounded log-scales    bounded_log_scale
3. RealNVP's layers      AffineCoupling (conditioner, forward, inverse), alternating_masks,
                         ActNorm (initialize, forward, inverse)
4. MAF's layer           MaskedAutoregressiveFlow (forward in one pass, inverse in D passes),
                         on the MADE of made.py
5. the model             FlowModel (forward, inverse, log_prob, train_step, test_step, sample),
                         RealNVP (get_config), MAF
6. TFP as math           FlowBijector (a flow layer as a tfp.bijectors.Bijector),
                         FlowModel.distribution (a tfd.TransformedDistribution)

Shapes: N examples, D data dimensions. Log-densities are in nats.
"""
import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from made import MADE, ORDERS

tfd = tfp.distributions
tfb = tfp.bijectors

# ActNorm divides by the data's standard deviation: keep a constant dimension finite.
ACTNORM_EPSILON = 1e-6


def standard_normal(dim):
    """The base density N(0, I) on R^dim: a tfd.MultivariateNormalDiag.

    Its log_prob maps z (N, dim) to (N,) (the dimensions are one event, summed over);
    its sample(n, seed=...) draws (n, dim).
    """
    return tfd.MultivariateNormalDiag(loc=tf.zeros(dim), scale_diag=tf.ones(dim))


# ---------------------------------------------------------------------------------------------
# 1-2. The change of variables and bounded log-scales
# ---------------------------------------------------------------------------------------------

def change_of_variables_log_prob(x, forward, base):
    """log p(x) for data that an invertible map `forward` carries to the base density.

    x: (N, D); forward: a function x -> (z, log_det) with z (N, D) and
    log_det (N,) = log |det dz/dx|; base: a tfd distribution over z whose log_prob maps
    (N, D) to (N,). Returns log_px: (N,).
    """
    # TODO: z, log_det = forward(x); combine base.log_prob(z) with log_det (the change of variables)
    z, log_det = forward(x)
    return base.log_prob(z) + log_det


def bounded_log_scale(raw, bound):
    """Squash a network's raw log-scale into (-bound, bound): bound * tanh(raw / bound).

    Near 0 it is the identity (slope 1), so small log-scales pass unchanged; far out it
    saturates, so exp(log_scale) can never overflow and one bad batch cannot blow up a flow.

    raw: a tensor of any shape; bound: a positive float. Returns log_scale: same shape.
    """
    # TODO: bound * tanh(raw / bound)
    return bound * keras.ops.tanh(raw / bound)


# ---------------------------------------------------------------------------------------------
# 3. RealNVP: affine couplings with alternating masks, and actnorm
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab15_flows")
class AffineCoupling(keras.layers.Layer):
    """A RealNVP affine coupling layer.

    AffineCoupling(mask, hidden_units, log_scale_bound): mask (D,) of 0s and 1s. The
    dimensions with mask 1 pass through unchanged and condition the others. A conditioner
    network (ReLU hidden layers, then a shift head and a scale head) reads mask * x:

        h = hidden_layers(mask * x)
        shift = shift_head(h),  log_scale = bounded_log_scale(scale_head(h), log_scale_bound)
        z = mask * x + (1 - mask) * (x * exp(log_scale) + shift)

    dz/dx is triangular (after sorting the kept dimensions first) with exp(log_scale) on the
    diagonal of the transformed dimensions and 1 on the kept ones, so
    log |det dz/dx| = sum over the dimensions with mask 0 of log_scale.

    x, z: (N, D). forward(x) -> (z, log_det (N,)); inverse(z) -> (x, log_det (N,)).
    """

    def __init__(self, mask, hidden_units=(64, 64), log_scale_bound=2.0, **kwargs):
        super().__init__(**kwargs)
        self.mask = np.asarray(mask, dtype="float32").reshape(-1)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.log_scale_bound = float(log_scale_bound)
        dim = len(self.mask)
        self.hidden = [keras.layers.Dense(units, activation="relu", name=f"hidden_{i}")
                       for i, units in enumerate(self.hidden_units)]
        # The heads start at zero: a fresh coupling is the identity map, so training starts
        # from the base density instead of from a random warp of it.
        self.shift_head = keras.layers.Dense(dim, kernel_initializer="zeros", name="shift")
        self.scale_head = keras.layers.Dense(dim, kernel_initializer="zeros", name="scale")

    def build(self, input_shape):
        shape = input_shape
        for layer in self.hidden:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.shift_head.build(shape)
        self.scale_head.build(shape)

    def conditioner(self, x):
        """The shift and the bounded log-scale of every dimension, computed from mask * x only.

        x: (N, D). Returns (shift, log_scale): each (N, D), in x's dtype.
        """
        # TODO: h = the hidden layers applied to mask * x; both heads on h, cast to x.dtype (the layers compute in float16 under mixed precision); bound the log-scale
        mask = keras.ops.cast(self.mask, x.dtype)
        h = x * mask
        for layer in self.hidden:
            h = layer(h)
        shift = keras.ops.cast(self.shift_head(h), x.dtype)
        raw = keras.ops.cast(self.scale_head(h), x.dtype)
        return shift, bounded_log_scale(raw, self.log_scale_bound)

    def forward(self, x):
        """x -> z. x: (N, D). Returns (z (N, D), log_det (N,)) with log_det = log |det dz/dx|."""
        # TODO: shift, log_scale = self.conditioner(x); transform only the dimensions with mask 0; log_det sums their log-scales
        shift, log_scale = self.conditioner(x)
        mask = keras.ops.cast(self.mask, x.dtype)
        z = mask * x + (1.0 - mask) * (x * keras.ops.exp(log_scale) + shift)
        log_det = keras.ops.sum((1.0 - mask) * log_scale, axis=-1)
        return z, log_det

    def inverse(self, z):
        """z -> x. z: (N, D). Returns (x (N, D), log_det (N,)) with log_det = log |det dx/dz|."""
        # TODO: the kept half of z IS the kept half of x, so self.conditioner(z) gives the same shift and log-scale; undo the affine map; log_det has the opposite sign
        shift, log_scale = self.conditioner(z)
        mask = keras.ops.cast(self.mask, z.dtype)
        x = mask * z + (1.0 - mask) * (z - shift) * keras.ops.exp(-log_scale)
        log_det = -keras.ops.sum((1.0 - mask) * log_scale, axis=-1)
        return x, log_det

    def call(self, x):
        return self.forward(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape), tuple(input_shape[:-1])

    def get_config(self):
        return {**super().get_config(), "mask": self.mask.tolist(),
                "hidden_units": list(self.hidden_units), "log_scale_bound": self.log_scale_bound}


def alternating_masks(dim, count):
    """The masks of `count` stacked couplings: each transforms what the one before kept.

    The first mask is 0, 1, 0, 1, ... (mask[i] = i mod 2); every next one is its complement.
    Returns masks: float32 (count, dim).
    """
    # TODO: mask[i] = i mod 2 for the first coupling, then 1 - (the previous mask) for each next one
    masks = np.zeros((int(count), int(dim)), dtype="float32")
    if count == 0:
        return masks
    masks[0] = np.arange(dim) % 2
    for k in range(1, int(count)):
        masks[k] = 1.0 - masks[k - 1]
    return masks


@keras.saving.register_keras_serializable(package="dlkit_lab15_flows")
class ActNorm(keras.layers.Layer):
    """Activation normalisation (Glow): a learned affine map per dimension,

        z = (x - loc) * exp(-log_scale),   log |det dz/dx| = -sum(log_scale)  (every example)

    Data-dependent initialisation: initialize(x) sets loc and log_scale from a batch so that
    the layer maps that batch to zero mean and unit standard deviation in every dimension;
    afterwards both are ordinary trainable weights.

    x, z: (N, D). forward(x) -> (z, log_det (N,)); inverse(z) -> (x, log_det (N,)).
    """

    def build(self, input_shape):
        dim = input_shape[-1]
        self.loc = self.add_weight(shape=(dim,), initializer="zeros", name="loc")
        self.log_scale = self.add_weight(shape=(dim,), initializer="zeros", name="log_scale")

    def initialize(self, x):
        """Set loc to the per-dimension mean of x and log_scale to the log of its per-dimension
        standard deviation (plus ACTNORM_EPSILON). x: (N, D), a batch of this layer's inputs."""
        x = tf.convert_to_tensor(x, dtype="float32")
        # TODO: mean and standard deviation over the batch axis; assign them to self.loc and self.log_scale (log of std + ACTNORM_EPSILON)
        mean = tf.reduce_mean(x, axis=0)
        std = tf.math.reduce_std(x, axis=0)
        self.loc.assign(mean)
        self.log_scale.assign(tf.math.log(std + ACTNORM_EPSILON))

    def forward(self, x):
        """x -> z. x: (N, D). Returns (z (N, D), log_det (N,)), log_det the same for every row."""
        loc = keras.ops.cast(self.loc, x.dtype)
        log_scale = keras.ops.cast(self.log_scale, x.dtype)
        # TODO: z = (x - loc) * exp(-log_scale); log_det = -sum(log_scale), repeated for every row (tf.ones_like(x[..., 0]))
        z = (x - loc) * keras.ops.exp(-log_scale)
        log_det = -keras.ops.sum(log_scale) * tf.ones_like(x[..., 0])
        return z, log_det

    def inverse(self, z):
        """z -> x. z: (N, D). Returns (x (N, D), log_det (N,)) with log_det = log |det dx/dz|."""
        loc = keras.ops.cast(self.loc, z.dtype)
        log_scale = keras.ops.cast(self.log_scale, z.dtype)
        # TODO: x = z * exp(log_scale) + loc; log_det = +sum(log_scale) for every row
        x = z * keras.ops.exp(log_scale) + loc
        log_det = keras.ops.sum(log_scale) * tf.ones_like(z[..., 0])
        return x, log_det

    def call(self, x):
        return self.forward(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape), tuple(input_shape[:-1])


# ---------------------------------------------------------------------------------------------
# 4. MAF: a masked autoregressive flow layer
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab15_flows")
class MaskedAutoregressiveFlow(keras.layers.Layer):
    """One MAF layer: an autoregressive affine map whose parameters come from a MADE.

    MaskedAutoregressiveFlow(dim, hidden_units, order, log_scale_bound). For every dimension
    i, with x_<i the dimensions before i in the order,

        z_i = (x_i - shift_i(x_<i)) * exp(-log_scale_i(x_<i))

    forward (x -> z) needs one MADE pass: all the shifts and log-scales depend on x alone.
    inverse (z -> x) solves x_i = z_i * exp(log_scale_i(x_<i)) + shift_i(x_<i): x_i needs the
    earlier x_<i first, so it takes D passes, each fixing one more dimension.
    dz/dx is triangular in the order with exp(-log_scale_i) on the diagonal:
    log |det dz/dx| = -sum_i log_scale_i.

    x, z: (N, D). forward(x) -> (z, log_det (N,)); inverse(z) -> (x, log_det (N,)).
    """

    def __init__(self, dim, hidden_units=(64, 64), order="left-to-right", log_scale_bound=2.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.order = order
        self.log_scale_bound = float(log_scale_bound)
        self.made = MADE(self.dim, self.hidden_units, order, name="made")

    def build(self, input_shape):
        self.made.build(input_shape)

    def conditioner(self, x):
        """(shift, log_scale), each (N, D) in x's dtype: output i depends on x_<i only."""
        shift, raw_log_scale = self.made(x)
        return (keras.ops.cast(shift, x.dtype),
                bounded_log_scale(keras.ops.cast(raw_log_scale, x.dtype), self.log_scale_bound))

    def forward(self, x):
        """x -> z in one pass. x: (N, D). Returns (z (N, D), log_det (N,))."""
        # TODO: shift, log_scale = self.conditioner(x); z = (x - shift) * exp(-log_scale); log_det = -sum(log_scale)
        shift, log_scale = self.conditioner(x)
        z = (x - shift) * keras.ops.exp(-log_scale)
        log_det = -keras.ops.sum(log_scale, axis=-1)
        return z, log_det

    def inverse(self, z):
        """z -> x in D passes. z: (N, D). Returns (x (N, D), log_det (N,)) = log |det dx/dz|."""
        # TODO: start from x = zeros; D times: shift, log_scale = self.conditioner(x), x = z * exp(log_scale) + shift; log_det = +sum(log_scale) of the last pass
        x = tf.zeros_like(z)
        log_scale = tf.zeros_like(z)
        for _ in range(self.dim):
            shift, log_scale = self.conditioner(x)
            x = z * keras.ops.exp(log_scale) + shift
        log_det = keras.ops.sum(log_scale, axis=-1)
        return x, log_det

    def call(self, x):
        return self.forward(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape), tuple(input_shape[:-1])

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "hidden_units": list(self.hidden_units),
                "order": self.order, "log_scale_bound": self.log_scale_bound}


# ---------------------------------------------------------------------------------------------
# 5. The model
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab15_flows")
class FlowModel(keras.Model):
    """A normalizing flow: flow layers on a standard normal base density, trained by
    minimising the negative log-likelihood (NLL) of the data.

    Subclasses (RealNVP, MAF) put their layers in self.flow_layers, ordered from the data
    side to the latent side, and build. model(x) returns log p(x): (N,).
    fit/evaluate log "loss": the batch-mean NLL in nats.
    Call model.initialize(x) once on a data batch before fit: it initialises every ActNorm.
    """

    def __init__(self, dim=2, **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)
        self.flow_layers = []
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def build(self, input_shape):
        # Loading a .keras file builds again: leave built layers alone.
        for layer in self.flow_layers:
            if not layer.built:
                layer.build(input_shape)

    def initialize(self, x):
        """Data-dependent init: push x through the layers in order; each ActNorm is
        initialised on the batch that reaches it, then passes it on normalised."""
        h = tf.convert_to_tensor(x, dtype="float32")
        for layer in self.flow_layers:
            if isinstance(layer, ActNorm):
                layer.initialize(h)
            h, _ = layer.forward(h)

    def forward(self, x):
        """x -> z through every layer in order. x: (N, D).
        Returns (z (N, D), log_det (N,)): log |det dz/dx|, the sum of the layers' log_dets."""
        x = keras.ops.cast(x, "float32")  # flows compute in float32, also under mixed precision
        # TODO: start from log_det = zeros (N,) (tf.zeros_like(x[..., 0])); for each layer in order: x, layer_log_det = layer.forward(x); add up the log_dets
        log_det = tf.zeros_like(x[..., 0])
        for layer in self.flow_layers:
            x, layer_log_det = layer.forward(x)
            log_det = log_det + layer_log_det
        return x, log_det

    def inverse(self, z):
        """z -> x through every layer's inverse, last layer first. z: (N, D).
        Returns (x (N, D), log_det (N,)): log |det dx/dz|."""
        z = keras.ops.cast(z, "float32")
        # TODO: as forward, with layer.inverse over reversed(self.flow_layers)
        log_det = tf.zeros_like(z[..., 0])
        for layer in reversed(self.flow_layers):
            z, layer_log_det = layer.inverse(z)
            log_det = log_det + layer_log_det
        return z, log_det

    def log_prob(self, x):
        """log p(x) in nats. x: (N, D). Returns (N,)."""
        # TODO: change_of_variables_log_prob with self.forward and standard_normal(self.dim)
        return change_of_variables_log_prob(x, self.forward, standard_normal(self.dim))

    def train_step(self, data):
        """One gradient step on the batch-mean NLL (fit calls it). Returns {"loss": mean so far}."""
        x = data[0] if isinstance(data, tuple) else data  # fit(x) or fit((x, labels))
        # TODO: loss = -mean(log_prob(x)) inside a GradientTape; scale_loss; gradients w.r.t. self.trainable_variables; optimizer.apply
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(self.log_prob(x))
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        """The batch-mean NLL, no gradient step (evaluate and validation call it)."""
        x = data[0] if isinstance(data, tuple) else data
        # TODO: loss = -mean(log_prob(x))
        loss = -tf.reduce_mean(self.log_prob(x))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def call(self, x):
        return self.log_prob(x)

    def sample(self, n, seed=None):
        """Draw n points: z ~ N(0, I) from keras.random.normal((n, D), seed=seed), then the
        inverse flow. The same integer seed gives the same samples. Returns x: (n, D)."""
        # TODO: z from keras.random.normal((n, self.dim), seed=seed); return the x of self.inverse(z)
        z = keras.random.normal((n, self.dim), seed=seed)
        x, _ = self.inverse(z)
        return x

    def distribution(self):
        """The model as a tfd.TransformedDistribution: the base standard_normal(D) pushed
        through the generative map z -> x. Its log_prob(x) equals self.log_prob(x); its
        sample(n, seed=...) draws (n, D). Build a fresh one after training."""
        # TODO: chain one FlowBijector per layer (tfb.Chain applies its LAST bijector first), then tfb.Invert the chain to get z -> x
        chain = tfb.Chain([FlowBijector(layer) for layer in reversed(self.flow_layers)])
        return tfd.TransformedDistribution(standard_normal(self.dim), tfb.Invert(chain))


@keras.saving.register_keras_serializable(package="dlkit_lab15_flows")
class RealNVP(FlowModel):
    """RealNVP: num_couplings affine couplings with alternating masks, each preceded by an
    ActNorm (unless actnorm=False).

    RealNVP(dim, num_couplings, hidden_units, log_scale_bound, actnorm): hidden_units are
    the hidden widths of every coupling's conditioner. Layers, data side first:
    [actnorm_0, coupling_0, actnorm_1, coupling_1, ...], coupling k with alternating_masks row k.
    """

    def __init__(self, dim=2, num_couplings=4, hidden_units=(64, 64), log_scale_bound=2.0,
                 actnorm=True, **kwargs):
        super().__init__(dim, **kwargs)
        self.num_couplings = int(num_couplings)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.log_scale_bound = float(log_scale_bound)
        self.actnorm = bool(actnorm)
        masks = alternating_masks(self.dim, self.num_couplings)
        for k, mask in enumerate(masks):
            if self.actnorm:
                self.flow_layers.append(ActNorm(name=f"actnorm_{k}"))
            self.flow_layers.append(AffineCoupling(mask, self.hidden_units, self.log_scale_bound,
                                                   name=f"coupling_{k}"))
        # fit() runs train_step, which never calls the model itself, so Keras would leave it
        # unbuilt, and an unbuilt model saves to .keras WITHOUT its weights: build now.
        self.build((None, self.dim))

    def get_config(self):
        # TODO: every constructor argument, so that RealNVP.from_config rebuilds the same model
        return {**super().get_config(), "dim": self.dim, "num_couplings": self.num_couplings,
                "hidden_units": list(self.hidden_units), "log_scale_bound": self.log_scale_bound,
                "actnorm": self.actnorm}


@keras.saving.register_keras_serializable(package="dlkit_lab15_flows")
class MAF(FlowModel):
    """A masked autoregressive flow: num_layers MaskedAutoregressiveFlow layers whose orders
    alternate (left-to-right, right-to-left, ...), so that every dimension gets to depend on
    every other one somewhere in the stack.
    """

    def __init__(self, dim=2, num_layers=4, hidden_units=(64, 64), log_scale_bound=2.0,
                 **kwargs):
        super().__init__(dim, **kwargs)
        self.num_layers = int(num_layers)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.log_scale_bound = float(log_scale_bound)
        for k in range(self.num_layers):
            self.flow_layers.append(MaskedAutoregressiveFlow(
                self.dim, self.hidden_units, ORDERS[k % 2], self.log_scale_bound, name=f"maf_{k}"))
        self.build((None, self.dim))

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "num_layers": self.num_layers,
                "hidden_units": list(self.hidden_units), "log_scale_bound": self.log_scale_bound}


# ---------------------------------------------------------------------------------------------
# 6. TFP as math: a flow layer as a bijector
# ---------------------------------------------------------------------------------------------

class FlowBijector(tfb.Bijector):
    """A flow layer seen as a tfp.bijectors.Bijector, in the layer's own direction: the
    bijector's forward is the layer's forward (x -> z) and its log-det-Jacobians are the
    layer's log_dets (the event is the last axis: forward_min_event_ndims=1).

    TFP's TransformedDistribution pushes its base density through the GENERATIVE map
    z -> x, which is tfb.Invert(...) of this bijector: see FlowModel.distribution.
    """

    def __init__(self, flow, name="flow_bijector"):
        parameters = dict(locals())
        self.flow = flow
        super().__init__(forward_min_event_ndims=1, parameters=parameters, name=name)

    def _forward(self, x):
        # TODO: the z of self.flow.forward(x)
        return self.flow.forward(x)[0]

    def _inverse(self, z):
        # TODO: the x of self.flow.inverse(z)
        return self.flow.inverse(z)[0]

    def _forward_log_det_jacobian(self, x):
        # TODO: the log_det of self.flow.forward(x)
        return self.flow.forward(x)[1]

    def _inverse_log_det_jacobian(self, z):
        # TODO: the log_det of self.flow.inverse(z)
        return self.flow.inverse(z)[1]
