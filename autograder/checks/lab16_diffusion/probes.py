"""Helpers that the checks of lab16_diffusion share: probes run in the worker (they import
TensorFlow inside), verdicts in the grader.

The maths checks pass noise schedules the probes compute themselves (`ProbeSchedule`), so
a slip in NoiseSchedule costs its own check only. The samplers run with the exact noise
predictor of Gaussian data (`gaussian_noise_predictor`) and with the checks' own single
steps standing in for ddpm_step and ddim_step (sampling.py), so a sampler is judged on its
loop alone. The model checks build DiffusionModel with the checks' own denoiser
(`probe_denoiser`, which can record what train_step feeds it) and with the checks' own
schedule, loss, label dropout, guidance and EMA standing in for the student's
(`model_stand_ins`): what is left is the student's DiffusionModel code.
"""
from __future__ import annotations

import contextlib
import json
import math

import numpy as np

from autograder.api import CheckFailed
from autograder.check_helpers import energy_distance, judge_relative_training, tensor
from autograder.verdicts import expect_close, expect_finite, expect_shape, expect_true

FORWARD = ("forward_process",)
REVERSE = ("forward_process", "reverse_process")
SCORE = ("score_matching",)
GUIDANCE = ("guidance",)
DENOISER = ("denoiser",)
MODEL = ("forward_process", "reverse_process", "guidance", "diffusion_model")

# A student's samples may land this far from the held-out data, in energy distance:
# max(FACTOR x the reference's, the reference's + SLACK). Over training seeds the reference
# lands between 0.018 and 0.030 (pure noise: 0.15 to 0.2).
FACTOR, SLACK = 2.5, 0.03


@contextlib.contextmanager
def standing_in(module, **replacements):
    """Replace names in a graded module while the block runs, then put the originals back
    (the worker keeps the module for the next check)."""
    missing = object()
    saved = {name: getattr(module, name, missing) for name in replacements}
    for name, value in replacements.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                delattr(module, name)
            else:
                setattr(module, name, value)


# ---- Schedules and the forward process, by the checks ---------------------------------------

def numpy_schedule(betas):
    """alphas, alpha_bars and alpha_bars_prev of `betas`, in float64 numpy."""
    betas = np.asarray(betas, dtype=np.float64)
    alphas = 1.0 - betas
    alpha_bars = np.cumprod(alphas)
    return {"betas": betas, "alphas": alphas, "alpha_bars": alpha_bars,
            "alpha_bars_prev": np.concatenate([[1.0], alpha_bars[:-1]])}


class ProbeSchedule:
    """What the samplers and the model read from a NoiseSchedule, computed by the checks."""

    def __init__(self, betas):
        for name, values in numpy_schedule(betas).items():
            setattr(self, name, tensor(values))
        self.num_steps = len(betas)


def random_betas(rng, num_steps, low=1e-3, high=0.3):
    return np.sort(rng.uniform(low, high, size=num_steps)).astype(np.float32)


def linear_schedule_betas(num_steps):
    return np.linspace(0.1 / num_steps, 20.0 / num_steps, num_steps)


def cosine_schedule_betas(num_steps):
    u = np.arange(num_steps + 1) / num_steps
    f = np.cos(0.5 * math.pi * (u + 0.008) / 1.008) ** 2
    return np.minimum(1.0 - f[1:] / f[:-1], 0.999)


def check_make_betas(schedule, num_steps):
    return (linear_schedule_betas if schedule == "linear" else cosine_schedule_betas)(num_steps)


def check_noise_prediction_loss(predict_noise, x0, t, noise, alpha_bars):
    import tensorflow as tf
    x0 = tf.cast(x0, tf.float32)
    a = tf.reshape(tf.gather(tf.cast(alpha_bars, tf.float32), tf.cast(t, tf.int32)), (-1, 1))
    noise = tf.cast(noise, tf.float32)
    x_t = tf.sqrt(a) * x0 + tf.sqrt(1.0 - a) * noise
    return tf.reduce_mean(tf.square(noise - tf.cast(predict_noise(x_t, t), tf.float32)))


def check_drop_labels(labels, uniform, drop_probability, null_label):
    import tensorflow as tf
    labels = tf.convert_to_tensor(labels)
    return tf.where(tf.convert_to_tensor(uniform) < drop_probability,
                    tf.cast(null_label, labels.dtype), labels)


def check_guided_noise(conditional, unconditional, guidance_weight):
    return (1.0 + guidance_weight) * conditional - guidance_weight * unconditional


def check_ema_update(ema_variables, variables, decay):
    import tensorflow as tf
    for ema, value in zip(ema_variables, variables):
        ema.assign(decay * ema + (1.0 - decay) * tf.cast(value, ema.dtype))


@contextlib.contextmanager
def model_stand_ins(lab):
    """DiffusionModel with the checks' own NoiseSchedule, schedules, loss (and q_sample),
    label dropout, guidance and EMA step while the block runs: names diffusion_model.py
    imports or defines, looked up when its methods run."""
    with standing_in(lab.diffusion_model, NoiseSchedule=ProbeSchedule, make_betas=check_make_betas,
                     noise_prediction_loss=check_noise_prediction_loss,
                     drop_labels=check_drop_labels, guided_noise=check_guided_noise,
                     ema_update=check_ema_update):
        yield


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
    """A small noise-predicting MLP (like MLPDenoiser, but the checks' own). With a
    recorder, it notes what it is called with while recorder.active."""
    import keras
    from keras import ops

    class ProbeDenoiser(keras.layers.Layer):
        def __init__(self, hidden_units, num_classes, data_dim, **kwargs):
            super().__init__(**kwargs)
            self.hidden_units, self.num_classes, self.data_dim = hidden_units, num_classes, data_dim
            self.frequencies = np.exp(-math.log(1000.0) * np.arange(8) / 8).astype("float32")
            self.inputs_in = keras.layers.Dense(hidden_units)
            self.time_in = keras.layers.Dense(hidden_units, activation="silu")
            self.labels_in = (keras.layers.Embedding(num_classes + 1, hidden_units)
                              if num_classes else None)
            self.body = [keras.layers.Dense(hidden_units, activation="silu") for _ in range(3)]
            self.head = keras.layers.Dense(data_dim)

        def call(self, x_t, t, labels=None):
            angles = ops.cast(ops.reshape(t, (-1, 1)), "float32") * self.frequencies
            h = self.inputs_in(x_t) + self.time_in(ops.concatenate([ops.sin(angles),
                                                                    ops.cos(angles)], axis=-1))
            given = labels
            if self.labels_in is not None:
                if labels is None:
                    labels = ops.full(ops.shape(t), self.num_classes, dtype="int32")
                h = h + self.labels_in(labels)
            h = ops.silu(h)
            for layer in self.body:
                h = layer(h)
            out = self.head(h)
            if recorder is not None and recorder.active and self.trainable:
                recorder.note(x_t, t, out, given)
            return out

        def get_config(self):
            return {**super().get_config(), "hidden_units": self.hidden_units,
                    "num_classes": self.num_classes, "data_dim": self.data_dim}

    return ProbeDenoiser(hidden_units, num_classes, data_dim)


# ---- Training and sampling -------------------------------------------------------------------

def ancestral_samples(predict_noise, betas, x_T, noises):
    """The checks' own DDPM sampler (posterior variance), in float64 numpy around the network."""
    s = numpy_schedule(betas)
    x = np.asarray(x_T, dtype=np.float64)
    for t in reversed(range(len(betas))):
        eps = np.asarray(predict_noise(x.astype(np.float32), np.full(len(x), t, np.int32)),
                         dtype=np.float64)
        a, a_prev, beta = s["alpha_bars"][t], s["alpha_bars_prev"][t], s["betas"][t]
        x0 = (x - np.sqrt(1 - a) * eps) / np.sqrt(a)
        x = (np.sqrt(a_prev) * beta * x0 + np.sqrt(s["alphas"][t]) * (1 - a_prev) * x) / (1 - a)
        if t > 0:
            x = x + np.sqrt((1 - a_prev) / (1 - a) * beta) * noises[t]
    return x.astype(np.float32)


def train_diffusion(lab, rng, budget, network=None, num_classes=0, guidance_weight=0.0,
                    stand_ins=True):
    """Train a DiffusionModel on a 2-D toy set for `budget`; sample it with fixed noise.

    stand_ins: the checks' own schedule, loss, label dropout, guidance and EMA step
    (model_stand_ins), so only the student's DiffusionModel code is graded; without, the
    student's whole lab. Unconditional (num_classes=0): a probe_denoiser, sampled through its
    EMA network directly. Conditional: `network` (e.g. the student's MLPDenoiser) trained on
    (x, labels) and sampled per class through model.predict_noise, without guidance
    ("samples") and with guidance_weight ("guided"). The sampler is the checks' own
    (ancestral_samples), with the model's betas. Also returns the samples' labels,
    held-out data with labels, the starting noise and the names of the logged metrics.
    """
    with model_stand_ins(lab) if stand_ins else contextlib.nullcontext():
        return _train_diffusion(lab, rng, budget, network, num_classes, guidance_weight)


def _train_diffusion(lab, rng, budget, network, num_classes, guidance_weight):
    import keras
    import tensorflow as tf

    from dlkit.data import sample_toy2d, toy2d_classification
    seed = int(rng.integers(1 << 30))
    model = lab.diffusion_model.DiffusionModel(
        network if network is not None else probe_denoiser(budget["hidden_units"]), data_dim=2,
        num_steps=budget["num_steps"], schedule="linear", num_classes=num_classes,
        label_dropout=budget.get("label_dropout", 0.1), ema_decay=budget["ema_decay"])
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]), steps_per_execution=50)
    if num_classes:
        x, y = toy2d_classification(budget["data"], 4096, seed=seed)
        data = tf.data.Dataset.from_tensor_slices((x, y))
        heldout, heldout_labels = toy2d_classification(budget["data"], 1000, seed=seed + 1)
    else:
        data = tf.data.Dataset.from_tensor_slices(sample_toy2d(budget["data"], 4096, seed=seed))
        heldout, heldout_labels = sample_toy2d(budget["data"], 1000, seed=seed + 1), np.zeros(1000)
    data = data.shuffle(4096, seed=seed).repeat().batch(budget["batch_size"])
    history = model.fit(data, epochs=1, steps_per_epoch=budget["steps"], verbose=0).history

    n = 1000
    labels = (np.arange(n) % num_classes if num_classes else np.zeros(n)).astype(np.int32)
    x_T = rng.normal(size=(n, 2)).astype(np.float32)
    noises = rng.normal(size=(budget["num_steps"], n, 2))
    betas = np.asarray(model.schedule.betas, dtype=np.float64)
    out = {"labels": labels, "heldout": heldout, "heldout_labels": heldout_labels.astype(np.int32),
           "noise": x_T, "logged": json.dumps(sorted(history))}
    if not num_classes:
        predict = tf.function(lambda x_t, t: model.ema_denoiser(x_t, t))
        return {**out, "samples": ancestral_samples(predict, betas, x_T, noises)}
    for key, weight in (("samples", 0.0), ("guided", guidance_weight)):
        out[key] = ancestral_samples(guided_predictor(model, labels, weight), betas, x_T, noises)
    return out


def guided_predictor(model, labels, guidance_weight):
    import tensorflow as tf
    labels = tf.constant(labels)
    return tf.function(lambda x_t, t: model.predict_noise(x_t, t, labels,
                                                          guidance_weight=guidance_weight))


# ---- Verdict helpers -------------------------------------------------------------------------

def expect_close_naming(actual, expected, what, mistakes, **tolerances):
    """expect_close, but name a known slip when the answer matches it."""
    try:
        expect_close(actual, expected, what, **tolerances)
    except CheckFailed:
        actual = np.asarray(actual, dtype=np.float64)
        for wrong, message in mistakes:
            wrong = np.asarray(wrong, dtype=np.float64)
            if actual.shape == wrong.shape and np.allclose(actual, wrong, rtol=1e-4, atol=1e-5):
                raise CheckFailed(f"{what} {message}") from None
        raise


def per_example(variance, n, what):
    """A per-example variance as (n, 1), from (n, 1), (n,) or (n, D) with equal columns."""
    array = expect_finite(variance, what)
    if array.size == n:
        return array.reshape(n, 1)
    if array.ndim == 2 and array.shape[0] == n and np.allclose(array, array[:, :1]):
        return array[:, :1]
    raise CheckFailed(f"{what} has shape {array.shape}: expected one variance per example, "
                      f"shape ({n}, 1)")


def trained_distance(output):
    """Energy distance of the samples to held-out data, per class and averaged over classes
    (one class when unconditional). The handout's number."""
    classes = np.unique(output["heldout_labels"])
    return float(np.mean([energy_distance(output["samples"][output["labels"] == k],
                                          output["heldout"][output["heldout_labels"] == k])
                          for k in classes]))


def class_accuracy(output, key):
    """The fraction of the samples `key` whose nearest held-out point has their class."""
    samples, heldout = output[key].astype(np.float64), output["heldout"].astype(np.float64)
    nearest = (((samples[:, None, :] - heldout[None, :, :]) ** 2).sum(-1)).argmin(axis=1)
    return float(np.mean(output["heldout_labels"][nearest] == output["labels"]))


def judge_training(student, reference, data_name):
    logged = json.loads(student["logged"])
    expect_true(logged == ["loss"], f"fit() logged {logged}; train_step must return exactly "
                                    "{'loss': ...} (the tracker's result)")
    expect_finite(student["samples"], "samples of the trained model")
    judge_relative_training(
        trained_distance(student), trained_distance({**student, "samples": student["noise"]}),
        trained_distance(reference), f"the energy distance between the EMA network's samples "
        f"and held-out {data_name} data", improve_to=1 / 3, factor=FACTOR, slack=SLACK)


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
