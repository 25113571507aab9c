"""Lab 5, part 2: convolutional networks in Keras. Fill in the parts marked TODO.

The pieces, in the order the handout builds them:

6. overlap of boxes and masks        box_iou, mask_iou
7. a residual block (Keras layer)    ResidualBlock: build (its shortcut), call
8. a small ResNet                    small_resnet
9. a U-Net for segmentation          build_unet (encoder, decoder)
10. a single-object detector         build_detector (its two heads), compile_detector

Shapes: N images of H x W pixels with C channels, channels-last. A box is
(y_min, x_min, y_max, x_max) in [0, 1], the layout of dlkit.data.make_shapes.
"""
import keras
import numpy as np
from keras import layers

PACKAGE = "dlkit_lab05_cnn"


# ---------------------------------------------------------------------------------------------
# 6. Intersection over union
# ---------------------------------------------------------------------------------------------

def box_iou(boxes_a, boxes_b):
    """Intersection over union of each pair of boxes: |A and B| / |A or B|.

    boxes_a, boxes_b: (N, 4) as (y_min, x_min, y_max, x_max). Returns (N,) in [0, 1]:
    0 for boxes that do not overlap (and for a pair of empty boxes).
    """
    a, b = np.asarray(boxes_a, dtype=np.float64), np.asarray(boxes_b, dtype=np.float64)
    y0 = np.maximum(a[:, 0], b[:, 0])
    x0 = np.maximum(a[:, 1], b[:, 1])
    y1 = np.minimum(a[:, 2], b[:, 2])
    x1 = np.minimum(a[:, 3], b[:, 3])
    inter = np.clip(y1 - y0, 0, None) * np.clip(x1 - x0, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def mask_iou(masks_a, masks_b):
    """Intersection over union of each pair of binary masks, counted in pixels.

    masks_a, masks_b: (N, H, W, 1) of 0/1 (or booleans). Returns (N,) in [0, 1]: 1 when both
    masks are empty (they agree perfectly).
    """
    a, b = np.asarray(masks_a) > 0.5, np.asarray(masks_b) > 0.5
    axes = tuple(range(1, a.ndim))
    inter = np.sum(a & b, axis=axes)
    union = np.sum(a | b, axis=axes)
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


# ---------------------------------------------------------------------------------------------
# 7-8. Residual block and a small ResNet
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
class ResidualBlock(layers.Layer):
    """out = relu(F(x) + shortcut(x)): the block learns a correction F to its input.

    F(x) = BN(conv3x3(relu(BN(conv3x3_strides(x))))), convolutions with "same" padding and
    no bias (BN has one). The shortcut is x itself when F keeps the shape; when the block
    downsamples (strides > 1) or changes the channels, a projection 1x1 conv with the block's
    strides (no bias) followed by BN maps x to F's shape.

    x: (N, H, W, C). Returns (N, ceil(H / strides), ceil(W / strides), filters).
    """

    def __init__(self, filters, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.strides = int(filters), int(strides)
        self.conv1 = layers.Conv2D(self.filters, 3, strides=self.strides, padding="same",
                                   use_bias=False)
        self.norm1 = layers.BatchNormalization()
        self.conv2 = layers.Conv2D(self.filters, 3, padding="same", use_bias=False)
        self.norm2 = layers.BatchNormalization()
        self.projection = None        # the shortcut's 1x1 conv, when there is one
        self.projection_norm = None   # and its BatchNormalization

    def build(self, input_shape):
        channels = input_shape[-1]
        if self.strides != 1 or channels != self.filters:
            self.projection = layers.Conv2D(self.filters, 1, strides=self.strides, use_bias=False)
            self.projection_norm = layers.BatchNormalization()
        # Build every sublayer now, so a reloaded block has all its weights before loading.
        self.conv1.build(input_shape)
        inner_shape = self.conv1.compute_output_shape(input_shape)
        self.norm1.build(inner_shape)
        self.conv2.build(inner_shape)
        self.norm2.build(inner_shape)
        if self.projection is not None:
            self.projection.build(input_shape)
            self.projection_norm.build(inner_shape)

    def call(self, x, training=None):
        y = self.norm1(self.conv1(x), training=training)
        y = keras.ops.relu(y)
        y = self.norm2(self.conv2(y), training=training)
        if self.projection is None:
            shortcut = x
        else:
            shortcut = self.projection_norm(self.projection(x), training=training)
        return keras.ops.relu(y + shortcut)

    def compute_output_shape(self, input_shape):
        return self.conv1.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


def small_resnet(input_shape=(16, 16, 1), num_classes=3, widths=(8, 16), blocks_per_stage=1):
    """A small ResNet classifier: a stem, one stage of residual blocks per width, a head.

    Stage k has blocks_per_stage ResidualBlocks of widths[k] filters; the first block of
    every stage but the first halves the resolution (strides 2). The head averages each
    channel over all positions (global average pooling: the prediction no longer depends
    on where the shape is) and maps the result to num_classes logits with a Dense layer.

    Returns a keras.Model: (N, *input_shape) images -> (N, num_classes) logits.
    """
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(widths[0], 3, padding="same", use_bias=False)(inputs)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for stage, width in enumerate(widths):
        for block in range(blocks_per_stage):
            strides = 2 if (stage > 0 and block == 0) else 1
            x = ResidualBlock(width, strides=strides)(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs, name="small_resnet")


# ---------------------------------------------------------------------------------------------
# 9. U-Net
# ---------------------------------------------------------------------------------------------

def conv_block(x, filters):
    """Two 3x3 "same" convolutions with ReLU: the U-Net's unit at every resolution."""
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return layers.Conv2D(filters, 3, padding="same", activation="relu")(x)


def build_unet(size=16, channels=1, base_filters=8, depth=2):
    """A U-Net: per-pixel logits of "this pixel belongs to the shape".

    Encoder, for level = 0 .. depth-1: conv_block(x, base_filters * 2**level), keep the
    result as that level's skip, then MaxPooling2D(2). Bottleneck: conv_block with
    base_filters * 2**depth. Decoder, for level = depth-1 .. 0: Conv2DTranspose(filters of
    that level, 2, strides=2) doubles the resolution, Concatenate with that level's skip (the
    fine detail pooling threw away), conv_block. Last: a 1x1 Conv2D to 1 logit per pixel.

    size must be divisible by 2**depth. Returns a keras.Model:
    (N, size, size, channels) images -> (N, size, size, 1) logits.
    """
    inputs = keras.Input((size, size, channels))
    x, skips = inputs, []
    for level in range(depth):
        x = conv_block(x, base_filters * 2 ** level)
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
    x = conv_block(x, base_filters * 2 ** depth)
    for level in reversed(range(depth)):
        filters = base_filters * 2 ** level
        x = layers.Conv2DTranspose(filters, 2, strides=2)(x)
        x = layers.Concatenate()([x, skips[level]])
        x = conv_block(x, filters)
    outputs = layers.Conv2D(1, 1)(x)
    return keras.Model(inputs, outputs, name="unet")


def compile_unet(model, learning_rate=3e-3):
    """Per-pixel binary cross-entropy on the logits, Adam."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))


# ---------------------------------------------------------------------------------------------
# 10. Single-object detector
# ---------------------------------------------------------------------------------------------

def build_detector(size=16, channels=1, num_classes=3, filters=(16, 32), hidden=64):
    """One object per image: where it is (a box) and what it is (a class), from shared features.

    The backbone keeps the positions: convolutions and pooling, then Flatten (a global
    pooling would throw away where the shape is, which the box needs).
    Returns a keras.Model: (N, size, size, channels) images -> {"boxes": (N, 4) in [0, 1] as
    (y_min, x_min, y_max, x_max), "labels": (N, num_classes) logits}.
    """
    inputs = keras.Input((size, size, channels))
    x = inputs
    for width in filters:
        x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    features = layers.Dense(hidden, activation="relu")(layers.Flatten()(x))
    boxes = layers.Dense(4, activation="sigmoid", name="boxes")(features)
    labels = layers.Dense(num_classes, name="labels")(features)
    return keras.Model(inputs, {"boxes": boxes, "labels": labels}, name="detector")


def compile_detector(model, learning_rate=3e-3, box_weight=10.0):
    """Adam on box_weight * (box regression loss) + the classification loss.

    The box coordinates are fractions of the image, so their squared errors are small: the
    weight keeps the box loss from being drowned by the cross-entropy.
    """
    losses = {"boxes": keras.losses.MeanSquaredError(),
              "labels": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}
    weights = {"boxes": box_weight, "labels": 1.0}
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=losses,
                  loss_weights=weights)
