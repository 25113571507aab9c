"""Lab 03, part 4: batch normalisation as a Keras layer.

For features x with C channels on the last axis (inputs (N, C), or (N, H, W, C), ...),
BatchNorm normalises each channel over every other axis, then rescales it:

    training:   mu, var = mean and (biased) variance of the batch, per channel
                y = gamma * (x - mu) / sqrt(var + eps) + beta
                moving_mean     <- momentum * moving_mean     + (1 - momentum) * mu
                moving_variance <- momentum * moving_variance + (1 - momentum) * var
    inference:  the same y with moving_mean and moving_variance in place of mu and var,
                and no update: a prediction must not depend on the rest of its batch.

momentum close to 1 (0.99) makes the moving averages remember about 1 / (1 - momentum)
batches. These are the conventions of keras.layers.BatchNormalization(axis=-1).
"""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="dlkit_lab03_optimization")
class BatchNorm(keras.layers.Layer):
    """Batch normalisation over the last axis.

    BatchNorm(momentum=0.99, epsilon=1e-3). Weights, each of shape (C,), named and in this
    order: gamma (ones, trainable), beta (zeros, trainable), moving_mean (zeros,
    not trainable), moving_variance (ones, not trainable).
    call(x, training=False): x (N, ..., C). Returns y with the shape and dtype of x.
    training=True normalises with the batch statistics and updates the moving ones;
    training=False (inference) uses the moving statistics and changes nothing.
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        channels = (int(input_shape[-1]),)
        specs = [("gamma", keras.initializers.Ones(), True),
                 ("beta", keras.initializers.Zeros(), True),
                 ("moving_mean", keras.initializers.Zeros(), False),
                 ("moving_variance", keras.initializers.Ones(), False)]
        for name, initializer, trainable in specs:
            setattr(self, name, self.add_weight(shape=channels, name=name,
                                                initializer=initializer,
                                                trainable=trainable, autocast=False))

    def call(self, x, training=False):
        # float16 batch statistics overflow easily: compute in float32, return the input dtype.
        x = ops.cast(x, "float32")
        batch_axes = tuple(range(len(x.shape) - 1))  # every axis but the channels
        if training:
            mean = ops.mean(x, axis=batch_axes)
            variance = ops.mean(ops.square(x - mean), axis=batch_axes)
            keep = self.momentum
            self.moving_mean.assign(keep * self.moving_mean.value + (1.0 - keep) * mean)
            self.moving_variance.assign(keep * self.moving_variance.value
                                        + (1.0 - keep) * variance)
        else:
            mean = self.moving_mean.value
            variance = self.moving_variance.value
        scale = self.gamma * ops.rsqrt(variance + self.epsilon)
        y = x * scale + (self.beta - mean * scale)
        return ops.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["momentum"] = self.momentum
        config["epsilon"] = self.epsilon
        return config
