"""Lab 15b, part 1: Glow on 8x8 digits. Fill in the parts marked TODO.

Glow (Kingma & Dhariwal, 2018) is a normalizing flow for images. It keeps lab15_flows'
conventions: FORWARD maps data to latent (x -> z: evaluates densities, trains), INVERSE maps
latent to data (z -> x: samples), and every flow layer has

    forward(x) -> (z, log_det)     log_det = log |det dz/dx|, one value per example
    inverse(z) -> (x, log_det)     log_det = log |det dx/dz| = -(forward's log_det at x)

Images are channels-last: (N, H, W, C). The pieces, in the order the handout builds them:

1. squeeze              squeeze, unsqueeze (space-to-depth 2x2 and back)
2. ActNorm              per-channel affine, data-dependent init (initialize, forward, inverse)
3. invertible 1x1 conv  InvertibleConv1x1 with an LU parameterisation (kernel, forward, inverse)
4. affine coupling      coupling_network; AffineCoupling (forward, inverse): a channel split
5. dequantisation       dequantize, bits_per_dim
6. the model            Glow: the multi-scale architecture (forward, inverse, log_prob,
                        train_step, test_step)

Log-densities are in nats; bits per dimension are in bits.
"""
import keras
import numpy as np
import scipy.linalg
import tensorflow as tf
import tensorflow_probability as tfp

from dlkit.training import LossTrackers

tfd = tfp.distributions

# The scikit-learn digits have 17 intensity levels: 0, 1, ..., 16.
DIGIT_LEVELS = 17
# ActNorm divides by the data's standard deviation: keep a constant channel finite.
ACTNORM_EPSILON = 1e-6


def standard_normal(dim):
    """The base density N(0, I) on R^dim (its log_prob maps (N, dim) to (N,))."""
    return tfd.MultivariateNormalDiag(loc=tf.zeros(dim), scale_diag=tf.ones(dim))


def pixels_per_channel(x):
    """H * W of an image batch x (N, H, W, C), as a scalar of x's dtype."""
    shape = tf.shape(x)
    return tf.cast(shape[1] * shape[2], x.dtype)


# ---------------------------------------------------------------------------------------------
# 1. Squeeze
# ---------------------------------------------------------------------------------------------

def squeeze(x):
    """Space-to-depth 2x2: (N, H, W, C) -> (N, H/2, W/2, 4C), in tf.nn.space_to_depth's order.

    Output pixel (i, j) holds the 2x2 block of input pixels (2i + a, 2j + b), a, b in {0, 1};
    output channel (2a + b) * C + c is channel c of pixel (2i + a, 2j + b). H and W are even.
    A permutation of the values: its log-determinant is 0.
    """
    # TODO: reshape to (N, H/2, 2, W/2, 2, C), move the two 2-axes next to C (transpose to (N, H/2,
    #       W/2, 2, 2, C)), reshape to (N, H/2, W/2, 4C)
    raise NotImplementedError("fill in the TODO above")


def unsqueeze(z):
    """Depth-to-space 2x2, the inverse of squeeze: (N, H, W, 4C) -> (N, 2H, 2W, C)."""
    # TODO: undo squeeze's reshapes and transpose in the opposite order
    raise NotImplementedError("fill in the TODO above")


# ---------------------------------------------------------------------------------------------
# 2. ActNorm for images
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab15b_glow")
class ActNorm(keras.layers.Layer):
    """Per-channel actnorm: z = (x - loc) * exp(-log_scale), loc and log_scale of shape (C,).

    Every one of the H * W pixels of a channel is scaled by exp(-log_scale_c), so
    log |det dz/dx| = -H * W * sum_c log_scale_c, the same for every example.
    initialize(x) is the data-dependent initialisation: a batch leaves the layer with zero
    mean and unit variance per channel (over examples and pixels).
    x, z: (N, H, W, C). forward(x) -> (z, log_det (N,)); inverse(z) -> (x, log_det (N,)).
    """

    def build(self, input_shape):
        channels = input_shape[-1]
        self.loc = self.add_weight(shape=(channels,), initializer="zeros", name="loc")
        self.log_scale = self.add_weight(shape=(channels,), initializer="zeros", name="log_scale")

    def initialize(self, x):
        """Set loc to the per-channel mean of x and log_scale to the log of its per-channel
        standard deviation (plus ACTNORM_EPSILON), over the batch and pixel axes (0, 1, 2)."""
        x = tf.convert_to_tensor(x, dtype="float32")
        # TODO: mean and std over axes (0, 1, 2); assign them to self.loc and self.log_scale (log of
        #       std + ACTNORM_EPSILON)
        raise NotImplementedError("fill in the TODO above")

    def forward(self, x):
        """x -> z. x: (N, H, W, C). Returns (z, log_det (N,))."""
        loc, log_scale = (keras.ops.cast(v, x.dtype) for v in (self.loc, self.log_scale))
        # TODO: z = (x - loc) * exp(-log_scale) (loc, log_scale cast above); log_det =
        #       -H*W*sum(log_scale) for every example (pixels_per_channel, tf.ones_like(x[:, 0, 0,
        #       0]))
        raise NotImplementedError("fill in the TODO above")

    def inverse(self, z):
        """z -> x. z: (N, H, W, C). Returns (x, log_det (N,)) = log |det dx/dz|."""
        loc, log_scale = (keras.ops.cast(v, z.dtype) for v in (self.loc, self.log_scale))
        # TODO: x = z * exp(log_scale) + loc; log_det = +H*W*sum(log_scale)
        raise NotImplementedError("fill in the TODO above")

    def call(self, x):
        return self.forward(x)


# ---------------------------------------------------------------------------------------------
# 3. The invertible 1x1 convolution, LU-parameterised
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab15b_glow")
class InvertibleConv1x1(keras.layers.Layer):
    """Glow's invertible 1x1 convolution: every pixel's channel vector is multiplied by one
    C x C matrix W (laid out like a Dense kernel, inputs along the rows): z = x @ W per pixel.

    LU parameterisation: W = P @ L @ (U + diag(s)), with
      P            a fixed permutation matrix (`self.permutation`, not trained),
      L            unit lower-triangular: the strictly lower part of `self.lower`, 1 on the diagonal,
      U            strictly upper-triangular: the strictly upper part of `self.upper`,
      s            sign_s * exp(log_abs_s): `self.sign_s` fixed, `self.log_abs_s` trained.
    Only the strict triangles of `lower` and `upper` count: whatever their other entries
    hold is ignored. det W = det P * prod(s) with |det P| = 1, so
    log |det dz/dx| = H * W * sum(log_abs_s): O(C), where slogdet(W) would be O(C^3).
    It starts as a random rotation, LU-decomposed (scipy.linalg.lu) in build.
    x, z: (N, H, W, C). forward(x) -> (z, log_det (N,)); inverse(z) -> (x, log_det (N,)).
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        # The random rotation W starts at; drawn from NumPy's global generator when not given,
        # and saved in the config, so that a reloaded layer has the same fixed P and sign_s.
        self.seed = int(np.random.randint(2**31)) if seed is None else int(seed)

    def build(self, input_shape):
        channels = input_shape[-1]
        rotation = np.linalg.qr(np.random.default_rng(self.seed).normal(size=(channels,) * 2))[0]
        p, lower, upper = scipy.linalg.lu(rotation)      # rotation = p @ lower @ upper
        s = np.diag(upper)

        def constant(value, name, trainable):
            return self.add_weight(shape=np.shape(value), name=name, trainable=trainable,
                                   initializer=keras.initializers.Constant(value))

        self.permutation = constant(p, "permutation", trainable=False)
        self.sign_s = constant(np.sign(s), "sign_s", trainable=False)
        self.lower = constant(lower, "lower", trainable=True)
        self.upper = constant(np.triu(upper, 1), "upper", trainable=True)
        self.log_abs_s = constant(np.log(np.abs(s)), "log_abs_s", trainable=True)

    def kernel(self):
        """W = P @ L @ (U + diag(sign_s * exp(log_abs_s))): (C, C)."""
        # TODO: L = strict lower triangle of self.lower + identity (tf.linalg.band_part); U = strict
        #       upper triangle of self.upper; add tf.linalg.diag(sign_s * exp(log_abs_s)); multiply
        #       P @ L @ (U + diag)
        raise NotImplementedError("fill in the TODO above")

    def forward(self, x):
        """x -> z = x @ W at every pixel. Returns (z, log_det (N,)) = H * W * sum(log_abs_s)."""
        # TODO: z = x @ self.kernel() over the channel axis (tf.einsum or tf.tensordot); log_det
        #       from log_abs_s, not from a determinant
        raise NotImplementedError("fill in the TODO above")

    def inverse(self, z):
        """z -> x = z @ W^-1 at every pixel. Returns (x, log_det (N,)) = -H * W * sum(log_abs_s)."""
        # TODO: x = z @ tf.linalg.inv(self.kernel()); log_det = minus the forward's
        raise NotImplementedError("fill in the TODO above")

    def call(self, x):
        return self.forward(x)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


# ---------------------------------------------------------------------------------------------
# 4. The affine coupling for images
# ---------------------------------------------------------------------------------------------

def coupling_network(out_channels, hidden_channels):
    """The conditioner of an image coupling: a keras.Sequential of
    Conv2D(hidden_channels, 3, "same", ReLU), Conv2D(hidden_channels, 1, ReLU) and
    Conv2D(2 * out_channels, 3, "same") whose kernel and bias start at ZERO, so a fresh
    coupling is the identity map. Output channels [:out_channels] are the shift, the rest
    the raw log-scale. Maps (N, H, W, any) to (N, H, W, 2 * out_channels)."""
    # TODO: keras.Sequential of the three Conv2D layers; the last with kernel_initializer="zeros"
    #       (its bias starts at zero by default)
    raise NotImplementedError("fill in the TODO above")


@keras.saving.register_keras_serializable(package="dlkit_lab15b_glow")
class AffineCoupling(keras.layers.Layer):
    """An affine coupling for images, split along the channels.

    The first half x_a = x[..., :C // 2] passes unchanged and conditions the second half
    x_b = x[..., C // 2:]:

        shift, log_scale = self.shift_and_log_scale(x_a)       # each (N, H, W, C - C // 2)
        z = concat(x_a, x_b * exp(log_scale) + shift)
        log |det dz/dx| = sum of log_scale over H, W and the channels

    x, z: (N, H, W, C), C >= 2. forward(x) -> (z, log_det (N,)); inverse(z) -> (x, log_det (N,)).
    """

    def __init__(self, hidden_channels=32, log_scale_bound=2.0, **kwargs):
        super().__init__(**kwargs)
        self.hidden_channels = int(hidden_channels)
        self.log_scale_bound = float(log_scale_bound)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.kept = channels // 2
        self.network = coupling_network(channels - self.kept, self.hidden_channels)
        self.network.build((*input_shape[:-1], self.kept))

    def shift_and_log_scale(self, x_a):
        """(shift, log_scale) from the kept half: each (N, H, W, C - C // 2), in x_a's dtype;
        the log-scale squashed into (-log_scale_bound, log_scale_bound) by a tanh."""
        out = keras.ops.cast(self.network(x_a), x_a.dtype)
        shift, raw = out[..., :out.shape[-1] // 2], out[..., out.shape[-1] // 2:]
        return shift, self.log_scale_bound * tf.math.tanh(raw / self.log_scale_bound)

    def forward(self, x):
        """x -> z. Returns (z, log_det (N,))."""
        # TODO: split at self.kept; shift, log_scale from x_a; z_b = x_b * exp(log_scale) + shift;
        #       concatenate; log_det = sum of log_scale over axes 1, 2, 3
        raise NotImplementedError("fill in the TODO above")

    def inverse(self, z):
        """z -> x. Returns (x, log_det (N,)) = log |det dx/dz|."""
        # TODO: the kept half of z is x_a: the same shift and log_scale; x_b = (z_b - shift) *
        #       exp(-log_scale); log_det = minus the sum of log_scale
        raise NotImplementedError("fill in the TODO above")

    def call(self, x):
        return self.forward(x)

    def get_config(self):
        return {**super().get_config(), "hidden_channels": self.hidden_channels,
                "log_scale_bound": self.log_scale_bound}


# ---------------------------------------------------------------------------------------------
# 5. Dequantisation and bits per dimension
# ---------------------------------------------------------------------------------------------

def digit_levels(x):
    """The digits of dlkit.data.load_digits (pixel / 16, in [0, 1]) as their integer levels
    0..16, float32 (N, 8, 8, 1)."""
    return np.round(np.asarray(x, dtype="float32") * (DIGIT_LEVELS - 1)).astype("float32")


def dequantize(levels_x, num_levels, seed=None):
    """Uniform dequantisation: y = (x + u) / K with u ~ U[0, 1) per value, K = num_levels.

    levels_x: integer levels 0..K-1 (any shape, float). u from
    keras.random.uniform(shape, seed=seed): the same integer seed gives the same y.
    Returns y in [0, 1), float32, the shape of levels_x: the cell of level k is [k/K, (k+1)/K).
    """
    # TODO: u = keras.random.uniform(the shape of levels_x, seed=seed); (x + u) / num_levels
    raise NotImplementedError("fill in the TODO above")


def bits_per_dim(log_prob, num_dims, num_levels):
    """Bits per dimension of the discrete data from the continuous density of y = (x + u) / K.

    log_prob: log p(y) in nats, (N,); num_dims: D values per example; num_levels: K.
    The density of x + u is p(y) / K^D, so -log P(x) <= -log p(y) + D log K (nats); divide
    by D and by log 2 for bits. Returns (N,): (-log p(y) + D log K) / (D log 2).
    """
    # TODO: (-log_prob + num_dims * log(num_levels)) / (num_dims * log(2))
    raise NotImplementedError("fill in the TODO above")


# ---------------------------------------------------------------------------------------------
# 6. The multi-scale model
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab15b_glow")
class Glow(keras.Model):
    """Glow's multi-scale architecture on images of shape image_shape = (H, W, C).

    Glow(image_shape, levels, steps, hidden_channels, log_scale_bound). Level l (l = 0, 1,
    ..., levels - 1): squeeze, then `steps` flow steps [ActNorm, InvertibleConv1x1,
    AffineCoupling] (self.flow_levels[l] lists the layers, data side first), then, on every
    level but the last, the split: the FIRST half of the channels, h[..., :c // 2], goes on
    to the next level; the SECOND half, h[..., c // 2:], is factored out to the prior.
    z is the concatenation of the flattened factored-out parts, level 0 first, then the
    flattened output of the last level: self.latent_shapes lists their (H, W, C) in that
    order. z ~ N(0, I) of dimension D = H * W * C.

    forward(x) -> (z (N, D), log_det (N,)); inverse(z) -> (x (N, H, W, C), log_det (N,)).
    model(x) returns log p(x) (N,). fit/evaluate log "loss": the batch-mean NLL in nats.
    Call model.initialize(x) once on a data batch before fit: it initialises every ActNorm.
    """

    def __init__(self, image_shape=(8, 8, 1), levels=2, steps=2, hidden_channels=32,
                 log_scale_bound=2.0, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.levels = int(levels)
        self.steps = int(steps)
        self.hidden_channels = int(hidden_channels)
        self.log_scale_bound = float(log_scale_bound)
        self.dim = int(np.prod(self.image_shape))
        self.trackers = LossTrackers("loss")
        self.flow_levels, self.latent_shapes = [], []
        h, w, c = self.image_shape
        for level in range(self.levels):
            h, w, c = h // 2, w // 2, 4 * c
            self.flow_levels.append([
                layer for step in range(self.steps) for layer in (
                    ActNorm(name=f"actnorm_{level}_{step}"),
                    InvertibleConv1x1(name=f"conv1x1_{level}_{step}"),
                    AffineCoupling(self.hidden_channels, self.log_scale_bound,
                                   name=f"coupling_{level}_{step}"))])
            if level < self.levels - 1:
                self.latent_shapes.append((h, w, c - c // 2))
                c = c // 2
        self.latent_shapes.append((h, w, c))
        # train_step never calls the model, so fit would leave it unbuilt (and an unbuilt
        # model saves to .keras without its weights): build every layer now.
        h, w, c = self.image_shape
        for level, layers in enumerate(self.flow_levels):
            h, w, c = h // 2, w // 2, 4 * c
            for layer in layers:
                layer.build((None, h, w, c))
            c = c // 2
        self.built = True

    @property
    def metrics(self):
        return self.trackers.metrics

    def initialize(self, x):
        """Data-dependent init: push x through the levels (squeeze, steps, split); each
        ActNorm is initialised on the batch that reaches it."""
        h = tf.convert_to_tensor(x, dtype="float32")
        for level, layers in enumerate(self.flow_levels):
            h = squeeze(h)
            for layer in layers:
                if isinstance(layer, ActNorm):
                    layer.initialize(h)
                h, _ = layer.forward(h)
            h = h[..., :h.shape[-1] // 2]

    def forward(self, x):
        """x -> z. x: (N, H, W, C). Returns (z (N, D), log_det (N,)), the layers' log_dets summed."""
        h = keras.ops.cast(x, "float32")  # flows compute in float32, also under mixed precision
        # TODO: per level: squeeze; every layer's forward, adding up log_dets; on all but the last
        #       level keep h[..., :c//2] and set aside h[..., c//2:] flattened (tf.reshape(part, [N,
        #       -1])); append the last h flattened; concatenate along axis 1
        raise NotImplementedError("fill in the TODO above")

    def inverse(self, z):
        """z -> x. z: (N, D). Returns (x (N, H, W, C), log_det (N,)) = log |det dx/dz|."""
        z = keras.ops.cast(z, "float32")
        # TODO: cut z into the parts of self.latent_shapes (reshaped to (N, h, w, c)); start from
        #       the last; per level, last level first: (on all but the last level) concatenate h
        #       with its factored-out part ([h, part] along channels), every layer's inverse in
        #       reverse order, unsqueeze
        raise NotImplementedError("fill in the TODO above")

    def log_prob(self, x):
        """log p(x) in nats: standard_normal(D).log_prob(z) + log_det. x: (N, H, W, C). Returns (N,)."""
        # TODO: z, log_det = self.forward(x); the base log-density of z plus log_det
        raise NotImplementedError("fill in the TODO above")

    def train_step(self, data):
        """One gradient step on the batch-mean NLL. Returns {"loss": mean so far}."""
        x = data[0] if isinstance(data, tuple) else data
        # TODO: nll = -mean(log_prob(x)) in a GradientTape; scale it with self.optimizer.scale_loss;
        #       gradients of the scaled loss; self.optimizer.apply
        raise NotImplementedError("fill in the TODO above")
        self.trackers.update(loss=nll)
        return self.trackers.results()

    def test_step(self, data):
        """The batch-mean NLL, no step (evaluate calls it)."""
        x = data[0] if isinstance(data, tuple) else data
        # TODO: nll = -mean(log_prob(x))
        raise NotImplementedError("fill in the TODO above")
        self.trackers.update(loss=nll)
        return self.trackers.results()

    def call(self, x):
        return self.log_prob(x)

    def sample(self, n, temperature=1.0, seed=None):
        """n images from z = temperature * keras.random.normal((n, D), seed=seed) through the
        inverse (a temperature below 1 gives cleaner, less varied samples). Returns (n, H, W, C)."""
        z = temperature * keras.random.normal((int(n), self.dim), seed=seed)
        images, _ = self.inverse(z)
        return images

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape),
                "levels": self.levels, "steps": self.steps,
                "hidden_channels": self.hidden_channels,
                "log_scale_bound": self.log_scale_bound}
