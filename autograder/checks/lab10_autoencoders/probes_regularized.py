"""What the checks of regularized.py share: the budgets, the checks' own encoder and decoder
stacks, and measures written here independently of the lab (a Jacobian in closed form, the
share of silent code units). Numpy only at module level."""
import numpy as np

from autograder.api import CheckFailed
from autograder.check_helpers import build_for_fit
from autograder.verdicts import expect_close_naming

REGULARIZED = "regularized"

# Training budgets, stated in the handout. Small MLPs on the 1347 training digits, judged on
# the 450 test digits.
SPARSE = {"code_dim": 16, "hidden": 32, "sparsity_weight": 1e-3, "learning_rate": 1e-2,
          "batch_size": 64, "steps": 100}
CONTRACTIVE = {"code_dim": 8, "hidden": 32, "contraction_weight": 0.01, "learning_rate": 1e-2,
               "batch_size": 64, "steps": 100}
ANOMALY = {"unseen_class": 2, "code_dim": 8, "hidden": 32, "learning_rate": 1e-2,
           "batch_size": 64, "steps": 100}
# A code unit counts as silent for an input when its (ReLU) activation is below this.
SILENT = 1e-3
# Margins against the reference trained the same way (the same seed, so the same start and
# batches). Over seeds the reference's share of silent units ranges over 0.56-0.69, its
# Jacobian norm over 0.01-0.26 (a plain autoencoder: 0.8-3.6) and its AUROC over 0.80-0.94;
# without the penalties the share and the norm land far outside these margins.
SILENT_MARGIN = 0.1
JACOBIAN_FACTOR = 1.5
# What the plain autoencoder reaches (the same stacks, budget and seeds, no penalty): the
# training check needs no run of it, the bound above excludes it by a wide margin.
PLAIN_JACOBIAN = "a plain autoencoder trained the same way: 0.8 to 3.6"
MSE_FACTOR = 1.25
# AUROC of the unseen class: the reference reaches about 0.86; trained on every class it
# falls to about 0.55.
AUROC_MARGIN = 0.1


def stacks(input_dim, code_dim, hidden, code_activation):
    """The checks' own encoder and decoder (given to the student's models, which wrap any
    stacks): ELU hidden layers, a `code_activation` code, a sigmoid output. hidden=None: no
    hidden layer, one Dense each way (the cheapest stacks, for the readiness checks)."""
    import keras
    from keras import layers
    inner = lambda: [] if hidden is None else [layers.Dense(hidden, activation="elu")]  # noqa: E731
    encoder = keras.Sequential([keras.Input((input_dim,)), *inner(),
                                layers.Dense(code_dim, activation=code_activation)],
                               name="probe_encoder")
    decoder = keras.Sequential([keras.Input((code_dim,)), *inner(),
                                layers.Dense(input_dim, activation="sigmoid")], name="probe_decoder")
    return encoder, decoder


def plain_autoencoder(encoder, decoder):
    """The same stacks as one Keras model trained on the MSE alone: the baseline without a
    penalty. Its compile builds the optimizer it is given: an optimizer first built inside
    fit's traced step makes Keras trace that step twice (the same updates either way)."""
    import keras

    class Plain(keras.Sequential):
        def compile(self, *args, **kwargs):
            super().compile(*args, **kwargs)
            if getattr(self, "optimizer", None) is not None:
                build_for_fit(self)

    return Plain([encoder, decoder], name="plain")


def fit_digits(model, x, budget, seed, paired=True, **compile_options):
    """compile with Adam(budget's rate) and fit for the budget's steps on shuffled batches."""
    import keras

    from autograder.checks.lab10_autoencoders.probes import training_data
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]),
                  steps_per_execution=budget["steps"], **compile_options)
    build_for_fit(model, x[:1])  # one trace of train_step, not two
    return model.fit(training_data(x, seed, budget["batch_size"], paired=paired),
                     steps_per_epoch=budget["steps"], epochs=1, verbose=0).history


def silent_share(codes):
    """The share of (input, code unit) pairs whose activation is below SILENT in magnitude."""
    codes = np.asarray(codes, np.float64)
    return float(np.mean(np.abs(codes) < SILENT)) if np.all(np.isfinite(codes)) else 0.0


def elu_sigmoid_jacobian_norms(encoder, x):
    """||d code / d x||_F^2 per input of the checks' encoder Dense(elu) -> Dense(sigmoid), in
    closed form with numpy: J = diag(s(1 - s)) W2^T diag(elu'(a)) W1^T."""
    (w1, b1), (w2, b2) = ([np.asarray(v, np.float64) for v in layer.weights]
                          for layer in encoder.layers)
    a = np.asarray(x, np.float64) @ w1 + b1
    slope = np.where(a > 0, 1.0, np.exp(np.minimum(a, 0.0)))           # elu'(a)
    s = 1.0 / (1.0 + np.exp(-((np.where(a > 0, a, np.expm1(np.minimum(a, 0.0)))) @ w2 + b2)))
    # J[n] = diag(s'[n]) W2^T diag(slope[n]) W1^T, (K, D), in chunks of inputs.
    norms = []
    for start in range(0, len(a), 100):
        inner = (w2.T[None, :, :] * slope[start:start + 100, None, :]) @ w1.T     # (n, K, D)
        sigmoid_slope = (s * (1 - s))[start:start + 100, :, None]
        norms.append(np.sum((sigmoid_slope * inner) ** 2, axis=(1, 2)))
    return np.concatenate(norms)


def sigmoid_penalty_closed_form(kernel, bias, x):
    """The contractive penalty of one Dense(sigmoid) layer, as TensorFlow ops (so that a tape
    gives its gradient): mean_n sum_j (h_nj (1 - h_nj))^2 sum_i W_ij^2."""
    import tensorflow as tf
    h = tf.sigmoid(tf.matmul(x, kernel) + bias)
    column_norms = tf.reduce_sum(tf.square(kernel), axis=0)             # sum_i W_ij^2, (K,)
    return tf.reduce_mean(tf.reduce_sum(tf.square(h * (1 - h)) * column_norms, axis=1))


def judge_logged_means(student, names, what, mistakes=None):
    """fit's epoch logs against the means of the per-batch values the probe measured.
    mistakes: {name: [(factor, message)]}, a log that is `factor` times the right mean is
    named by its message."""
    import json
    logged = json.loads(student["logged"])
    if logged != sorted(names):
        raise CheckFailed(f"{what}: fit() logged {logged}, expected {sorted(names)}: return "
                          "self.trackers.results() after updating every tracker")
    for name in names:
        mean = np.float32(np.mean(student["batches"][name]))
        expect_close_naming(np.float32(student["epoch"][name]), mean,
                            f"{what}: the {name!r} fit logs for the epoch, against the mean of "
                            "its batch values", mistakes=[
                                (np.float32(factor * mean), message)
                                for factor, message in (mistakes or {}).get(name, ())],
                            rtol=1e-4, atol=1e-6)
