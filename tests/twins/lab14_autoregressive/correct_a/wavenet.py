"""Lab 14, part 4: WaveNet-style dilated causal 1-D convolutions for sequences.

A causal convolution's output at step t sees only steps <= t: pad the sequence on the LEFT
with (kernel_size - 1) * dilation_rate zeros and convolve without padding. Dilation spaces
the kernel taps dilation_rate steps apart, so a stack with rates 1, 2, 4, 8 sees 2^4 steps
back with 4 layers of kernel 2 instead of 16.

    CausalConv1D      a dilated causal convolution, output length = input length
    receptive_field   how many input steps one output of a stack of them sees
    WaveNet           K-level sequences: shift right, causal conv, gated residual blocks
                      with growing dilation, 1x1 convs to K logits per step

Shapes: sequences (N, T) of integer levels in [0, K); features (N, T, C), channels last.
make_sequences (given) draws the lab's synthetic data.
"""
import keras
import numpy as np
import tensorflow as tf
from likelihood import AutoregressiveModel
from pixelcnn import gated_activation


@keras.saving.register_keras_serializable(package="dlkit_lab14_autoregressive")
class CausalConv1D(keras.layers.Layer):
    """y[t] = sum_i x[t - i * dilation_rate] @ kernel[k - 1 - i] + bias, zeros before t = 0.

    CausalConv1D(filters, kernel_size, dilation_rate). x: (N, T, C_in).
    Returns y: (N, T, filters); y[:, t] depends only on x[:, t - (k-1)*d], ..., x[:, t - d],
    x[:, t].
    """

    def __init__(self, filters, kernel_size=2, dilation_rate=1, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.dilation_rate = int(dilation_rate)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel",
                                      shape=(self.kernel_size, int(input_shape[-1]), self.filters),
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, x):
        pad = (self.kernel_size - 1) * self.dilation_rate
        x = tf.pad(x, [[0, 0], [pad, 0], [0, 0]])
        y = tf.nn.convolution(x, self.kernel, padding="VALID", dilations=self.dilation_rate)
        return self.activation(y + self.bias)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "dilation_rate": self.dilation_rate,
                "activation": keras.activations.serialize(self.activation)}


def receptive_field(kernel_size, dilation_rates):
    """How many consecutive input steps one output of a stack of CausalConv1D layers sees.

    Each layer reaches (kernel_size - 1) * rate steps further back than its input does.
    kernel_size: int, the same for every layer; dilation_rates: one int per layer.
    Returns an int (1 for an empty stack: a step sees itself).
    """
    return 1 + sum((kernel_size - 1) * rate for rate in dilation_rates)


@keras.saving.register_keras_serializable(package="dlkit_lab14_autoregressive")
class WaveNet(AutoregressiveModel):
    """p(x) = prod_t Categorical(x_t | softmax(logits_t)) for sequences of K levels.

    WaveNet(levels, filters, dilation_rates, kernel_size). The network sees the one-hot
    sequence shifted right by one step (so step t sees x_<t only), then a CausalConv1D
    (dilation 1), one gated residual block per dilation rate (a CausalConv1D with 2 * filters
    outputs, gated_activation, a 1x1 Conv1D, plus the input), ReLU, a 1x1 Conv1D (filters,
    ReLU) and a 1x1 Conv1D to K logits.
    x: (N, T) integer levels. call(x) returns logits: (N, T, K); logits[:, t] depends on
    x[:, t - R], ..., x[:, t - 1] only, with R = self.receptive_field.
    """

    likelihood = "categorical"

    def __init__(self, levels=16, filters=32, dilation_rates=(1, 2, 4, 8), kernel_size=2,
                 **kwargs):
        super().__init__(**kwargs)
        self.levels = int(levels)
        self.filters = int(filters)
        self.dilation_rates = tuple(int(r) for r in dilation_rates)
        self.kernel_size = int(kernel_size)
        self.input_conv = CausalConv1D(self.filters, self.kernel_size, 1, name="input_conv")
        self.gate_convs = [CausalConv1D(2 * self.filters, self.kernel_size, dilation_rate=rate,
                                        name=f"gate_conv_{i}")
                           for i, rate in enumerate(self.dilation_rates)]
        self.projections = [keras.layers.Conv1D(self.filters, 1, name=f"projection_{i}")
                            for i in range(len(self.dilation_rates))]
        self.hidden_1x1 = keras.layers.Conv1D(self.filters, 1, activation="relu",
                                              name="hidden_1x1")
        self.output_1x1 = keras.layers.Conv1D(self.levels, 1, name="logits")
        self.build((None, None))  # an unbuilt model would save without weights

    @property
    def receptive_field(self):
        """R: the logits at step t see the inputs t - R, ..., t - 1."""
        return receptive_field(self.kernel_size, (1, *self.dilation_rates))

    def build(self, input_shape):
        features = (*input_shape[:2], self.filters)
        if not self.input_conv.built:
            self.input_conv.build((*input_shape[:2], self.levels))
        for gate_conv, projection in zip(self.gate_convs, self.projections):
            if not gate_conv.built:
                gate_conv.build(features)
                projection.build(features)  # the gate halves 2 * filters
        if not self.hidden_1x1.built:
            self.hidden_1x1.build(features)
            self.output_1x1.build(features)

    def call(self, x):
        one_hot = tf.one_hot(tf.cast(x, tf.int32), self.levels, dtype=self.compute_dtype)
        return self.logits_from_one_hot(one_hot)

    def logits_from_one_hot(self, one_hot):
        """one_hot: (N, T, K) float. Returns logits: (N, T, K), causal in the strict sense."""
        x = tf.pad(one_hot, [[0, 0], [1, 0], [0, 0]])[:, :-1, :]
        h = self.input_conv(x)
        for gate_conv, projection in zip(self.gate_convs, self.projections):
            h = h + projection(gated_activation(gate_conv(h)))
        h = tf.nn.relu(h)
        h = self.hidden_1x1(h)
        return self.output_1x1(h)

    def get_config(self):
        return {**super().get_config(), "levels": self.levels, "filters": self.filters,
                "dilation_rates": list(self.dilation_rates), "kernel_size": self.kernel_size}


def make_sequences(num_sequences, length=64, levels=16, seed=0):
    """Synthetic K-level sequences: noisy sine waves of random period, phase and amplitude.

    Predictable from the last ~period steps, so a receptive field of one or two periods
    (8 to 16 steps) is enough to model them well. Returns int32 (num_sequences, length).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(length)[None, :]
    period = rng.uniform(6.0, 14.0, size=(num_sequences, 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(num_sequences, 1))
    amplitude = rng.uniform(0.5, 1.0, size=(num_sequences, 1))
    wave = amplitude * np.sin(2 * np.pi * t / period + phase)
    wave += 0.05 * rng.normal(size=wave.shape)
    levels_float = (np.clip(wave, -1.0, 1.0) + 1.0) / 2.0 * (levels - 1)
    return np.round(levels_float).astype(np.int32)
