"""Public checks of lab16_diffusion.

The maths checks pass noise schedules the probes compute themselves (`ProbeSchedule`), so
a slip in NoiseSchedule costs its own check only. The samplers are also run with the exact
noise predictor of Gaussian data (`gaussian_noise_predictor`): with a perfect network, a
right sampler must give back that Gaussian. The model checks train a denoiser the probes
build themselves (`probe_denoiser`) and sample it with a sampler of their own, so
`diffusion_learns_moons` grades train_step and the EMA, not the samplers or denoiser.py.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import energy_distance, scalar, tensor
from autograder.verdicts import expect_close, expect_equal, expect_finite, expect_shape, expect_true

FORWARD = ("forward_process",)
REVERSE = ("forward_process", "reverse_process")
SCORE = ("score_matching",)
GUIDANCE = ("guidance",)
DENOISER = ("denoiser",)
MODEL = ("forward_process", "reverse_process", "guidance", "diffusion_model")

# The training budget of diffusion_learns_moons, stated in the handout.
TRAIN = {"data": "moons", "num_steps": 50, "hidden_units": 64, "learning_rate": 3e-3,
         "batch_size": 128, "steps": 400, "ema_decay": 0.99}
# A student's samples may land this far from the held-out data, in energy distance:
# max(FACTOR x the reference's, the reference's + SLACK). Over training seeds the reference
# lands between 0.018 and 0.030 (pure noise: 0.15 to 0.2); trained on a broken forward
# process it lands near 0.12 (no square root in q_sample) or 0.7 (no cumulative product).
FACTOR, SLACK = 2.5, 0.03


# ----------------------------------------------------------------------------- probe helpers

def numpy_schedule(betas):
    """alphas, alpha_bars and alpha_bars_prev of `betas`, in float64 numpy."""
    betas = np.asarray(betas, dtype=np.float64)
    alphas = 1.0 - betas
    alpha_bars = np.cumprod(alphas)
    return {"betas": betas, "alphas": alphas, "alpha_bars": alpha_bars,
            "alpha_bars_prev": np.concatenate([[1.0], alpha_bars[:-1]])}


class ProbeSchedule:
    """What the samplers read from a NoiseSchedule, computed here (not by the student's class)."""

    def __init__(self, betas):
        for name, values in numpy_schedule(betas).items():
            setattr(self, name, tensor(values))
        self.num_steps = len(betas)


def random_betas(rng, num_steps, low=1e-3, high=0.3):
    return np.sort(rng.uniform(low, high, size=num_steps)).astype(np.float32)


def linear_schedule_betas(num_steps):
    return np.linspace(0.1 / num_steps, 20.0 / num_steps, num_steps)


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


def probe_denoiser(hidden_units=64, num_classes=0, data_dim=2):
    """A small noise-predicting MLP (like MLPDenoiser, but the checks' own)."""
    import math

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
            if self.labels_in is not None:
                if labels is None:
                    labels = ops.full(ops.shape(t), self.num_classes, dtype="int32")
                h = h + self.labels_in(labels)
            h = ops.silu(h)
            for layer in self.body:
                h = layer(h)
            return self.head(h)

        def get_config(self):
            return {**super().get_config(), "hidden_units": self.hidden_units,
                    "num_classes": self.num_classes, "data_dim": self.data_dim}

    return ProbeDenoiser(hidden_units, num_classes, data_dim)


def weights_of(layer):
    return [np.array(w.numpy()) for w in layer.weights]


def largest_change(before, after):
    return max(float(np.abs(b - a).max()) for b, a in zip(before, after))


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


def train_diffusion(lab, rng, budget, network=None, num_classes=0, guidance_weight=0.0):
    """Train a DiffusionModel on a 2-D toy set for `budget`; sample it with fixed noise.

    Unconditional (num_classes=0): a probe_denoiser, sampled through its EMA network
    directly. Conditional: `network` (e.g. the student's MLPDenoiser) trained on (x, labels)
    and sampled per class through model.predict_noise, without guidance ("samples") and
    with guidance_weight ("guided"). The sampler is the checks' own (ancestral_samples),
    with the student's betas. Also returns the samples' labels, held-out data with labels,
    the starting noise and the names of the logged metrics.
    """
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
    # The student's betas, but the checks' own alphas and alpha_bars from them.
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


# --------------------------------------------------------------------------- verdict helpers

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
    reached = trained_distance(student)
    target = trained_distance(reference)
    noise = trained_distance({**student, "samples": student["noise"]})
    ceiling = max(FACTOR * target, target + SLACK)
    what = (f"after training, the energy distance between the model's samples and held-out "
            f"{data_name} data is {reached:.3g}")
    expect_true(reached <= noise / 3,
                f"{what}, needs at most {noise / 3:.3g} (a third of the starting noise's "
                f"{noise:.3g}): did the EMA network learn? (q_sample, the loss, the gradient "
                "step and the EMA update all matter here)")
    expect_true(reached <= ceiling,
                f"{what}, needs at most {ceiling:.3g}: the reference reaches {target:.3g} with "
                "the same network and budget")


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


# ------------------------------------------------------------------------- forward process

@check(points=2, uses=FORWARD,
       hint="linear: np.linspace(beta_min / T, beta_max / T, T); cosine: alpha_bar(t) = "
            "f((t + 1) / T) / f(0) and beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}, at most "
            "max_beta")
def beta_schedules(lab, rng):
    fp = lab.forward_process
    return {"linear_betas(10)": fp.linear_betas(10),
            "linear_betas(50, beta_min=0.5, beta_max=10)": fp.linear_betas(50, beta_min=0.5,
                                                                           beta_max=10.0),
            "cosine_betas(10)": fp.cosine_betas(10),
            "cosine_betas(50, offset=0.02, max_beta=0.5)": fp.cosine_betas(50, offset=0.02,
                                                                           max_beta=0.5)}


@beta_schedules.verdict
def _(student, reference):
    for call, betas in reference.items():
        expect_close(student[call], betas, call)


@check(points=1, uses=FORWARD,
       hint="alphas = 1 - betas; alpha_bars = tf.math.cumprod(alphas); alpha_bars_prev = "
            "[1, alpha_bars[0], ..., alpha_bars[T-2]]")
def noise_schedule(lab, rng):
    betas = random_betas(rng, 12)
    schedule = lab.forward_process.NoiseSchedule(betas)
    return {"alphas": schedule.alphas, "alpha_bars": schedule.alpha_bars,
            "alpha_bars_prev": schedule.alpha_bars_prev}


@noise_schedule.verdict
def _(student, reference):
    what = "NoiseSchedule(betas).{} for 12 random betas"
    expect_close(student["alphas"], reference["alphas"], what.format("alphas"))
    expect_close_naming(student["alpha_bars"], reference["alpha_bars"], what.format("alpha_bars"), [
        (reference["alphas"], "equals the alphas: alpha_bar_t is the product of alpha_0 ... "
                              "alpha_t (a cumulative product)")])
    expect_close_naming(student["alpha_bars_prev"], reference["alpha_bars_prev"],
                        what.format("alpha_bars_prev"), [
        (reference["alpha_bars"], "equals alpha_bars: shift it by one step, starting at 1")])


@check(points=1, uses=FORWARD,
       hint="x_t = sqrt(alpha_bar_t) * x0 + sqrt(1 - alpha_bar_t) * noise, with alpha_bar_t "
            "picked per example and broadcast over the data dimensions")
def q_sample(lab, rng):
    schedule = numpy_schedule(random_betas(rng, 20))
    x0 = 2.0 * rng.normal(size=(16, 2))
    noise = rng.normal(size=(16, 2))
    t = timesteps(rng, 16, 20, include=(0, 19))
    x_t = lab.forward_process.q_sample(tensor(x0), t, tensor(noise),
                                       tensor(schedule["alpha_bars"]))
    return {"x_t": x_t, "x0": x0, "noise": noise, "alpha_bar": schedule["alpha_bars"][t][:, None]}


@q_sample.verdict
def _(student, reference):
    x0, noise, a = reference["x0"], reference["noise"], reference["alpha_bar"]
    expect_close_naming(student["x_t"], reference["x_t"], "q_sample(x0, t, noise, alpha_bars)", [
        (a * x0 + np.sqrt(1 - a) * noise,
         "scales x0 by alpha_bar_t: the signal's scale is sqrt(alpha_bar_t) (alpha_bar_t is "
         "its variance)"),
        (np.sqrt(a) * x0 + (1 - a) * noise,
         "scales the noise by 1 - alpha_bar_t: its scale is sqrt(1 - alpha_bar_t)"),
        (np.sqrt(1 - a) * x0 + np.sqrt(a) * noise,
         "swaps the two scales: x0 gets sqrt(alpha_bar_t), the noise sqrt(1 - alpha_bar_t)"),
    ])


@check(points=1, uses=FORWARD,
       hint="x_t = q_sample(x0, t, noise, alpha_bars); loss = mean((noise - predict_noise(x_t, "
            "t))^2) over every example and dimension, in float32")
def noise_prediction_loss(lab, rng):
    import tensorflow as tf
    schedule = numpy_schedule(random_betas(rng, 20))
    x0, noise = 2.0 * rng.normal(size=(32, 2)), rng.normal(size=(32, 2))
    t = timesteps(rng, 32, 20, include=(0, 19))

    def predict_noise(x_t, t):  # a made-up network: the loss must use what it predicts
        return 0.5 * tf.convert_to_tensor(x_t) + 0.01 * tf.cast(tf.reshape(t, (-1, 1)), tf.float32)

    loss = lab.forward_process.noise_prediction_loss(predict_noise, tensor(x0), t, tensor(noise),
                                                     tensor(schedule["alpha_bars"]))
    return {"loss": scalar(loss, "noise_prediction_loss")}


@noise_prediction_loss.verdict
def _(student, reference):
    expect_close(student["loss"], reference["loss"],
                 "noise_prediction_loss(predict_noise, x0, t, noise, alpha_bars) with "
                 "predict_noise(x_t, t) = 0.5 x_t + 0.01 t")


# ------------------------------------------------------------------------- reverse process

@check(points=1, uses=REVERSE,
       hint="solve x_t = sqrt(a) x0 + sqrt(1 - a) eps for x0, with a = alpha_bar_t per example")
def predict_x0(lab, rng):
    schedule = numpy_schedule(random_betas(rng, 20))
    x_t, eps = rng.normal(size=(16, 2)), rng.normal(size=(16, 2))
    t = timesteps(rng, 16, 20, include=(0, 19))
    return {"x0": lab.reverse_process.predict_x0(tensor(x_t), t, tensor(eps),
                                                 tensor(schedule["alpha_bars"]))}


@predict_x0.verdict
def _(student, reference):
    expect_close(student["x0"], reference["x0"], "predict_x0(x_t, t, predicted_noise, alpha_bars)")


@check(points=2, uses=REVERSE,
       hint="mean = (sqrt(abar_{t-1}) beta_t x0 + sqrt(alpha_t) (1 - abar_{t-1}) x_t) "
            "/ (1 - abar_t); variance = (1 - abar_{t-1}) / (1 - abar_t) * beta_t, one per example")
def posterior_mean_variance(lab, rng):
    schedule = ProbeSchedule(random_betas(rng, 20))
    x0, x_t = rng.normal(size=(16, 2)), rng.normal(size=(16, 2))
    t = timesteps(rng, 16, 20, include=(0, 1, 19))
    mean, variance = lab.reverse_process.posterior_mean_variance(tensor(x0), tensor(x_t), t,
                                                                 schedule)
    return {"mean": mean, "variance": variance}


@posterior_mean_variance.verdict
def _(student, reference):
    what = "posterior_mean_variance(x0, x_t, t, schedule)"
    expect_close(student["mean"], reference["mean"], f"the mean of {what}")
    expect_close(per_example(student["variance"], 16, f"the variance of {what}"),
                 reference["variance"], f"the variance of {what} (rows 0, 1, 2 have t = 0, 1, 19)")


@check(points=2, uses=REVERSE,
       hint="x0 = predict_x0(...); mean from posterior_mean_variance; sigma^2 = the posterior "
            "variance or beta_t; x_{t-1} = mean + sigma * noise, but just the mean where t = 0")
def ddpm_step(lab, rng):
    schedule = ProbeSchedule(random_betas(rng, 20))
    x_t, eps, noise = (rng.normal(size=(12, 2)) for _ in range(3))
    t = timesteps(rng, 12, 20, include=(0, 0, 1, 19))
    step = lab.reverse_process.ddpm_step
    return {"t": t,
            "posterior": step(tensor(x_t), t, tensor(eps), tensor(noise), schedule),
            "beta": step(tensor(x_t), t, tensor(eps), tensor(noise), schedule, variance="beta")}


@ddpm_step.verdict
def _(student, reference):
    last = reference["t"] == 0
    for variance in ("posterior", "beta"):
        what = f"ddpm_step(x_t, t, predicted_noise, noise, schedule, variance={variance!r})"
        got = expect_shape(student[variance], reference[variance].shape, what)
        expect_close(got[last], reference[variance][last],
                     f"{what} where t = 0 (the last step returns the mean: no noise is added)")
        expect_close(got, reference[variance], f"{what} (t = 0, 0, 1, 19 in rows 0 to 3)")


@check(points=1, uses=REVERSE,
       hint="for t = T-1 down to 0: t as a batch (tf.fill), noise = keras.random.normal(shape, "
            "seed=seed), x = ddpm_step(x, t, predict_noise(x, t), noise, schedule, variance)")
def ddpm_sample(lab, rng):
    schedule = ProbeSchedule(linear_schedule_betas(50))
    predict = gaussian_noise_predictor(schedule, [1.0, -0.5], 0.5)
    x_T = tensor(rng.normal(size=(2000, 2)))
    return {"samples": lab.reverse_process.ddpm_sample(predict, x_T, schedule, seed=7)}


@ddpm_sample.verdict
def _(student, reference):
    what = "ddpm_sample(predict_noise, x_T (2000, 2), schedule (T = 50), seed=7)"
    judge_gaussian_samples(student["samples"], np.array([1.0, -0.5]), 0.5, what, 2000)
    for got, want, stat in zip(gaussian_stats(student["samples"]),
                               gaussian_stats(reference["samples"]), ("mean", "std")):
        expect_close(got, want, f"the {stat} of the samples of {what}", rtol=0.0, atol=0.05)


@check(points=1, uses=REVERSE,
       hint="np.round(np.linspace(T - 1, 0, num_sample_steps)) as integers: starts at T - 1, "
            "ends at 0, decreasing")
def ddim_timesteps(lab, rng):
    fn = lab.reverse_process.ddim_timesteps
    return {f"ddim_timesteps({T}, {S})": np.asarray(fn(T, S)).astype(np.int64)
            for T, S in ((100, 10), (10, 10), (50, 1), (37, 7))}


@ddim_timesteps.verdict
def _(student, reference):
    for call, expected in reference.items():
        expect_equal(student[call], expected, call)


@check(points=2, uses=REVERSE,
       hint="x0 = predict_x0(x_t, t, eps); a = alpha_bar at t_prev (1 where t_prev = -1); "
            "return sqrt(a) x0 + sqrt(1 - a) eps. alpha_BAR, not alpha")
def ddim_step(lab, rng):
    schedule = ProbeSchedule(random_betas(rng, 30))
    x_t, eps = rng.normal(size=(16, 2)), rng.normal(size=(16, 2))
    t = rng.integers(1, 30, size=16).astype(np.int32)
    t_prev = np.array([rng.integers(-1, s) for s in t], dtype=np.int32)
    t_prev[:3] = -1
    return {"x_prev": lab.reverse_process.ddim_step(tensor(x_t), t, t_prev, tensor(eps), schedule)}


@ddim_step.verdict
def _(student, reference):
    expect_close(student["x_prev"], reference["x_prev"],
                 "ddim_step(x_t, t, t_prev, predicted_noise, schedule) (t_prev = -1 in rows 0-2)")


@check(points=1, uses=REVERSE,
       hint="visit ddim_timesteps(T, num_sample_steps) in order; each ddim_step goes from one "
            "visited t to the next (to -1 after the last)")
def ddim_sample(lab, rng):
    schedule = ProbeSchedule(linear_schedule_betas(100))
    predict = gaussian_noise_predictor(schedule, [1.0, -0.5], 0.5)
    x_T = tensor(rng.normal(size=(1000, 2)))
    return {"samples": lab.reverse_process.ddim_sample(predict, x_T, schedule, 25)}


@ddim_sample.verdict
def _(student, reference):
    what = "ddim_sample(predict_noise, x_T (1000, 2), schedule (T = 100), 25 steps)"
    judge_gaussian_samples(student["samples"], np.array([1.0, -0.5]), 0.5, what, 1000)
    expect_close(student["samples"], reference["samples"], what, rtol=1e-3, atol=1e-4)


# ------------------------------------------------------------------------- score matching

@check(points=1, uses=SCORE,
       hint="score = -predicted_noise / sigma; loss = mean over examples of 0.5 * "
            "sum over dimensions of (sigma * score + noise)^2")
def score_matching_loss(lab, rng):
    sm = lab.score_matching
    eps, score, noise = (rng.normal(size=(16, 2)) for _ in range(3))
    sigma = rng.uniform(0.1, 2.0, size=(16, 1))
    return {"score": sm.score_from_noise(tensor(eps), tensor(sigma)),
            "score_scalar_sigma": sm.score_from_noise(tensor(eps), 0.3),
            "loss": scalar(sm.denoising_score_matching_loss(tensor(score), tensor(noise),
                                                            tensor(sigma)),
                           "denoising_score_matching_loss")}


@score_matching_loss.verdict
def _(student, reference):
    expect_close(student["score"], reference["score"], "score_from_noise(predicted_noise, sigma)")
    expect_close(student["score_scalar_sigma"], reference["score_scalar_sigma"],
                 "score_from_noise(predicted_noise, 0.3)")
    expect_close(student["loss"], reference["loss"],
                 "denoising_score_matching_loss(score, noise, sigma)")


@check(points=1, uses=SCORE,
       hint="x + step_size / 2 * score + sqrt(step_size) * noise")
def langevin_step(lab, rng):
    x, score, noise = (rng.normal(size=(16, 2)) for _ in range(3))
    step = lab.score_matching.langevin_step
    return {str(size): step(tensor(x), tensor(score), size, tensor(noise)) for size in (0.01, 0.3)}


@langevin_step.verdict
def _(student, reference):
    for size in reference:
        expect_close(student[size], reference[size],
                     f"langevin_step(x, score, step_size={size}, noise)")


@check(points=2, uses=SCORE,
       hint="step sizes epsilon * sigma_i^2 / sigma_L^2; at each level, steps_per_level "
            "langevin_steps with the score at that sigma and fresh noise")
def annealed_langevin(lab, rng):
    sm = lab.score_matching
    sigmas = np.geomspace(2.0, 0.1, 8)
    mean, std = np.array([1.0, -0.5]), 0.5

    def score_fn(x, sigma):  # the exact score of N(mean, std^2) data perturbed by sigma
        return -(x - tensor(mean)) / (std ** 2 + sigma ** 2)

    start = tensor(3.0 * rng.normal(size=(1000, 2)))
    return {"step_sizes": np.asarray(sm.annealed_step_sizes(sigmas, 0.01), dtype=np.float64),
            "samples": sm.annealed_langevin(score_fn, start, sigmas, 0.01, 20, seed=3)}


@annealed_langevin.verdict
def _(student, reference):
    expect_close(student["step_sizes"], reference["step_sizes"],
                 "annealed_step_sizes(geomspace(2, 0.1, 8), epsilon=0.01)")
    what = "annealed_langevin(score_fn, x, sigmas (2 to 0.1), 0.01, 20 steps per level)"
    samples = expect_shape(student["samples"], (1000, 2), what)
    expect_finite(samples, what)
    # The last level samples the data perturbed by sigma_L = 0.1: std sqrt(0.5^2 + 0.1^2).
    target_std = np.sqrt(0.5 ** 2 + 0.1 ** 2)
    got_mean, got_std = gaussian_stats(samples)
    expect_true(np.all(np.abs(got_mean - [1.0, -0.5]) < 0.1) and
                np.all(np.abs(got_std / target_std - 1) < 0.15),
                f"{what} with the exact score of N([1, -0.5], 0.5^2) data gives samples of mean "
                f"{np.round(got_mean, 3).tolist()} and std {np.round(got_std, 3).tolist()}, "
                f"expected about [1, -0.5] and {target_std:.3f}")
    for got, want, stat in zip(gaussian_stats(samples), gaussian_stats(reference["samples"]),
                               ("mean", "std")):
        expect_close(got, want, f"the {stat} of the samples of {what}", rtol=0.0, atol=0.05)


# ------------------------------------------------------------------------------- guidance

@check(points=1, uses=GUIDANCE,
       hint="tf.where(uniform < drop_probability, null_label, labels), keeping the labels' dtype")
def drop_labels(lab, rng):
    labels = rng.integers(0, 3, size=24).astype(np.int32)
    uniform = rng.random(size=24).astype(np.float32)
    dropped = lab.guidance.drop_labels(tensor(labels, "int32"), tensor(uniform), 0.3, 3)
    return {"dropped": np.asarray(dropped).astype(np.int64),
            "integer": bool(np.issubdtype(np.asarray(dropped).dtype, np.integer))}


@drop_labels.verdict
def _(student, reference):
    expect_true(student["integer"], "drop_labels must return integer labels (same dtype as "
                                    "the labels), for an Embedding layer to look them up")
    expect_equal(student["dropped"], reference["dropped"],
                 "drop_labels(labels, uniform, drop_probability=0.3, null_label=3)")


@check(points=1, uses=GUIDANCE,
       hint="(1 + w) * conditional - w * unconditional: w = 0 gives the conditional prediction")
def guided_noise(lab, rng):
    conditional, unconditional = rng.normal(size=(16, 2)), rng.normal(size=(16, 2))
    fn = lab.guidance.guided_noise
    return {str(w): fn(tensor(conditional), tensor(unconditional), w) for w in (0.0, 2.5)}


@guided_noise.verdict
def _(student, reference):
    for w in reference:
        expect_close(student[w], reference[w],
                     f"guided_noise(conditional, unconditional, guidance_weight={w})")


# ------------------------------------------------------------------------------- denoiser

@check(points=1, uses=DENOISER,
       hint="half = dim // 2 frequencies exp(-log(max_period) * k / half); the sines of "
            "t * w_k, then the cosines")
def sinusoidal_embedding(lab, rng):
    t = np.concatenate([[0, 1, 99], rng.integers(0, 1000, size=5)]).astype(np.int32)
    layer = lab.denoiser.SinusoidalEmbedding
    return {"dim=16": layer(16)(tensor(t, "int32")),
            "dim=6, max_period=100": layer(6, max_period=100.0)(tensor(t, "int32"))}


@sinusoidal_embedding.verdict
def _(student, reference):
    for args, expected in reference.items():
        expect_close(student[args], expected,
                     f"SinusoidalEmbedding({args})(t) for t = 0, 1, 99, ...", rtol=1e-4, atol=1e-4)


@check(points=2, uses=DENOISER,
       hint="build(): every sublayer on the shape it sees; call(): input_projection(x_t) + "
            "time_projection(time_embedding(t)) [+ label_embedding(labels)], silu, hidden, output")
def mlp_denoiser(lab, rng):
    MLPDenoiser = lab.denoiser.MLPDenoiser
    net = MLPDenoiser(data_dim=3, hidden_units=16, depth=2, embedding_dim=8, num_classes=4)
    net.build((None, 3))
    built = int(net.count_params())
    x = tensor(rng.normal(size=(10, 3)))
    t = tensor(rng.integers(0, 100, size=10), "int32")
    labels = tensor(np.arange(10) % 4, "int32")
    plain = MLPDenoiser(data_dim=2, hidden_units=8, depth=1, embedding_dim=4)
    plain.build((None, 2))
    copy = MLPDenoiser.from_config(net.get_config())
    copy.build((None, 3))
    copy.set_weights(net.get_weights())
    return {"built_params": built, "plain_params": int(plain.count_params()),
            "out": net(x, t, labels), "other_labels": net(x, t, (labels + 1) % 4),
            "null_labels": net(x, t, tensor(np.full(10, 4), "int32")),
            "no_labels": net(x, t), "other_t": net(x, (t + 7) % 100, labels),
            "copy": copy(x, t, labels), "plain_out": plain(x[:, :2], t)}


@mlp_denoiser.verdict
def _(student, reference):
    for key, net in (("built_params", "MLPDenoiser(data_dim=3, hidden_units=16, depth=2, "
                                      "embedding_dim=8, num_classes=4)"),
                     ("plain_params", "MLPDenoiser(data_dim=2, hidden_units=8, depth=1, "
                                      "embedding_dim=4)")):
        expect_true(student[key] == reference[key],
                    f"{net}.build() creates {student[key]} weights, the reference "
                    f"{reference[key]}: is every sublayer built, on the right input size?")
    out = expect_shape(student["out"], (10, 3), "MLPDenoiser(data_dim=3)(x_t (10, 3), t, labels)")
    expect_finite(out, "the MLPDenoiser's output")
    expect_shape(student["plain_out"], (10, 2), "MLPDenoiser(data_dim=2)(x_t (10, 2), t)")
    expect_close(student["no_labels"], student["null_labels"],
                 "MLPDenoiser(x_t, t) without labels, against labels all equal to num_classes "
                 "(the 'no label' class)")
    for key, change in (("other_labels", "other labels"), ("other_t", "other timesteps")):
        embedding = "label" if key == "other_labels" else "time"
        expect_true(not np.allclose(student[key], out),
                    f"the MLPDenoiser's output does not change with {change}: the {embedding} "
                    "embedding must reach the output")
    expect_close(student["copy"], out,
                 "MLPDenoiser.from_config(get_config()) with the same weights")


# ---------------------------------------------------------------------- the diffusion model

@check(points=1, uses=MODEL, hint="ema.assign(decay * ema + (1 - decay) * value) for each pair")
def ema_update(lab, rng):
    import keras
    ema = [rng.normal(size=(3, 4)), rng.normal(size=(5,))]
    new = [rng.normal(size=(3, 4)), rng.normal(size=(5,))]
    variables = [keras.Variable(value.astype(np.float32)) for value in ema]
    lab.diffusion_model.ema_update(variables, [tensor(v) for v in new], 0.9)
    return {"ema": ema, "new": new, "after": [np.asarray(v.numpy()) for v in variables]}


@ema_update.verdict
def _(student, reference):
    for index in range(2):
        ema, new = reference["ema"][index], reference["new"][index]
        expect_close_naming(student["after"][index], reference["after"][index],
                            f"EMA variable {index} after ema_update(ema, new, decay=0.9)", [
            (0.9 * new + 0.1 * ema, "swaps decay and 1 - decay: the average must keep 90 % of "
                                    "its old value and take 10 % of the new one"),
            (ema, "is unchanged: assign the new average to each EMA variable"),
            (new, "is the new value: the EMA must average, not copy")])


@check(points=2, uses=MODEL, reference=False,
       hint="train_step: after optimizer.apply, ema_update(self.ema_denoiser.weights, "
            "self.denoiser.weights, self.ema_decay); the EMA's weights are not trainable")
def train_step_updates_ema(lab, rng):
    import keras
    model = lab.diffusion_model.DiffusionModel(probe_denoiser(16), data_dim=2, num_steps=20,
                                               schedule="linear", ema_decay=0.8)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    for weight in model.ema_denoiser.weights:  # an EMA that is not a copy of the weights
        weight.assign(weight + rng.normal(scale=0.1, size=weight.shape).astype(np.float32))
    online_before, ema_before = weights_of(model.denoiser), weights_of(model.ema_denoiser)
    logs = model.train_step(tensor(rng.normal(size=(64, 2))))
    return {"logs": {str(k): float(v) for k, v in logs.items()},
            "online_before": online_before, "online_after": weights_of(model.denoiser),
            "ema_before": ema_before, "ema_after": weights_of(model.ema_denoiser),
            "trainable": len(model.trainable_weights),
            "network_trainable": len(model.denoiser.trainable_weights)}


@train_step_updates_ema.verdict
def _(student, reference):
    expect_true("loss" in student["logs"] and np.isfinite(student["logs"]["loss"]),
                f"train_step returned {student['logs']}: expected a finite 'loss'")
    expect_true(student["trainable"] == student["network_trainable"],
                f"the model has {student['trainable']} trainable weights, its denoiser "
                f"{student['network_trainable']}: the EMA network must not be trainable")
    changed = largest_change(student["online_before"], student["online_after"])
    expect_true(changed > 0, "one train_step left the denoiser's weights unchanged: apply the "
                             "gradients with self.optimizer.apply")
    ema_moved = largest_change(student["ema_before"], student["ema_after"])
    expect_true(ema_moved > 0, "one train_step left the EMA weights unchanged: call ema_update "
                               "after the optimizer step")
    for index, (ema, before, after, ema_after) in enumerate(zip(
            student["ema_before"], student["online_before"], student["online_after"],
            student["ema_after"])):
        what = f"EMA weight {index} after one train_step with ema_decay=0.8"
        expect_close_naming(ema_after, 0.8 * ema + 0.2 * after,
                            f"{what}, against 0.8 * (EMA before) + 0.2 * (weight after the step)",
                            [(0.8 * ema + 0.2 * before, "uses the weights from before the "
                              "optimizer step: update the EMA after optimizer.apply"),
                             (0.2 * ema + 0.8 * after, "swaps decay and 1 - decay: the EMA "
                              "keeps 80 % of its old value and takes 20 % of the new weights")])


@check(points=1, uses=MODEL, reference=False,
       hint="predict_noise uses self.ema_denoiser unless use_ema=False; with labels and w > 0 "
            "it returns guided_noise(prediction with labels, prediction with the null label, w)")
def predict_noise_with_guidance(lab, rng):
    import tensorflow as tf
    model = lab.diffusion_model.DiffusionModel(probe_denoiser(16, num_classes=3), data_dim=2,
                                               num_steps=20, schedule="linear", num_classes=3)
    for weight in model.ema_denoiser.weights:  # EMA weights unlike the online ones
        weight.assign(weight + rng.normal(scale=0.2, size=weight.shape).astype(np.float32))
    x = tensor(rng.normal(size=(8, 2)))
    t = tensor(rng.integers(0, 20, size=8), "int32")
    labels = tensor(np.arange(8) % 3, "int32")
    null = tf.fill([8], 3)
    predict = model.predict_noise
    return {"guided": predict(x, t, labels, guidance_weight=2.0),
            "conditional": predict(x, t, labels), "unconditional": predict(x, t),
            "online": predict(x, t, labels, use_ema=False),
            "ema_labels": model.ema_denoiser(x, t, labels),
            "ema_null": model.ema_denoiser(x, t, null),
            "online_labels": model.denoiser(x, t, labels)}


@predict_noise_with_guidance.verdict
def _(student, reference):
    cond, uncond = student["ema_labels"], student["ema_null"]
    expect_close_naming(student["conditional"], cond,
                        "model.predict_noise(x_t, t, labels), against the EMA network's output", [
        (student["online_labels"], "is the online network's output: samplers use the EMA "
                                   "network (self.ema_denoiser)")])
    expect_close(student["unconditional"], uncond,
                 "model.predict_noise(x_t, t) (no labels), against the EMA network with the "
                 "null label")
    expect_close(student["online"], student["online_labels"],
                 "model.predict_noise(..., use_ema=False), against the online network")
    expect_close_naming(student["guided"], 3.0 * cond - 2.0 * uncond,
                        "model.predict_noise(x_t, t, labels, guidance_weight=2), against "
                        "3 * conditional - 2 * unconditional", [
        (3.0 * uncond - 2.0 * cond, "has the roles swapped: guidance pushes AWAY from the "
                                    "unconditional prediction"),
        (-1.0 * cond + 2.0 * uncond, "has a flipped sign: (1 + w) * conditional - w * "
                                     "unconditional")])


@check(points=4, uses=MODEL, timeout=60,
       hint="train_step: t uniform on {0..T-1} and noise per example, noise_prediction_loss, "
            "scale_loss, optimizer.apply, then the EMA update; the EMA network's samples must "
            "come close to the data")
def diffusion_learns_moons(lab, rng):
    return train_diffusion(lab, rng, TRAIN)


@diffusion_learns_moons.verdict
def _(student, reference):
    judge_training(student, reference, "moons")


@check(points=1, uses=MODEL + DENOISER, reference=False,
       hint="get_config: serialize_keras_object(self.denoiser) plus every other constructor "
            "argument; from_config deserialises the denoiser back")
def diffusion_model_saves_and_loads(lab, rng):
    import keras

    from dlkit.data import toy2d_classification
    denoiser = lab.denoiser.MLPDenoiser(data_dim=2, hidden_units=16, depth=1, embedding_dim=8,
                                        num_classes=2)
    model = lab.diffusion_model.DiffusionModel(denoiser, data_dim=2, num_steps=20,
                                               schedule="cosine", num_classes=2,
                                               label_dropout=0.2, ema_decay=0.9)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x, y = toy2d_classification("moons", 64, seed=int(rng.integers(1000)))
    for _ in range(3):  # eagerly: the EMA and the online weights now differ
        model.train_step((tensor(x), tensor(y, "int32")))
    model.save("diffusion.keras")
    try:
        loaded = keras.saving.load_model("diffusion.keras")
    except Exception as error:
        return {"error": f"{type(error).__name__}: {error}"[:600]}
    x_t = tensor(rng.normal(size=(8, 2)))
    t = tensor(rng.integers(0, 20, size=8), "int32")
    labels = tensor(np.arange(8) % 2, "int32")
    config = json.dumps(model.get_config(), sort_keys=True, default=str)
    return {"error": "", "class": type(loaded).__name__, "config": config,
            "loaded_config": json.dumps(loaded.get_config(), sort_keys=True, default=str),
            "ema": model.predict_noise(x_t, t, labels, 1.0),
            "loaded_ema": loaded.predict_noise(x_t, t, labels, 1.0),
            "online": model.predict_noise(x_t, t, labels, use_ema=False),
            "loaded_online": loaded.predict_noise(x_t, t, labels, use_ema=False),
            "steps": int(model.optimizer.iterations.numpy()),
            "loaded_steps": int(loaded.optimizer.iterations.numpy())
            if getattr(loaded, "optimizer", None) is not None else -1}


@diffusion_model_saves_and_loads.verdict
def _(student, reference):
    if student["error"]:
        raise CheckFailed("keras.saving.load_model could not rebuild the saved DiffusionModel "
                          "(MLPDenoiser, num_classes=2, cosine schedule): " + student["error"])
    expect_true(student["class"] == "DiffusionModel",
                f"load_model returned a {student['class']}, not a DiffusionModel")
    if student["loaded_config"] != student["config"]:
        before, after = json.loads(student["config"]), json.loads(student["loaded_config"])
        differ = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        raise CheckFailed(f"the reloaded DiffusionModel's config differs in {differ}: "
                          "get_config must return every constructor argument")
    expect_close(student["loaded_online"], student["online"],
                 "the reloaded model's online denoiser on the same inputs")
    expect_close(student["loaded_ema"], student["ema"],
                 "the reloaded model's EMA predictions (guidance_weight=1) on the same inputs: "
                 "the EMA weights must be saved too")
    expect_true(student["loaded_steps"] == student["steps"],
                f"the reloaded optimizer has done {student['loaded_steps']} steps, the saved one "
                f"{student['steps']}: its state was not restored")
