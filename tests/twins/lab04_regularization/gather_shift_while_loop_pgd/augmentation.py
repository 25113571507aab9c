"""Lab 04, part 3: data augmentation as a Keras layer. Fill in the TODOs.

A digit moved by a pixel is still the same digit: training on randomly shifted copies
tells the network so, and it stops memorising where exactly the strokes sit. (Flips would
be wrong here: a mirrored 2 is not a 2.)

    shift_images(images, shifts)   move each image by its own integer (rows, columns)
                                   offset, filling the uncovered border with zeros
    RandomShift(max_shift, seed)   in training, shift each image by offsets drawn uniformly
                                   from {-max_shift, ..., max_shift}; at inference, identity

Shapes: images (N, H, W, C); shifts (N, 2) integers (dy, dx): positive dy moves the content
DOWN, positive dx moves it RIGHT:

    out[n, i, j, c] = images[n, i - dy_n, j - dx_n, c]   where that pixel exists, else 0.
"""
import keras
import tensorflow as tf
from keras import ops

PACKAGE = "dlkit_lab04_regularization"


def shift_matrices(offsets, size):
    """One (size, size) 0/1 matrix per offset, S[n, i, r] = 1 where r == i - offsets[n].

    S[n] @ v moves a length-`size` vector v by offsets[n] (down for positive offsets),
    with zeros coming in. offsets: (N,) ints. Returns S: (N, size, size) float32.
    """
    rows = ops.arange(size)[None, :, None]
    sources = ops.arange(size)[None, None, :]
    return ops.cast(ops.equal(sources, rows - ops.cast(offsets, "int32")[:, None, None]),
                    "float32")


def shift_images(images, shifts):
    """Each image moved by its own (dy, dx), zeros filling in.

    images: (N, H, W, C) float; shifts: (N, 2) ints (dy, dx). Returns (N, H, W, C), same dtype.
    """
    images = ops.convert_to_tensor(images)
    shifts = ops.convert_to_tensor(shifts)
    height, width = images.shape[1], images.shape[2]
    # gather: output row i reads input row i - dy (if it exists), column j reads j - dx
    shifts = tf.cast(shifts, tf.int32)
    source_rows = tf.range(height)[None, :] - shifts[:, 0:1]            # (N, H)
    source_cols = tf.range(width)[None, :] - shifts[:, 1:2]             # (N, W)
    row_ok = (source_rows >= 0) & (source_rows < height)
    col_ok = (source_cols >= 0) & (source_cols < width)
    out = tf.gather(images, tf.clip_by_value(source_rows, 0, height - 1), axis=1, batch_dims=1)
    out = tf.gather(out, tf.clip_by_value(source_cols, 0, width - 1), axis=2, batch_dims=1)
    mask = tf.logical_and(row_ok[:, :, None], col_ok[:, None, :])[..., None]  # (N, H, W, 1)
    return tf.where(mask, out, tf.zeros_like(out))


@keras.saving.register_keras_serializable(package=PACKAGE)
class RandomShift(keras.layers.Layer):
    """Random integer shifts of up to max_shift pixels along each axis, training only.

    Offsets come from a keras.random.SeedGenerator made from `seed` in __init__: a new draw
    per call and per image, reproducible from the seed.
    """

    def __init__(self, max_shift=1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.max_shift = int(max_shift)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if training:
            batch = ops.shape(images)[0]
            shifts = keras.random.randint(ops.stack([batch, 2]), minval=-self.max_shift,
                                          maxval=self.max_shift + 1, dtype="int32",
                                          seed=self.seed_generator)
            images = shift_images(images, shifts)
        return images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_shift": self.max_shift, "seed": self.seed}
