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
    to the query set. Labels are relabelled 0..n_way-1, one per drawn class (any order will
    do, e.g. the order the classes were drawn).

    Returns (support_index (N*K,), support_y (N*K,), query_index (N*Q,), query_y (N*Q,)),
    all int arrays; support_index and query_index index into `labels`."""
    labels = np.asarray(labels)
    # BEGIN SOLUTION chosen = rng.choice(classes, n_way, replace=False); for each class j,
    #   rng.choice of its indices (np.flatnonzero(labels == c)), k_shot + n_query of them,
    #   without replacement: the first k_shot to the support (label j), the rest to the query
    chosen = rng.choice(np.asarray(classes), size=n_way, replace=False)
    support_index, support_y, query_index, query_y = [], [], [], []
    for new_label, cls in enumerate(chosen):
        picked = rng.choice(np.flatnonzero(labels == cls), size=k_shot + n_query, replace=False)
        support_index.append(picked[:k_shot])
        query_index.append(picked[k_shot:])
        support_y.append(np.full(k_shot, new_label))
        query_y.append(np.full(n_query, new_label))
    return (np.concatenate(support_index), np.concatenate(support_y),
            np.concatenate(query_index), np.concatenate(query_y))
    # END SOLUTION


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
    # BEGIN SOLUTION sqrt(max(sum((a - b)^2, axis=-1), 1e-12)): the floor keeps the
    #   gradient of sqrt finite at a == b
    squared = tf.reduce_sum(tf.square(a - b), axis=-1)
    return tf.sqrt(tf.maximum(squared, 1e-12))
    # END SOLUTION


def contrastive_loss(distance, same, margin: float = 1.0):
    """The contrastive loss (Hadsell, Chopra & LeCun, 2006), mean over pairs.

    distance: (B,) distances between the pair's embeddings; same: (B,) 1 for a pair of the
    same class, 0 otherwise. A same-class pair pays distance², a different-class pair pays
    max(margin - distance, 0)²: it is pushed apart until it is `margin` away."""
    # BEGIN SOLUTION mean(same * d^2 + (1 - same) * max(margin - d, 0)^2)
    distance = tf.convert_to_tensor(distance, tf.float32)
    same = tf.cast(same, tf.float32)
    pull = same * tf.square(distance)
    push = (1.0 - same) * tf.square(tf.maximum(margin - distance, 0.0))
    return tf.reduce_mean(pull + push)
    # END SOLUTION


class SiameseNetwork(keras.Model):
    """Two images through one shared encoder; returns the distance between their embeddings.

    call((x1, x2)) -> (B,) distances. Train it with
    compile(loss=lambda same, d: contrastive_loss(d, same, margin))."""

    def __init__(self, encoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder

    def call(self, inputs):
        x1, x2 = inputs
        # BEGIN SOLUTION the SAME encoder for both images, then euclidean_distance
        return euclidean_distance(self.encoder(x1), self.encoder(x2))
        # END SOLUTION


# ---- prototypical and matching networks -------------------------------------------------

def squared_distances(a, b):
    """Squared Euclidean distances between every row of a and every row of b.

    a: (..., Q, D), b: (..., N, D). Returns (..., Q, N)."""
    # BEGIN SOLUTION sum over D of (a[..., :, None, :] - b[..., None, :, :])^2
    difference = a[..., :, None, :] - b[..., None, :, :]
    return tf.reduce_sum(tf.square(difference), axis=-1)
    # END SOLUTION


def prototypes(support_embeddings, support_y, n_way: int):
    """The class means of the support embeddings.

    support_embeddings: (..., S, D); support_y: (..., S) labels in 0..n_way-1, in any order.
    Returns (..., n_way, D): row j is the mean of the embeddings labelled j."""
    # BEGIN SOLUTION one_hot(support_y, n_way): (..., S, N); sum the embeddings per class
    #   with it (einsum or matmul) and divide by the count per class
    one_hot = tf.one_hot(tf.cast(support_y, tf.int32), n_way, dtype=support_embeddings.dtype)
    sums = tf.einsum("...sn,...sd->...nd", one_hot, support_embeddings)
    counts = tf.reduce_sum(one_hot, axis=-2)[..., None]
    return sums / counts
    # END SOLUTION


def prototypical_logits(query_embeddings, class_prototypes):
    """Logits of prototypical networks: minus the squared Euclidean distance to each prototype.

    query_embeddings: (..., Q, D); class_prototypes: (..., N, D). Returns (..., Q, N)."""
    # BEGIN SOLUTION -squared_distances(query, prototypes)
    return -squared_distances(query_embeddings, class_prototypes)
    # END SOLUTION


def matching_probabilities(query_embeddings, support_embeddings, support_y, n_way: int,
                           scale: float = 10.0):
    """Class probabilities of matching networks: attention over the support set.

    a(q, s_i) = softmax over i of scale * cosine(q, s_i); p(class j | q) = the sum of the
    attention on the support examples labelled j. query_embeddings: (..., Q, D);
    support_embeddings: (..., S, D); support_y: (..., S). Returns (..., Q, n_way)."""
    # BEGIN SOLUTION l2-normalise both (tf.math.l2_normalize, axis=-1), cosine = q @ s^T:
    #   (..., Q, S); attention = softmax(scale * cosine) over S; probs = attention @
    #   one_hot(support_y, n_way)
    q = tf.math.l2_normalize(query_embeddings, axis=-1)
    s = tf.math.l2_normalize(support_embeddings, axis=-1)
    attention = tf.nn.softmax(scale * tf.matmul(q, s, transpose_b=True), axis=-1)
    one_hot = tf.one_hot(tf.cast(support_y, tf.int32), n_way, dtype=attention.dtype)
    return tf.matmul(attention, one_hot)
    # END SOLUTION


def episode_log_probs(support_embeddings, support_y, query_embeddings, n_way: int,
                      head: str = "prototypical"):
    """log p(class | query) for one episode or a batch, (..., Q, n_way), with the given head:
    "prototypical" (log-softmax of prototypical_logits) or "matching" (the log of
    matching_probabilities, floored at 1e-8)."""
    # BEGIN SOLUTION prototypical: tf.nn.log_softmax(prototypical_logits(query,
    #   prototypes(support, support_y, n_way))); matching: log(max(p, 1e-8))
    if head == "prototypical":
        protos = prototypes(support_embeddings, support_y, n_way)
        return tf.nn.log_softmax(prototypical_logits(query_embeddings, protos), axis=-1)
    if head == "matching":
        probs = matching_probabilities(query_embeddings, support_embeddings, support_y, n_way)
        return tf.math.log(tf.maximum(probs, 1e-8))
    raise ValueError(f"unknown head {head!r}; choose 'prototypical' or 'matching'")
    # END SOLUTION


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
        # BEGIN SOLUTION picked = tf.gather(log_probs, query_y, axis=-1, batch_dims=2), the
        #   log-probability of each query's true class; loss = -mean(picked); accuracy =
        #   mean(argmax(log_probs) == query_y) as float32
        query_y = tf.cast(query_y, tf.int32)
        picked = tf.gather(log_probs, query_y, axis=-1, batch_dims=2)
        loss = -tf.reduce_mean(picked)
        correct = tf.cast(tf.equal(tf.argmax(log_probs, axis=-1, output_type=tf.int32),
                                   query_y), tf.float32)
        return loss, tf.reduce_mean(correct)
        # END SOLUTION

    def train_step(self, data):
        x, query_y = data[0], data[1]
        # BEGIN SOLUTION in a GradientTape: log_probs = self(x, training=True); loss = the
        #   mean negative log-probability of the true query labels (self.loss_and_accuracy);
        #   scale it with self.optimizer.scale_loss, take the gradient of the scaled loss,
        #   self.optimizer.apply(grads, self.trainable_variables); update the trackers with
        #   the unscaled loss and the accuracy and return their results
        with tf.GradientTape() as tape:
            log_probs = self(x, training=True)
            loss, accuracy = self.loss_and_accuracy(query_y, log_probs)
            scaled_loss = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self.trackers.update(loss=loss, accuracy=accuracy)
        return self.trackers.results()
        # END SOLUTION

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
