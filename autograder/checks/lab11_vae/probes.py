"""What the checks of lab11_vae share: budgets, data, the negative ELBO measured with
TensorFlow Probability, the checks' own stand-ins for the lab's functions and networks, and
verdict helpers.

Stand-ins: a model-level check (loss_terms, train_step, the IWAE estimate, the conditional
VAE...) runs the student's model code with the checks' own maths functions and Encoder and
Decoder layers put in place of the student's (`standins`), so a slip in kl_divergence or in
Encoder.build costs the points of that function's own check, not of every model check. No
stand-in is the lab's code (see the section below): the student release ships this file.
Numpy only at module level (verdicts run in the grader, which never imports TensorFlow).
"""
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
# MARGIN_NATS where the student's own loss_terms trains (hidden): over training seeds the
# reference lands within 0.7 nats (21.4 to 22.1), and a KL weighted twice ends at 23.9 to
# 24.5. TRAIN_MARGIN_NATS for train_step_trains, on the checks' own networks and loss_terms:
# there the reference lands at 21.2 to 21.5 over seeds, and a step on loss + kl (the KL
# weighted twice) at 22.4 to 22.8.
MARGIN_NATS = 1.25
TRAIN_MARGIN_NATS = 0.75


# ---------------------------------------------------------------------------------------------
# Data and the negative ELBO in numpy
# ---------------------------------------------------------------------------------------------

def digits(split):
    from dlkit.data import load_digits
    return load_digits(split, flatten=True, binarize=True)[0]


def digits_with_labels(split):
    from dlkit.data import load_digits
    return load_digits(split, flatten=True, binarize=True)


def measured_negative_elbo(encoder, decoder, x, epsilon):
    """Monte-Carlo negative ELBO of a Bernoulli VAE, by TensorFlow Probability's distributions
    in float64 (a measurement, independent of the lab's functions).

    encoder: x -> (mean, log_var); decoder: z -> logits; x: (N, D) binary; epsilon:
    (S, N, K). Returns (loss, reconstruction, kl): batch means in nats, the reconstruction
    term averaged over the S samples.
    """
    import tensorflow as tf
    tfd = _tfp().distributions
    mean, log_var = (tf.cast(t, tf.float64) for t in encoder(x))
    posterior = tfd.Normal(mean, tf.exp(0.5 * log_var))
    kl = tf.reduce_sum(tfd.kl_divergence(posterior, tfd.Normal(tf.zeros_like(mean), 1.0)), -1)
    reconstruction = 0.0
    for eps in np.asarray(epsilon):
        z = posterior.loc + posterior.scale * tf.constant(eps, tf.float64)
        pixels = tfd.Bernoulli(logits=tf.cast(decoder(tf.cast(z, tf.float32)), tf.float64))
        log_px = tf.reduce_sum(pixels.log_prob(tf.constant(x, tf.float64)), -1)
        reconstruction += -float(tf.reduce_mean(log_px))
    reconstruction /= len(epsilon)
    kl = float(tf.reduce_mean(kl))
    return reconstruction + kl, reconstruction, kl


def conditioned_network(network, labels, num_classes):
    """network applied to [one_hot(labels), inputs]: the layout of the checks' own
    concat_one_hot (which puts the one-hot code FIRST), concatenated in numpy."""
    one_hot = np.eye(num_classes, dtype="float32")[labels]
    return lambda inputs: network(np.concatenate([one_hot, np.asarray(inputs, "float32")], 1))


# ---------------------------------------------------------------------------------------------
# The checks' stand-ins for the lab's functions and networks
# ---------------------------------------------------------------------------------------------
# None of them is the lab's code. Where a correct student may write a function's maths inline
# instead of calling it (the reparameterisation, the KL, the log-likelihoods, the IWAE bound),
# the stand-in computes the same thing with TensorFlow Probability. Where the given code or
# the skeleton calls a component by name (Encoder and Decoder in VAE.__init__, negative_elbo
# in loss_terms, concat_one_hot in the conditional VAE, loss_terms in train_step and
# test_step), the stand-in has known behaviour of its own, and the checks expect that.

LOG_2 = math.log(2.0)


def _tfp():
    import tensorflow_probability as tfp
    return tfp


def sample_gaussian(mean, log_var, epsilon):
    """TFP bijectors: epsilon scaled by exp(log_var / 2), then shifted by mean."""
    import tensorflow as tf
    tfb = _tfp().bijectors
    loc = tf.convert_to_tensor(mean)
    flow = tfb.Chain([tfb.Shift(loc), tfb.Scale(log_scale=0.5 * tf.cast(log_var, loc.dtype))])
    return flow.forward(tf.cast(epsilon, loc.dtype))


def kl_divergence(mean, log_var):
    """TFP's closed-form KL between Normal distributions, summed over the last axis."""
    import tensorflow as tf
    tfd = _tfp().distributions
    loc = tf.convert_to_tensor(mean)
    posterior = tfd.Normal(loc, tf.exp(0.5 * tf.cast(log_var, loc.dtype)))
    return tf.reduce_sum(tfd.kl_divergence(posterior, tfd.Normal(tf.zeros_like(loc), 1.0)), -1)


def bernoulli_log_likelihood(x, logits):
    """TFP's Bernoulli log-probability, summed over the last axis."""
    import tensorflow as tf
    logits = tf.convert_to_tensor(logits)
    pixels = _tfp().distributions.Bernoulli(logits=logits)
    return tf.reduce_sum(pixels.log_prob(tf.cast(x, logits.dtype)), -1)


def gaussian_log_likelihood(x, mean, log_var):
    """TFP's Normal log-density, summed over the last axis."""
    import tensorflow as tf
    loc = tf.convert_to_tensor(mean)
    scale = tf.exp(0.5 * tf.cast(log_var, loc.dtype))
    return tf.reduce_sum(_tfp().distributions.Normal(loc, scale).log_prob(
        tf.cast(x, loc.dtype)), -1)


def iwae_bound(log_weights):
    """TFP's log-mean-exp over the samples (axis 0)."""
    import tensorflow as tf
    return _tfp().math.reduce_logmeanexp(tf.convert_to_tensor(log_weights), axis=0)


def negative_elbo(log_px, kl, beta=1.0):
    """Known behaviour, not the lab's: the two batch means and the loss in BITS (nats / log 2).
    A loss_terms that calls negative_elbo returns bits; one that writes it out returns nats;
    the checks accept both (and Adam trains alike on either)."""
    import tensorflow as tf
    reconstruction = tf.reduce_mean(-log_px) / LOG_2
    kl_bits = tf.reduce_mean(kl) / LOG_2
    return reconstruction + beta * kl_bits, reconstruction, kl_bits


def concat_one_hot(inputs, labels, num_classes):
    """Known behaviour, not the lab's: the one-hot code goes FIRST, [one_hot(labels), inputs]
    (see conditioned_network); Keras's to_categorical-style one_hot op."""
    import keras
    inputs = keras.ops.convert_to_tensor(inputs)
    one_hot = keras.ops.one_hot(keras.ops.cast(labels, "int32"), num_classes, dtype=inputs.dtype)
    return keras.ops.concatenate([one_hot, inputs], axis=-1)


MATHS = {f.__name__: f for f in (sample_gaussian, kl_divergence, bernoulli_log_likelihood,
                                 gaussian_log_likelihood, negative_elbo, iwae_bound,
                                 concat_one_hot)}
_NETWORKS = {}


def networks():
    """{"Encoder": ..., "Decoder": ...}: Keras layers with the lab's constructor arguments but
    behaviour of their own: ELU hidden layers (the lab's are relu), weights held directly (no
    Dense sublayers). The encoder's log-variance bias is `log_var_bias`."""
    if _NETWORKS:
        return _NETWORKS
    import keras

    class ELUNetwork(keras.layers.Layer):
        """ELU layers of widths hidden_units, then linear heads of the widths `heads`."""

        def __init__(self, hidden_units, heads, **kwargs):
            super().__init__(**kwargs)
            self.hidden_units = tuple(int(u) for u in hidden_units)
            self.heads = dict(heads)

        def _dense(self, name, fan_in, units):
            kernel = self.add_weight(shape=(fan_in, units), initializer="glorot_uniform",
                                     name=f"{name}_kernel")
            return kernel, self.add_weight(shape=(units,), initializer="zeros", name=f"{name}_bias")

        def build(self, input_shape):
            fan_in, self.layers_ = int(input_shape[-1]), []
            for index, units in enumerate(self.hidden_units):
                self.layers_.append(self._dense(f"elu_{index}", fan_in, units))
                fan_in = units
            self.head_weights = {name: self._dense(name, fan_in, units)
                                 for name, units in self.heads.items()}

        def features(self, x):
            for kernel, bias in self.layers_:
                x = keras.activations.elu(keras.ops.matmul(x, kernel) + bias)
            return x

        def head(self, name, h):
            kernel, bias = self.head_weights[name]
            return keras.ops.matmul(h, kernel) + bias

    class Encoder(ELUNetwork):
        def __init__(self, latent_dim, hidden_units=(128,), **kwargs):
            self.latent_dim = int(latent_dim)
            super().__init__(hidden_units, {"mean": self.latent_dim,
                                            "log_var": self.latent_dim}, **kwargs)

        @property
        def log_var_bias(self):
            return self.head_weights["log_var"][1]

        def call(self, x):
            h = self.features(x)
            return self.head("mean", h), self.head("log_var", h)

        def compute_output_shape(self, input_shape):
            shape = (*input_shape[:-1], self.latent_dim)
            return shape, shape

    class Decoder(ELUNetwork):
        def __init__(self, output_dim, hidden_units=(128,), **kwargs):
            self.output_dim = int(output_dim)
            super().__init__(hidden_units, {"output": self.output_dim}, **kwargs)

        def call(self, z):
            return self.head("output", self.features(z))

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], self.output_dim)

    _NETWORKS.update(Encoder=Encoder, Decoder=Decoder)
    return _NETWORKS


def standin_loss_terms(model):
    """The checks' own loss_terms for `model` (a Bernoulli VAE), of known behaviour: not the
    lab's one-sample estimate but an antithetic pair, z = mean + sigma * epsilon and
    z = mean - sigma * epsilon, whose reconstruction terms it averages; noise from the model's
    own SeedGenerator when epsilon is None; nats. With it a check of train_step or test_step
    does not depend on the student's loss_terms."""
    import keras
    import tensorflow as tf
    tfd = _tfp().distributions

    def loss_terms(x, epsilon=None):
        pixels = tf.cast(x, "float32")
        mean, log_var = (tf.cast(t, "float32") for t in model.encoder(pixels))
        if epsilon is None:
            epsilon = keras.random.normal(tf.shape(mean), seed=model.noise)
        posterior = tfd.Normal(mean, tf.exp(0.5 * log_var))
        offset = posterior.scale * tf.cast(epsilon, "float32")
        log_px = [tf.reduce_sum(tfd.Bernoulli(logits=tf.cast(model.decoder(z), "float32"))
                                .log_prob(pixels), -1) for z in (mean + offset, mean - offset)]
        reconstruction = -0.5 * tf.reduce_mean(log_px[0] + log_px[1])
        kl = tf.reduce_mean(tf.reduce_sum(tfd.kl_divergence(
            posterior, tfd.Normal(tf.zeros_like(mean), 1.0)), -1))
        return reconstruction + model.beta * kl, reconstruction, kl
    return loss_terms


def standins(lab, *, keep=()):
    """The checks' stand-ins in place of the student's maths and networks, except the names in
    `keep` (the functions the check is about)."""
    from autograder.check_helpers import standing_in
    values = {**MATHS, **networks()}
    return standing_in(lab.vae, **{name: f for name, f in values.items() if name not in keep})


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


def judge_terms_in_bits_or_nats(student, expected_nats, call):
    """judge_elbo_terms for a loss_terms run with the checks' stand-ins: one that calls the
    checks' negative_elbo returns bits, one that writes the batch means out returns nats.
    The unit is the one its reconstruction term is in."""
    expected = np.asarray(expected_nats, np.float64)
    values = student.get("values") or []
    reconstruction = float(np.ravel(values[1])[0]) if len(values) == 3 and np.size(values[1]) else 0.0
    in_bits = np.isclose(reconstruction, expected[1] / LOG_2, rtol=1e-3)
    unit = ("bits, as the checks' negative_elbo returns them" if in_bits
            else "nats, the reconstruction not being in the bits of the checks' negative_elbo")
    judge_elbo_terms(student, expected_terms(expected / LOG_2 if in_bits else expected),
                     f"{call} (in {unit})")


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
    before = measured_negative_elbo(model.encoder, model.decoder, x_test, epsilon)[0]
    history = model.fit(x_train, batch_size=budget["batch_size"], epochs=budget["epochs"],
                        shuffle=True, verbose=0).history
    after, reconstruction, kl = measured_negative_elbo(model.encoder, model.decoder, x_test,
                                                       epsilon)
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
    """Train a Bernoulli VAE's encoder and decoder with this probe's own loop on the checks' own
    loss_terms (one traced graph for all steps), so that a check of something else does not
    depend on the student's train_step or loss_terms."""
    import keras
    import tensorflow as tf
    optimizer = keras.optimizers.Adam(learning_rate)
    variables = model.encoder.trainable_variables + model.decoder.trainable_variables
    optimizer.build(variables)
    loss_terms = standin_loss_terms(model)
    batches = tf.constant(x[rng.integers(len(x), size=(steps, batch_size))])
    noise = tf.constant(rng.normal(size=(steps, batch_size, model.latent_dim)).astype("float32"))

    @tf.function
    def train():
        for i in tf.range(steps):
            with tf.GradientTape() as tape:
                loss = loss_terms(batches[i], noise[i])[0]
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
