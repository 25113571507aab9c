"""Lab 24: information theory for deep learning.

Discrete entropy, cross-entropy, KL divergence and mutual information (numpy); plug-in
estimates from samples and the Miller-Madow bias correction; the InfoNCE and
Donsker-Varadhan lower bounds on mutual information, and a Keras model whose `train_step`
maximises InfoNCE on samples of (X, Y).

Units: the discrete functions take `base` (2: bits, the default; np.e: nats). The neural
bounds are in nats, as log-softmax gives them.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

# ---- Discrete distributions (numpy) -----------------------------------------------------------

def entropy(p, base: float = 2.0):
    """H(p) = -sum_k p_k log p_k over the last axis, with 0 log 0 = 0.

    p: (..., K) probabilities. Returns (...) float64 in units of log base `base`."""
    p = np.asarray(p, dtype=np.float64)
    safe = np.where(p > 0, p, 1.0)
    nats = -(p * np.log(safe)).sum(axis=-1)
    return nats / np.log(base)


def cross_entropy(p, q, base: float = 2.0):
    """H(p, q) = -sum_k p_k log q_k over the last axis: the expected code length of data
    from p under a code built for q. Terms with p_k = 0 count 0; p_k > 0 with q_k = 0 gives
    inf. p, q: (..., K). Returns (...) float64."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    positive = p > 0
    log_q = np.full(np.broadcast(p, q).shape, -np.inf)
    np.log(q, out=log_q, where=np.broadcast_to(q > 0, log_q.shape))
    terms = np.where(positive, p * np.where(positive, log_q, 0.0), 0.0)
    return -terms.sum(axis=-1) / np.log(base)


def kl_divergence(p, q, base: float = 2.0):
    """KL(p || q) = sum_k p_k log(p_k / q_k) = H(p, q) - H(p) over the last axis.
    p, q: (..., K). Returns (...) float64 (inf where q = 0 < p)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    h_pq = cross_entropy(p, q, base)
    h_p = entropy(p, base)
    return h_pq - h_p


def mutual_information(joint, base: float = 2.0) -> float:
    """I(X; Y) of a (Kx, Ky) joint distribution P(X = i, Y = j): the KL divergence from the
    joint to the product of its marginals, equivalently H(X) + H(Y) - H(X, Y)."""
    joint = np.asarray(joint, dtype=np.float64)
    h_x = entropy(joint.sum(axis=1), base)
    h_y = entropy(joint.sum(axis=0), base)
    h_xy = entropy(joint.reshape(-1), base)
    return float(max(h_x + h_y - h_xy, 0.0))


# ---- Estimates from samples -------------------------------------------------------------------

def empirical_distribution(samples, num_values: int) -> np.ndarray:
    """Frequencies of the values 0..num_values-1 in integer `samples` (N,). Returns (K,)."""
    samples = np.asarray(samples).astype(np.int64)
    counts = np.zeros(num_values, dtype=np.float64)
    np.add.at(counts, samples, 1.0)
    return counts / counts.sum()


def plug_in_entropy(samples, num_values: int, base: float = 2.0) -> float:
    """The plug-in (maximum-likelihood) estimate: the entropy of the empirical distribution.
    It is biased low: on average below the true H, by about (m - 1) / (2 N) nats."""
    freq = empirical_distribution(samples, num_values)
    return float(entropy(freq, base=base))


def miller_madow_entropy(samples, num_values: int, base: float = 2.0) -> float:
    """The plug-in estimate plus the Miller-Madow correction (m - 1) / (2 N) nats, m the
    number of values seen at least once, N the number of samples (converted to `base`)."""
    samples = np.asarray(samples)
    freq = empirical_distribution(samples, num_values)
    m = int(np.count_nonzero(freq))
    correction_nats = (m - 1) / (2.0 * samples.shape[0])
    return float(entropy(freq, base)) + correction_nats / np.log(base)


def plug_in_mutual_information(x, y, base: float = 2.0) -> float:
    """I(X; Y) of the empirical joint of integer samples x, y (N,) with values 0..max."""
    x = np.asarray(x).astype(np.int64)
    y = np.asarray(y).astype(np.int64)
    kx, ky = int(x.max()) + 1, int(y.max()) + 1
    counts = np.bincount(x * ky + y, minlength=kx * ky).reshape(kx, ky).astype(np.float64)
    return mutual_information(counts / x.shape[0], base=base)


# ---- Neural lower bounds (TensorFlow, nats) ------------------------------------------------

def infonce_bound(scores):
    """The InfoNCE lower bound on I(X; Y) from a critic's (N, N) score matrix,
    scores[i, j] = f(x_i, y_j): row i holds x_i against every y, its positive y_i on the
    diagonal. I >= log N + mean_i log softmax_j(scores[i, :])[i]. It never exceeds log N.
    Returns a float32 scalar tensor (nats)."""
    scores = tf.convert_to_tensor(scores, tf.float32)
    n = tf.shape(scores)[0]
    positives = tf.gather_nd(scores, tf.stack([tf.range(n), tf.range(n)], axis=1))
    log_norm = tf.reduce_logsumexp(scores, axis=1)
    return tf.reduce_mean(positives - log_norm) + tf.math.log(tf.cast(n, tf.float32))


def donsker_varadhan_bound(joint_scores, marginal_scores):
    """The Donsker-Varadhan (MINE) lower bound I >= E_joint[T] - log E_marginals[exp T],
    from T on N joint pairs (N,) and on M shuffled pairs (M,). The log of a MEAN of
    exponentials, computed stably. Returns a float32 scalar tensor (nats)."""
    joint_scores = tf.convert_to_tensor(joint_scores, tf.float32)
    marginal_scores = tf.convert_to_tensor(marginal_scores, tf.float32)
    log_mean_exp = (keras.ops.logsumexp(marginal_scores)
                    - keras.ops.log(keras.ops.cast(keras.ops.shape(marginal_scores)[0], "float32")))
    return keras.ops.mean(joint_scores) - log_mean_exp


def mlp(hidden_units, out_units, name):
    """The encoders of the critic: ReLU hidden layers, a linear output (given code)."""
    return keras.Sequential([keras.layers.Dense(u, activation="relu") for u in hidden_units]
                            + [keras.layers.Dense(out_units)], name=name)


@keras.saving.register_keras_serializable(package="lab24")
class InfoNCEEstimator(keras.Model):
    """A separable critic f(x, y) = g(x) . h(y) trained to maximise InfoNCE on (x, y) pairs.

    fit(x, y): every batch of N pairs gives an (N, N) score matrix whose diagonal holds the
    true pairs. `train_step` logs `loss` (minus the bound) and `mi` (the bound, nats)."""

    def __init__(self, dim, hidden_units=(64,), embed_dim=16, **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.embed_dim = int(embed_dim)
        self.g = mlp(self.hidden_units, self.embed_dim, "g")
        self.h = mlp(self.hidden_units, self.embed_dim, "h")
        self.g.build((None, self.dim))   # built here: fit never builds a train_step model
        self.h.build((None, self.dim))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mi_tracker = keras.metrics.Mean(name="mi")

    @property
    def metrics(self):
        return [self.loss_tracker, self.mi_tracker]

    def critic(self, x, y):
        """scores[i, j] = g(x_i) . h(y_j): (N, N) float32 (given code)."""
        return tf.cast(tf.matmul(self.g(x), self.h(y), transpose_b=True), tf.float32)

    def call(self, inputs):
        x, y = inputs
        return self.critic(x, y)

    def train_step(self, data):
        x, y = data[0], data[1]
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            scores = self.critic(x, y)
            bound = infonce_bound(scores)
            loss = -bound
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, variables)
        self.optimizer.apply(gradients, variables)
        for metric, value in ((self.loss_tracker, loss), (self.mi_tracker, bound)):
            metric.update_state(value)
        return {m.name: m.result() for m in self.metrics}

    def estimate(self, x, y, batch_size=256):
        """The InfoNCE bound averaged over full batches of held-out pairs (given code)."""
        n = (len(x) // batch_size) * batch_size
        values = [float(infonce_bound(self.critic(x[i:i + batch_size], y[i:i + batch_size])))
                  for i in range(0, n, batch_size)]
        return float(np.mean(values))

    def get_config(self):
        config = super().get_config()
        config.update(dim=self.dim, hidden_units=list(self.hidden_units),
                      embed_dim=self.embed_dim)
        return config
