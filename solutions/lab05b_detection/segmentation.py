"""Lab 5b, part 2: atrous convolution and ASPP for segmentation. Fill in the parts marked TODO.

9. atrous (dilated) convolution by hand     atrous_conv2d
10. the receptive field of a stack of them  receptive_field
11. atrous spatial pyramid pooling (Keras)  ASPP.call
A U-Net with your ASPP as its bottleneck (build_aspp_unet) is given.

Shapes: N images of H x W pixels with C channels, channels-last.
"""
import keras
import numpy as np
from keras import layers

PACKAGE = "dlkit_lab05b_detection"


# ---------------------------------------------------------------------------------------------
# 9-10. Atrous convolution
# ---------------------------------------------------------------------------------------------

def atrous_conv2d(x, kernel, bias=None, rate=1):
    """A stride-1 "same" convolution whose kernel taps are `rate` pixels apart.

    x: (N, H, W, C_in); kernel: (KH, KW, C_in, C_out), odd KH and KW; bias: (C_out,) or None.
    out[n, i, j] = bias + sum_{a, b} xp[n, i + a * rate, j + b * rate] @ kernel[a, b], where xp
    is x padded with (KH - 1) * rate // 2 zeros above and below (and (KW - 1) * rate // 2
    left and right). Cross-correlation, no flip, as keras.layers.Conv2D(dilation_rate=rate).
    Returns float32 (N, H, W, C_out).
    """
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    kh, kw = kernel.shape[:2]
    n, height, width, _ = x.shape
    # BEGIN SOLUTION pad by (K - 1) * rate // 2 on each side, then add, for every tap (a, b), the shifted slice xp[:, a*rate : a*rate + H, b*rate : b*rate + W] @ kernel[a, b]
    top, left = (kh - 1) * rate // 2, (kw - 1) * rate // 2
    padded = np.pad(x, ((0, 0), (top, top), (left, left), (0, 0)))
    out = np.zeros((n, height, width, kernel.shape[3]))
    for a in range(kh):
        for b in range(kw):
            window = padded[:, a * rate:a * rate + height, b * rate:b * rate + width, :]
            out += window @ kernel[a, b]
    # END SOLUTION
    if bias is not None:
        out = out + np.asarray(bias, dtype=np.float64)
    return out.astype(np.float32)


def receptive_field(kernel_sizes, rates):
    """The receptive field (in pixels, along one axis) of one output of a stack of stride-1
    convolutions with these kernel sizes and dilation rates: how many input pixels it sees.

    A kernel of size k at rate r spans (k - 1) * r + 1 pixels. Returns an int.
    """
    # BEGIN SOLUTION each layer widens the field by its span minus one
    return 1 + sum((int(k) - 1) * int(r) for k, r in zip(kernel_sizes, rates))
    # END SOLUTION


# ---------------------------------------------------------------------------------------------
# 11. Atrous spatial pyramid pooling
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
class ASPP(layers.Layer):
    """Atrous spatial pyramid pooling (DeepLab v3): context at several scales, in parallel.

    Branches, all on the same input: one 3x3 Conv2D (ReLU, "same") per dilation rate in
    `rates`, and an image-pooling branch (the mean of every channel over all positions, a
    1x1 Conv2D with ReLU, broadcast back to every position). Their outputs are concatenated
    on the channels, the rate branches in the order of `rates` and then the pooling branch,
    and projected by a 1x1 Conv2D with ReLU to `filters` channels.

    x: (N, H, W, C). Returns (N, H, W, filters).
    """

    def __init__(self, filters, rates=(1, 2, 4), **kwargs):
        super().__init__(**kwargs)
        self.filters, self.rates = int(filters), tuple(int(r) for r in rates)
        self.branches = [layers.Conv2D(self.filters, 3, dilation_rate=rate, padding="same",
                                       activation="relu") for rate in self.rates]
        self.pool_conv = layers.Conv2D(self.filters, 1, activation="relu")
        self.project = layers.Conv2D(self.filters, 1, activation="relu")

    def build(self, input_shape):
        for branch in self.branches:
            branch.build(input_shape)
        pooled_shape = (input_shape[0], 1, 1, input_shape[-1])
        self.pool_conv.build(pooled_shape)
        joined = (*input_shape[:-1], self.filters * (len(self.rates) + 1))
        self.project.build(joined)

    def call(self, x):
        ops = keras.ops
        # BEGIN SOLUTION every branch on x; the pooling branch: mean over (H, W) keeping the axes, pool_conv, broadcast to x's positions; concatenate (rate branches, then pooling) on the channels; project
        outputs = [branch(x) for branch in self.branches]
        pooled = self.pool_conv(ops.mean(x, axis=(1, 2), keepdims=True))
        shape = ops.shape(x)
        outputs.append(ops.broadcast_to(pooled, (shape[0], shape[1], shape[2], self.filters)))
        return self.project(ops.concatenate(outputs, axis=-1))
        # END SOLUTION

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "rates": list(self.rates)}


def conv_block(x, filters):
    """Two 3x3 "same" convolutions with ReLU."""
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return layers.Conv2D(filters, 3, padding="same", activation="relu")(x)


def build_aspp_unet(size=16, channels=1, base_filters=8, rates=(1, 2, 4)):
    """A one-level U-Net whose bottleneck is your ASPP: per-pixel logits of "this pixel is a
    shape".

    conv_block(base_filters) at full resolution (kept as the skip), 2x2 max pooling, then
    ASPP(2 * base_filters, rates) at half resolution, a stride-2 Conv2DTranspose back up,
    the skip concatenated, conv_block(base_filters), and a 1x1 Conv2D to one logit per pixel.
    Returns a keras.Model: (N, size, size, channels) -> (N, size, size, 1) logits.
    """
    inputs = keras.Input((size, size, channels))
    fine = conv_block(inputs, base_filters)
    coarse = layers.MaxPool2D(pool_size=2)(fine)
    context = ASPP(2 * base_filters, rates=rates, name="aspp")(coarse)
    upsampled = layers.Conv2DTranspose(base_filters, 2, strides=2)(context)
    joined = layers.Concatenate()([upsampled, fine])
    logits = layers.Conv2D(1, 1)(conv_block(joined, base_filters))
    return keras.Model(inputs, logits, name="aspp_unet")


def compile_segmenter(model, learning_rate=3e-3):
    """Per-pixel binary cross-entropy on the logits, Adam."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
