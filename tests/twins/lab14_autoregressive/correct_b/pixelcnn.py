"""Lab 14, part 3: PixelCNN, an autoregressive model of images built from masked convolutions.

Pixels are generated in raster order (row by row, left to right). The logit the network
outputs at pixel (r, c) may depend only on the pixels before it: the rows above, and the
pixels to the left in row r. A convolution kernel is masked to keep it so:

    causal_mask_2d   the (k, k) mask of a kernel: type "A" excludes the centre (first layer:
                     the output at (r, c) must not see x[r, c]), type "B" includes it (later
                     layers: the centre feature at (r, c) already ignores x[r, c])
    MaskedConv2D     a 2-D convolution whose kernel is multiplied by that mask
    gated_activation tanh(a) * sigmoid(b), with a and b the two halves of the channels
    GatedBlock       masked type-B conv -> gate -> 1x1 conv, plus a residual connection
    PixelCNN         type-A conv, gated blocks, 1x1 convs to one Bernoulli logit per pixel

Shapes: images (N, H, W, C), channels last. The digits are (N, 8, 8, 1).
"""
import keras
import numpy as np
from likelihood import AutoregressiveModel

MASK_TYPES = ("A", "B")


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
    centre = (kernel_size * kernel_size) // 2
    flat = np.arange(kernel_size * kernel_size).reshape(kernel_size, kernel_size)
    allowed = flat <= centre if mask_type == "B" else flat < centre
    return allowed.astype(np.float32)


@keras.saving.register_keras_serializable(package="dlkit_lab14_autoregressive")
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
        c_in = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(self.kernel_size, self.kernel_size, c_in, self.filters),
            initializer=keras.initializers.GlorotUniform(), name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

    def call(self, x):
        mask = keras.ops.cast(self.kernel_mask, self.kernel.dtype)
        kernel = self.kernel * keras.ops.reshape(mask, (self.kernel_size, self.kernel_size, 1, 1))
        y = keras.ops.conv(x, kernel, strides=1, padding="same")
        y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "mask_type": self.mask_type,
                "activation": keras.activations.serialize(self.activation)}


def gated_activation(h):
    """The gated unit of PixelCNN and WaveNet: tanh(a) * sigmoid(b).

    h: (..., 2F); a is the first F channels, b the last F. Returns (..., F).
    """
    f = h.shape[-1] // 2
    return keras.ops.tanh(h[..., :f]) * keras.ops.sigmoid(h[..., f:])


@keras.saving.register_keras_serializable(package="dlkit_lab14_autoregressive")
class GatedBlock(keras.layers.Layer):
    """x + conv_1x1(gated_activation(masked_conv_B(x))): a residual, gated PixelCNN block.

    GatedBlock(filters, kernel_size). x: (N, H, W, filters). Returns (N, H, W, filters).
    The type-B masked convolution has 2 * filters outputs (the two halves of the gate).
    """

    def __init__(self, filters, kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.masked_conv = MaskedConv2D(2 * self.filters, self.kernel_size, "B",
                                        name="masked_conv")
        # A 1x1 convolution mixes channels at one pixel: it cannot break causality.
        self.projection = keras.layers.Conv2D(self.filters, 1, name="projection")

    def build(self, input_shape):
        self.masked_conv.build(input_shape)
        proj_shape = list(input_shape)
        proj_shape[-1] = self.filters
        self.projection.build(tuple(proj_shape))

    def call(self, x):
        h = self.masked_conv(x)
        g = gated_activation(h)
        out = self.projection(g)
        return keras.ops.add(x, out)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="dlkit_lab14_autoregressive")
class PixelCNN(AutoregressiveModel):
    """p(x) = prod over pixels in raster order of Bernoulli(sigmoid(logit[r, c])).

    PixelCNN(image_shape, filters, num_blocks, first_kernel_size, kernel_size):
    a type-A MaskedConv2D (first_kernel_size) with ReLU, num_blocks GatedBlocks
    (kernel_size), then ReLU, a 1x1 Conv2D (filters, ReLU) and a 1x1 Conv2D to one logit.
    x: (N, H, W, 1) binary images. call(x) returns logits: (N, H, W, 1).
    """

    def __init__(self, image_shape=(8, 8, 1), filters=32, num_blocks=2, first_kernel_size=5,
                 kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.filters = int(filters)
        self.num_blocks = int(num_blocks)
        self.first_kernel_size = int(first_kernel_size)
        self.kernel_size = int(kernel_size)
        self.first_conv = MaskedConv2D(self.filters, self.first_kernel_size, "A",
                                       activation="relu", name="first_conv")
        self.blocks = [GatedBlock(self.filters, self.kernel_size, name=f"block_{i}")
                       for i in range(self.num_blocks)]
        self.hidden_1x1 = keras.layers.Conv2D(self.filters, 1, activation="relu",
                                              name="hidden_1x1")
        self.output_1x1 = keras.layers.Conv2D(self.image_shape[-1], 1, name="logits")
        self.build((None, *self.image_shape))  # an unbuilt model would save without weights

    def build(self, input_shape):
        shape = input_shape
        for layer in [self.first_conv, *self.blocks, self.hidden_1x1, self.output_1x1]:
            if not layer.built:
                layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, x):
        layers = [self.first_conv, *self.blocks]
        for layer in layers:
            x = layer(x)
        x = keras.activations.relu(x)
        return self.output_1x1(self.hidden_1x1(x))

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape),
                "filters": self.filters, "num_blocks": self.num_blocks,
                "first_kernel_size": self.first_kernel_size, "kernel_size": self.kernel_size}
