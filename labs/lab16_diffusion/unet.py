"""Lab 16, part 7: a U-Net that predicts the noise in images, told t through FiLM.

An MLP sees a digit as 64 unrelated numbers. A U-Net sees an image: convolutions down to a
coarse grid (what digit is this?) and back up to full resolution (which pixels are noise?),
with *skip connections* that hand each resolution's features from the way down straight to
the way up, so fine detail never has to squeeze through the coarse grid. The timestep (and
optionally a class) enters every residual block through FiLM: a per-channel scale and shift
computed from the conditioning vector.

Shapes: images are (N, H, W, C), channels last, H and W divisible by 4 (8x8 digits: full
resolution 8x8, then 4x4, then 2x2 in the middle).
"""
import math

import keras
import tensorflow as tf
from denoiser import SinusoidalEmbedding


@keras.saving.register_keras_serializable(package="dlkit_lab16_diffusion")
class FiLM(keras.layers.Layer):
    """Feature-wise linear modulation (Perez et al., 2018) of (N, H, W, C) features:

        [gamma, beta] = projection(condition)            (N, 2C): gamma the first C columns
        out = (1 + gamma) * h + beta                     per example and channel, the same
                                                         at every pixel (broadcast over H, W)

    The projection starts at zero (weights and bias), so a new FiLM is the identity, and a
    new residual block is its plain convolutions: the condition is learned as a correction.

    h: (N, H, W, C); condition: (N, D). Returns (N, H, W, C).
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.projection = keras.layers.Dense(2 * self.channels, kernel_initializer="zeros",
                                             name="projection")

    def call(self, h, condition):
        # TODO: project the condition to 2C numbers, split into gamma then beta, reshape each to (N,
        #       1, 1, C) so they broadcast over H and W; (1 + gamma) * h + beta
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


@keras.saving.register_keras_serializable(package="dlkit_lab16_diffusion")
class ResidualBlock(keras.layers.Layer):
    """A residual block told the condition through FiLM:

        r = conv_1(silu(h));  r = film(r, condition);  r = conv_2(silu(r))
        out = skip(h) + r

    conv_1, conv_2: 3x3 'same' convolutions to `filters` channels; skip: a 1x1 convolution
    (the input may have another number of channels).

    h: (N, H, W, C_in); condition: (N, D). Returns (N, H, W, filters).
    """

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.conv_1 = keras.layers.Conv2D(self.filters, 3, padding="same", name="conv_1")
        self.film = FiLM(self.filters, name="film")
        self.conv_2 = keras.layers.Conv2D(self.filters, 3, padding="same", name="conv_2")
        self.skip = keras.layers.Conv2D(self.filters, 1, name="skip")

    def call(self, h, condition):
        # TODO: conv_1 of silu(h), FiLM with the condition, conv_2 of silu, plus skip(h)
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


@keras.saving.register_keras_serializable(package="dlkit_lab16_diffusion")
class UNetDenoiser(keras.layers.Layer):
    """eps_theta(x_t, t, labels) for images: a two-level U-Net (b = base_filters).

        condition = time_mlp(time_embedding(t))  [+ label_embedding(labels)]     (N, 4b)
        h = stem(x)                                              H x W,     b channels
        skip_0 = down_block_0(h, condition)                      H x W,     b
        skip_1 = down_block_1(downsample_0(skip_0), condition)   H/2 x W/2, 2b
        h = middle_block(downsample_1(skip_1), condition)        H/4 x W/4, 4b
        h = up_block_1(concat([upsample_1(h), skip_1]), condition)   H/2, 2b (in: 2b + 2b)
        h = up_block_0(concat([upsample_0(h), skip_0]), condition)   H,   b  (in: b + b)
        out = head(silu(h))                                      H x W,     C

    concat is along channels, the upsampled features FIRST, then the skip. downsample_*:
    3x3 convolutions with stride 2; upsample_*: 2x2 transposed convolutions with stride 2.
    The head is a 3x3 convolution that starts at zero (weights and bias): a new U-Net
    predicts no noise at all, and training starts from there.
    With num_classes > 0, labels are integers in [0, num_classes], num_classes meaning "no
    label" (labels=None is the same as all "no label").

    x_t: (N, H, W, C) images, or (N, H * W * C) flat vectors of image_shape (what
    DiffusionModel(data_dim=H * W * C) passes: the output is flat then too); t: (N,)
    integers; labels: (N,) integers or None. Returns the predicted noise, x_t's shape.
    """

    def __init__(self, image_shape=(8, 8, 1), base_filters=16, embedding_dim=32,
                 num_classes=0, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(n) for n in image_shape)
        if self.image_shape[0] % 4 or self.image_shape[1] % 4:
            raise ValueError(f"the image's height and width must be divisible by 4 (two "
                             f"halvings), got {self.image_shape}")
        self.base_filters = int(base_filters)
        self.embedding_dim = int(embedding_dim)
        self.num_classes = int(num_classes)
        b = self.base_filters
        self.time_embedding = SinusoidalEmbedding(self.embedding_dim, name="time_embedding")
        self.time_mlp = keras.layers.Dense(4 * b, activation="silu", name="time_mlp")
        self.label_embedding = (keras.layers.Embedding(self.num_classes + 1, 4 * b,
                                                       name="label_embedding")
                                if self.num_classes else None)
        self.stem = keras.layers.Conv2D(b, 3, padding="same", name="stem")
        self.down_block_0 = ResidualBlock(b, name="down_block_0")
        self.downsample_0 = keras.layers.Conv2D(2 * b, 3, strides=2, padding="same",
                                                name="downsample_0")
        self.down_block_1 = ResidualBlock(2 * b, name="down_block_1")
        self.downsample_1 = keras.layers.Conv2D(4 * b, 3, strides=2, padding="same",
                                                name="downsample_1")
        self.middle_block = ResidualBlock(4 * b, name="middle_block")
        self.upsample_1 = keras.layers.Conv2DTranspose(2 * b, 2, strides=2, name="upsample_1")
        self.up_block_1 = ResidualBlock(2 * b, name="up_block_1")
        self.upsample_0 = keras.layers.Conv2DTranspose(b, 2, strides=2, name="upsample_0")
        self.up_block_0 = ResidualBlock(b, name="up_block_0")
        self.head = keras.layers.Conv2D(self.image_shape[-1], 3, padding="same",
                                        kernel_initializer="zeros", name="head")

    def call(self, x_t, t, labels=None):
        flat = len(x_t.shape) == 2
        images = keras.ops.reshape(x_t, (-1,) + self.image_shape) if flat else x_t
        out = self.predict_images(images, t, labels)
        return keras.ops.reshape(out, (-1, math.prod(self.image_shape))) if flat else out

    def predict_images(self, x_t, t, labels=None):
        """The U-Net on images: x_t (N, H, W, C), t (N,), labels (N,) or None -> (N, H, W, C)."""
        # TODO: the condition (time, plus the label embedding for a conditional model, the null
        #       label when labels is None); stem; down blocks keeping skip_0 and skip_1; middle; up
        #       blocks on concat([upsampled, skip]); head of silu
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape),
                "base_filters": self.base_filters, "embedding_dim": self.embedding_dim,
                "num_classes": self.num_classes}
