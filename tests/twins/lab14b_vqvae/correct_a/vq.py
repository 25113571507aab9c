"""Lab 14b, part 1: the VQ-VAE (van den Oord et al., 2017). Fill in the parts marked TODO.

An encoder maps an image to a grid of vectors z (N, h, w, D). Each vector is replaced by its
nearest row of a learned codebook (K, D): the image becomes a grid of code indices, integers
in 0..K-1, and a decoder rebuilds the image from the chosen codebook rows. The pieces, in the
order the handout builds them:

1. quantisation        nearest_code; VectorQuantizer.lookup (codebook lookup on a grid)
2. straight-through    straight_through: the decoder's gradient copied onto the encoder
3. the two VQ losses   codebook_loss (moves the codebook), commitment_loss (moves the encoder)
4. EMA codebook        ema_update; VectorQuantizer.update_codebook (the codebook as running
                       means of the vectors each code is chosen for, no gradient)
5. code usage          perplexity
6. the model           VQVAE.train_step, VQVAE.decode_codes

Shapes: images (N, H, W, 1) channels-last; codes on an (h, w) grid; K codes of D numbers.
"""
import keras
import numpy as np
import tensorflow as tf

from dlkit.training import LossTrackers

# The VQ-VAE paper's commitment weight: the encoder is held to its codes four times more
# loosely than the codebook is pulled to the encoder.
BETA = 0.25


# ---------------------------------------------------------------------------------------------
# 1. Quantisation
# ---------------------------------------------------------------------------------------------

def nearest_code(z, codebook):
    """The index of the nearest codebook row of every vector, by squared Euclidean distance.

    z: (M, D) vectors; codebook: (K, D). Returns indices (M,) int32 in 0..K-1: the k that
    minimises ||z_m - codebook_k||^2; on a tie, the lowest such k.
    """
    # BEGIN SOLUTION the (M, K) squared distances (expand ||z||^2 - 2 z.c + ||c||^2, or broadcast z[:, None] - codebook[None]); tf.argmin over the codes (its ties go to the lowest index), as int32
    z = keras.ops.cast(keras.ops.convert_to_tensor(z), "float32")
    codes = keras.ops.cast(keras.ops.convert_to_tensor(codebook), "float32")
    # ||z - e||^2 = ||z||^2 - 2 z.e + ||e||^2, all three terms kept
    z_norms = keras.ops.sum(z * z, axis=1, keepdims=True)            # (M, 1)
    code_norms = keras.ops.sum(codes * codes, axis=1)[None, :]        # (1, K)
    distances = z_norms - 2.0 * keras.ops.matmul(z, keras.ops.transpose(codes)) + code_norms
    return tf.argmin(distances, axis=-1, output_type=tf.int32)
    # END SOLUTION


# ---------------------------------------------------------------------------------------------
# 2. The straight-through estimator, 3. the two VQ losses
# ---------------------------------------------------------------------------------------------

def straight_through(z, q):
    """The decoder's input: q in the forward pass, with the gradient passed to z unchanged.

    z: the encoder's output; q: its quantised version (the chosen codebook rows), same shape.
    Returns z + stop_gradient(q - z): its value is q, and the gradient with respect to it
    flows to z as it is (the identity Jacobian), none of it to q.
    """
    # BEGIN SOLUTION z plus the stop-gradient of (q - z)
    # value exactly q (q + 0); d/dz = identity (z - sg(z)); q itself carries no gradient
    return tf.stop_gradient(q) + (z - tf.stop_gradient(z))
    # END SOLUTION


def codebook_loss(z, q):
    """mean((stop_gradient(z) - q)^2) over every value: pulls the chosen codes towards the
    encoder's outputs, and leaves the encoder alone. z, q: the same shape. Returns a scalar."""
    # BEGIN SOLUTION the mean squared difference, with the stop-gradient on z
    return keras.ops.mean(keras.ops.square(q - tf.stop_gradient(z)))
    # END SOLUTION


def commitment_loss(z, q, beta=BETA):
    """beta * mean((z - stop_gradient(q))^2) over every value: holds the encoder's outputs
    near their codes, and leaves the codebook alone. z, q: the same shape. Returns a scalar."""
    # BEGIN SOLUTION beta times the mean squared difference, with the stop-gradient on q
    gap = tf.stop_gradient(q) - z
    return beta * keras.ops.mean(gap ** 2)
    # END SOLUTION


# ---------------------------------------------------------------------------------------------
# 4. The EMA codebook, 5. code usage
# ---------------------------------------------------------------------------------------------

def ema_update(cluster_size, code_sum, z, indices, decay, epsilon):
    """One step of the exponential-moving-average codebook, for a batch of M vectors.

    cluster_size: (K,) running count of the vectors each code was chosen for;
    code_sum: (K, D) running sum of those vectors; z: (M, D); indices: (M,) their codes.
        n_k = how many of the M vectors chose code k; s_k = the sum of those vectors
        cluster_size <- decay * cluster_size + (1 - decay) * n_k
        code_sum     <- decay * code_sum     + (1 - decay) * s_k
    Laplace smoothing keeps every count away from 0, the total unchanged
    (n = sum of the new cluster_size):
        smoothed_k = (cluster_size_k + epsilon) / (n + K * epsilon) * n
        codebook_k = code_sum_k / smoothed_k
    Returns (cluster_size (K,), code_sum (K, D), codebook (K, D)), all new, float32.
    """
    # BEGIN SOLUTION one-hot of the indices (M, K); counts n_k = its column sums, sums s_k = one_hot^T @ z; the two moving averages; the smoothed counts; codebook = code_sum / smoothed[:, None]
    cluster_size = keras.ops.cast(keras.ops.convert_to_tensor(cluster_size), "float32")
    code_sum = keras.ops.cast(keras.ops.convert_to_tensor(code_sum), "float32")
    z = keras.ops.cast(keras.ops.convert_to_tensor(z), "float32")
    codes = tf.cast(indices, tf.int32)
    num_codes = cluster_size.shape[0]
    chosen = tf.math.unsorted_segment_sum(tf.ones_like(codes, dtype=tf.float32), codes, num_codes)
    chosen_sum = tf.math.unsorted_segment_sum(z, codes, num_codes)
    new_size = decay * cluster_size + (1.0 - decay) * chosen
    new_sum = decay * code_sum + (1.0 - decay) * chosen_sum
    n = keras.ops.sum(new_size)
    smoothed = n * (new_size + epsilon) / (n + num_codes * epsilon)
    return new_size, new_sum, new_sum / keras.ops.expand_dims(smoothed, -1)
    # END SOLUTION


def perplexity(indices, num_codes):
    """exp(entropy) of how often each code is used, in nats: exp(-sum_k p_k log p_k) with
    p_k the share of the indices equal to k, and 0 log 0 = 0.

    indices: integers in 0..num_codes-1, any shape. Returns a float32 scalar between 1 (one
    code for everything) and num_codes (every code equally often).
    """
    # BEGIN SOLUTION p = the counts of each code (the column sums of a one-hot: tf.math.bincount does not compile with XLA) over the number of indices; the entropy in nats with 0 log 0 = 0 (tf.math.xlogy); exp of it
    codes = tf.reshape(tf.cast(indices, tf.int32), [-1])
    counts = tf.math.unsorted_segment_sum(tf.ones_like(codes, dtype=tf.float32), codes, num_codes)
    p = counts / tf.cast(tf.size(codes), tf.float32)
    used = p > 0
    entropy = -keras.ops.sum(keras.ops.where(used, p * keras.ops.log(keras.ops.where(used, p, 1.0)),
                                             0.0))
    return keras.ops.exp(entropy)
    # END SOLUTION


# ---------------------------------------------------------------------------------------------
# The vector quantiser layer
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab14b_vqvae")
class VectorQuantizer(keras.layers.Layer):
    """A codebook of num_codes vectors of code_dim numbers, and the lookup of the nearest one.

    VectorQuantizer(num_codes, code_dim, ema_decay=None, epsilon=1e-5):
      ema_decay None: `codebook` (K, D) is a trainable weight, moved by codebook_loss;
      ema_decay in (0, 1): `codebook` is not trainable; update_codebook moves it, from the
        running `cluster_size` (K,) and `code_sum` (K, D) (non-trainable weights too). They
        start as if every code had been chosen once, at its initial value: cluster_size = 1,
        code_sum = codebook.
    lookup(z) -> (q, indices); update_codebook(z, indices) takes one EMA step.
    """

    def __init__(self, num_codes, code_dim, ema_decay=None, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.num_codes = int(num_codes)
        self.code_dim = int(code_dim)
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.epsilon = float(epsilon)

    @property
    def uses_ema(self):
        return self.ema_decay is not None

    def build(self, input_shape=None):
        # Not autocast: under mixed precision the codebook and the running values stay
        # float32 even inside a model's call (distances and averages in float16 lose codes).
        self.codebook = self.add_weight(
            shape=(self.num_codes, self.code_dim), name="codebook",
            initializer=keras.initializers.RandomUniform(-1.0, 1.0),
            trainable=not self.uses_ema, autocast=False)
        if self.uses_ema:
            self.cluster_size = self.add_weight(
                shape=(self.num_codes,), name="cluster_size", initializer="ones",
                trainable=False, autocast=False)
            self.code_sum = self.add_weight(
                shape=(self.num_codes, self.code_dim), name="code_sum",
                initializer=keras.initializers.Constant(self.codebook.numpy()),
                trainable=False, autocast=False)

    def set_codebook(self, vectors):
        """Start the codebook from the given (K, D) vectors (and the EMA sums with it)."""
        self.codebook.assign(vectors)
        if self.uses_ema:
            self.cluster_size.assign(tf.ones((self.num_codes,)))
            self.code_sum.assign(vectors)

    def lookup(self, z):
        """The codebook lookup (not named `quantize`: Keras layers keep that name for their
        int8 quantisation). z: (..., D), e.g. (N, h, w, D). Returns (q, indices): q (..., D)
        float32, the codebook row nearest to each vector, and indices (...) int32, their
        codes."""
        z = keras.ops.cast(z, "float32")  # quantise in float32, also under mixed precision
        # BEGIN SOLUTION flatten z to (M, D); nearest_code against self.codebook; q = the codebook rows of the indices (tf.gather); reshape q to z's shape and the indices to z's shape without the last axis
        shape = keras.ops.shape(z)
        vectors = keras.ops.reshape(z, (-1, self.code_dim))
        indices = nearest_code(vectors, self.codebook)
        chosen = keras.ops.take(keras.ops.cast(self.codebook, "float32"), indices, axis=0)
        return keras.ops.reshape(chosen, shape), keras.ops.reshape(indices, shape[:-1])
        # END SOLUTION

    def update_codebook(self, z, indices):
        """One EMA step (ema_update) on a batch: z (..., D) and its indices (...), from
        lookup. Assigns the new cluster_size, code_sum and codebook. Returns None."""
        # BEGIN SOLUTION flatten z to (M, D) and the indices to (M,); ema_update with self.ema_decay and self.epsilon; assign the three results
        vectors = keras.ops.reshape(keras.ops.cast(z, "float32"), (-1, self.code_dim))
        codes = keras.ops.reshape(indices, (-1,))
        new_values = ema_update(self.cluster_size, self.code_sum, vectors, codes,
                                self.ema_decay, self.epsilon)
        for variable, value in zip((self.cluster_size, self.code_sum, self.codebook), new_values):
            variable.assign(value)
        # END SOLUTION

    def call(self, z):
        return self.lookup(z)[0]

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes, "code_dim": self.code_dim,
                "ema_decay": self.ema_decay, "epsilon": self.epsilon}


# ---------------------------------------------------------------------------------------------
# 6. The model
# ---------------------------------------------------------------------------------------------

def make_encoder(code_dim, filters, downsamplings):
    """x (N, H, W, 1) -> z (N, H / 2^downsamplings, W / 2^downsamplings, code_dim): a stride-2
    3x3 convolution per halving, a 3x3 convolution, and a 1x1 convolution to the codes."""
    layers = [keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")
              for _ in range(downsamplings)]
    layers += [keras.layers.Conv2D(filters, 3, padding="same", activation="relu"),
               keras.layers.Conv2D(code_dim, 1)]
    return keras.Sequential(layers, name="encoder")


def make_decoder(filters, downsamplings, channels=1):
    """z_q (N, h, w, D) -> x_hat (N, h * 2^downsamplings, w * 2^downsamplings, channels): a
    3x3 convolution, a stride-2 transposed convolution per doubling, and a 3x3 convolution to
    the pixels (linear: the reconstruction loss is a squared error)."""
    layers = [keras.layers.Conv2D(filters, 3, padding="same", activation="relu")]
    layers += [keras.layers.Conv2DTranspose(filters, 3, strides=2, padding="same",
                                            activation="relu") for _ in range(downsamplings)]
    layers += [keras.layers.Conv2D(channels, 3, padding="same")]
    return keras.Sequential(layers, name="decoder")


@keras.saving.register_keras_serializable(package="dlkit_lab14b_vqvae")
class VQVAE(keras.Model):
    """encoder -> VectorQuantizer -> straight-through -> decoder.

    VQVAE(image_shape, num_codes, code_dim, filters, downsamplings, beta, ema_decay):
    the codes lie on a (H / 2^downsamplings, W / 2^downsamplings) grid (self.grid_shape).
    model(x) returns the reconstruction (N, H, W, C); encode_codes(x) the code grid
    (N, h, w) int32; decode_codes(codes) the images of a code grid.
    fit logs "loss", "reconstruction", "codebook", "commitment" and "perplexity" (the
    notebook measures the test images itself: the model has no test_step).
    """

    def __init__(self, image_shape=(8, 8, 1), num_codes=16, code_dim=4, filters=16,
                 downsamplings=1, beta=BETA, ema_decay=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.num_codes, self.code_dim = int(num_codes), int(code_dim)
        self.filters, self.downsamplings = int(filters), int(downsamplings)
        self.beta = float(beta)
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        scale = 2 ** self.downsamplings
        self.grid_shape = (self.image_shape[0] // scale, self.image_shape[1] // scale)
        self.encoder = make_encoder(self.code_dim, self.filters, self.downsamplings)
        self.decoder = make_decoder(self.filters, self.downsamplings, self.image_shape[-1])
        self.quantizer = VectorQuantizer(self.num_codes, self.code_dim, self.ema_decay,
                                         name="quantizer")
        self.trackers = LossTrackers("loss", "reconstruction", "codebook", "commitment",
                                     "perplexity")
        # train_step never calls the model, so fit would leave it unbuilt (and an unbuilt
        # model saves to .keras without its weights): build every part now.
        self.encoder.build((None, *self.image_shape))
        self.quantizer.build()
        self.decoder.build((None, *self.grid_shape, self.code_dim))
        self.built = True

    @property
    def metrics(self):
        return self.trackers.metrics

    def initialize(self, x, seed=0):
        """Start the codebook from the encoder's outputs on a batch x: K of its vectors drawn
        at random (codes that start where the data is are all used from the first step)."""
        z = tf.reshape(keras.ops.cast(self.encoder(x), "float32"), [-1, self.code_dim])
        rows = np.random.default_rng(seed).choice(int(z.shape[0]), self.num_codes,
                                                  replace=False)
        self.quantizer.set_codebook(tf.gather(z, rows))

    def call(self, x):
        q, _ = self.quantizer.lookup(self.encoder(x))
        return keras.ops.cast(self.decoder(q), "float32")

    def encode_codes(self, x):
        """The code grid of images x (N, H, W, C): (N, h, w) int32."""
        return self.quantizer.lookup(self.encoder(x))[1]

    def decode_codes(self, codes):
        """Images from a code grid: codes (N, h, w) integers in 0..K-1 -> (N, H, W, C) float32,
        the decoder applied to the codebook rows of the codes."""
        # BEGIN SOLUTION the codebook rows of the codes (tf.gather: (N, h, w, D)), through the decoder, cast to float32
        one_hot = keras.ops.one_hot(keras.ops.cast(codes, "int32"), self.num_codes, dtype="float32")
        rows = keras.ops.einsum("nhwk,kd->nhwd", one_hot,
                                keras.ops.cast(self.quantizer.codebook, "float32"))
        return keras.ops.cast(self.decoder(rows), "float32")
        # END SOLUTION

    def train_step(self, data):
        """One gradient step, then (EMA codebook) one EMA step. Returns the trackers' means.

        Under the tape: z = the encoder's output (cast to float32); q, indices =
        self.quantizer.lookup(z); the decoder reconstructs from straight_through(z, q);
        reconstruction = the mean squared error over every pixel; the loss is
        reconstruction + codebook_loss(z, q) + commitment_loss(z, q, self.beta); scale it
        (self.optimizer.scale_loss), take its gradients for the trainable variables and
        apply them. Then, when the quantizer uses an EMA codebook, update_codebook(z,
        indices). Log the batch's loss, reconstruction, codebook, commitment and
        perplexity(indices, K) with self.trackers.update(...).
        """
        x = data[0] if isinstance(data, tuple) else data
        x = keras.ops.cast(x, "float32")
        # BEGIN SOLUTION the forward pass and the three losses under a GradientTape, as the docstring says; scale_loss; gradients; optimizer.apply; then the EMA step if self.quantizer.uses_ema; then self.trackers.update(loss=..., reconstruction=..., codebook=..., commitment=..., perplexity=...)
        with tf.GradientTape() as tape:
            z = keras.ops.cast(self.encoder(x, training=True), "float32")
            q, indices = self.quantizer.lookup(z)
            decoded = self.decoder(straight_through(z, q), training=True)
            reconstruction = keras.ops.mean(keras.ops.square(keras.ops.cast(decoded, "float32") - x))
            terms = {"codebook": codebook_loss(z, q), "commitment": commitment_loss(z, q, beta=self.beta)}
            loss = reconstruction + terms["codebook"] + terms["commitment"]
            scaled_loss = self.optimizer.scale_loss(loss)
        weights = self.trainable_weights
        self.optimizer.apply(tape.gradient(scaled_loss, weights), weights)
        if self.quantizer.uses_ema:
            self.quantizer.update_codebook(z, indices)
        self.trackers.update(loss=loss, reconstruction=reconstruction, perplexity=perplexity(indices, self.num_codes), **terms)
        # END SOLUTION
        return self.trackers.results()

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape),
                "num_codes": self.num_codes, "code_dim": self.code_dim,
                "filters": self.filters, "downsamplings": self.downsamplings,
                "beta": self.beta, "ema_decay": self.ema_decay}
