"""Helpers that the checks of lab14b_vqvae share: probes run in the worker (they import
TensorFlow inside their functions), verdicts in the grader (numpy and scipy only).

The numpy references are brute force: every distance to every code, the EMA written as a
loop over the steps, the entropy from scipy. The model checks run the student's code on the
checks' own stand-ins, components of known behaviour that is NOT the lab's maths, which
record how they are called: a quantiser that picks codes by L1 distance, an estimator and
losses that weigh their arguments differently, a causal layer made of shifts in raster
order instead of a masked convolution. What the student's unit makes of them is compared
with what the reference's makes of the same.
"""
from __future__ import annotations

import json
import math

import numpy as np

from autograder.api import CheckFailed
from autograder.verdicts import expect_at_most, expect_close, expect_true

VQ, PRIOR = "vq", "prior"
LOG_NAMES = ["codebook", "commitment", "loss", "perplexity", "reconstruction"]


# ---- Nearest codes ------------------------------------------------------------------------

def squared_distances(z, codebook):
    """(M, K) squared distances in float64, by broadcasting: no expansion, no rounding."""
    z, codebook = (np.asarray(a, dtype=np.float64) for a in (z, codebook))
    return ((z[:, None, :] - codebook[None, :, :]) ** 2).sum(axis=-1)


def nearest_variants(z, codebook):
    """The right indices and what the usual slips give on the same inputs."""
    distances = squared_distances(z, codebook)
    k = distances.shape[1]
    z64, c64 = (np.asarray(a, dtype=np.float64) for a in (z, codebook))
    return {"expected": distances.argmin(axis=1),
            "furthest": distances.argmax(axis=1),
            "dot_product": (z64 @ c64.T).argmax(axis=1),
            "l1": np.abs(z64[:, None, :] - c64[None, :, :]).sum(axis=-1).argmin(axis=1),
            "last_tie": k - 1 - distances[:, ::-1].argmin(axis=1)}


NEAREST_SLIPS = {
    "furthest": "it picks the FURTHEST code: the nearest code minimises the distance (argmin, "
                "not argmax)",
    "dot_product": "it picks the code with the largest dot product z . c, which is the nearest "
                   "only when every code has the same norm: ||z - c||^2 = ||z||^2 - 2 z . c + "
                   "||c||^2, and the ||c||^2 term matters",
    "l1": "it measures the L1 distance |z - c|: the codebook is matched by squared Euclidean "
          "distance",
    "last_tie": "on a tie it picks the HIGHEST index; ties go to the lowest (tf.argmin does "
                "that on its own)"}


def judge_nearest(indices, z, codebook, what, decided=None):
    """indices against the brute force; `decided` marks the rows that must match exactly
    (default: all); the others are near-ties that float32 may break either way."""
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise CheckFailed(f"{what} returned values of type {indices.dtype}: indices are "
                          "integers (int32)")
    variants = nearest_variants(z, codebook)
    expected = variants["expected"]
    if indices.shape != expected.shape:
        raise CheckFailed(f"{what} has shape {indices.shape}, expected {expected.shape}: one "
                          "index per vector")
    rows = np.ones(len(expected), bool) if decided is None else np.asarray(decided)
    wrong = rows & (indices != expected)
    if not wrong.any():
        return
    for name, slip in NEAREST_SLIPS.items():
        if np.array_equal(indices[rows], variants[name][rows]):
            raise CheckFailed(f"{what}: {slip}")
    first = int(np.flatnonzero(wrong)[0])
    distances = squared_distances(z, codebook)[first]
    raise CheckFailed(f"{what} differs from the nearest code (numpy, every distance) for "
                      f"{int(wrong.sum())} of {int(rows.sum())} vectors; first, vector {first}: "
                      f"got code {int(indices[first])} at squared distance "
                      f"{distances[indices[first]]:.4g}, the nearest is code {int(expected[first])}"
                      f" at {distances[expected[first]]:.4g}")


def decided_rows(z, codebook, gap=1e-4):
    """Rows whose best and second-best squared distances differ by more than `gap` (relative):
    float32 arithmetic in any order picks the same code there."""
    distances = np.sort(squared_distances(z, codebook), axis=1)
    return distances[:, 1] - distances[:, 0] > gap * (1.0 + distances[:, 1])


# ---- The EMA codebook ---------------------------------------------------------------------

def ema_numpy(cluster_size, code_sum, z, indices, decay, epsilon, variant="expected"):
    """One EMA step in float64, as a loop over the vectors; `variant` names a slip."""
    cluster_size = np.array(cluster_size, dtype=np.float64)
    code_sum = np.array(code_sum, dtype=np.float64)
    counts, sums = np.zeros_like(cluster_size), np.zeros_like(code_sum)
    for vector, k in zip(np.asarray(z, dtype=np.float64), np.asarray(indices)):
        counts[k] += 1
        sums[k] += vector
    keep = 1.0 - decay if variant == "decay_swapped" else decay
    cluster_size = keep * cluster_size + (1.0 - keep) * counts
    code_sum = keep * code_sum + (1.0 - keep) * sums
    total, k = cluster_size.sum(), len(cluster_size)
    with np.errstate(divide="ignore", invalid="ignore"):
        divisor = {"expected": (cluster_size + epsilon) / (total + k * epsilon) * total,
                    "decay_swapped": (cluster_size + epsilon) / (total + k * epsilon) * total,
                    "not_smoothed": cluster_size,
                    "without_total": (cluster_size + epsilon) / (total + k * epsilon),
                    "plus_epsilon": cluster_size + epsilon}[variant]
        return cluster_size, code_sum, code_sum / divisor[:, None]


EMA_SLIPS = {
    "not_smoothed": "the codebook divides by the raw counts: Laplace smoothing is missing, "
                    "(cluster_size + epsilon) / (n + K * epsilon) * n, which keeps an unused "
                    "code's count away from 0",
    "decay_swapped": "decay and 1 - decay are swapped: the running values keep `decay` of "
                     "their old value and take 1 - decay of the batch's",
    "without_total": "the smoothed counts are not multiplied back by n = sum(cluster_size): "
                     "(cluster_size + epsilon) / (n + K * epsilon) * n",
    "plus_epsilon": "the smoothing only adds epsilon: (cluster_size + epsilon) / (n + K * "
                    "epsilon) * n keeps the total n"}


# ---- Stand-ins for VQVAE.train_step -------------------------------------------------------

class Record:
    """What train_step handed the stand-ins (numpy copies), call by call; `step()` starts the
    calls of the next train_step."""

    def __init__(self):
        self.lookups, self.straight, self.codebook, self.commitment = [], [], [], []
        self.perplexity, self.updates = [], []
        self.starts = []

    def step(self) -> None:
        self.starts.append({name: len(calls) for name, calls in vars(self).items()
                            if name != "starts"})

    def _by_step(self, name):
        """The calls of `name`, one list per train_step."""
        calls = getattr(self, name)
        ends = [start[name] for start in self.starts[1:]] + [len(calls)]
        return [calls[start[name]:end] for start, end in zip(self.starts, ends)]

    def as_data(self) -> dict:
        steps = {name: self._by_step(name) for name in ("lookups", "straight", "codebook",
                                                        "commitment", "perplexity", "updates")}
        return {"lookup_z": [[a for a, _, _ in calls] for calls in steps["lookups"]],
                "lookup_q": [[b for _, b, _ in calls] for calls in steps["lookups"]],
                "lookup_indices": [[c for _, _, c in calls] for calls in steps["lookups"]],
                "straight_through": [[np.stack(pair) for pair in calls]
                                     for calls in steps["straight"]],
                "codebook_loss": [[np.stack(pair) for pair in calls]
                                  for calls in steps["codebook"]],
                "commitment_loss": [[np.stack(args[:2]) for args in calls]
                                    for calls in steps["commitment"]],
                "betas": [[-1.0 if args[2] is None else float(args[2]) for args in calls]
                          for calls in steps["commitment"]],
                "perplexity_codes": [[-1 if k is None else int(k) for _, k in calls]
                                     for calls in steps["perplexity"]],
                "update_z": [[a for a, _ in calls] for calls in steps["updates"]],
                "update_indices": [[b for _, b in calls] for calls in steps["updates"]]}


def train_step_stand_ins(record: Record) -> dict:
    """The replacements of VectorQuantizer, straight_through, codebook_loss, commitment_loss
    and perplexity while VQVAE.train_step runs eagerly: each of known behaviour that is not
    the lab's, and each writes down what it was given."""
    import keras
    import tensorflow as tf

    def numpy(value):
        return np.array(keras.ops.convert_to_numpy(value))

    class StandInQuantizer(keras.layers.Layer):
        """Codes by L1 distance; its EMA step moves the codebook halfway to the batch mean."""

        def __init__(self, num_codes, code_dim, ema_decay=None, epsilon=1e-5, **kwargs):
            super().__init__(name=kwargs.get("name"))
            self.num_codes, self.code_dim = int(num_codes), int(code_dim)
            self.ema_decay = ema_decay

        @property
        def uses_ema(self):
            return self.ema_decay is not None

        def build(self, input_shape=None):
            self.codebook = self.add_weight(shape=(self.num_codes, self.code_dim),
                                            initializer="zeros", name="codebook",
                                            trainable=not self.uses_ema)
            self.built = True

        def lookup(self, z):
            z = tf.cast(z, tf.float32)
            vectors = tf.reshape(z, (-1, self.code_dim))
            l1 = tf.reduce_sum(tf.abs(vectors[:, None, :] - self.codebook[None]), axis=-1)
            indices = tf.argmin(l1, axis=-1, output_type=tf.int32)
            q = tf.reshape(tf.gather(self.codebook, indices), tf.shape(z))
            indices = tf.reshape(indices, tf.shape(z)[:-1])
            record.lookups.append((numpy(z), numpy(q), numpy(indices)))
            return q, indices

        def update_codebook(self, z, indices):
            record.updates.append((numpy(z), numpy(indices)))
            mean = tf.reduce_mean(tf.reshape(tf.cast(z, tf.float32), [-1, self.code_dim]), 0)
            self.codebook.assign(0.5 * self.codebook + 0.5 * mean)

    def straight_through(z, q):
        record.straight.append((numpy(z), numpy(q)))
        # The value of q; half of the gradient to z, all of it to q.
        return q + 0.5 * (z - tf.stop_gradient(z))

    def codebook_loss(z, q):
        record.codebook.append((numpy(z), numpy(q)))
        return tf.reduce_mean(tf.abs(tf.stop_gradient(z) - q))

    def commitment_loss(z, q, beta=None):
        record.commitment.append((numpy(z), numpy(q), beta))
        return (0.0 if beta is None else beta) * tf.reduce_mean(tf.abs(z - tf.stop_gradient(q)))

    def perplexity(indices, num_codes=None):
        record.perplexity.append((numpy(indices), num_codes))
        used = tf.unique(tf.reshape(tf.cast(indices, tf.int32), [-1]))[0]
        return tf.cast(tf.size(used), tf.float32)   # how many codes the batch uses

    return {"VectorQuantizer": StandInQuantizer, "straight_through": straight_through,
            "codebook_loss": codebook_loss, "commitment_loss": commitment_loss,
            "perplexity": perplexity}


# ---- Stand-in layers for the prior's causality --------------------------------------------

_CLASSES: dict = {}


def shift_layer_class():
    """A stand-in for MaskedConv2D whose causality comes from shifts in raster order, not a
    mask: type "A" gives position p a Dense map of position p - 1 (nothing at p = 0); type
    "B" a Dense map of position p plus another of p - 1. Built with MaskedConv2D's
    arguments; it keeps the kernel_size it was given, for the checks to read."""
    if _CLASSES:
        return _CLASSES["ShiftLayer"]
    import keras
    import tensorflow as tf

    class ShiftLayer(keras.layers.Layer):
        def __init__(self, filters, kernel_size, mask_type, activation=None, **kwargs):
            super().__init__(name=kwargs.get("name"))
            self.filters, self.mask_type = int(filters), str(mask_type)
            self.kernel_size = kernel_size   # recorded, not used: the shifts set the reach
            self.activation = keras.activations.get(activation)

        def build(self, input_shape):
            channels = int(input_shape[-1])
            self.previous = self.add_weight(shape=(channels, self.filters), name="previous")
            self.current = self.add_weight(shape=(channels, self.filters), name="current")
            self.bias = self.add_weight(shape=(self.filters,), name="bias",
                                        initializer="ones")
            self.built = True

        def call(self, x):
            shape = tf.shape(x)
            flat = tf.reshape(x, [shape[0], shape[1] * shape[2], x.shape[-1]])
            before = tf.pad(flat[:, :-1], [[0, 0], [1, 0], [0, 0]])  # position p - 1
            y = before @ self.previous + self.bias
            if self.mask_type != "A":
                y += flat @ self.current
            return self.activation(tf.reshape(y, [shape[0], shape[1], shape[2], self.filters]))

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], self.filters)

    _CLASSES["ShiftLayer"] = ShiftLayer
    return ShiftLayer


def code_dependence(prior, codes, num_codes):
    """changed[i, j]: whether the logits at position i move when the code at position j
    changes (over the grids of `codes`, every other code kept). codes: (B, h, w) int32."""
    batch, height, width = codes.shape
    positions = height * width
    grids = np.repeat(codes[None], positions + 1, axis=0)      # copy 0 is the original
    flat = grids.reshape(positions + 1, batch, positions)
    for j in range(positions):
        flat[j + 1, :, j] = (flat[j + 1, :, j] + 1 + j % (num_codes - 1)) % num_codes
    logits = np.asarray(prior(grids.reshape(-1, height, width)), dtype=np.float64)
    logits = logits.reshape(positions + 1, batch, positions, -1)
    moved = np.abs(logits[1:] - logits[:1]).max(axis=(1, 3))   # (j changed, i)
    scale = max(float(np.abs(logits).max()), 1e-12)
    return (moved > 1e-6 * scale).T


def judge_raster_causality(changed, width, what):
    """The logits at position i move with the codes before i only, and with the one just
    before it (raster order: index = width * row + column)."""
    changed = np.asarray(changed, dtype=bool)
    for i, j in np.argwhere(changed):
        if j >= i:
            where = "its own code" if i == j else f"the code at position {j}, after it"
            raise CheckFailed(f"{what}: the logits at position {i} (row {i // width}, column "
                              f"{i % width}) change with {where}: the prior must not see a "
                              "code before it is drawn (a type-A mask on the first masked "
                              "convolution, type B after it)")
    for i in range(1, len(changed)):
        if not changed[i, i - 1]:
            raise CheckFailed(f"{what}: the logits at position {i} do not change with the "
                              f"code just before it, at position {i - 1}: a type-A mask on "
                              "the FIRST masked convolution only (type B on the others), and "
                              "every layer used in call")


# ---- Saving and reloading ------------------------------------------------------------------

def round_trip(model, inputs, path):
    """Save to .keras and reload: the class, config and weights of both, and (when inputs
    are given) their outputs."""
    import keras
    outputs = None if inputs is None else np.asarray(model(inputs))
    model.save(path)
    try:
        loaded = keras.saving.load_model(path)
    except Exception as error:  # the message goes to the student
        return {"error": f"{type(error).__name__}: {error}"[:600]}
    out = {"error": "", "class": type(loaded).__name__,
           "config": json.dumps(model.get_config(), sort_keys=True, default=str),
           "loaded_config": json.dumps(loaded.get_config(), sort_keys=True, default=str),
           "weights": [np.asarray(w) for w in model.weights],
           "loaded_weights": [np.asarray(w) for w in loaded.weights]}
    if inputs is not None:
        out.update(outputs=outputs, loaded_outputs=np.asarray(loaded(inputs)))
    return out


def judge_round_trip(student, what, expected_class):
    if student["error"]:
        raise CheckFailed(f"keras.saving.load_model could not rebuild the saved {what}: "
                          + student["error"])
    expect_true(student["class"] == expected_class,
                f"load_model returned a {student['class']}, not a {expected_class}")
    expect_true(student["loaded_config"] == student["config"],
                f"the reloaded {what}'s config differs from the saved one's")
    expect_true(len(student["loaded_weights"]) == len(student["weights"]),
                f"the reloaded {what} has {len(student['loaded_weights'])} weights, the saved "
                f"one {len(student['weights'])}: create every weight in build() with add_weight")
    for index, (got, saved) in enumerate(zip(student["loaded_weights"], student["weights"])):
        expect_close(got, saved, f"weight {index} of the reloaded {what}",
                     against="the saved model's")
    if "outputs" in student:
        expect_close(student["loaded_outputs"], student["outputs"], f"{what}(x) after save "
                     "and load", against="the outputs before saving")


# ---- Data and the training probes -----------------------------------------------------------

def digit_images():
    """The 8x8 digits in [0, 1], (N, 8, 8, 1): the train and test splits of dlkit."""
    from dlkit.data import load_digits
    return load_digits("train")[0], load_digits("test")[0]


def patch_codes(images):
    """The checks' own quantiser, no learning: each 2x2 patch of an 8x8 digit, its four
    pixels thresholded at 0.5, read as a 4-bit number. (N, 8, 8, 1) -> (N, 4, 4) codes in
    0..15, int32: grids with the strokes' structure, for a prior to learn."""
    n = len(images)
    blocks = np.asarray(images).reshape(n, 4, 2, 4, 2).transpose(0, 1, 3, 2, 4)
    bits = (blocks.reshape(n, 4, 4, 4) >= 0.5).astype(np.int64)
    return (bits @ np.array([8, 4, 2, 1])).astype("int32")


def position_baseline_bits(train, test, num_codes):
    """Bits per code of independent per-position categorical models (counts + 1) fitted to
    the train grids, on the test grids: what a prior that ignores the other codes reaches."""
    train, test = (np.asarray(a).reshape(len(a), -1) for a in (train, test))
    counts = np.stack([np.bincount(train[:, p], minlength=num_codes)
                       for p in range(train.shape[1])]) + 1.0
    p = counts / counts.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log2(p[np.arange(test.shape[1])[None, :], test])))


def held_out_bits(logits, codes):
    """Mean -log2 p(code) over every position of the test grids, by scipy's log_softmax."""
    from scipy.special import log_softmax
    log_p = log_softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    chosen = np.take_along_axis(log_p, np.asarray(codes)[..., None].astype(int), axis=-1)
    return float(-chosen.mean() / np.log(2.0))


def code_usage_perplexity(codes, num_codes):
    """exp of the entropy (scipy, nats) of how often each code is used."""
    from scipy.stats import entropy
    return float(np.exp(entropy(np.bincount(np.ravel(codes), minlength=num_codes))))


def library_code_nll(codes, logits):
    """The checks' code_nll while the training check runs, so that a slip in the student's
    costs code_likelihood only: Keras's sparse categorical cross-entropy of each position
    (an independent library computation), summed over the grid: nats per grid."""
    import keras
    per_position = keras.losses.sparse_categorical_crossentropy(
        keras.ops.cast(codes, "int32"), keras.ops.cast(logits, "float32"), from_logits=True)
    return keras.ops.sum(per_position, axis=(1, 2))


def library_bits_per_code(nll, num_positions):
    """The checks' bits_per_code while the training check runs (the docstring's formula)."""
    import keras
    return keras.ops.mean(nll) / (num_positions * math.log(2.0))


def expect_scalar(got, expected, what, slips=(), *, against, rtol=1e-3, atol=1e-3):
    """A logged number against the checks' own. A single number cannot tell a factor from an
    offset: the message gives the ratio, and names the slip whose factor it is (`slips`:
    pairs (factor, what that factor means))."""
    got, expected = float(got), float(expected)
    if not np.isfinite(got):
        raise CheckFailed(f"{what} is {got}, expected {expected:.4g} ({against})")
    if math.isclose(got, expected, rel_tol=rtol, abs_tol=atol):
        return
    ratio = got / expected if expected else math.inf
    for factor, slip in slips:
        if math.isclose(ratio, factor, rel_tol=1e-2):
            times = f"{ratio:.4g} times too big" if ratio > 1 else \
                f"{1 / ratio:.4g} times too small"
            raise CheckFailed(f"{what} is {got:.4g}, expected {expected:.4g} ({against}): "
                              f"{times}: {slip}")
    raise CheckFailed(f"{what} is {got:.4g}, expected {expected:.4g} ({against}): a factor "
                      f"of {ratio:.4g}, or an offset of {got - expected:+.4g}")


def judge_logged(logged_json, expected, what):
    logged = json.loads(logged_json)
    expect_true(logged == sorted(expected), f"fit() logged {logged}; {what}.train_step must "
                f"return the trackers' results, {sorted(expected)}")


def judge_finite(value, what):
    if not np.isfinite(value):
        raise CheckFailed(f"{what} is {value} after training: training diverged")


def judge_at_most(value, ceiling, what, unit=""):
    expect_at_most(value, ceiling, what, unit=unit)
