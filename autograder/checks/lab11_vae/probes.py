"""What the checks of lab11_vae share: budgets, data, the negative ELBO in numpy, the checks'
own stand-ins for the lab's functions and networks, and verdict helpers.

Stand-ins: a model-level check (loss_terms, train_step, the IWAE estimate, the conditional
VAE...) runs the student's model code with the checks' own maths functions and Encoder and
Decoder layers put in place of the student's (`standins`), so a slip in kl_divergence or in
Encoder.build costs the points of that function's own check, not of every model check.
Numpy only at module level (verdicts run in the grader, which never imports TensorFlow).
"""
import contextlib
import json
import math

import numpy as np

from autograder.api import CheckFailed
from autograder.verdicts import expect_at_most, expect_close, expect_true

TRACKERS = ["kl", "loss", "reconstruction"]

# The training budget of train_step_trains, stated in the handout.
TRAIN = {"latent_dim": 8, "hidden_units": (64,), "learning_rate": 3e-3, "batch_size": 64,
         "epochs": 10}
# How much worse than the reference's held-out negative ELBO a student model may end up.
# Over training seeds the reference lands within 0.7 nats (21.4 to 22.1), so a correct
# train_step whose noise is drawn differently passes; a KL weighted twice (23.9 to 24.5) fails.
MARGIN_NATS = 1.25


# ---------------------------------------------------------------------------------------------
# Data and the negative ELBO in numpy
# ---------------------------------------------------------------------------------------------

def digits(split):
    from dlkit.data import load_digits
    return load_digits(split, flatten=True, binarize=True)[0]


def digits_with_labels(split):
    from dlkit.data import load_digits
    return load_digits(split, flatten=True, binarize=True)


def negative_elbo_np(encoder, decoder, x, epsilon):
    """Monte-Carlo negative ELBO of a Bernoulli VAE, in float64 numpy.

    x: (N, D) binary; epsilon: (S, N, K). Returns (loss, reconstruction, kl): batch means,
    the reconstruction term averaged over the S samples.
    """
    mean, log_var = (np.asarray(t, dtype=np.float64) for t in encoder(x))
    kl = 0.5 * np.sum(mean ** 2 + np.exp(log_var) - 1.0 - log_var, axis=-1)
    reconstruction = 0.0
    for eps in epsilon:
        z = (mean + np.exp(0.5 * log_var) * eps).astype(np.float32)
        logits = np.asarray(decoder(z), dtype=np.float64)
        reconstruction += np.mean(np.sum(np.logaddexp(0.0, logits) - x * logits, axis=-1))
    reconstruction = float(reconstruction / len(epsilon))
    return reconstruction + float(np.mean(kl)), reconstruction, float(np.mean(kl))


def conditioned_network(network, labels, num_classes):
    """network applied to [inputs, one-hot labels], concatenated in numpy (not by the student)."""
    one_hot = np.eye(num_classes, dtype="float32")[labels]
    return lambda inputs: network(np.concatenate([np.asarray(inputs, "float32"), one_hot], 1))


# ---------------------------------------------------------------------------------------------
# The checks' own versions of the lab's functions and networks
# ---------------------------------------------------------------------------------------------

def sample_gaussian(mean, log_var, epsilon):
    import tensorflow as tf
    return mean + tf.exp(0.5 * log_var) * tf.cast(epsilon, mean.dtype)


def kl_divergence(mean, log_var):
    import tensorflow as tf
    return 0.5 * tf.reduce_sum(tf.square(mean) + tf.exp(log_var) - 1.0 - log_var, axis=-1)


def bernoulli_log_likelihood(x, logits):
    import tensorflow as tf
    logits = tf.convert_to_tensor(logits)
    return tf.reduce_sum(tf.cast(x, logits.dtype) * logits - tf.nn.softplus(logits), axis=-1)


def gaussian_log_likelihood(x, mean, log_var):
    import tensorflow as tf
    mean = tf.convert_to_tensor(mean)
    log_var = tf.broadcast_to(tf.cast(log_var, mean.dtype), tf.shape(mean))
    squared = tf.square(tf.cast(x, mean.dtype) - mean) * tf.exp(-log_var)
    return -0.5 * tf.reduce_sum(math.log(2.0 * math.pi) + log_var + squared, axis=-1)


def negative_elbo(log_px, kl, beta=1.0):
    import tensorflow as tf
    reconstruction, kl_mean = -tf.reduce_mean(log_px), tf.reduce_mean(kl)
    return reconstruction + beta * kl_mean, reconstruction, kl_mean


def iwae_bound(log_weights):
    import tensorflow as tf
    log_weights = tf.convert_to_tensor(log_weights)
    count = tf.cast(tf.shape(log_weights)[0], log_weights.dtype)
    return tf.reduce_logsumexp(log_weights, axis=0) - tf.math.log(count)


def concat_one_hot(inputs, labels, num_classes):
    import tensorflow as tf
    inputs = tf.convert_to_tensor(inputs)
    one_hot = tf.one_hot(tf.cast(labels, tf.int32), num_classes, dtype=inputs.dtype)
    return tf.concat([inputs, one_hot], axis=-1)


MATHS = {f.__name__: f for f in (sample_gaussian, kl_divergence, bernoulli_log_likelihood,
                                 gaussian_log_likelihood, negative_elbo, iwae_bound,
                                 concat_one_hot)}
_NETWORKS = {}


def networks():
    """{"Encoder": ..., "Decoder": ...}: Keras layers with the lab's constructor arguments and
    sublayers (hidden Dense relu layers, then the heads), built in the same order."""
    if _NETWORKS:
        return _NETWORKS
    import keras

    class Encoder(keras.layers.Layer):
        def __init__(self, latent_dim, hidden_units=(128,), **kwargs):
            super().__init__(**kwargs)
            self.latent_dim = int(latent_dim)
            self.hidden_units = tuple(int(u) for u in hidden_units)
            self.hidden = [keras.layers.Dense(u, activation="relu", name=f"hidden_{i}")
                           for i, u in enumerate(self.hidden_units)]
            self.mean_head = keras.layers.Dense(self.latent_dim, name="mean")
            self.log_var_head = keras.layers.Dense(self.latent_dim, name="log_var")

        def build(self, input_shape):
            shape = input_shape
            for layer in self.hidden:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)
            self.mean_head.build(shape)
            self.log_var_head.build(shape)

        def call(self, x):
            for layer in self.hidden:
                x = layer(x)
            return self.mean_head(x), self.log_var_head(x)

        def compute_output_shape(self, input_shape):
            shape = (*input_shape[:-1], self.latent_dim)
            return shape, shape

    class Decoder(keras.layers.Layer):
        def __init__(self, output_dim, hidden_units=(128,), **kwargs):
            super().__init__(**kwargs)
            self.output_dim = int(output_dim)
            self.hidden_units = tuple(int(u) for u in hidden_units)
            self.hidden = [keras.layers.Dense(u, activation="relu", name=f"hidden_{i}")
                           for i, u in enumerate(self.hidden_units)]
            self.output_head = keras.layers.Dense(self.output_dim, name="output")

        def build(self, input_shape):
            shape = input_shape
            for layer in self.hidden:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)
            self.output_head.build(shape)

        def call(self, z):
            for layer in self.hidden:
                z = layer(z)
            return self.output_head(z)

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], self.output_dim)

    _NETWORKS.update(Encoder=Encoder, Decoder=Decoder)
    return _NETWORKS


def standin_loss_terms(model):
    """The checks' own VAE.loss_terms for `model` (a Bernoulli VAE): one reparameterised
    sample per example, noise from the model's own SeedGenerator when epsilon is None, so a
    check of train_step or test_step does not depend on the student's loss_terms."""
    import keras
    import tensorflow as tf

    def loss_terms(x, epsilon=None):
        x = tf.cast(x, "float32")
        mean, log_var = (tf.cast(t, "float32") for t in model.encoder(x))
        if epsilon is None:
            epsilon = keras.random.normal(tf.shape(mean), seed=model.noise)
        z = mean + tf.exp(0.5 * log_var) * tf.cast(epsilon, "float32")
        log_px = bernoulli_log_likelihood(x, tf.cast(model.decoder(z), "float32"))
        return negative_elbo(log_px, kl_divergence(mean, log_var), model.beta)
    return loss_terms


_MISSING = object()


@contextlib.contextmanager
def patched(module, **values):
    """Replace module-level names of a graded module while a probe runs; the worker's next
    probe sees the student's own again."""
    saved = {name: getattr(module, name, _MISSING) for name in values}
    for name, value in values.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is _MISSING:
                delattr(module, name)
            else:
                setattr(module, name, value)


def standins(lab, *, keep=()):
    """The checks' own maths and networks in place of the student's, except the names in
    `keep` (the functions the check is about)."""
    values = {**MATHS, **networks()}
    return patched(lab.vae, **{name: f for name, f in values.items() if name not in keep})


# ---------------------------------------------------------------------------------------------
# Verdict helpers
# ---------------------------------------------------------------------------------------------

def scalars(values):
    """(loss, reconstruction, kl) as plain data: their shapes and their values (flattened)."""
    if values is None:
        return {"shapes": "null", "values": []}
    values = list(values)
    return {"shapes": json.dumps([list(np.shape(v)) for v in values]),
            "values": [np.asarray(v, dtype=np.float64).ravel() for v in values]}


def expect_number(actual, expected, what, *, rtol=2e-4, atol=2e-5, against="expected"):
    """One number against another, with a message that says both (no "constant offset"
    diagnosis: a single number has none)."""
    actual, expected = float(np.asarray(actual).ravel()[0]), float(expected)
    if not np.isfinite(actual):
        raise CheckFailed(f"{what} is {actual} (NaN or inf)")
    if abs(actual - expected) > atol + rtol * abs(expected):
        raise CheckFailed(f"{what} is {actual:.6g}, {against} {expected:.6g} (a difference of "
                          f"{actual - expected:+.4g})")


def judge_elbo_terms(student, reference, call):
    shapes = json.loads(student["shapes"])
    expect_true(shapes is not None, f"{call} returned None (is a `return` missing?)")
    expect_true(len(shapes) == 3, f"{call} returned {len(shapes)} values, expected 3: "
                "(loss, reconstruction, kl)")
    for term, shape in zip(("loss", "reconstruction", "kl"), shapes):
        expect_true(shape == [], f"the {term} {call} returns has shape {tuple(shape)}, expected a "
                    "scalar (the mean over the batch)")
    for index, term in enumerate(("loss", "reconstruction", "kl")):
        expect_number(student["values"][index], reference["values"][index][0],
                      f"the {term} of {call}")


def expected_terms(values):
    """A verdict's `reference` for judge_elbo_terms from three numbers."""
    return {"shapes": json.dumps([[], [], []]), "values": [np.array([v]) for v in values]}


ARGUMENTS = ("input_dim", "latent_dim", "hidden_units", "likelihood", "beta",
             "observation_log_var", "num_classes")


def arguments(model):
    """The constructor arguments a VAE keeps as attributes (the given __init__ stores them)."""
    found = {}
    for name in ARGUMENTS:
        value = getattr(model, name, None)
        found[name] = list(value) if isinstance(value, tuple) else value
    return found


def judge_round_trip(student, what, expected_class):
    if student["error"]:
        raise CheckFailed(f"keras.saving.load_model could not rebuild the saved {what}: "
                          + student["error"])
    expect_true(student["class"] == expected_class,
                f"load_model returned a {student['class']}, not a {expected_class}")
    saved, loaded = json.loads(student["arguments"])
    differ = {k: (saved[k], loaded.get(k)) for k in saved if saved[k] != loaded.get(k)}
    if differ:
        said = ", ".join(f"{k}={b!r} (saved: {a!r})" for k, (a, b) in differ.items())
        raise CheckFailed(f"the reloaded {what} has {said}: get_config must return every "
                          "constructor argument, or load_model rebuilds it with the defaults")
    if student["loaded_config"] != student["config"]:
        before, after = json.loads(student["config"]), json.loads(student["loaded_config"])
        differ = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        raise CheckFailed(f"the reloaded {what}'s config differs in {differ}: get_config must "
                          "return every constructor argument")
    expect_close(student["loaded_outputs"], student["outputs"], f"{what}(x) after save and load",
                 against="the outputs before saving")


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------

def compile_for_training(model, learning_rate):
    """compile with Adam (the given compile builds its slots before the first fit)."""
    import keras
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))


def train_probe(lab, rng, budget, own_loss_terms=False):
    """Train a fresh VAE with fit() for `budget`; held-out negative ELBO before and after.
    With own_loss_terms, the VAE's loss_terms is the checks' own (standin_loss_terms)."""
    x_train, x_test = digits("train"), digits("test")
    model = lab.vae.VAE(input_dim=64, latent_dim=budget["latent_dim"],
                        hidden_units=budget["hidden_units"], beta=budget.get("beta", 1.0))
    if own_loss_terms:
        model.loss_terms = standin_loss_terms(model)
    compile_for_training(model, budget["learning_rate"])
    epsilon = rng.normal(size=(4, len(x_test), budget["latent_dim"])).astype("float32")
    before = negative_elbo_np(model.encoder, model.decoder, x_test, epsilon)[0]
    history = model.fit(x_train, batch_size=budget["batch_size"], epochs=budget["epochs"],
                        shuffle=True, verbose=0).history
    after, reconstruction, kl = negative_elbo_np(model.encoder, model.decoder, x_test, epsilon)
    return {"before": before, "after": after, "reconstruction": reconstruction, "kl": kl,
            "logged": json.dumps(sorted(history))}


def judge_training(student, reference, margin=MARGIN_NATS):
    logged = json.loads(student["logged"])
    expect_true(logged == TRACKERS,
                f"fit() logged {logged}; train_step must return exactly {TRACKERS} "
                "(the trackers' results)")
    after = student["after"]
    expect_true(np.isfinite(after),
                f"after training, the held-out negative ELBO is {after} (NaN or inf): "
                "the loss diverged (a flipped sign in the KL or the likelihood?)")
    split = (f"reconstruction {student['reconstruction']:.2f} + KL {student['kl']:.2f}; the "
             f"reference: {reference['reconstruction']:.2f} + {reference['kl']:.2f}")
    fallen = student["before"] - after
    expect_true(fallen >= 0.5 * (reference["before"] - reference["after"]),
                f"training did not lower the held-out negative ELBO enough: from "
                f"{student['before']:.2f} to {after:.2f} nats ({split}), where the reference goes "
                f"from {reference['before']:.2f} to {reference['after']:.2f}. Is the gradient of "
                "the whole loss (reconstruction + beta * kl) applied to all trainable variables?")
    expect_at_most(after, reference["after"] + margin,
                   f"the held-out negative ELBO after training ({split})", unit=" nats")


def fit_elbo_with_own_loop(model, x, rng, steps, batch_size=64, learning_rate=3e-3):
    """Train a Bernoulli VAE's encoder and decoder on the negative ELBO with this probe's own
    loop (one traced graph for all steps), so that a check of something else does not depend
    on the student's train_step."""
    import keras
    import tensorflow as tf
    optimizer = keras.optimizers.Adam(learning_rate)
    variables = model.encoder.trainable_variables + model.decoder.trainable_variables
    optimizer.build(variables)
    batches = tf.constant(x[rng.integers(len(x), size=(steps, batch_size))])
    noise = tf.constant(rng.normal(size=(steps, batch_size, model.latent_dim)).astype("float32"))

    @tf.function
    def train():
        for i in tf.range(steps):
            batch, epsilon = batches[i], noise[i]
            with tf.GradientTape() as tape:
                mean, log_var = model.encoder(batch)
                logits = model.decoder(mean + tf.exp(0.5 * log_var) * epsilon)
                reconstruction = tf.reduce_sum(tf.nn.softplus(logits) - batch * logits, axis=-1)
                kl = 0.5 * tf.reduce_sum(mean ** 2 + tf.exp(log_var) - 1.0 - log_var, axis=-1)
                loss = tf.reduce_mean(reconstruction + kl)
            optimizer.apply(tape.gradient(loss, variables), variables)

    train()


def _logsumexp_np(values, axis=0):
    from scipy.special import logsumexp
    return logsumexp(np.asarray(values, dtype=np.float64), axis=axis)


def judge_iwae_bound(student, reference, log_weights, what):
    """expect_close, naming the two classic slips when the answer matches one of them."""
    try:
        expect_close(student, reference, what)
    except CheckFailed:
        log_weights = np.asarray(log_weights, dtype=np.float64)
        got = np.asarray(student, dtype=np.float64)
        slips = [(log_weights.mean(axis=0), "is the mean of the log-weights (the ELBO again), "
                  "not the log of the mean weight: use logsumexp over the samples"),
                 (_logsumexp_np(log_weights), "is logsumexp without the - log S: the log of "
                  "the SUM of the weights, not of their mean")]
        for value, message in slips:
            if got.shape == value.shape and np.allclose(got, value, rtol=1e-4, atol=1e-3):
                raise CheckFailed(f"{what} {message}") from None
        raise
