"""Few-shot classification: N-way K-shot episodes, a Siamese network with the contrastive
loss, prototypical networks and matching networks.

Shapes: an episode has a support set of N * K images with labels 0..N-1 (K per class) and
a query set of N * Q images with labels 0..N-1. The metric functions work on one episode or
on a batch of episodes: every leading axis before the last two is a batch axis.
"""
from __future__ import annotations

import numpy as np

from dlkit import backend
from dlkit.training import LossTrackers, OneOptimizer

keras = backend.keras()
tf = backend.tensorflow()


# ---- episodes ------------------------------------------------------------------------------

def sample_episode(labels, classes, n_way: int, k_shot: int, n_query: int,
                   rng: np.random.Generator):
    """Indices of one N-way K-shot episode drawn from `classes` only.

    labels: (M,) class id of every image; classes: the class ids allowed (e.g. the held-out
    ones); rng: a numpy Generator. Draws n_way distinct classes, then for each class
    k_shot + n_query distinct images of it: the first k_shot go to the support set, the rest
    to the query set. Labels are relabelled 0..n_way-1 in the order the classes were drawn.

    Returns (support_index (N*K,), support_y (N*K,), query_index (N*Q,), query_y (N*Q,)),
    all int arrays; support_index and query_index index into `labels`."""
    labels = np.asarray(labels)
    chosen = rng.choice(np.asarray(classes), n_way, replace=False)
    s_idx, s_y, q_idx, q_y = [], [], [], []
    for j, c in enumerate(chosen):
        pool = np.flatnonzero(labels == c)
        picked = rng.choice(pool, k_shot + n_query, replace=False)
        s_idx.append(picked[:k_shot]); s_y.append(np.full(k_shot, j))
        q_idx.append(picked[k_shot:]); q_y.append(np.full(n_query, j))
    return (np.concatenate(s_idx).astype(int), np.concatenate(s_y).astype(int),
            np.concatenate(q_idx).astype(int), np.concatenate(q_y).astype(int))


def episode_batch(images, labels, classes, n_episodes: int, n_way: int, k_shot: int,
                  n_query: int, seed: int = 0):
    """A batch of episodes as arrays, for `fit`: ((support_x, support_y, query_x), query_y)
    with support_x (E, N*K, H, W, C), support_y (E, N*K), query_x (E, N*Q, H, W, C) and
    query_y (E, N*Q). Given."""
    rng = np.random.default_rng(seed)
    parts = [sample_episode(labels, classes, n_way, k_shot, n_query, rng)
             for _ in range(n_episodes)]
    s_idx, s_y, q_idx, q_y = (np.stack(p) for p in zip(*parts))
    images = np.asarray(images, dtype="float32")
    return ((images[s_idx], s_y.astype("int32"), images[q_idx]), q_y.astype("int32"))


# ---- Siamese network ---------------------------------------------------------------------

def euclidean_distance(a, b):
    """Row-wise Euclidean distance ||a - b|| between embeddings a, b: (B, D). Returns (B,).

    Its gradient must stay finite when a == b."""
    squared = tf.reduce_sum(tf.square(a - b), axis=-1)
    return tf.sqrt(tf.maximum(squared, 1e-12))


def contrastive_loss(distance, same, margin: float = 1.0):
    """The contrastive loss (Hadsell, Chopra & LeCun, 2006), mean over pairs.

    distance: (B,) distances between the pair's embeddings; same: (B,) 1 for a pair of the
    same class, 0 otherwise. A same-class pair pays distance², a different-class pair pays
    max(margin - distance, 0)²: it is pushed apart until it is `margin` away."""
    distance = tf.convert_to_tensor(distance)
    same = tf.cast(same, distance.dtype)
    hinge = tf.maximum(margin - distance, 0.0)
    return tf.reduce_mean(same * tf.square(distance) + (1.0 - same) * tf.square(hinge))


class SiameseNetwork(keras.Model):
    """Two images through one shared encoder; returns the distance between their embeddings.

    call((x1, x2)) -> (B,) distances. Train it with
    compile(loss=lambda same, d: contrastive_loss(d, same, margin))."""

    def __init__(self, encoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder

    def call(self, inputs):
        x1, x2 = inputs
        return euclidean_distance(self.encoder(x1), self.encoder(x2))


# ---- prototypical and matching networks -------------------------------------------------

def squared_distances(a, b):
    """Squared Euclidean distances between every row of a and every row of b.

    a: (..., Q, D), b: (..., N, D). Returns (..., Q, N)."""
    diff = a[..., :, None, :] - b[..., None, :, :]
    return tf.reduce_sum(tf.square(diff), axis=-1)


def prototypes(support_embeddings, support_y, n_way: int):
    """The class means of the support embeddings.

    support_embeddings: (..., S, D); support_y: (..., S) labels in 0..n_way-1, in any order.
    Returns (..., n_way, D): row j is the mean of the embeddings labelled j."""
    support_embeddings = tf.convert_to_tensor(support_embeddings)
    onehot = tf.one_hot(support_y, n_way, dtype=support_embeddings.dtype)  # (..., S, N)
    sums = tf.einsum("...sn,...sd->...nd", onehot, support_embeddings)
    counts = tf.reduce_sum(onehot, axis=-2)[..., None]  # (..., N, 1)
    return sums / counts


def prototypical_logits(query_embeddings, class_prototypes):
    """Logits of prototypical networks: minus the squared Euclidean distance to each prototype.

    query_embeddings: (..., Q, D); class_prototypes: (..., N, D). Returns (..., Q, N)."""
    return -squared_distances(query_embeddings, class_prototypes)


def matching_probabilities(query_embeddings, support_embeddings, support_y, n_way: int,
                           scale: float = 10.0):
    """Class probabilities of matching networks: attention over the support set.

    a(q, s_i) = softmax over i of scale * cosine(q, s_i); p(class j | q) = the sum of the
    attention on the support examples labelled j. query_embeddings: (..., Q, D);
    support_embeddings: (..., S, D); support_y: (..., S). Returns (..., Q, n_way)."""
    q = tf.math.l2_normalize(query_embeddings, axis=-1)
    s = tf.math.l2_normalize(support_embeddings, axis=-1)
    cosine = tf.matmul(q, s, transpose_b=True)
    attention = tf.nn.softmax(scale * cosine, axis=-1)
    onehot = tf.one_hot(support_y, n_way, dtype=attention.dtype)
    return tf.matmul(attention, onehot)


def episode_log_probs(support_embeddings, support_y, query_embeddings, n_way: int,
                      head: str = "prototypical"):
    """log p(class | query) for one episode or a batch, (..., Q, n_way), with the given head:
    "prototypical" (log-softmax of prototypical_logits) or "matching" (the log of
    matching_probabilities, floored at 1e-8)."""
    if head == "prototypical":
        protos = prototypes(support_embeddings, support_y, n_way)
        return tf.nn.log_softmax(prototypical_logits(query_embeddings, protos), axis=-1)
    if head == "matching":
        p = matching_probabilities(query_embeddings, support_embeddings, support_y, n_way)
        return tf.math.log(tf.maximum(p, 1e-8))
    raise ValueError(f"unknown head {head!r}")


class EpisodicClassifier(OneOptimizer, keras.Model):
    """A metric-based few-shot learner trained on batches of episodes.

    Inputs x = (support_x (E, S, H, W, C), support_y (E, S), query_x (E, Q, H, W, C)),
    targets y = query_y (E, Q). The encoder maps images (B, H, W, C) to embeddings (B, D).
    call(x) returns the query log-probabilities (E, Q, n_way)."""

    def __init__(self, encoder, n_way: int, head: str = "prototypical", **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.n_way = n_way
        self.head = head
        self.trackers = LossTrackers("loss", "accuracy")

    @property
    def metrics(self):
        return self.trackers.metrics

    def embed(self, images):
        """(E, M, H, W, C) images -> (E, M, D) embeddings: one encoder call for all of them."""
        shape = tf.shape(images)
        flat = tf.reshape(images, tf.concat([[shape[0] * shape[1]], shape[2:]], axis=0))
        embeddings = self.encoder(flat)
        return tf.reshape(embeddings, tf.stack([shape[0], shape[1], tf.shape(embeddings)[-1]]))

    def call(self, inputs):
        support_x, support_y, query_x = inputs
        log_probs = episode_log_probs(self.embed(support_x), support_y, self.embed(query_x),
                                      self.n_way, self.head)
        return tf.cast(log_probs, tf.float32)

    def loss_and_accuracy(self, query_y, log_probs):
        """query_y: (E, Q) labels; log_probs: (E, Q, N). Returns (the mean negative
        log-probability of the true labels over every query of every episode, the fraction
        of queries whose most likely class is the true one)."""
        query_y = tf.cast(query_y, tf.int32)
        picked = tf.gather(log_probs, query_y, axis=-1, batch_dims=2)
        loss = -tf.reduce_mean(picked)
        predicted = tf.argmax(log_probs, axis=-1, output_type=tf.int32)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(predicted, query_y), tf.float32))
        return loss, accuracy

    def train_step(self, data):
        x, query_y = data[0], data[1]
        with tf.GradientTape() as tape:
            log_probs = self(x, training=True)
            loss, accuracy = self.loss_and_accuracy(query_y, log_probs)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self.trackers.update(loss=loss, accuracy=accuracy)
        return self.trackers.results()

    def test_step(self, data):
        x, query_y = data[0], data[1]
        loss, accuracy = self.loss_and_accuracy(query_y, self(x, training=False))
        self.trackers.update(loss=loss, accuracy=accuracy)
        return self.trackers.results()

    def get_config(self):
        return {**super().get_config(), "encoder": keras.saving.serialize_keras_object(
            self.encoder), "n_way": self.n_way, "head": self.head}

    @classmethod
    def from_config(cls, config):
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)


def glyph_encoder(embedding_dim: int = 32, filters: int = 32, input_shape=(12, 12, 1)):
    """A small CNN encoder for 12x12 glyphs: two conv blocks and a dense embedding. Given."""
    return keras.Sequential([
        keras.Input(input_shape),
        keras.layers.Conv2D(filters, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(filters, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(embedding_dim),
    ])
