"""Lab 16, part 5: the denoiser, a small MLP that predicts the noise in x_t.

It sees the noisy point x_t, the timestep t (through a sinusoidal embedding, as in the
Transformer's positional encoding: a smooth code where nearby steps look alike) and,
for classifier-free guidance, a class label whose extra value num_classes means "no label".
"""
import math

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="dlkit_lab16_diffusion")
class SinusoidalEmbedding(keras.layers.Layer):
    """Timesteps to sinusoidal features, no weights.

    With half = dim / 2 frequencies w_k = max_period^(-k / half), k = 0..half-1:
        embedding(t) = [sin(t w_0), ..., sin(t w_{half-1}), cos(t w_0), ..., cos(t w_{half-1})].

    t: (N,) integer (or float) timesteps. Returns (N, dim) float32.
    """

    def __init__(self, dim, max_period=10000.0, **kwargs):
        super().__init__(**kwargs)
        if dim % 2:
            raise ValueError(f"dim must be even (sines and cosines in pairs), got {dim}")
        self.dim = int(dim)
        self.max_period = float(max_period)

    def call(self, t):
        # TODO: frequencies exp(-log(max_period) * k / half); angles t * w; sines then cosines
        half = self.dim // 2
        k = tf.range(half, dtype=tf.float32)
        freqs = tf.exp(-math.log(self.max_period) * k / half)
        angles = tf.cast(tf.reshape(t, (-1, 1)), tf.float32) * freqs[None, :]
        return tf.concat([tf.sin(angles), tf.cos(angles)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "max_period": self.max_period}


@keras.saving.register_keras_serializable(package="dlkit_lab16_diffusion")
class MLPDenoiser(keras.layers.Layer):
    """eps_theta(x_t, t, labels): predicts the noise in x_t.

    h = silu(input_projection(x_t) + time_projection(embedding(t)) [+ label_embedding(labels)]),
    then `depth` Dense(hidden_units, silu) layers and a linear Dense(data_dim).
    With num_classes > 0, labels are integers in [0, num_classes], num_classes meaning "no
    label"; labels=None is the same as all "no label".

    x_t: (N, data_dim); t: (N,) integers; labels: (N,) integers or None.
    Returns the predicted noise: (N, data_dim).
    """

    def __init__(self, data_dim=2, hidden_units=128, depth=3, embedding_dim=32, num_classes=0,
                 **kwargs):
        super().__init__(**kwargs)
        self.data_dim = int(data_dim)
        self.hidden_units = int(hidden_units)
        self.depth = int(depth)
        self.embedding_dim = int(embedding_dim)
        self.num_classes = int(num_classes)
        self.time_embedding = SinusoidalEmbedding(self.embedding_dim, name="time_embedding")
        self.time_projection = keras.layers.Dense(self.hidden_units, activation="silu",
                                                  name="time_projection")
        self.input_projection = keras.layers.Dense(self.hidden_units, name="input_projection")
        # One extra row: the "no label" class that classifier-free guidance trains with.
        self.label_embedding = (keras.layers.Embedding(self.num_classes + 1, self.hidden_units,
                                                       name="label_embedding")
                                if self.num_classes else None)
        self.hidden = [keras.layers.Dense(self.hidden_units, activation="silu", name=f"hidden_{i}")
                       for i in range(self.depth)]
        # No activation: noise takes any real value.
        self.output_layer = keras.layers.Dense(self.data_dim, name="output")

    def build(self, input_shape):
        # TODO: build every sublayer on the shape it will see (the time projection on embedding_dim features)
        self.input_projection.build((None, self.data_dim))
        self.time_projection.build((None, self.embedding_dim))
        if self.label_embedding is not None:
            self.label_embedding.build((None,))
        shape = (None, self.hidden_units)
        for layer in self.hidden:
            layer.build(shape)
        self.output_layer.build(shape)

    def call(self, x_t, t, labels=None):
        # TODO: sum the x_t, time and label codes, silu, the hidden layers, the output layer
        h = self.input_projection(x_t) + self.time_projection(self.time_embedding(t))
        if self.label_embedding is not None:
            if labels is None:
                labels = tf.fill(tf.shape(t)[:1], self.num_classes)
            h = h + self.label_embedding(labels)
        h = keras.activations.silu(h)
        for layer in self.hidden:
            h = layer(h)
        return self.output_layer(h)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        return (input_shape[0], self.data_dim)

    def get_config(self):
        return {**super().get_config(), "data_dim": self.data_dim,
                "hidden_units": self.hidden_units, "depth": self.depth,
                "embedding_dim": self.embedding_dim, "num_classes": self.num_classes}
