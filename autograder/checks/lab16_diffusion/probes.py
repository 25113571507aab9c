"""Helpers that the checks of lab16_diffusion share: probes run in the worker (they import
TensorFlow inside), verdicts in the grader.

The maths checks pass noise schedules the probes choose themselves (`ProbeSchedule`: known
alpha_bars, from log signal-to-noise ratios), so a slip in NoiseSchedule costs its own check
only. The samplers run with the exact noise predictor of Gaussian data
(`gaussian_noise_predictor`) and with the checks' own single steps standing in for
ddpm_step and ddim_step (sampling.py), so a sampler is judged on its loop alone. The model
checks build DiffusionModel with the checks' own denoiser (`probe_denoiser`, which can
record what train_step feeds it) and with stand-ins for the schedule, the loss, label
dropout, guidance and the EMA step (`ModelStandIns`): each has known behaviour that is NOT
the lab's formula and records what it is given, so what is left is the student's
DiffusionModel code.
"""
from __future__ import annotations

import contextlib
import json

import numpy as np

from autograder.api import CheckFailed
from autograder.check_helpers import build_for_fit, judge_relative_training, standing_in, tensor
from autograder.verdicts import expect_finite, expect_shape, expect_true

FORWARD = ("forward_process",)
REVERSE = ("forward_process", "reverse_process")
SCORE = ("score_matching",)
GUIDANCE = ("guidance",)
DENOISER = ("denoiser",)
MODEL = ("forward_process", "reverse_process", "guidance", "diffusion_model")

# The trained denoiser's held-out loss may end up this much above the reference's:
# max(FACTOR x the reference's, the reference's + SLACK).
FACTOR, SLACK = 1.15, 0.02


# ---- Schedules, chosen by the checks ----------------------------------------------------------

def alpha_bars_of(log_snr):
    """alpha_bar = sigmoid(log SNR): the signal's share of the variance, in float64."""
    from scipy.special import expit
    return expit(np.asarray(log_snr, dtype=np.float64))


class ProbeSchedule:
    """What the samplers and the model read from a NoiseSchedule, for a schedule the checks
    choose by its alpha_bars (sigmoid of the given log-SNRs, decreasing); alpha_bars_prev,
    alphas and betas are derived from them. It also stands in for NoiseSchedule inside
    DiffusionModel, where `stand_in_make_betas` hands it log-SNRs instead of betas."""

    def __init__(self, log_snr):
        alpha_bars = alpha_bars_of(log_snr)
        previous = np.concatenate([[1.0], alpha_bars[:-1]])
        alphas = alpha_bars / previous
        for name, values in (("alpha_bars", alpha_bars), ("alpha_bars_prev", previous),
                             ("alphas", alphas), ("betas", 1.0 - alphas)):
            setattr(self, name, tensor(values))
        self.num_steps = len(alpha_bars)


def random_log_snr(rng, num_steps, low=-4.0, high=6.0):
    """Random decreasing log-SNRs: alpha_bars between 0.02 and 0.998."""
    return np.sort(rng.uniform(low, high, size=num_steps))[::-1].copy()


def random_alpha_bars(rng, num_steps):
    return alpha_bars_of(random_log_snr(rng, num_steps))


def random_betas(rng, num_steps, low=1e-3, high=0.3):
    return np.sort(rng.uniform(low, high, size=num_steps)).astype(np.float32)


# The checks' schedules: log-SNR falling linearly over the steps (alpha_bar from 0.999 to
# 0.001 for "linear"), a known schedule that is neither of the lab's.
LOG_SNR_RANGES = {"linear": (7.0, -7.0), "cosine": (5.0, -9.0)}


def known_log_snr(num_steps, schedule="linear"):
    high, low = LOG_SNR_RANGES[schedule]
    return np.linspace(high, low, num_steps)


def stand_in_make_betas(schedule, num_steps):
    """Stands in for make_betas inside DiffusionModel: NOT betas, the log-SNRs of the checks'
    schedule of that name, which the stand-in NoiseSchedule (ProbeSchedule) reads."""
    return known_log_snr(num_steps, schedule)


def interpolate(x0, t, noise, alpha_bars):
    """The stand-in loss's noising: NOT the forward process, a straight line from x0 to the
    noise, alpha_bar_t x0 + (1 - alpha_bar_t) noise."""
    import tensorflow as tf
    a = tf.reshape(tf.gather(tf.cast(alpha_bars, tf.float32), tf.cast(t, tf.int32)), (-1, 1))
    return a * tf.cast(x0, tf.float32) + (1.0 - a) * tf.cast(noise, tf.float32)


def stand_in_objective(predict_noise, x0, t, noise, alpha_bars):
    """The stand-in loss: NOT noise_prediction_loss, the mean absolute error of the noise
    predicted from the interpolated point."""
    import tensorflow as tf
    predicted = tf.cast(predict_noise(interpolate(x0, t, noise, alpha_bars), t), tf.float32)
    return tf.reduce_mean(tf.abs(tf.cast(noise, tf.float32) - predicted))


def _keep(store, values):
    """Append the numpy values of `values` to `store`, now (eager) or when the traced graph
    runs."""
    import tensorflow as tf
    present = [v for v in values if v is not None]
    where = [v is not None for v in values]

    def keep(*arrays):
        arrays = iter(arrays)
        store.append([np.asarray(next(arrays)) if here else None for here in where])

    if tf.executing_eagerly():
        keep(*present)
    else:
        tf.py_function(keep, present, [])


class ModelStandIns:
    """The checks' stand-ins for what diffusion_model.py calls by name, with records of
    their calls while `active`:

    - make_betas / NoiseSchedule: the checks' known schedule (ProbeSchedule);
    - noise_prediction_loss: `stand_in_objective` (known, not the lab's loss);
    - drop_labels: (labels + 1) mod (null_label + 1), NOT label dropout;
    - guided_noise: conditional + w * unconditional, NOT guidance;
    - ema_update: a plain copy of the weights, NOT an average.
    """

    def __init__(self):
        self.active = False
        self.losses, self.drops, self.decays = [], [], []

    def noise_prediction_loss(self, predict_noise, x0, t, noise, alpha_bars):
        loss = stand_in_objective(predict_noise, x0, t, noise, alpha_bars)
        if self.active:
            _keep(self.losses, [x0, t, noise, alpha_bars, loss])
        return loss

    def drop_labels(self, labels, uniform, drop_probability, null_label):
        import tensorflow as tf
        labels = tf.convert_to_tensor(labels)
        out = (labels + 1) % tf.cast(null_label + 1, labels.dtype)
        if self.active:
            _keep(self.drops, [labels, uniform, tf.cast(drop_probability, tf.float32),
                               tf.cast(null_label, tf.int32), out])
        return out

    @staticmethod
    def guided_noise(conditional_noise, unconditional_noise, guidance_weight):
        import tensorflow as tf
        return (tf.cast(conditional_noise, tf.float32)
                + guidance_weight * tf.cast(unconditional_noise, tf.float32))

    def ema_update(self, ema_variables, variables, decay):
        import tensorflow as tf
        ema_variables, variables = list(ema_variables), list(variables)
        if self.active:
            self.decays.append(float(decay) if not tf.is_tensor(decay) else np.nan)
        for copy, value in zip(ema_variables, variables):
            copy.assign(tf.cast(value, copy.dtype))

    @contextlib.contextmanager
    def standing_in(self, lab):
        """The stand-ins in place of the names diffusion_model.py imports or defines,
        looked up when its methods run."""
        with standing_in(lab.diffusion_model, NoiseSchedule=ProbeSchedule,
                         make_betas=stand_in_make_betas,
                         noise_prediction_loss=self.noise_prediction_loss,
                         drop_labels=self.drop_labels, guided_noise=self.guided_noise,
                         ema_update=self.ema_update):
            yield self


def model_stand_ins(lab):
    """ModelStandIns().standing_in(lab): DiffusionModel on the checks' stand-ins."""
    return ModelStandIns().standing_in(lab)


def gaussian_noise_predictor(schedule, mean, std):
    """The exact E[noise | x_t] when the data are N(mean, std^2 I): a perfect denoiser.

    x_t = sqrt(a) x0 + sqrt(1 - a) noise is then Gaussian with variance a std^2 + 1 - a,
    and E[noise | x_t] = sqrt(1 - a) (x_t - sqrt(a) mean) / (a std^2 + 1 - a).
    """
    import tensorflow as tf
    mean = tensor(mean)

    def predict_noise(x_t, t):
        a = tf.gather(schedule.alpha_bars, tf.cast(t, tf.int32))[:, None]
        return tf.sqrt(1.0 - a) * (x_t - tf.sqrt(a) * mean) / (a * std ** 2 + 1.0 - a)
    return predict_noise


def timesteps(rng, n, num_steps, include=(0,)):
    t = rng.integers(0, num_steps, size=n).astype(np.int32)
    t[:len(include)] = include
    return t


# ---- The checks' denoiser --------------------------------------------------------------------

class Recorder:
    """What a probe_denoiser was called with, once `active`: per call x_t, t, the output
    and the labels (None without), as numpy arrays."""

    def __init__(self):
        self.calls, self.active = [], False

    def note(self, x_t, t, out, labels):
        import tensorflow as tf

        def keep(x_t, t, out, labels=None):
            self.calls.append([np.asarray(x_t), np.asarray(t), np.asarray(out),
                               None if labels is None else np.asarray(labels)])

        values = [x_t, t, out] + ([] if labels is None else [labels])
        if tf.executing_eagerly():
            keep(*values)
        else:   # inside a traced train_step: note it when the graph runs
            tf.py_function(keep, values, [])


def probe_denoiser(hidden_units=64, num_classes=0, data_dim=2, recorder=None):
    """The checks' own noise-predicting network, NOT the lab's MLPDenoiser: a ReLU MLP on
    [x_t, t / 50, (t / 50)^2, one-hot label] (no label: the null label num_classes). With a
    recorder, it notes what it is called with while recorder.active."""
    import keras
    from keras import ops

    class ProbeDenoiser(keras.layers.Layer):
        def __init__(self, hidden_units, num_classes, data_dim, **kwargs):
            super().__init__(**kwargs)
            self.hidden_units, self.num_classes, self.data_dim = hidden_units, num_classes, data_dim
            self.body = [keras.layers.Dense(hidden_units, activation="relu") for _ in range(3)]
            self.head = keras.layers.Dense(data_dim)

        def call(self, x_t, t, labels=None):
            time = ops.cast(ops.reshape(t, (-1, 1)), self.compute_dtype) / 50.0
            parts = [ops.cast(x_t, self.compute_dtype), time, time * time]
            if self.num_classes:
                chosen = (ops.full(ops.shape(t), self.num_classes, dtype="int32")
                          if labels is None else labels)
                parts.append(ops.one_hot(ops.cast(chosen, "int32"), self.num_classes + 1,
                                         dtype=self.compute_dtype))
            h = ops.concatenate(parts, axis=-1)
            for layer in self.body:
                h = layer(h)
            out = self.head(h)
            if recorder is not None and recorder.active and self.trainable:
                recorder.note(x_t, t, out, labels)
            return out

        def get_config(self):
            return {**super().get_config(), "hidden_units": self.hidden_units,
                    "num_classes": self.num_classes, "data_dim": self.data_dim}

    return ProbeDenoiser(hidden_units, num_classes, data_dim)


# ---- Training ----------------------------------------------------------------------------

def build_diffusion(lab, rng, budget, network=None, num_classes=0):
    """A compiled DiffusionModel for `budget` and its training data, a 2-D toy set (batched,
    repeated), with the linear schedule (the checks' one under the stand-ins).
    Unconditional (num_classes=0): a probe_denoiser; conditional: `network`, on (x, labels).
    Returns (model, data, the data's seed)."""
    import keras
    import tensorflow as tf

    from dlkit.data import sample_toy2d, toy2d_classification
    seed = int(rng.integers(1 << 30))
    model = lab.diffusion_model.DiffusionModel(
        network if network is not None else probe_denoiser(budget["hidden_units"]), data_dim=2,
        num_steps=budget["num_steps"], schedule="linear", num_classes=num_classes,
        label_dropout=budget.get("label_dropout", 0.1), ema_decay=budget["ema_decay"])
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]), steps_per_execution=50)
    if model.trainable_variables:   # built by the constructor
        build_for_fit(model)
    if num_classes:
        data = tf.data.Dataset.from_tensor_slices(
            toy2d_classification(budget["data"], 4096, seed=seed))
    else:
        data = tf.data.Dataset.from_tensor_slices(sample_toy2d(budget["data"], 4096, seed=seed))
    data = data.shuffle(4096, seed=seed).repeat().batch(budget["batch_size"])
    return model, data, seed


def heldout_objective(model, x0, t, noise):
    """The stand-in loss of the model's EMA network on fixed held-out points, timesteps and
    noise."""
    import tensorflow as tf
    predict = tf.function(lambda x_t, t: model.ema_denoiser(x_t, t))
    return float(stand_in_objective(predict, tensor(x0), tf.constant(t), tensor(noise),
                                    model.schedule.alpha_bars))


def train_probe(lab, rng, budget):
    """Train an unconditional DiffusionModel (the checks' denoiser and stand-ins: only
    DiffusionModel's code is the student's) with fit() for budget["steps"] steps; the
    held-out stand-in loss of its EMA network before and after, and what fit logged."""
    from dlkit.data import sample_toy2d
    with model_stand_ins(lab):
        model, data, seed = build_diffusion(lab, rng, budget)
        heldout = sample_toy2d(budget["data"], 2000, seed=seed + 1)
        t = rng.integers(0, budget["num_steps"], size=len(heldout)).astype(np.int32)
        noise = rng.normal(size=heldout.shape).astype(np.float32)
        before = heldout_objective(model, heldout, t, noise)
        history = model.fit(data, epochs=1, steps_per_epoch=budget["steps"], verbose=0).history
        return {"before": before, "after": heldout_objective(model, heldout, t, noise),
                "logged": json.dumps(sorted(history))}


# ---- Verdict helpers -------------------------------------------------------------------------

def per_example(variance, n, what):
    """A per-example variance as (n, 1), from (n, 1), (n,) or (n, D) with equal columns."""
    array = expect_finite(variance, what)
    if array.size == n:
        return array.reshape(n, 1)
    if array.ndim == 2 and array.shape[0] == n and np.allclose(array, array[:, :1]):
        return array[:, :1]
    raise CheckFailed(f"{what} has shape {array.shape}: expected one variance per example, "
                      f"shape ({n}, 1)")


def judge_training(student, reference, data_name):
    logged = json.loads(student["logged"])
    expect_true(logged == ["loss"], f"fit() logged {logged}; train_step must return exactly "
                                    "{'loss': ...} (the tracker's result)")
    judge_relative_training(
        student["after"], student["before"], reference["after"],
        f"the EMA network's held-out loss on {data_name} (the checks' stand-in loss)",
        improve_to=0.8, factor=FACTOR, slack=SLACK)


def gaussian_stats(samples):
    samples = np.asarray(samples, dtype=np.float64)
    return samples.mean(axis=0), samples.std(axis=0)


def judge_gaussian_samples(samples, mean, std, what, n):
    samples = expect_shape(samples, (n, len(mean)), what)
    expect_finite(samples, what)
    got_mean, got_std = gaussian_stats(samples)
    # A right sampler with a perfect network is off by its discretisation error only:
    # the std comes out about 12 % low (DDPM with 50 steps) and 10 % (DDIM with 25).
    expect_true(np.all(np.abs(got_mean - mean) < 0.1) and np.all(np.abs(got_std / std - 1) < 0.2),
                f"{what} with the exact noise predictor of N({mean.tolist()}, {std}^2 I) data "
                f"give samples of mean {np.round(got_mean, 3).tolist()} and std "
                f"{np.round(got_std, 3).tolist()}: with a perfect network, a right sampler gives "
                "back about the data's mean and std")
