"""Lab 19: deep clustering (DEC and IDEC). Fill in the parts marked TODO.

Deep Embedded Clustering (Xie et al., 2016) clusters data in the code space of an
autoencoder, and then fine-tunes the encoder and the cluster centres together so that the
clusters get sharper. IDEC (Guo et al., 2017) keeps the decoder and adds its reconstruction
loss, so fine-tuning cannot wreck the code space.

The pieces, in the order the handout builds them:

1. the autoencoder       build_autoencoder, pretrain_autoencoder
2. soft assignments      soft_assignment (Student-t kernel, degrees of freedom alpha)
3. the target            target_distribution (sharpened, divided by cluster frequency)
4. the loss              clustering_kl: KL(P || Q), the target held fixed
5. the model             DEC (initialize by k-means on the codes, update_targets,
                         compute_losses, train_step), IDEC (compute_losses + reconstruction)
6. the metrics           cluster_accuracy (Hungarian matching), normalized_mutual_info

Shapes: N points, D input dimensions, C code dimensions, K clusters. q and p are (N, K),
each row a distribution over the clusters.
"""
import keras
import numpy as np
import tensorflow as tf
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans

from dlkit.training import LossTrackers

# log(0) guard in the KL divergence.
EPSILON = 1e-10


# ---------------------------------------------------------------------------------------------
# 1. The autoencoder
# ---------------------------------------------------------------------------------------------

def build_autoencoder(input_dim, hidden_units=(64, 32), code_dim=10):
    """A dense autoencoder: returns (encoder, decoder, autoencoder), three keras.Sequential
    models sharing their layers, each built.

    encoder: Input(input_dim), Dense(u, "relu") for u in hidden_units, Dense(code_dim) (no
             activation: codes may be negative).
    decoder: Input(code_dim), Dense(u, "relu") for u in reversed(hidden_units),
             Dense(input_dim, "sigmoid") (pixels are in [0, 1]).
    autoencoder: Input(input_dim), then the encoder, then the decoder.
    """
    encoder = keras.Sequential(
        [keras.Input((input_dim,))]
        + [keras.layers.Dense(u, activation="relu") for u in hidden_units]
        + [keras.layers.Dense(code_dim)], name="encoder")
    decoder = keras.Sequential(
        [keras.Input((code_dim,))]
        + [keras.layers.Dense(u, activation="relu") for u in reversed(hidden_units)]
        + [keras.layers.Dense(input_dim, activation="sigmoid")], name="decoder")
    autoencoder = keras.Sequential([keras.Input((input_dim,)), encoder, decoder],
                                   name="autoencoder")
    return encoder, decoder, autoencoder


def pretrain_autoencoder(autoencoder, x, *, epochs=20, batch_size=64, learning_rate=1e-3):
    """Train `autoencoder` to reconstruct x (N, D) with the mean squared error, Adam at
    `learning_rate`, `epochs` epochs of shuffled batches. Returns fit's History."""
    autoencoder.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return autoencoder.fit(x, x, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)


# ---------------------------------------------------------------------------------------------
# 2-4. Soft assignments, the target distribution, the loss
# ---------------------------------------------------------------------------------------------

def soft_assignment(z, centres, alpha=1.0):
    """Student's t soft assignment of codes to centres.

    z: (N, C) codes; centres: (K, C); alpha: the degrees of freedom (a float).
    Returns q: (N, K) float32, q_ij = k_ij / sum_j' k_ij', with the kernel
    k_ij = (1 + ||z_i - mu_j||^2 / alpha) ** (-(alpha + 1) / 2).
    """
    z = tf.cast(z, tf.float32)
    centres = tf.cast(centres, tf.float32)
    d2 = tf.reduce_sum(tf.square(z[:, None, :] - centres[None]), axis=-1)
    kernel = (1.0 + d2 / alpha) ** (-(alpha + 1.0) / 2.0)
    return kernel / tf.reduce_sum(kernel, axis=1, keepdims=True)


def target_distribution(q):
    """DEC's target: p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j'), f_j = sum_i q_ij.

    q: (N, K). Returns p: (N, K), rows summing to 1. Squaring sharpens each row; dividing by
    the cluster's soft frequency f_j keeps large clusters from swallowing the others.
    """
    q = tf.cast(q, tf.float32)
    f = tf.reduce_sum(q, axis=0)
    weight = q ** 2 / f
    return weight / tf.reduce_sum(weight, axis=1, keepdims=True)


def clustering_kl(p, q):
    """KL(P || Q) = sum_j p_ij log(p_ij / q_ij), averaged over the N points: a scalar.

    p is the TARGET: held fixed (tf.stop_gradient), so that a caller may pass a p computed
    from this very q and the gradient still flows through q only. Guard the logs with
    EPSILON (p_ij = 0 contributes 0).
    """
    q = tf.cast(q, tf.float32)
    p = tf.stop_gradient(tf.cast(p, tf.float32))
    kl = tf.reduce_sum(p * (tf.math.log(p + EPSILON) - tf.math.log(q + EPSILON)), axis=1)
    return tf.reduce_mean(kl)


# ---------------------------------------------------------------------------------------------
# 5. The model
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab19_deep_clustering")
class DEC(keras.Model):
    """Deep embedded clustering: an encoder and K trainable cluster centres.

    fit(x, index) trains it, where index (N,) int32 holds each point's row in the data given
    to initialize(x): the targets p are stored per point, in `self.targets` (N, K).

    initialize(x, seed) stores x, runs k-means (scikit-learn, n_init=10, random_state=seed) on
    the codes encoder(x) and copies its centres into `self.centres`. Every `update_interval`
    training steps (at steps 0, T, 2T, ...: self.optimizer.iterations before the step), the
    train_step refreshes all targets from the current encoder and centres (update_targets),
    and in between they stay fixed. call(x) returns the soft assignments q (N, K).

    It saves to .keras with its stored data and targets (get_config records n_points, so
    load_model recreates them before it restores the weights).
    """

    def __init__(self, encoder, n_clusters, *, alpha=1.0, update_interval=20, n_points=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.n_clusters = int(n_clusters)
        self.alpha = float(alpha)
        self.update_interval = int(update_interval)
        code_dim = int(encoder.output_shape[-1])
        self.centres = self.add_weight(shape=(self.n_clusters, code_dim), name="centres",
                                       initializer="zeros")
        self.data = None
        self.targets = None
        if n_points is not None:  # a reloaded model: its stored data and targets come back too
            self._storage(int(n_points), int(encoder.input_shape[-1]))
        self.trackers = LossTrackers(*self.loss_names())

    def _storage(self, n_points, input_dim):
        self.data = self.add_weight(shape=(n_points, input_dim), name="data", trainable=False,
                                    initializer="zeros")
        self.targets = self.add_weight(shape=(n_points, self.n_clusters), name="targets",
                                       trainable=False, initializer="zeros")

    def get_config(self):
        return {**super().get_config(),
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "n_clusters": self.n_clusters, "alpha": self.alpha,
                "update_interval": self.update_interval,
                "n_points": None if self.data is None else int(self.data.shape[0])}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("encoder", "decoder"):
            if name in config:
                config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)

    def loss_names(self):
        return ("loss", "kl")

    @property
    def metrics(self):
        return self.trackers.metrics

    def call(self, x):
        return soft_assignment(self.encoder(x), self.centres, self.alpha)

    def initialize(self, x, seed=0):
        """Store x (N, D), set the centres by k-means on the codes; returns k-means' labels."""
        x = np.asarray(x, dtype="float32")
        if self.data is None:
            self._storage(*x.shape)
        self.data.assign(x)
        codes = np.asarray(self.encoder(x))
        kmeans = KMeans(self.n_clusters, n_init=10, random_state=seed).fit(codes)
        self.centres.assign(kmeans.cluster_centers_.astype("float32"))
        return kmeans.labels_

    def update_targets(self):
        """Recompute every target: self.targets = target_distribution(q of all stored data)."""
        q = self(self.data)
        self.targets.assign(target_distribution(q))

    def _refreshed(self):
        """The refreshing branch of a tf.cond: update_targets, then a tensor (the other branch,
        lambda: tf.constant(False), must return the same structure)."""
        self.update_targets()
        return tf.constant(True)

    def compute_losses(self, x, p):
        """The loss terms for a batch x with targets p, as a dict; "loss" is what is
        minimised. DEC: {"loss": kl, "kl": kl}, kl = clustering_kl(p, q of x)."""
        kl = clustering_kl(p, self(x))
        return {"loss": kl, "kl": kl}

    def train_step(self, data):
        x, index = data[0], data[1]
        refresh = tf.equal(self.optimizer.iterations % self.update_interval, 0)
        tf.cond(refresh, self._refreshed, lambda: tf.constant(False))
        p = tf.gather(self.targets, index)
        with tf.GradientTape() as tape:
            losses = self.compute_losses(x, p)
            scaled = self.optimizer.scale_loss(losses["loss"])
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        self.trackers.update(**losses)
        return self.trackers.results()

    def predict_clusters(self, x):
        """The hard cluster of each point: argmax_j q_ij, (N,) int."""
        return np.argmax(np.asarray(self(np.asarray(x, dtype="float32"))), axis=1)


@keras.saving.register_keras_serializable(package="dlkit_lab19_deep_clustering")
class IDEC(DEC):
    """DEC that keeps the decoder: loss = KL(P || Q) + gamma * reconstruction, the
    reconstruction being the mean squared error of decoder(encoder(x)) against x. The
    decoder's weights train too."""

    def __init__(self, encoder, decoder, n_clusters, *, gamma=0.1, **kwargs):
        super().__init__(encoder, n_clusters, **kwargs)
        self.decoder = decoder
        self.gamma = float(gamma)

    def loss_names(self):
        return ("loss", "kl", "reconstruction")

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma,
                "decoder": keras.saving.serialize_keras_object(self.decoder)}

    def compute_losses(self, x, p):
        """{"loss": kl + gamma * reconstruction, "kl": kl, "reconstruction": mse}, the mse
        averaged over the points and the input dimensions."""
        z = self.encoder(x)
        q = soft_assignment(z, self.centres, self.alpha)
        kl = clustering_kl(p, q)
        reconstruction = tf.reduce_mean(
            tf.square(tf.cast(self.decoder(z), tf.float32) - tf.cast(x, tf.float32)))
        return {"loss": kl + self.gamma * reconstruction, "kl": kl,
                "reconstruction": reconstruction}


# ---------------------------------------------------------------------------------------------
# 6. The metrics
# ---------------------------------------------------------------------------------------------

def cluster_accuracy(y_true, y_pred):
    """The accuracy of clusters y_pred (N,) against classes y_true (N,) under the best
    one-to-one matching of clusters to classes (the Hungarian algorithm:
    scipy.optimize.linear_sum_assignment). Cluster ids and class ids are any non-negative
    ints; their counts may differ (an unmatched cluster counts as wrong). Returns a float."""
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    counts = np.zeros((y_pred.max() + 1, y_true.max() + 1), dtype=np.int64)
    np.add.at(counts, (y_pred, y_true), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(y_true))


def normalized_mutual_info(y_true, y_pred):
    """NMI = I(Y; C) / ((H(Y) + H(C)) / 2) (the arithmetic mean, as scikit-learn's default),
    in nats, from the joint distribution of classes and clusters. 1.0 when both labelings
    have a single value. Returns a float in [0, 1]."""
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    _, t = np.unique(y_true, return_inverse=True)
    _, c = np.unique(y_pred, return_inverse=True)
    n = len(t)
    joint = np.zeros((t.max() + 1, c.max() + 1))
    np.add.at(joint, (t, c), 1)
    joint /= n
    p_true = joint.sum(axis=1)
    p_pred = joint.sum(axis=0)
    nz = joint > 0
    mi = float(np.sum(joint[nz] * np.log(joint[nz] / np.outer(p_true, p_pred)[nz])))
    h_true = float(-np.sum(p_true * np.log(p_true)))
    h_pred = float(-np.sum(p_pred * np.log(p_pred)))
    if h_true == 0.0 and h_pred == 0.0:
        return 1.0
    return float(max(mi, 0.0) / ((h_true + h_pred) / 2))
