"""Lab 10, part 2: autoencoders in Keras. Fill in the parts marked TODO.

The pieces, in the order the handout builds them:

1. a linear autoencoder (it finds the PCA subspace)    LinearAutoencoder
2. a deep (MLP) autoencoder                            DenseAutoencoder
3. a convolutional autoencoder for (8, 8, 1) images    ConvAutoencoder
4. a denoising autoencoder                             corrupt, DenoisingAutoencoder
5. walking through the code space                      interpolate, interpolate_images

Every autoencoder is a keras.Model made of two keras.Sequential stacks: `encoder` maps
x to a code of `code_dim` numbers, `decoder` maps the code back to data space. You write
`make_encoder` and `make_decoder`; the base class `Autoencoder` puts them together.
Shapes: N examples, D = 64 pixels (flat) or (8, 8, 1) images, K = code_dim.
"""
import keras
import numpy as np
import tensorflow as tf
from keras import layers

from dlkit.training import LossTrackers, OneOptimizer

PACKAGE = "dlkit_lab10_autoencoders"


class Autoencoder(keras.Model):
    """x -> encoder -> code -> decoder -> x_hat. Subclasses define make_encoder and
    make_decoder, set their hyperparameters, then call self.assemble(input_shape)."""

    def assemble(self, input_shape):
        self.encoder = self.make_encoder()
        self.decoder = self.make_decoder()
        # Build now, from the known input shape: a model that was never built saves to
        # .keras without its weights.
        self.build((None, *input_shape))

    def build(self, input_shape):
        # Loading a .keras file builds again: leave built stacks alone.
        if not self.encoder.built:
            self.encoder.build(input_shape)
        if not self.decoder.built:
            self.decoder.build((None, self.code_dim))

    def encode(self, x):
        """x: (N, *input_shape). Returns codes: (N, code_dim)."""
        return self.encoder(x)

    def decode(self, codes):
        """codes: (N, code_dim). Returns x_hat: (N, *input_shape)."""
        return self.decoder(codes)

    def call(self, x):
        return self.decoder(self.encoder(x))


# ---------------------------------------------------------------------------------------------
# 1. The linear autoencoder
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
class LinearAutoencoder(Autoencoder):
    """code = x W_e + b_e, x_hat = code W_d + b_d: no activation anywhere.

    Trained on the squared error, its reconstructions x_hat - b_d span the same K-dim
    subspace as the top-K principal components (but W_d need not be orthonormal, nor its
    rows the components themselves: any basis of that subspace is as good).
    x: (N, input_dim). Returns x_hat: (N, input_dim).
    """

    def __init__(self, input_dim=64, code_dim=4, **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.code_dim = int(input_dim), int(code_dim)
        self.assemble((self.input_dim,))

    def make_encoder(self):
        return keras.Sequential([layers.Dense(self.code_dim)], name="encoder")

    def make_decoder(self):
        return keras.Sequential([layers.Dense(self.input_dim)], name="decoder")

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "code_dim": self.code_dim}


# ---------------------------------------------------------------------------------------------
# 2. The deep (MLP) autoencoder
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
class DenseAutoencoder(Autoencoder):
    """An MLP autoencoder for pixels in [0, 1].

    encoder: Dense(h, relu) for each h in hidden_units, then Dense(code_dim) (a linear code)
    decoder: Dense(h, relu) for each h in REVERSED hidden_units, then
             Dense(input_dim, sigmoid) (pixels in [0, 1], like the data)
    x: (N, input_dim). Returns x_hat: (N, input_dim) in [0, 1].
    """

    def __init__(self, input_dim=64, code_dim=4, hidden_units=(128, 64), **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.code_dim = int(input_dim), int(code_dim)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.assemble((self.input_dim,))

    def make_encoder(self):
        stack = [layers.Dense(h, activation="relu") for h in self.hidden_units]
        return keras.Sequential(stack + [layers.Dense(self.code_dim)], name="encoder")

    def make_decoder(self):
        stack = [layers.Dense(h, activation="relu") for h in reversed(self.hidden_units)]
        return keras.Sequential(stack + [layers.Dense(self.input_dim, activation="sigmoid")],
                                name="decoder")

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "code_dim": self.code_dim,
                "hidden_units": list(self.hidden_units)}


# ---------------------------------------------------------------------------------------------
# 3. The convolutional autoencoder
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
class ConvAutoencoder(Autoencoder):
    """A convolutional autoencoder for (H, W, C) images, H and W divisible by 4.

    With filters (f1, f2), every convolution 3x3, padding "same":
      encoder: Conv2D(f1, strides=2, relu)            -> (H/2, W/2, f1)
               Conv2D(f2, strides=2, relu)            -> (H/4, W/4, f2)
               Flatten, Dense(code_dim)               -> (code_dim,)
      decoder: Dense(H/4 * W/4 * f2, relu), Reshape   -> (H/4, W/4, f2)
               Conv2DTranspose(f1, strides=2, relu)   -> (H/2, W/2, f1)
               Conv2DTranspose(C, strides=2, sigmoid) -> (H, W, C)
    A strided Conv2D halves the height and width; a strided Conv2DTranspose doubles them.
    x: (N, H, W, C) in [0, 1]. Returns x_hat: (N, H, W, C) in [0, 1].
    """

    def __init__(self, image_shape=(8, 8, 1), code_dim=4, filters=(16, 32), **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.code_dim = int(code_dim)
        self.filters = tuple(int(f) for f in filters)
        height, width, _ = self.image_shape
        if height % 4 or width % 4:
            raise ValueError(f"image height and width must be divisible by 4, got {image_shape}")
        self.assemble(self.image_shape)

    def make_encoder(self):
        f1, f2 = self.filters
        return keras.Sequential([
            layers.Conv2D(f1, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(f2, 3, strides=2, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(self.code_dim),
        ], name="encoder")

    def make_decoder(self):
        f1, f2 = self.filters
        height, width, channels = self.image_shape
        h4, w4 = height // 4, width // 4
        return keras.Sequential([
            layers.Dense(h4 * w4 * f2, activation="relu"),
            layers.Reshape((h4, w4, f2)),
            layers.Conv2DTranspose(f1, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2DTranspose(channels, 3, strides=2, padding="same", activation="sigmoid"),
        ], name="decoder")

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape),
                "code_dim": self.code_dim, "filters": list(self.filters)}


# ---------------------------------------------------------------------------------------------
# 4. The denoising autoencoder
# ---------------------------------------------------------------------------------------------

def corrupt(x, noise_stddev, epsilon):
    """Additive Gaussian noise, clipped back to the pixel range:

        x_noisy = clip(x + noise_stddev * epsilon, 0, 1)

    x: any shape, pixels in [0, 1]; epsilon: same shape, standard normal noise.
    Returns x_noisy: same shape as x, in [0, 1].
    """
    return tf.clip_by_value(x + noise_stddev * epsilon, 0.0, 1.0)


@keras.saving.register_keras_serializable(package=PACKAGE)
class DenoisingAutoencoder(OneOptimizer, keras.Model):
    """Turns any autoencoder (a built keras.Model, x -> x_hat) into a denoising one.

    Training feeds the autoencoder CORRUPTED inputs and scores its output against the CLEAN
    inputs: it cannot learn the identity, it must learn to undo the noise, that is to map
    points off the data manifold back onto it. At inference (call) there is no noise.
    fit(x) and evaluate(x) log "loss": the mean squared error per pixel, the mean over the
    batches of the epoch so far (self.trackers keeps it; Keras resets it every epoch).
    compile(optimizer=...) builds the optimizer at once (dlkit.training.OneOptimizer).
    """

    def __init__(self, autoencoder, noise_stddev=0.3, **kwargs):
        super().__init__(**kwargs)
        self.autoencoder = autoencoder
        self.noise_stddev = float(noise_stddev)
        # A seed generator (not a fixed seed) so each training step draws new noise.
        self.noise = keras.random.SeedGenerator()
        self.trackers = LossTrackers("loss")
        # All the weights live in the autoencoder: if it is built, this model is built too
        # (fit never calls this model itself, and an unbuilt model saves without weights).
        self.built = autoencoder.built

    @property
    def metrics(self):
        # Keras resets these at the start of each epoch and of each evaluate().
        return self.trackers.metrics

    def call(self, x):
        return self.autoencoder(x)

    def encode(self, x):
        return self.autoencoder.encode(x)

    def decode(self, codes):
        return self.autoencoder.decode(codes)

    def denoising_loss(self, x, epsilon=None):
        """Mean squared error per pixel between autoencoder(corrupt(x)) and the clean x.

        x: (N, ...) clean inputs; epsilon: noise of the same shape, or None to draw it from
        N(0, 1) with self.noise. Returns a float32 scalar.
        """
        if epsilon is None:
            epsilon = keras.random.normal(tf.shape(x), seed=self.noise)
        x = tf.cast(x, "float32")
        x_noisy = corrupt(x, self.noise_stddev, tf.cast(epsilon, "float32"))
        x_hat = tf.cast(self.autoencoder(x_noisy), "float32")
        return tf.reduce_mean(tf.square(x_hat - x))

    def train_step(self, data):
        """One gradient step on a batch of clean inputs (fit calls it): the gradient of
        self.denoising_loss(x), scaled for mixed precision, applied to every trainable
        variable; the batch's loss goes to the tracker."""
        x = data[0] if isinstance(data, tuple) else data  # fit(x) or fit((x, labels))
        with tf.GradientTape() as tape:
            loss = self.denoising_loss(x)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self.trackers.update(loss=loss)
        return self.trackers.results()

    def test_step(self, data):
        """The denoising loss of a batch (fresh noise), no gradient step."""
        x = data[0] if isinstance(data, tuple) else data
        self.trackers.update(loss=self.denoising_loss(x))
        return self.trackers.results()

    def get_config(self):
        # The autoencoder is itself a model: store its own config, rebuild it in from_config.
        return {**super().get_config(), "noise_stddev": self.noise_stddev,
                "autoencoder": keras.saving.serialize_keras_object(self.autoencoder)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["autoencoder"] = keras.saving.deserialize_keras_object(config["autoencoder"])
        return cls(**config)


# ---------------------------------------------------------------------------------------------
# 5. Latent-space interpolation
# ---------------------------------------------------------------------------------------------

def interpolate(code_start, code_end, steps):
    """`steps` evenly spaced points on the segment from code_start to code_end, both included:

        code(t) = (1 - t) * code_start + t * code_end,   t = 0, 1/(steps-1), ..., 1

    code_start, code_end: (K,). Returns codes: (steps, K); codes[0] is code_start and
    codes[-1] is code_end.
    """
    code_start = np.asarray(code_start, dtype=np.float32)
    code_end = np.asarray(code_end, dtype=np.float32)
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return (1.0 - t) * code_start + t * code_end


def interpolate_images(autoencoder, x_start, x_end, steps):
    """Decode the straight line between the codes of two inputs.

    autoencoder: anything with encode(x) and decode(codes); x_start, x_end: one input each,
    e.g. (64,) or (8, 8, 1). Returns images: (steps, *x_start.shape), as a numpy array:
    images[0] reconstructs x_start and images[-1] reconstructs x_end.
    """
    batch = np.stack([np.asarray(x_start), np.asarray(x_end)]).astype("float32")
    codes = np.asarray(autoencoder.encode(batch))
    path = interpolate(codes[0], codes[1], steps)
    return np.asarray(autoencoder.decode(path))
