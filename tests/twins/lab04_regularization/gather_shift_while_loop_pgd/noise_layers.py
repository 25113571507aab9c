"""Lab 04, part 2: noise as a regulariser, written as Keras layers. Fill in the TODOs.

    InvertedDropout   training: zero each entry with probability `rate`, scale the survivors
                      by 1 / (1 - rate), so E[output] = input; inference: the identity
    GaussianNoise     training: add N(0, stddev^2) noise to each entry; inference: the identity

Both are random in training only. Their randomness comes from a keras.random.SeedGenerator
created in __init__: every call draws a NEW mask (the generator's state advances), and two
layers built with the same seed draw the same sequence of masks. Keras passes `training`
to call: True inside fit and with model(x, training=True), False or None in predict,
evaluate and a plain model(x).

Shapes: x is any shape (N, ...); the output has the shape and dtype of x.
"""
import keras
from keras import ops

PACKAGE = "dlkit_lab04_regularization"


@keras.saving.register_keras_serializable(package=PACKAGE)
class InvertedDropout(keras.layers.Layer):
    """Dropout with inverted scaling, like keras.layers.Dropout (without noise_shape)."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if training and self.rate > 0.0:
            keep_probability = 1.0 - self.rate
            # Bernoulli(1 - rate): keep where the uniform draw falls below 1 - rate
            keep = ops.less(keras.random.uniform(ops.shape(x), seed=self.seed_generator),
                            keep_probability)
            return ops.where(keep, x / ops.cast(keep_probability, x.dtype), ops.zeros_like(x))
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class GaussianNoise(keras.layers.Layer):
    """Additive Gaussian noise in training, the identity at inference
    (keras.layers.GaussianNoise does the same)."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = float(stddev)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if training:
            noise = keras.random.normal(ops.shape(x), mean=0.0, stddev=self.stddev,
                                        dtype=x.dtype, seed=self.seed_generator)
            return ops.add(x, noise)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}
