"""Lab 14b, part 2: a PixelCNN prior over the VQ-VAE's codes. Fill in the parts marked TODO.

A trained VQ-VAE turns every image into an (h, w) grid of code indices. Its decoder draws
an image from any grid, but a grid of codes drawn independently at random decodes to noise:
the codes of real images depend on each other. The prior learns their joint distribution
autoregressively, in raster order (row by row, left to right):

    p(codes) = prod over positions (r, c) of p(codes[r, c] | the codes before (r, c))

with lab 14's PixelCNN: masked convolutions over the grid of the codes' embeddings, and K
logits per position. The pieces, in the order the handout builds them:

1. from lab 14        causal_mask_2d, MaskedConv2D: paste yours from
                      lab14_autoregressive/pixelcnn.py (the same interface)
2. the prior          CodePrior: an embedding of the codes, a type-A masked convolution, type-B
                      masked convolutions, a 1x1 convolution to K logits (__init__, call)
3. its likelihood     code_nll, bits_per_code; CodePrior.train_step
4. sampling           sample_codes (one position at a time); sample_images decodes them

Shapes: code grids (N, h, w) integers in 0..K-1; logits (N, h, w, K).
"""
import math

import keras
import numpy as np
import scipy.special
import tensorflow as tf

from dlkit.training import LossTrackers

LOG_2 = math.log(2.0)
MASK_TYPES = ("A", "B")


# ---------------------------------------------------------------------------------------------
# 1. From lab 14: the causal mask and the masked convolution
# ---------------------------------------------------------------------------------------------

def causal_mask_2d(kernel_size, mask_type):
    """The raster-order mask of a (kernel_size x kernel_size) kernel, kernel_size odd.

    1.0 on every row above the centre row and left of the centre in the centre row; the
    centre itself is 1.0 for mask_type "B" and 0.0 for "A"; everything else 0.0.
    E.g. kernel_size 3, type "A": [[1, 1, 1], [1, 0, 0], [0, 0, 0]].
    Returns mask: (kernel_size, kernel_size) float32.
    """
    if kernel_size % 2 != 1 or mask_type not in MASK_TYPES:
        raise ValueError(f"need an odd kernel_size and a mask_type in {MASK_TYPES}, "
                         f"got {kernel_size}, {mask_type!r}")
    # BEGIN SOLUTION paste your causal_mask_2d from lab14_autoregressive/pixelcnn.py
    centre = kernel_size // 2
    mask = np.zeros((kernel_size, kernel_size), dtype=np.float32)
    for row in range(kernel_size):
        for col in range(kernel_size):
            if row < centre or (row == centre and col < centre):
                mask[row, col] = 1.0
    if mask_type == "B":
        mask[centre, centre] = 1.0
    return mask
    # END SOLUTION


@keras.saving.register_keras_serializable(package="dlkit_lab14b_vqvae")
class MaskedConv2D(keras.layers.Layer):
    """A stride-1, "same"-padded 2-D convolution with a causal mask on its kernel.

    MaskedConv2D(filters, kernel_size, mask_type). x: (N, H, W, C_in).
    Returns y: (N, H, W, filters), y = conv(x, kernel * mask) + bias, the (k, k) mask
    broadcast over the input and output channels.
    """

    def __init__(self, filters, kernel_size, mask_type, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.mask_type = str(mask_type)
        self.activation = keras.activations.get(activation)
        self.kernel_mask = causal_mask_2d(self.kernel_size, self.mask_type)

    def build(self, input_shape):
        # BEGIN SOLUTION paste your build from lab14_autoregressive/pixelcnn.py: a "kernel" (k, k, C_in, filters), glorot_uniform, and a "bias" (filters,) of zeros
        in_channels = int(input_shape[-1])
        self.kernel = self.add_weight(
            shape=(self.kernel_size, self.kernel_size, in_channels, self.filters),
            initializer=keras.initializers.GlorotUniform(), name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer=keras.initializers.Zeros(),
                                    name="bias")
        # END SOLUTION

    def call(self, x):
        # BEGIN SOLUTION paste your call from lab14_autoregressive/pixelcnn.py: the masked kernel, a stride-1 "same" convolution, the bias, the activation
        mask = tf.constant(self.kernel_mask[:, :, np.newaxis, np.newaxis], dtype=x.dtype)
        y = tf.nn.conv2d(x, self.kernel * mask, strides=1, padding="SAME")
        y = tf.nn.bias_add(y, self.bias)
        return self.activation(y)
        # END SOLUTION

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "mask_type": self.mask_type,
                "activation": keras.activations.serialize(self.activation)}


# ---------------------------------------------------------------------------------------------
# 2. The prior, 3. its likelihood
# ---------------------------------------------------------------------------------------------

def code_nll(codes, logits):
    """-log p(codes) of a grid under independent categorical positions, p = softmax(logits).

    codes: (N, h, w) integers in 0..K-1; logits: (N, h, w, K). Returns (N,) in nats: the
    sparse softmax cross-entropy of every position, summed over the grid. Stable for any
    logits (a log-softmax, never log(softmax)).
    """
    # BEGIN SOLUTION tf.nn.sparse_softmax_cross_entropy_with_logits per position (labels int32), summed over axes 1 and 2
    log_p = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
    index = keras.ops.expand_dims(keras.ops.cast(codes, "int32"), -1)
    chosen = keras.ops.squeeze(keras.ops.take_along_axis(log_p, index, axis=-1), -1)
    return -keras.ops.sum(chosen, axis=(1, 2))
    # END SOLUTION


def bits_per_code(nll, num_positions):
    """The batch mean of nll in bits per code: mean(nll) / (num_positions * ln 2).

    nll: (N,) nats per grid; num_positions: h * w. Returns a scalar. A uniform prior over K
    codes scores log2 K bits per code.
    """
    # BEGIN SOLUTION the batch mean, divided by the number of positions and by ln 2
    return keras.ops.mean(nll) / num_positions / math.log(2.0)
    # END SOLUTION


@keras.saving.register_keras_serializable(package="dlkit_lab14b_vqvae")
class CodePrior(keras.Model):
    """A PixelCNN over code grids: p(codes) = prod in raster order of softmax(logits[r, c]).

    CodePrior(num_codes, grid_shape, embedding_dim, filters, num_layers, first_kernel_size,
    kernel_size). Its layers, created in __init__:
      self.embedding     keras.layers.Embedding(num_codes, embedding_dim)
      self.first_conv    MaskedConv2D(filters, first_kernel_size, "A", activation="relu")
      self.hidden_convs  a list of num_layers MaskedConv2D(filters, kernel_size, "B",
                         activation="relu")
      self.output_conv   keras.layers.Conv2D(num_codes, 1): the K logits of each position
    codes (N, h, w) int -> logits (N, h, w, K). fit logs "loss" (nats per grid) and
    "bits_per_code".
    """

    def __init__(self, num_codes=16, grid_shape=(4, 4), embedding_dim=8, filters=32,
                 num_layers=2, first_kernel_size=5, kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        self.num_codes = int(num_codes)
        self.grid_shape = tuple(int(s) for s in grid_shape)
        self.embedding_dim, self.filters = int(embedding_dim), int(filters)
        self.num_layers = int(num_layers)
        self.first_kernel_size, self.kernel_size = int(first_kernel_size), int(kernel_size)
        self.num_positions = self.grid_shape[0] * self.grid_shape[1]
        # BEGIN SOLUTION the four attributes of the class docstring: the embedding, a type-A first_conv, num_layers type-B hidden_convs (both with ReLU), a 1x1 output_conv to num_codes logits
        self.embedding = keras.layers.Embedding(input_dim=self.num_codes,
                                                output_dim=self.embedding_dim)
        self.first_conv = MaskedConv2D(self.filters, self.first_kernel_size, "A", activation="relu")
        hidden = []
        for _ in range(self.num_layers):
            hidden.append(MaskedConv2D(self.filters, self.kernel_size, "B", activation="relu"))
        self.hidden_convs = hidden
        self.output_conv = keras.layers.Conv2D(filters=self.num_codes, kernel_size=1)
        # END SOLUTION
        self.trackers = LossTrackers("loss", "bits_per_code")
        # train_step calls the model, but an unbuilt model would save without its weights.
        self.build((None, *self.grid_shape))

    @property
    def metrics(self):
        return self.trackers.metrics

    def build(self, input_shape):
        self.embedding.build(input_shape)
        shape = (*input_shape, self.embedding_dim)
        for layer in [self.first_conv, *self.hidden_convs, self.output_conv]:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    def call(self, codes):
        """codes: (N, h, w) integers. Returns logits (N, h, w, K)."""
        # BEGIN SOLUTION embed the codes (cast to int32), then first_conv, each hidden conv in turn, output_conv
        h = self.embedding(keras.ops.cast(codes, "int32"))
        for layer in (self.first_conv, *self.hidden_convs, self.output_conv):
            h = layer(h)
        return h
        # END SOLUTION

    def train_step(self, data):
        """One gradient step on the batch-mean code_nll. Returns {"loss", "bits_per_code"}."""
        codes = data[0] if isinstance(data, tuple) else data
        # BEGIN SOLUTION nll = code_nll(codes, the logits cast to float32) and loss = its mean in a GradientTape; scale_loss; gradients; optimizer.apply; self.trackers.update(loss=loss, bits_per_code=bits_per_code(nll, self.num_positions))
        with tf.GradientTape() as tape:
            logits = self(codes, training=True)
            nll = code_nll(codes, keras.ops.cast(logits, "float32"))
            loss = tf.reduce_mean(nll)
            scaled = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        self.trackers.update(loss=loss, bits_per_code=bits_per_code(nll, self.num_positions))
        # END SOLUTION
        return self.trackers.results()

    def test_step(self, data):
        """The batch's loss and bits_per_code, no step (evaluate calls it)."""
        codes = data[0] if isinstance(data, tuple) else data
        # BEGIN SOLUTION the same code_nll of the logits, no tape; the same self.trackers.update
        nll = code_nll(codes, keras.ops.cast(self(codes, training=False), "float32"))
        self.trackers.update(loss=keras.ops.mean(nll),
                             bits_per_code=bits_per_code(nll, self.num_positions))
        # END SOLUTION
        return self.trackers.results()

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes,
                "grid_shape": list(self.grid_shape), "embedding_dim": self.embedding_dim,
                "filters": self.filters, "num_layers": self.num_layers,
                "first_kernel_size": self.first_kernel_size, "kernel_size": self.kernel_size}


# ---------------------------------------------------------------------------------------------
# 4. Sampling
# ---------------------------------------------------------------------------------------------

def sample_codes(prior, uniform):
    """N code grids drawn from the prior one position at a time, in raster order.

    prior: called as prior(codes) on codes (N, h, w) int32, returns logits (N, h, w, K) whose
    position (r, c) depends only on the codes before (r, c). uniform: (N, h, w) numbers in
    [0, 1), one per position. Start from a grid of zeros; for each position in raster order,
    call the prior on the grid drawn so far and draw that position by inverting the
    cumulative distribution: with p = softmax(logits[:, r, c]) and c_k = p_0 + ... + p_k,
    the code is the smallest k with uniform[:, r, c] < c_k (at most K - 1, against
    rounding). Returns codes (N, h, w) int32, after h * w calls of the prior.
    """
    uniform = np.asarray(uniform, dtype=np.float64)
    codes = np.zeros(uniform.shape, dtype=np.int32)
    height, width = uniform.shape[1:]
    # BEGIN SOLUTION for each row r, each column c: logits = the prior's on the current codes (numpy, float64), at (r, c); scipy.special.softmax, its cumulative sum; count the cumulative values <= uniform[:, r, c]; clip to K - 1
    for position in range(height * width):
        r, c = divmod(position, width)
        logits = np.asarray(prior(codes.copy()), dtype=np.float64)[:, r, c, :]
        cdf = np.cumsum(scipy.special.softmax(logits, axis=1), axis=1)
        above = uniform[:, r, c][:, None] < cdf
        last = logits.shape[1] - 1
        codes[:, r, c] = np.where(above.any(axis=1), above.argmax(axis=1), last)
    # END SOLUTION
    return codes


def sample_images(vqvae, prior, uniform):
    """Images from the prior: code grids from sample_codes, decoded by the VQ-VAE's
    decode_codes. uniform: (N, h, w). Returns (N, H, W, C) float32."""
    return np.asarray(vqvae.decode_codes(sample_codes(prior, uniform)))
