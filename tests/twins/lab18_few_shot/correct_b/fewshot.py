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
    classes = np.asarray(classes)
    chosen = rng.permutation(classes)[:n_way]
    support = np.empty((k_shot, n_way), dtype=np.int64)
    query = np.empty((n_query, n_way), dtype=np.int64)
    for j, c in enumerate(chosen):
        images = rng.permutation(np.flatnonzero(labels == c))[:k_shot + n_query]
        if len(images) < k_shot + n_query:
            raise ValueError(f"class {c} has only {len(images)} images")
        support[:, j] = images[:k_shot]
        query[:, j] = images[k_shot:]
    # shot-major order: labels 0..N-1, 0..N-1, ...
    support_y = np.tile(np.arange(n_way), k_shot)
    query_y = np.tile(np.arange(n_way), n_query)
    return support.ravel(), support_y, query.ravel(), query_y


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
    ops = keras.ops
    return ops.sqrt(ops.maximum(ops.sum(ops.square(ops.subtract(a, b)), axis=-1), 1e-12))


def contrastive_loss(distance, same, margin: float = 1.0):
    """The contrastive loss (Hadsell, Chopra & LeCun, 2006), mean over pairs.

    distance: (B,) distances between the pair's embeddings; same: (B,) 1 for a pair of the
    same class, 0 otherwise. A same-class pair pays distance², a different-class pair pays
    max(margin - distance, 0)²: it is pushed apart until it is `margin` away."""
    ops = keras.ops
    d = ops.convert_to_tensor(distance)
    same = ops.cast(same, d.dtype)
    positive = same * d ** 2
    negative = (1 - same) * ops.relu(margin - d) ** 2
    return ops.mean(positive + negative)


class SiameseNetwork(keras.Model):
    """Two images through one shared encoder; returns the distance between their embeddings.

    call((x1, x2)) -> (B,) distances. Train it with
    compile(loss=lambda same, d: contrastive_loss(d, same, margin))."""

    def __init__(self, encoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder

    def call(self, inputs):
        x1, x2 = inputs
        encoder = self.encoder
        e1 = encoder(x1)
        e2 = encoder(x2)
        return euclidean_distance(e1, e2)


# ---- prototypical and matching networks -------------------------------------------------

def squared_distances(a, b):
    """Squared Euclidean distances between every row of a and every row of b.

    a: (..., Q, D), b: (..., N, D). Returns (..., Q, N)."""
    # ||a||^2 - 2 a.b + ||b||^2, clipped at 0 against rounding
    a = tf.convert_to_tensor(a)
    b = tf.convert_to_tensor(b, dtype=a.dtype)
    aa = tf.reduce_sum(a * a, axis=-1)[..., :, None]
    bb = tf.reduce_sum(b * b, axis=-1)[..., None, :]
    ab = tf.matmul(a, b, transpose_b=True)
    return tf.maximum(aa - 2.0 * ab + bb, 0.0)


def prototypes(support_embeddings, support_y, n_way: int):
    """The class means of the support embeddings.

    support_embeddings: (..., S, D); support_y: (..., S) labels in 0..n_way-1, in any order.
    Returns (..., n_way, D): row j is the mean of the embeddings labelled j."""
    support_embeddings = tf.convert_to_tensor(support_embeddings)
    onehot = tf.one_hot(tf.cast(support_y, tf.int32), n_way, dtype=support_embeddings.dtype)
    weights = onehot / tf.reduce_sum(onehot, axis=-2, keepdims=True)  # columns sum to 1
    return tf.matmul(weights, support_embeddings, transpose_a=True)


def prototypical_logits(query_embeddings, class_prototypes):
    """Logits of prototypical networks: minus the squared Euclidean distance to each prototype.

    query_embeddings: (..., Q, D); class_prototypes: (..., N, D). Returns (..., Q, N)."""
    q = query_embeddings[..., :, None, :]
    c = class_prototypes[..., None, :, :]
    return -keras.ops.sum(keras.ops.square(q - c), axis=-1)


def matching_probabilities(query_embeddings, support_embeddings, support_y, n_way: int,
                           scale: float = 10.0):
    """Class probabilities of matching networks: attention over the support set.

    a(q, s_i) = softmax over i of scale * cosine(q, s_i); p(class j | q) = the sum of the
    attention on the support examples labelled j. query_embeddings: (..., Q, D);
    support_embeddings: (..., S, D); support_y: (..., S). Returns (..., Q, n_way)."""
    ops = keras.ops
    q = query_embeddings / ops.maximum(ops.norm(query_embeddings, axis=-1, keepdims=True), 1e-12)
    s = support_embeddings / ops.maximum(ops.norm(support_embeddings, axis=-1, keepdims=True),
                                         1e-12)
    cosine = ops.einsum("...qd,...sd->...qs", q, s)
    attention = ops.softmax(scale * cosine, axis=-1)
    onehot = ops.one_hot(support_y, n_way, dtype=attention.dtype)
    return ops.einsum("...qs,...sn->...qn", attention, onehot)


def episode_log_probs(support_embeddings, support_y, query_embeddings, n_way: int,
                      head: str = "prototypical"):
    """log p(class | query) for one episode or a batch, (..., Q, n_way), with the given head:
    "prototypical" (log-softmax of prototypical_logits) or "matching" (the log of
    matching_probabilities, floored at 1e-8)."""
    if head == "matching":
        probs = matching_probabilities(query_embeddings, support_embeddings, support_y, n_way)
        return keras.ops.log(keras.ops.maximum(probs, 1e-8))
    elif head == "prototypical":
        logits = prototypical_logits(query_embeddings,
                                     prototypes(support_embeddings, support_y, n_way))
        return logits - tf.reduce_logsumexp(logits, axis=-1, keepdims=True)
    else:
        raise ValueError(f"head must be 'prototypical' or 'matching', got {head!r}")


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
        ops = keras.ops
        n = ops.shape(log_probs)[-1]
        onehot = ops.one_hot(ops.cast(query_y, "int32"), n, dtype=log_probs.dtype)
        nll = -ops.sum(onehot * log_probs, axis=-1)  # (E, Q)
        correct = ops.cast(ops.equal(ops.argmax(log_probs, axis=-1), ops.cast(query_y, "int64")),
                           "float32")
        return ops.mean(nll), ops.mean(correct)

    def train_step(self, data):
        x, query_y = data[0], data[1]
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            loss, accuracy = self.loss_and_accuracy(query_y, self(x, training=True))
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, variables)
        self.optimizer.apply(gradients, variables)
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
