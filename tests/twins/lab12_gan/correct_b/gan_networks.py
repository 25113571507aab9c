"""Lab 12, part 2: generators and discriminators (plain, DCGAN and conditional).

Every builder returns a functional `keras.Model`, so it saves and reloads as `.keras` with
no custom code. Discriminators output *logits* (no sigmoid): the losses in gan_losses.py
apply the sigmoid themselves, in a numerically stable way.
"""
import keras
from keras import layers


def make_mlp_generator(latent_dim=2, data_dim=2, hidden_units=64, depth=2, name="generator"):
    """An MLP generator for 2-D toy data.

    `depth` hidden Dense layers of `hidden_units` with ReLU, then a linear Dense(data_dim)
    (the data is not bounded, so the output is not squashed).
    Input z: (N, latent_dim). Output x: (N, data_dim).
    """
    inputs = keras.Input(shape=(latent_dim,), name="z")
    x = inputs
    for i in range(depth):
        x = layers.Dense(hidden_units)(x)
        x = layers.Activation("relu")(x)
    outputs = layers.Dense(data_dim, activation=None)(x)
    return keras.Model(inputs=inputs, outputs=outputs, name=name)


def make_mlp_discriminator(data_dim=2, hidden_units=64, depth=2, name="discriminator"):
    """An MLP discriminator for 2-D toy data.

    `depth` hidden Dense layers of `hidden_units` with LeakyReLU(0.2) (so D keeps a gradient
    for every input, which G needs), then Dense(1) with no activation.
    Input x: (N, data_dim). Output logits: (N, 1), unbounded.
    """
    inputs = keras.Input(shape=(data_dim,), name="x")
    x = inputs
    for i in range(depth):
        x = layers.Dense(hidden_units, activation="leaky_relu")(x)  # keras leaky_relu: negative_slope 0.2 by default
    outputs = layers.Dense(1, activation=None)(x)
    return keras.Model(inputs=inputs, outputs=outputs, name=name)


def make_dcgan_generator(latent_dim=16, image_shape=(8, 8, 1), base_channels=32,
                         name="dcgan_generator"):
    """A DCGAN generator: project the noise to a small feature map, then upsample twice.

    With image_shape (H, W, C) (H and W divisible by 4):
      Dense(H/4 * W/4 * 2*base_channels), BatchNormalization, ReLU,
      Reshape to (H/4, W/4, 2*base_channels),
      Conv2DTranspose(base_channels, 4, strides=2, padding="same"), BatchNormalization, ReLU
                                                         -> (H/2, W/2, base_channels)
      Conv2DTranspose(C, 4, strides=2, padding="same", activation="sigmoid") -> (H, W, C)
    Batch normalisation keeps G's features from collapsing early in training (as in the
    DCGAN paper); the sigmoid puts pixels in [0, 1], like the data.
    Input z: (N, latent_dim). Output images: (N, H, W, C) in [0, 1].
    """
    height, width, channels = image_shape
    if height % 4 or width % 4:
        raise ValueError(f"image height and width must be divisible by 4, got {image_shape}")
    h4, w4 = height // 4, width // 4
    inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(h4 * w4 * base_channels * 2)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Reshape((h4, w4, base_channels * 2))(x)
    x = layers.Conv2DTranspose(filters=base_channels, kernel_size=4, strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2DTranspose(filters=channels, kernel_size=(4, 4), strides=(2, 2), padding="same")(x)
    outputs = layers.Activation("sigmoid")(x)
    return keras.Model(inputs=inputs, outputs=outputs, name=name)


def make_dcgan_discriminator(image_shape=(8, 8, 1), base_channels=32, name="dcgan_discriminator"):
    """A DCGAN discriminator: strided convolutions down, then one logit.

      Conv2D(base_channels, 4, strides=2, padding="same") + LeakyReLU(0.2)    -> (H/2, W/2, base)
      Conv2D(2*base_channels, 4, strides=2, padding="same") + LeakyReLU(0.2)  -> (H/4, W/4, 2*base)
      Flatten, Dense(1) without activation.
    Input images: (N, H, W, C). Output logits: (N, 1), unbounded.
    """
    inputs = keras.Input(shape=image_shape)
    x = inputs
    for filters in (base_channels, 2 * base_channels):
        x = layers.Conv2D(filters, kernel_size=4, strides=2, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(1)(x)
    return keras.Model(inputs=inputs, outputs=outputs, name=name)


def make_conditional_mlp_generator(latent_dim=2, num_classes=2, data_dim=2, hidden_units=64,
                                   depth=2, name="conditional_generator"):
    """make_mlp_generator, told which class to draw: its input is [z, one-hot label].

    Two inputs, z: (N, latent_dim) and labels: (N, num_classes) one-hot; they are
    concatenated, then `depth` Dense(hidden_units, relu) and a linear Dense(data_dim).
    Call it as generator([z, one_hot_labels]). Output x: (N, data_dim).
    """
    z = keras.Input(shape=(latent_dim,), name="z")
    labels = keras.Input(shape=(num_classes,), name="labels")
    x = layers.concatenate([z, labels], axis=-1)
    for _ in range(depth):
        x = layers.Dense(hidden_units)(x)
        x = layers.Activation("relu")(x)
    return keras.Model(inputs=[z, labels], outputs=layers.Dense(data_dim)(x), name=name)


def make_conditional_mlp_discriminator(num_classes=2, data_dim=2, hidden_units=64, depth=2,
                                       name="conditional_discriminator"):
    """make_mlp_discriminator, told which class the sample claims to be: input [x, one-hot label].

    Two inputs, x: (N, data_dim) and labels: (N, num_classes) one-hot; they are
    concatenated, then `depth` Dense + LeakyReLU(0.2) and Dense(1) with no activation.
    D learns "is x a real sample OF THIS CLASS?", so a generator that ignores the label is
    caught. Call it as discriminator([x, one_hot_labels]). Output logits: (N, 1).
    """
    x_in = keras.Input(shape=(data_dim,), name="x")
    labels = keras.Input(shape=(num_classes,), name="labels")
    x = layers.concatenate([x_in, labels], axis=-1)
    for _ in range(depth):
        x = layers.Dense(hidden_units)(x)
        x = layers.LeakyReLU(0.2)(x)
    return keras.Model(inputs=[x_in, labels], outputs=layers.Dense(1)(x), name=name)
