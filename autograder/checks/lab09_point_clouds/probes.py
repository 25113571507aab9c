"""Helpers that the checks of lab09_point_clouds share: brute-force numpy and scipy answers
for the geometry, the checks' own stand-ins for the model checks, and the training probes.
Probes run in the worker (they import TensorFlow inside), verdicts in the grader.

The geometry's right answers come from code written differently from the graded algorithms:
a full pairwise distance matrix (scipy's cdist) and a greedy loop over it for furthest point
sampling, scipy's cKDTree for the balls. The model checks run the student's model code on
check-defined parts of known, different behaviour:

- FixedTransform stands in for the T-Net: one learned 3 x 3 matrix, the same for every cloud
  (no network), starting as the matrix it is given;
- stand_in_orthogonality is not PointNet's regulariser: the mean absolute entry of A - I;
- mean_pool_call (for PointNetClassifier.call) pools by the MEAN, not the max, and
  smoothed_classification_loss (for classification_loss) uses label smoothing 0.1: with
  both, a training check grades train_step alone.
"""
from __future__ import annotations

import functools
import json

import numpy as np

from autograder.api import CheckFailed
from autograder.verdicts import expect_true

# What the training checks allow: train_step draws no randomness and the model is seeded, so
# a correct train_step trains like the reference up to float rounding.
LOSS_MARGIN = 0.02
ACCURACY_MARGIN = 0.05
# The segmenter is the student's own model, so its first weights depend on the order its
# layers are made in: at this budget the reference from ten weight draws on the same clouds
# reaches a part mean IoU of 0.33 to 0.62 (0.49 at the check's seed), and a segmenter without
# the global feature 0.11 to 0.14. Half the reference's IoU lies between the two.
IOU_SHARE = 0.5


# ---- Brute-force geometry (numpy and scipy, float64) -----------------------------------------

def squared_distance_matrix(a, b):
    """(B, N, M) squared distances by scipy's cdist, cloud by cloud."""
    from scipy.spatial.distance import cdist
    return np.stack([cdist(x, y, "sqeuclidean") for x, y in
                     zip(np.asarray(a, np.float64), np.asarray(b, np.float64))])


def greedy_furthest(points, num_samples, rule="nearest"):
    """Furthest point sampling read off the full distance matrix: each pick maximises its
    distance to the picked set ("nearest": the distance to the nearest pick). The other
    rules are the usual slips: "last" (the distance to the last pick only), "sum" (the sum of
    the distances to the picks)."""
    picks = []
    for matrix in squared_distance_matrix(points, points):
        chosen = [0]
        while len(chosen) < num_samples:
            rows = matrix[chosen]
            score = {"nearest": rows.min(axis=0), "last": rows[-1],
                     "sum": np.sqrt(rows).sum(axis=0)}[rule]
            chosen.append(int(np.argmax(score)))
        picks.append(chosen)
    return np.asarray(picks, dtype=np.int64)


def balls(points, centroids, radius, k, rule="ball"):
    """ball_query's answer from scipy's cKDTree: the first k indices inside the ball,
    ascending, padded with the first. Slips: "nearest" (the k nearest, ball or not),
    "pad_zero" (padded with index 0), "by_distance" (the ball's points nearest first)."""
    from scipy.spatial import cKDTree
    out = []
    for cloud, centres in zip(np.asarray(points, np.float64), np.asarray(centroids, np.float64)):
        tree = cKDTree(cloud)
        rows = []
        for centre in centres:
            if rule == "nearest":
                found = list(tree.query(centre, k=k)[1])
            else:
                found = sorted(tree.query_ball_point(centre, radius))
                if rule == "by_distance":
                    found.sort(key=lambda i: np.sum((cloud[i] - centre) ** 2))
                found = found[:k]
                found += [0 if rule == "pad_zero" else found[0]] * (k - len(found))
            rows.append(found)
        out.append(rows)
    return np.asarray(out, dtype=np.int64)


def judge_indices(got, expected, what, mistakes):
    """Exact integer indices; on a mismatch, name the slip whose answer it equals."""
    got = np.asarray(got)
    if got.shape != expected.shape:
        raise CheckFailed(f"{what} has shape {got.shape}, expected {expected.shape}")
    if np.array_equal(got, expected):
        return
    for wrong, message in mistakes:
        if np.array_equal(got, wrong):
            raise CheckFailed(f"{what} {message}")
    first = tuple(int(i) for i in np.argwhere(got != expected)[0])
    raise CheckFailed(f"{what} differs from the brute-force answer in "
                      f"{int(np.sum(got != expected))} of {got.size} indices (first at "
                      f"{first}: got {got[first]}, expected {expected[first]})")


def point_sets(rng, batch, n):
    """Clustered random points: blobs of different sizes, so distances are far from ties."""
    centres = rng.normal(scale=1.5, size=(batch, 4, 3))
    which = rng.integers(0, 4, size=(batch, n))
    spread = rng.uniform(0.2, 0.8, size=(batch, 4))
    points = (np.take_along_axis(centres, which[..., None], axis=1)
              + rng.normal(size=(batch, n, 3)) * np.take_along_axis(spread, which, 1)[..., None])
    return points.astype("float32")


# ---- Stand-ins ------------------------------------------------------------------------------

@functools.cache
def stand_in_classes():
    """FixedTransform: the stand-in T-Net (one matrix for every cloud)."""
    import keras
    import tensorflow as tf

    class FixedTransform(keras.layers.Layer):
        def __init__(self, k, matrix=None, **kwargs):
            kwargs.pop("widths", None)
            kwargs.pop("head_units", None)
            super().__init__(**kwargs)
            self.k = k
            self.initial = np.eye(k) if matrix is None else np.asarray(matrix)

        def build(self, input_shape):
            self.matrix = self.add_weight(
                shape=(self.k, self.k), name="matrix",
                initializer=keras.initializers.Constant(self.initial.astype("float32")))

        def call(self, x):
            return tf.tile(tf.cast(self.matrix, tf.float32)[None], (tf.shape(x)[0], 1, 1))

    return FixedTransform


def fixed_transform(matrix=None):
    """A TNet replacement class whose instances start as `matrix` (identity when None)."""
    base = stand_in_classes()

    def make(k, *args, **kwargs):
        return base(k, matrix=matrix, **kwargs)
    return make


def stand_in_orthogonality(transform):
    """NOT PointNet's regulariser: the mean |A - I| over every entry of the batch."""
    import tensorflow as tf
    matrices = tf.cast(transform, "float32")
    return tf.reduce_mean(tf.abs(matrices - tf.eye(tf.shape(matrices)[-1])))


def mean_pool_call(self, points, return_transform=False):
    """A classifier call of known, different behaviour: the stand-in transform, the shared
    layers, the MEAN over the points (not the max), the head."""
    import tensorflow as tf
    matrix = self.input_transform(points)
    x = tf.matmul(points, tf.cast(matrix, points.dtype))
    for layer in self.shared:
        x = layer(x)
    x = tf.reduce_mean(x, axis=1)
    for layer in self.head:
        x = layer(x)
    logits = tf.cast(x, tf.float32)
    return (logits, matrix) if return_transform else logits


def smoothed_classification_loss(self, points, labels):
    """A loss of known, different behaviour: cross-entropy against labels smoothed by 0.1,
    plus 0.01 times the stand-in regulariser; and the argmax accuracy."""
    import keras
    import tensorflow as tf
    logits, matrices = self(points, return_transform=True)
    targets = tf.one_hot(tf.cast(labels, tf.int32), tf.shape(logits)[-1])
    loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(
        targets, logits)
    loss = loss + 0.01 * stand_in_orthogonality(matrices)
    hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), tf.cast(labels, tf.int32))
    return loss, tf.reduce_mean(tf.cast(hits, "float32"))


# ---- Training -------------------------------------------------------------------------------

def clouds(budget, seed):
    from dlkit.data import make_point_clouds
    train = make_point_clouds(budget["train_size"], num_points=budget["num_points"], seed=seed)
    test = make_point_clouds(budget["test_size"], num_points=budget["num_points"],
                             seed=seed + 1)
    return train, test


def brief_fit(model, x, y, budget, **compile_options):
    """compile the built model with Adam and fit it for the budget, batches in order; what
    fit logged. Adam's slots are built first: created inside fit's first trace of a
    train_step override, they trace it again."""
    import keras
    optimizer = keras.optimizers.Adam(budget["learning_rate"])
    optimizer.build(model.trainable_variables)
    model.compile(optimizer=optimizer, **compile_options)
    return model.fit(x, y, batch_size=budget["batch_size"], epochs=budget["epochs"],
                     shuffle=False, verbose=0).history


def classifier_train_probe(lab, rng, budget, stand_ins=True):
    """Train a PointNetClassifier with the student's train_step for budget["epochs"]; with
    stand_ins, on the checks' T-Net, call and loss (so only train_step is graded). Returns
    what fit logged and the held-out accuracy (argmax of the model's logits)."""
    import contextlib

    from autograder.check_helpers import standing_in
    train, test = clouds(budget, seed=int(rng.integers(0, 1000)))
    pointnet = lab.pointnet
    with contextlib.ExitStack() as stack:
        if stand_ins:
            stack.enter_context(standing_in(pointnet, TNet=fixed_transform()))
            stack.enter_context(standing_in(pointnet.PointNetClassifier, call=mean_pool_call,
                                            classification_loss=smoothed_classification_loss))
        model = pointnet.PointNetClassifier(5, widths=budget["widths"],
                                            head_units=budget["head_units"],
                                            num_points=budget["num_points"])
        history = brief_fit(model, train["points"], train["labels"], budget)
        logits = np.asarray(model(test["points"]))
    accuracy = float(np.mean(np.argmax(logits, axis=1) == test["labels"]))
    return {"logged": json.dumps(sorted(history)),
            "loss": float(history.get("loss", [np.nan])[-1]),
            "first_loss": float(history.get("loss", [np.nan])[0]),
            "accuracy": accuracy}


TRAIN_STEP_ONLY = ("train_step minimises self.classification_loss and logs it as it is")


def judge_classifier_training(student, reference, blame=TRAIN_STEP_ONLY):
    """`blame`: what the message tells the student to look at."""
    logged = json.loads(student["logged"])
    expect_true(logged == ["accuracy", "loss"], f"fit() logged {logged}; train_step must return "
                "exactly {'loss': ..., 'accuracy': ...} (the trackers' results)")
    loss, expected = student["loss"], reference["loss"]
    expect_true(np.isfinite(loss), f"fit() logged loss = {loss} in the last epoch: training "
                "diverged (NaN or inf)")
    if not abs(loss - expected) <= LOSS_MARGIN:
        ratio = loss / expected if expected else np.inf
        why = (" (many times it: the batch SUM of the loss? log the batch mean)"
               if abs(ratio) > 5 else
               " (the gradient step is missing or applies the wrong gradients?)"
               if abs(loss - student["first_loss"]) < 0.05 else "")
        raise CheckFailed(f"fit() logged loss = {loss:.4g} in the last epoch, where the "
                          f"reference's train_step logs {expected:.4g} for the same "
                          f"training{why}: {blame}")
    accuracy = student["accuracy"]
    expect_true(accuracy >= reference["accuracy"] - ACCURACY_MARGIN,
                f"the held-out accuracy after training is {accuracy:.3f}, the reference's "
                f"{reference['accuracy']:.3f} with the same model, data and budget (needs at "
                f"least {reference['accuracy'] - ACCURACY_MARGIN:.3f}): {blame}")


def segmenter_train_probe(lab, rng, budget):
    """Train the student's PointNetSegmenter with compile/fit; the held-out mean IoU (sklearn's
    macro Jaccard, not the student's part_mean_iou) and what fit logged."""
    import keras
    from sklearn.metrics import jaccard_score

    from dlkit.data import PART_NAMES
    train, test = clouds(budget, seed=int(rng.integers(0, 1000)))
    model = lab.pointnet.PointNetSegmenter(len(PART_NAMES), widths=budget["widths"],
                                           head_units=budget["head_units"])
    model(train["points"][:1])   # built, so that Adam's slots can be built before fit
    history = brief_fit(model, train["points"], train["parts"], budget,
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    logits = np.asarray(model(test["points"]))
    predictions = np.argmax(logits, axis=-1)
    return {"loss": float(history["loss"][-1]),
            "mean_iou": float(jaccard_score(test["parts"].ravel(), predictions.ravel(),
                                            average="macro"))}


def judge_segmenter_training(student, reference):
    expect_true(np.isfinite(student["loss"]), "training the segmenter diverged (NaN loss)")
    floor = IOU_SHARE * reference["mean_iou"]
    expect_true(student["mean_iou"] >= floor,
                f"the held-out part mean IoU after training is {student['mean_iou']:.3f}, the "
                f"reference's {reference['mean_iou']:.3f} with the same budget (needs at least "
                f"half of it, {floor:.3f}): each point's logits come from its own local "
                "feature, then the cloud's global feature, the MAX over the points")