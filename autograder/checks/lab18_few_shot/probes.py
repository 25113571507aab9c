"""Helpers that the checks of lab18_few_shot share. Probes import TensorFlow inside.

The training checks use the checks' own small encoder; `train_step_logs` also puts a
stand-in head in place of the student's `episode_log_probs`: the log-softmax of minus the
L1 distance to the nearest support example of each class, a head of known, different
behaviour, so the train_step is graded even when the student's heads are wrong."""
from __future__ import annotations

import numpy as np

# The episodic training budget of the accuracy checks: batches of 4 episodes of 5-way
# 5-shot with 5 queries per class, Adam 2e-3, from the training classes; evaluated on 100
# episodes of the held-out classes, 1-shot and 5-shot.
TRAIN = {"episodes": 160, "batch": 4, "learning_rate": 2e-3, "eval_episodes": 100}
# Accuracy (fraction) below the reference's that a student's model may end at. A correct
# head trains like the reference up to float rounding; mistakes land near chance (0.2).
ACCURACY_MARGIN = 0.08
CHANCE = 0.2


def training_recorder():
    """An identity layer that records the `training` flag of every call it gets (Python runs
    while TensorFlow traces, so a traced train_step records the flag it passed down)."""
    import keras

    class RecordsTraining(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seen = []

        def call(self, x, training=None):
            self.seen.append(repr(training))
            return x
    return RecordsTraining()


def encoder(seed: int = 0, recorder=None):
    """The checks' own encoder: conv 16 - pool - conv 16 - pool - dense 32, after `recorder`
    (an identity layer, training_recorder()) when given."""
    import keras
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((12, 12, 1)),
        *([recorder] if recorder is not None else []),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(32),
    ])


def nearest_neighbour_head(support_embeddings, support_y, query_embeddings, n_way,
                           head="prototypical"):
    """Stand-in for episode_log_probs: log-softmax of minus the L1 distance to the NEAREST
    support example of each class (a nearest-neighbour head, not a prototype)."""
    import tensorflow as tf
    one_hot = tf.one_hot(tf.cast(support_y, tf.int32), n_way)                   # (E, S, N)
    distance = tf.reduce_sum(tf.abs(query_embeddings[:, :, None] - support_embeddings[:, None]),
                             -1)                                                # (E, Q, S)
    per_class = tf.reduce_min(distance[..., None] + 1e4 * (1.0 - one_hot[:, None]), axis=2)
    return tf.nn.log_softmax(-per_class, axis=-1)


def glyph_data():
    from dlkit.data import glyph_classes, make_glyphs
    train = make_glyphs(10, split="train", seed=0)
    test = make_glyphs(10, split="test", seed=1)
    return train, test, glyph_classes("train"), glyph_classes("test")


def episodes(rng, images, labels, classes, count, n_way, k_shot, n_query):
    """Episodes laid out by the checks from the data's own order (make_glyphs returns each
    class's samples as one block): the classes of episode e are the next n_way of a cycle
    through `classes`, the support and query the next k_shot + n_query samples of a class's
    block, from a random offset. Returns numpy arrays ((support_x, support_y, query_x), query_y)."""
    blocks = images.reshape((len(np.unique(labels)), -1) + images.shape[1:])
    first_class = int(np.asarray(labels).min())
    per_class = blocks.shape[1]
    cycle = rng.permutation(np.asarray(classes) - first_class)
    grid_s = np.arange(k_shot)[None, :]
    grid_q = np.arange(k_shot, k_shot + n_query)[None, :]
    support_x, query_x = [], []
    for e in range(count):
        rows = cycle[(e * n_way + np.arange(n_way)) % len(cycle)][:, None]
        offset = rng.integers(per_class)
        support_x.append(blocks[rows, (offset + grid_s) % per_class].reshape(
            (-1,) + images.shape[1:]))
        query_x.append(blocks[rows, (offset + grid_q) % per_class].reshape(
            (-1,) + images.shape[1:]))
    support_y = np.tile(np.repeat(np.arange(n_way), k_shot), (count, 1)).astype("int32")
    query_y = np.tile(np.repeat(np.arange(n_way), n_query), (count, 1)).astype("int32")
    return (np.stack(support_x), support_y, np.stack(query_x)), query_y


def train_and_evaluate(lab, rng, head: str) -> dict:
    """The student's EpisodicClassifier with the checks' encoder, trained episodically on the
    training classes, then its accuracy on unseen classes, 5-way 1-shot and 5-shot."""
    import keras
    train, test, train_classes, test_classes = glyph_data()
    x, y = episodes(rng, train["images"], train["labels"], train_classes, TRAIN["episodes"],
                    5, 5, 5)
    model = lab.fewshot.EpisodicClassifier(encoder(0), 5, head)
    model.compile(keras.optimizers.Adam(TRAIN["learning_rate"]))
    history = model.fit(x, y, batch_size=TRAIN["batch"], epochs=1, shuffle=False, verbose=0)
    out = {"loss": float(history.history["loss"][-1])}
    for k in (1, 5):
        ex, ey = episodes(rng, test["images"], test["labels"], test_classes,
                          TRAIN["eval_episodes"], 5, k, 5)
        log_probs = np.asarray(model(ex))
        out[f"accuracy_{k}shot"] = float((log_probs.argmax(-1) == ey).mean())
    return out


def judge_accuracy(student, reference, what: str) -> None:
    from autograder.verdicts import expect_at_least, expect_finite
    expect_finite(student["loss"], f"the training loss of {what}")
    for k in (1, 5):
        key = f"accuracy_{k}shot"
        floor = max(reference[key] - ACCURACY_MARGIN, CHANCE + 0.1)
        expect_at_least(student[key], floor,
                        f"{what}: 5-way {k}-shot accuracy on unseen classes (chance 0.2, the "
                        f"reference {reference[key]:.2f})")


def flat_gradients(grads, params) -> tuple[np.ndarray, int]:
    """A list of gradients as one float64 vector, a None gradient counted and read as zeros
    (the probe's output must be plain numbers), and how many were None."""
    grads = list(grads) if grads is not None else [None] * len(params)
    flat = [np.zeros(np.shape(p)) if g is None else np.asarray(g, dtype=np.float64)
            for g, p in zip(grads, params)]
    return (np.concatenate([np.ravel(g) for g in flat]),
            sum(g is None for g in grads) + max(len(params) - len(grads), 0))


def judge_no_none_gradient(student, key: str, what: str) -> None:
    """Fails when the probe found None gradients: the loss is not connected to params."""
    from autograder.verdicts import expect_equal
    expect_equal(int(student[f"{key}_none"]), 0,
                 f"the number of None gradients that {what} returned (None: the meta-loss does "
                 "not depend on params on the outer tape: call inner_adapt INSIDE the outer "
                 "tape, on params themselves, and compute the query losses there too)")
