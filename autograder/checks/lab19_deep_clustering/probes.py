"""Helpers that the checks of lab19_deep_clustering share: probes run in the worker (they
import TensorFlow inside), verdicts in the grader.

The model checks run the student's DEC code with the checks' own components (stand-ins of
known, DIFFERENT behaviour, put in place of the module's functions with `standing_in`):

- soft assignments from a Gaussian kernel, softmax(-||z - mu||^2), not the Student-t;
- a target that squares q and renormalises each row, without the cluster frequencies;
- a loss that is the cross-entropy -sum p log q (the KL plus p's entropy), p held fixed.

So train_step, update_targets and IDEC.compute_losses are graded even when the formulas of
tasks 2-4 are wrong, and those cost their own checks only. The training check runs the
student's whole DEC and IDEC (their formulas too) on the checks' own pretrained autoencoder,
relative to the reference at the same seed and budget; its metrics come from scikit-learn
(NMI) and networkx (a maximum-weight matching of clusters to classes), not from the lab.
"""
from __future__ import annotations

import json

import numpy as np

from autograder.api import CheckFailed
from autograder.verdicts import expect_at_least, expect_true

# The training budget of dec_and_idec_train, stated in the handout.
TRAIN = {"train_size": 1347, "ae_hidden": 128, "code_dim": 10, "ae_epochs": 10,
         "ae_batch": 64, "ae_learning_rate": 5e-3, "clusters": 10, "steps": 200,
         "batch_size": 256, "learning_rate": 3e-3, "update_interval": 25, "gamma": 1.0,
         "alpha": 1.0}
# How far below the reference's accuracy and NMI a student's DEC or IDEC may end. Training
# draws no randomness after k-means (seeded) and the batches are fixed, so a correct
# train_step follows the reference up to float rounding.
MARGIN = 0.03


# ---- stand-ins (known, different behaviour) -------------------------------------------------

def gaussian_assignment(z, centres, alpha=1.0):
    """Stand-in for soft_assignment: softmax over the clusters of -||z - mu||^2 (alpha unused)."""
    import tensorflow as tf
    z = tf.cast(z, tf.float32)
    centres = tf.cast(centres, tf.float32)
    distance = tf.reduce_sum(tf.square(tf.expand_dims(z, 1) - tf.expand_dims(centres, 0)), -1)
    return tf.nn.softmax(-distance, axis=-1)


def squared_rows(q):
    """Stand-in for target_distribution: q^2 renormalised per row (no frequencies)."""
    import tensorflow as tf
    q = tf.cast(q, tf.float32)
    return tf.math.l2_normalize(q, axis=1) ** 2


def cross_entropy(p, q):
    """Stand-in for clustering_kl: mean over points of -sum_j p_ij log q_ij, p held fixed."""
    import tensorflow as tf
    fixed = tf.stop_gradient(tf.convert_to_tensor(p, tf.float32))
    return -tf.reduce_mean(tf.reduce_sum(fixed * tf.math.log(tf.cast(q, tf.float32) + 1e-10), 1))


STAND_INS = {"soft_assignment": gaussian_assignment, "target_distribution": squared_rows,
             "clustering_kl": cross_entropy}


def np_gaussian_assignment(z, centres):
    from scipy.special import softmax
    distance = ((z[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    return softmax(-distance, axis=1)


def np_squared_rows(q):
    return q ** 2 / (q ** 2).sum(axis=1, keepdims=True)


# ---- small models of the checks' own ---------------------------------------------------------

def tiny_encoder(rng, input_dim=5, code_dim=3):
    """A random 2-layer tanh encoder (the checks' own), weights from rng."""
    import keras
    encoder = keras.Sequential([keras.Input((input_dim,)), keras.layers.Dense(6, "tanh"),
                                keras.layers.Dense(code_dim)])
    for weight in encoder.weights:
        weight.assign(rng.normal(scale=0.7, size=weight.shape).astype("float32"))
    return encoder


def tiny_decoder(rng, code_dim=3, output_dim=5):
    import keras
    decoder = keras.Sequential([keras.Input((code_dim,)),
                                keras.layers.Dense(output_dim, "sigmoid")])
    for weight in decoder.weights:
        weight.assign(rng.normal(scale=0.7, size=weight.shape).astype("float32"))
    return decoder


def prepared(model, x, centres):
    """The model's stored data, empty targets and centres, set as DEC.initialize's given
    lines do, without running the student's k-means."""
    x = np.asarray(x, dtype="float32")
    model.data = model.add_weight(shape=x.shape, name="data", trainable=False,
                                  initializer="zeros")
    model.data.assign(x)
    model.targets = model.add_weight(shape=(len(x), model.n_clusters), name="targets",
                                     trainable=False, initializer="zeros")
    model.centres.assign(np.asarray(centres, dtype="float32"))
    return model


def logged(logs, call):
    if not isinstance(logs, dict):
        raise ValueError(f"{call} returned {type(logs).__name__}, expected a dict of the "
                         "trackers' results")
    return {str(k): float(v) for k, v in logs.items()}


# ---- metrics of the checks' own (independent of the lab's) ---------------------------------

def matched_accuracy(y_true, y_pred):
    """Accuracy under the best one-to-one matching, by networkx's maximum-weight matching on
    the bipartite graph of clusters and classes (weights: co-occurrence counts)."""
    import networkx as nx
    graph = nx.Graph()
    for cluster in np.unique(y_pred):
        for label in np.unique(y_true):
            count = int(np.sum((y_pred == cluster) & (y_true == label)))
            if count:
                graph.add_edge(("cluster", int(cluster)), ("class", int(label)), weight=count)
    matching = nx.max_weight_matching(graph)
    return sum(graph.edges[a, b]["weight"] for a, b in matching) / len(y_true)


def scores(y_true, y_pred):
    from sklearn.metrics import normalized_mutual_info_score
    return {"accuracy": float(matched_accuracy(y_true, y_pred)),
            "nmi": float(normalized_mutual_info_score(y_true, y_pred))}


# ---- the training probe ------------------------------------------------------------------------

def pretrained_autoencoder(x, budget, seed):
    """The checks' own autoencoder (one ELU hidden layer of 128, unlike the lab's), trained on
    x with MSE for budget["ae_epochs"] passes over it in batches of budget["ae_batch"]."""
    import keras
    keras.utils.set_random_seed(seed)
    hidden, code = budget["ae_hidden"], budget["code_dim"]
    encoder = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(hidden, "elu"),
                                keras.layers.Dense(code)])
    decoder = keras.Sequential([keras.Input((code,)), keras.layers.Dense(hidden, "elu"),
                                keras.layers.Dense(x.shape[1], "sigmoid")])
    joined = keras.Sequential([keras.Input((x.shape[1],)), encoder, decoder])
    joined.compile(optimizer=keras.optimizers.Adam(budget["ae_learning_rate"]), loss="mse",
                   steps_per_execution=21)
    # Adam's slots made now, not inside the first traced step (which then traces twice).
    joined.optimizer.build(joined.trainable_variables)
    # One fit epoch over the passes, each pass a permutation, cut to whole batches: Keras's
    # work between epochs happens once, and no smaller last batch makes it trace again.
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(x)) for _ in range(budget["ae_epochs"])])
    order = order[: len(order) // budget["ae_batch"] * budget["ae_batch"]]
    joined.fit(x[order], x[order], batch_size=budget["ae_batch"], epochs=1, shuffle=False,
               verbose=0)
    return encoder, decoder


def train_probe(lab, rng, budget):
    """k-means (scikit-learn) on the pixels and on the checks' autoencoder's codes, then the
    student's DEC and IDEC from the same pretrained weights, each trained by fit for
    budget["steps"] steps on fixed batches of indices. Returns the scores of each.

    scikit-learn's k-means runs on one thread: on these small sets its OpenMP threads cost
    5 to 30 times the CPU of one thread when the cores are busy, for the same clusters."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):
        return _train_probe(lab, rng, budget)


def _train_probe(lab, rng, budget):
    import keras
    from sklearn.cluster import KMeans

    from dlkit.data import load_digits
    x, y = load_digits("train", flatten=True)
    x = x[: budget["train_size"]]
    y = y[: budget["train_size"]]
    seed = int(rng.integers(0, 1000))
    k = budget["clusters"]
    out = {"raw": scores(y, KMeans(k, n_init=5, random_state=seed).fit_predict(x))}
    encoder, decoder = pretrained_autoencoder(x, budget, seed)
    codes = np.asarray(encoder(x))
    out["codes"] = scores(y, KMeans(k, n_init=5, random_state=seed).fit_predict(codes))
    pretrained = (encoder.get_weights(), decoder.get_weights())
    size = budget["steps"] * budget["batch_size"]
    order = np.concatenate([rng.permutation(len(x)) for _ in range(-(-size // len(x)))])
    index = order[:size].astype("int32")
    for name in ("dec", "idec"):
        encoder.set_weights(pretrained[0])
        decoder.set_weights(pretrained[1])
        common = {"alpha": budget["alpha"], "update_interval": budget["update_interval"]}
        if name == "dec":
            model = lab.dec.DEC(encoder, k, **common)
        else:
            model = lab.dec.IDEC(encoder, decoder, k, gamma=budget["gamma"], **common)
        model.initialize(x, seed=seed)
        model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]),
                      steps_per_execution=budget["update_interval"])
        model.optimizer.build(model.trainable_variables)
        history = model.fit(x[index], index, batch_size=budget["batch_size"], epochs=1,
                            shuffle=False, verbose=0).history
        clusters = np.argmax(np.asarray(model(x)), axis=1)
        out[name] = {**scores(y, clusters), "logged": json.dumps(sorted(history)),
                     "loss": float(history.get("loss", [np.nan])[-1])}
    return out


def judge_training(student, reference, margin=MARGIN):
    for name in ("raw", "codes"):  # the checks' own baselines: no student code runs there
        for metric in ("accuracy", "nmi"):
            expect_true(abs(student[name][metric] - reference[name][metric]) <= 0.02,
                        f"the checks' own k-means baseline ({name}) scores {metric} "
                        f"{student[name][metric]:.3f}, the reference run "
                        f"{reference[name][metric]:.3f}: this machine's scikit-learn or "
                        "TensorFlow differs from the one the references were made with; ask "
                        "your instructor")
    for name, label in (("dec", "DEC"), ("idec", "IDEC")):
        got, want = student[name], reference[name]
        names = json.loads(got["logged"])
        expected = json.loads(want["logged"])
        expect_true(names == expected, f"fit() of {label} logged {names}; train_step must "
                    f"return exactly {expected} (the trackers' results)")
        expect_true(np.isfinite(got["loss"]), f"{label}'s logged loss is {got['loss']}: "
                    "training diverged (log of 0? the KL guarded with EPSILON?)")
        for metric in ("accuracy", "nmi"):
            expect_at_least(got[metric], want[metric] - margin,
                            f"{label}'s cluster {metric} on the digits after the budget (the "
                            f"reference reaches {want[metric]:.3f}; k-means on the same codes "
                            f"{student['codes'][metric]:.3f})")
        if not abs(got["loss"] - want["loss"]) <= 0.02 + 0.05 * abs(want["loss"]):
            raise CheckFailed(f"fit() of {label} logged loss = {got['loss']:.4g}, where the "
                              f"reference logs {want['loss']:.4g} for the same training: the "
                              "batch MEAN of the KL (plus gamma times the reconstruction for "
                              "IDEC), with targets refreshed every update_interval steps")
