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
    z = keras.Input((latent_dim,))
    h = z
    for _ in range(depth):
        h = layers.Dense(hidden_units, activation="relu")(h)
    return keras.Model(z, layers.Dense(data_dim)(h), name=name)


def make_mlp_discriminator(data_dim=2, hidden_units=64, depth=2, name="discriminator"):
    """An MLP discriminator for 2-D toy data.

    `depth` hidden Dense layers of `hidden_units` with LeakyReLU(0.2) (so D keeps a gradient
    for every input, which G needs), then Dense(1) with no activation.
    Input x: (N, data_dim). Output logits: (N, 1), unbounded.
    """
    x = keras.Input((data_dim,))
    h = x
    for _ in range(depth):
        h = layers.Dense(hidden_units)(h)
        h = layers.LeakyReLU(negative_slope=0.2)(h)
    return keras.Model(x, layers.Dense(1)(h), name=name)


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
    z = keras.Input((latent_dim,))
    h = layers.Dense((height // 4) * (width // 4) * 2 * base_channels)(z)
    h = layers.BatchNormalization()(h)
    h = layers.ReLU()(h)
    h = layers.Reshape((height // 4, width // 4, 2 * base_channels))(h)
    h = layers.Conv2DTranspose(base_channels, 4, strides=2, padding="same")(h)
    h = layers.BatchNormalization()(h)
    h = layers.ReLU()(h)
    out = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="sigmoid")(h)
    return keras.Model(z, out, name=name)


def make_dcgan_discriminator(image_shape=(8, 8, 1), base_channels=32, name="dcgan_discriminator"):
    """A DCGAN discriminator: strided convolutions down, then one logit.

      Conv2D(base_channels, 4, strides=2, padding="same") + LeakyReLU(0.2)    -> (H/2, W/2, base)
      Conv2D(2*base_channels, 4, strides=2, padding="same") + LeakyReLU(0.2)  -> (H/4, W/4, 2*base)
      Flatten, Dense(1) without activation.
    Input images: (N, H, W, C). Output logits: (N, 1), unbounded.
    """
    x = keras.Input(tuple(image_shape))
    h = layers.Conv2D(base_channels, 4, strides=2, padding="same")(x)
    h = layers.LeakyReLU(negative_slope=0.2)(h)
    h = layers.Conv2D(2 * base_channels, 4, strides=2, padding="same")(h)
    h = layers.LeakyReLU(negative_slope=0.2)(h)
    h = layers.Flatten()(h)
    return keras.Model(x, layers.Dense(1)(h), name=name)


def make_conditional_mlp_generator(latent_dim=2, num_classes=2, data_dim=2, hidden_units=64,
                                   depth=2, name="conditional_generator"):
    """make_mlp_generator, told which class to draw: its input is [z, one-hot label].

    Two inputs, z: (N, latent_dim) and labels: (N, num_classes) one-hot; they are
    concatenated, then `depth` Dense(hidden_units, relu) and a linear Dense(data_dim).
    Call it as generator([z, one_hot_labels]). Output x: (N, data_dim).
    """
    z = keras.Input((latent_dim,))
    labels = keras.Input((num_classes,))
    h = layers.Concatenate()([z, labels])
    for _ in range(depth):
        h = layers.Dense(hidden_units, activation="relu")(h)
    return keras.Model([z, labels], layers.Dense(data_dim)(h), name=name)


def make_conditional_mlp_discriminator(num_classes=2, data_dim=2, hidden_units=64, depth=2,
                                       name="conditional_discriminator"):
    """make_mlp_discriminator, told which class the sample claims to be: input [x, one-hot label].

    Two inputs, x: (N, data_dim) and labels: (N, num_classes) one-hot; they are
    concatenated, then `depth` Dense + LeakyReLU(0.2) and Dense(1) with no activation.
    D learns "is x a real sample OF THIS CLASS?", so a generator that ignores the label is
    caught. Call it as discriminator([x, one_hot_labels]). Output logits: (N, 1).
    """
    x = keras.Input((data_dim,))
    labels = keras.Input((num_classes,))
    h = layers.Concatenate()([x, labels])
    for _ in range(depth):
        h = layers.Dense(hidden_units)(h)
        h = layers.LeakyReLU(negative_slope=0.2)(h)
    return keras.Model([x, labels], layers.Dense(1)(h), name=name)
