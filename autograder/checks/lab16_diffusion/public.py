"""Public checks of lab16_diffusion, part 1: the forward process (forward_process.py). The
maths is compared with the reference on random betas and alpha_bars the probes draw
themselves."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import scalar, tensor
from autograder.checks.lab16_diffusion.probes import (
    FORWARD,
    random_alpha_bars,
    random_betas,
    timesteps,
)
from autograder.verdicts import expect_close, expect_close_naming


@check(points=2, uses=FORWARD, task="`linear_betas`, `cosine_betas`",
       hint="linear: np.linspace(beta_min / T, beta_max / T, T); cosine: alpha_bar(t) = "
            "f((t + 1) / T) / f(0) and beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}, at most "
            "max_beta")
def beta_schedules(lab, rng):
    """The betas of both schedules, with default and other arguments."""
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


@check(points=1, uses=FORWARD, task="`NoiseSchedule`",
       hint="alphas = 1 - betas; alpha_bars = tf.math.cumprod(alphas); alpha_bars_prev = "
            "[1, alpha_bars[0], ..., alpha_bars[T-2]]")
def noise_schedule(lab, rng):
    """alphas, alpha_bars and alpha_bars_prev of 12 random betas."""
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


@check(points=1, uses=FORWARD, task="`q_sample`",
       hint="x_t = sqrt(alpha_bar_t) * x0 + sqrt(1 - alpha_bar_t) * noise, with alpha_bar_t "
            "picked per example and broadcast over the data dimensions")
def q_sample(lab, rng):
    """x_t for 16 examples with one t each, t = 0 and T - 1 among them."""
    alpha_bars = random_alpha_bars(rng, 20)
    x0 = 2.0 * rng.normal(size=(16, 2))
    noise = rng.normal(size=(16, 2))
    t = timesteps(rng, 16, 20, include=(0, 19))
    x_t = lab.forward_process.q_sample(tensor(x0), t, tensor(noise), tensor(alpha_bars))
    return {"x_t": x_t, "x0": x0, "noise": noise, "alpha_bar": alpha_bars[t][:, None]}


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


@check(points=1, uses=FORWARD, task="`noise_prediction_loss`",
       hint="x_t = q_sample(x0, t, noise, alpha_bars); loss = mean((noise - predict_noise(x_t, "
            "t))^2) over every example and dimension, in float32")
def noise_prediction_loss(lab, rng):
    """The loss of a made-up network, against the reference."""
    import tensorflow as tf
    alpha_bars = random_alpha_bars(rng, 20)
    x0, noise = 2.0 * rng.normal(size=(32, 2)), rng.normal(size=(32, 2))
    t = timesteps(rng, 32, 20, include=(0, 19))

    def predict_noise(x_t, t):  # a made-up network: the loss must use what it predicts
        return 0.5 * tf.convert_to_tensor(x_t) + 0.01 * tf.cast(tf.reshape(t, (-1, 1)), tf.float32)

    loss = lab.forward_process.noise_prediction_loss(predict_noise, tensor(x0), t, tensor(noise),
                                                     tensor(alpha_bars))
    return {"loss": scalar(loss, "noise_prediction_loss")}


@noise_prediction_loss.verdict
def _(student, reference):
    expect_close(student["loss"], reference["loss"],
                 "noise_prediction_loss(predict_noise, x0, t, noise, alpha_bars) with "
                 "predict_noise(x_t, t) = 0.5 x_t + 0.01 t")
