"""Lab 25, part 2: quantisation-aware training. Fill in the parts marked TODO.

1. fake_quant_per_channel   symmetric int8 fake quantisation of a kernel, one scale per output
                            channel (the grid of quantize_per_channel), straight-through gradient
2. fake_quant_range         fake quantisation of activations on a range given as tensors (the
                            nudged grid of fake_quant), straight-through gradient
3. QATDense.call            a Dense layer that trains on fake-quantised inputs and weights, the
                            input range tracked by a moving average during training

Kernels (inputs, outputs); activations (N, inputs).
"""
import keras
import tensorflow as tf


def fake_quant_per_channel(kernel, num_bits=8):
    """Quantise and dequantise a kernel symmetrically per output channel (the last axis):

        scale_c = max_i |W[i, c]| / (2^(bits-1) - 1),   y = round(W / scale_c) * scale_c

    (127 levels each side at 8 bits, as quantize_per_channel and Keras's int8). The gradient
    is straight-through: the upstream gradient itself (round treated as the identity; nothing
    is clipped, the range is the kernel's own). A column of zeros stays zero.
    kernel: a float32 tensor (inputs, outputs). Returns a tensor of its shape."""
    # TODO: scale = the absolute maximum over axis 0 over (2^(bits-1) - 1), kept above 0 (tf.maximum
    #       with a tiny value); q = tf.round(kernel / scale) * scale; the straight-through trick:
    #       kernel + tf.stop_gradient(q - kernel)
    raise NotImplementedError("fill in the TODO above")


def fake_quant_range(x, min_value, max_value, num_bits=8):
    """fake_quant (compression.py) with min_value and max_value given as scalar TENSORS (a
    tracked range changes during training): the same nudged grid of 2^bits levels, so 0.0 is
    on it, x clipped to [nudged_min, nudged_max] and rounded; the straight-through gradient
    (the upstream gradient inside [nudged_min, nudged_max], 0 outside). No gradient reaches
    the range. Returns a tensor of x's shape."""
    # TODO: as fake_quant, in TensorFlow ops, the bounds get NO gradient: first min_value =
    #       tf.stop_gradient(min_value), the same for max_value; then scale, zero point
    #       clip(round(-min / scale), 0, levels), nudged_min and nudged_max; clipped =
    #       tf.clip_by_value(x, ...); rounded = nudged_min + tf.round((clipped - nudged_min) /
    #       scale) * scale; return clipped + the straight-through tf.stop_gradient(rounded -
    #       clipped) (the clip's gradient is 1 inside, 0 out)
    raise NotImplementedError("fill in the TODO above")


class QATDense(keras.layers.Layer):
    """A Dense layer for quantisation-aware training: activation(fq(x) @ fq_c(W) + b), with
    fq_c = fake_quant_per_channel on the kernel and fq = fake_quant_range on the inputs over
    the tracked range [input_min, input_max].

    The range (given: the variables, built here) is tracked during training only: on the
    first training call (seen == 0) it is the batch's min and max; after that an exponential
    moving average, range = momentum * range + (1 - momentum) * the batch's. seen counts the
    training calls. In inference (training=False) the range is used, never changed.
    The bias stays float (int32 in a real int8 kernel)."""

    def __init__(self, units, activation=None, momentum=0.9, num_bits=8, **kwargs):
        super().__init__(**kwargs)
        self.units, self.momentum, self.num_bits = int(units), float(momentum), int(num_bits)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        inputs = int(input_shape[-1])
        self.kernel = self.add_weight(shape=(inputs, self.units), initializer="glorot_uniform",
                                      name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.input_min = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                         name="input_min")
        self.input_max = self.add_weight(shape=(), initializer="ones", trainable=False,
                                         name="input_max")
        self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False, name="seen")

    def call(self, x, training=False):
        # TODO: if training: the batch's tf.reduce_min / tf.reduce_max of x; the new range = the
        #       batch's where self.seen == 0 (tf.where), else the moving average; assign both,
        #       seen.assign_add(1). Then fake_quant_range(x, input_min, input_max, bits) @
        #       fake_quant_per_channel(kernel, bits) + bias, through self.activation
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        return {**super().get_config(), "units": self.units, "momentum": self.momentum,
                "num_bits": self.num_bits,
                "activation": keras.activations.serialize(self.activation)}


def make_qat_mlp(hidden, num_classes=10, inputs=64, num_bits=8, name="qat_mlp"):
    """make_mlp with QATDense layers: QATDense(h, relu) per entry of hidden, then
    QATDense(num_classes) logits. Given."""
    layers = [keras.Input((inputs,))]
    layers += [QATDense(h, activation="relu", num_bits=num_bits) for h in hidden]
    layers.append(QATDense(num_classes, num_bits=num_bits))
    return keras.Sequential(layers, name=name)
