"""Public checks of lab16_diffusion, part 2: the reverse process (reverse_process.py).

The single steps are compared with the reference on schedules the probes choose. The
samplers run with the exact noise predictor of Gaussian data and with the checks' own
ddpm_step or ddim_step (and DDIM timesteps) standing in for the student's, of known
behaviour that is not DDPM's or DDIM's: they are judged on their loop alone (which
timesteps, in which order, chained how, with which noise and predictions). A loop that
does not call the step gets judged by its samples, which must then match the data."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import standing_in, tensor
from autograder.checks.lab16_diffusion.probes import (
    REVERSE,
    ProbeSchedule,
    gaussian_noise_predictor,
    judge_gaussian_samples,
    known_log_snr,
    per_example,
    random_alpha_bars,
    random_log_snr,
    timesteps,
)
from autograder.checks.lab16_diffusion.sampling import (
    judge_ddim_timesteps,
    recording_steps,
    stand_in_ddim_timesteps,
    timestep_spy,
)
from autograder.verdicts import expect_close, expect_shape, expect_true

# The Gaussian data of the sampler checks: N(MEAN, STD^2 I).
MEAN, STD = np.array([1.0, -0.5]), 0.5
# A chain of steps may carry its input over only up to float32 rounding.
CHAINED = 1e-4


@check(points=1, uses=REVERSE, task="`predict_x0`",
       hint="solve x_t = sqrt(a) x0 + sqrt(1 - a) eps for x0, with a = alpha_bar_t per example")
def predict_x0(lab, rng):
    """x0 from x_t and the noise, one t per example."""
    alpha_bars = random_alpha_bars(rng, 20)
    x_t, eps = rng.normal(size=(16, 2)), rng.normal(size=(16, 2))
    t = timesteps(rng, 16, 20, include=(0, 19))
    return {"x0": lab.reverse_process.predict_x0(tensor(x_t), t, tensor(eps),
                                                 tensor(alpha_bars))}


@predict_x0.verdict
def _(student, reference):
    expect_close(student["x0"], reference["x0"], "predict_x0(x_t, t, predicted_noise, alpha_bars)")


@check(points=2, uses=REVERSE, task="`posterior_mean_variance`",
       hint="mean = (sqrt(abar_{t-1}) beta_t x0 + sqrt(alpha_t) (1 - abar_{t-1}) x_t) "
            "/ (1 - abar_t); variance = (1 - abar_{t-1}) / (1 - abar_t) * beta_t, one per example")
def posterior_mean_variance(lab, rng):
    """The posterior's mean and per-example variance, t = 0, 1 and T - 1 among the rows."""
    schedule = ProbeSchedule(random_log_snr(rng, 20))
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


@check(points=2, uses=REVERSE, task="`ddpm_step`",
       hint="x0 = predict_x0(...); mean from posterior_mean_variance; sigma^2 = the posterior "
            "variance or beta_t; x_{t-1} = mean + sigma * noise, but just the mean where t = 0")
def ddpm_step(lab, rng):
    """One step with both variances, rows with t = 0 (no noise there) among them."""
    schedule = ProbeSchedule(random_log_snr(rng, 20))
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

@check(points=1, uses=REVERSE, reference=False, task="`ddpm_sample`",
       hint="for t = T-1 down to 0 (range(T - 1, -1, -1): t = 0 too): t as a batch (tf.fill), "
            "noise = keras.random.normal(shape, seed=seed), x = ddpm_step(x, t, predict_noise(x, "
            "t), noise, schedule, variance)")
def ddpm_sample(lab, rng):
    """The loop alone (a stand-in ddpm_step of known, other behaviour records each call):
    T steps from t = T - 1 down to t = 0, each from the previous step's output with its
    predicted noise, fresh N(0, I) noise and the variance passed on, returning the last
    one. A loop that does not call ddpm_step must give samples with about the data's mean
    and std (the exact noise predictor of Gaussian data)."""
    T = 50
    schedule = ProbeSchedule(known_log_snr(T))
    x_T = rng.normal(size=(2000, 2)).astype(np.float32)
    predictor = gaussian_noise_predictor(schedule, MEAN, STD)
    step, _, steps, state = recording_steps(x_T, predictor)
    visited = []
    predict = timestep_spy(predictor, visited)
    with standing_in(lab.reverse_process, ddpm_step=step):
        samples = lab.reverse_process.ddpm_sample(predict, tensor(x_T), schedule, seed=7,
                                                  variance="beta")
    samples = np.asarray(samples)
    gap = (float(np.max(np.abs(samples - state["previous"])))
           if steps and samples.shape == state["previous"].shape else -1.0)
    return {"T": T, "visited": visited, "steps": steps, "last_gap": gap, "samples": samples}


def judge_visited(times, T, what):
    expected = list(range(T - 1, -1, -1))
    if times == expected:
        return
    if times == expected[:-1]:
        raise CheckFailed(f"{what} stops at t = 1: the loop must run down to t = 0 "
                          "(range(T - 1, -1, -1)); the step from t = 0 gives the sample")
    if times == expected[::-1]:
        raise CheckFailed(f"{what} runs t upward, from 0 to T - 1: sampling goes from T - 1 "
                          "down to 0")
    shown = times[:4] + ["..."] + times[-3:] if len(times) > 8 else times
    raise CheckFailed(f"{what} steps through t = {shown} ({len(times)} steps): expected "
                      f"T - 1 = {T - 1} down to 0, {T} steps")


@ddpm_sample.verdict
def _(student, _reference):
    T, steps = student["T"], student["steps"]
    what = (f"ddpm_sample(predict_noise, x_T (2000, 2), schedule (T = {T}), seed=7, "
            "variance='beta')")
    judge_visited([s["t"] for s in steps] if steps else student["visited"], T, what)
    for k, s in enumerate(steps):
        where = f"step {k} of {what} (t = {s['t']})"
        expect_true(s["chained"] <= CHAINED, f"{where} does not start from "
                    + ("x_T" if k == 0 else "the previous step's output") +
                    ": x = ddpm_step(x, t, ...) each step")
        expect_true(s["prediction_gap"] <= CHAINED, f"{where} gets a predicted noise that is "
                    "not predict_noise(x, t) of its own x and t")
        expect_true(s["variance"] == "beta", f"{where} gets variance={s['variance']!r}: pass "
                    "ddpm_sample's variance on to ddpm_step")
        expect_true(s["noise_shape"] == [2000, 2], f"{where} gets noise of shape "
                    f"{s['noise_shape']}: draw it with the shape of x, (2000, 2)")
        expect_true(not s["same_noise"], f"{where} reuses the previous step's noise: draw fresh "
                    "noise every step with keras.random.normal(shape, seed=seed), seed a "
                    "SeedGenerator")
        expect_true(abs(s["noise_mean"]) < 0.1 and abs(s["noise_std"] - 1) < 0.1,
                    f"{where} gets noise of mean {s['noise_mean']:.3g} and std "
                    f"{s['noise_std']:.3g}: the noise must be N(0, I)")
    if steps:
        expect_true(student["last_gap"] == 0.0, f"{what} does not return the last ddpm_step's "
                    "output")
    else:   # ddpm_step written out in the loop: the samples must be right
        judge_gaussian_samples(student["samples"], MEAN, STD, what, 2000)


DDIM_CASES = ((100, 10), (10, 10), (50, 1), (37, 7), (30, 4), (40, 6), (20, 7), (100, 25))


@check(points=1, uses=REVERSE, task="`ddim_timesteps`",
       hint="np.round(np.linspace(T - 1, 0, num_sample_steps)), as integers: the NEAREST "
            "integer (astype(int) alone rounds down); starts at T - 1, ends at 0")
def ddim_timesteps(lab, rng):
    """Eight (T, S): the nearest integers of linspace(T - 1, 0, S), either one at exact
    halves (several cases have fractions, two have ties)."""
    fn = lab.reverse_process.ddim_timesteps
    return {"cases": [list(c) for c in DDIM_CASES],
            "timesteps": [np.asarray(fn(T, S)) for T, S in DDIM_CASES]}


@ddim_timesteps.verdict
def _(student, reference):
    for (T, S), got, expected in zip(student["cases"], student["timesteps"],
                                     reference["timesteps"]):
        judge_ddim_timesteps(got, expected, T, S)


@check(points=2, uses=REVERSE, task="`ddim_step`",
       hint="x0 = predict_x0(x_t, t, eps); a = alpha_bar at t_prev (1 where t_prev = -1); "
            "return sqrt(a) x0 + sqrt(1 - a) eps. alpha_BAR, not alpha")
def ddim_step(lab, rng):
    """Steps from random t to random earlier t_prev, t_prev = -1 (alpha_bar = 1) in three rows."""
    schedule = ProbeSchedule(random_log_snr(rng, 30))
    x_t, eps = rng.normal(size=(16, 2)), rng.normal(size=(16, 2))
    t = rng.integers(1, 30, size=16).astype(np.int32)
    t_prev = np.array([rng.integers(-1, s) for s in t], dtype=np.int32)
    t_prev[:3] = -1
    return {"x_prev": lab.reverse_process.ddim_step(tensor(x_t), t, t_prev, tensor(eps), schedule)}


@ddim_step.verdict
def _(student, reference):
    expect_close(student["x_prev"], reference["x_prev"],
                 "ddim_step(x_t, t, t_prev, predicted_noise, schedule) (t_prev = -1 in rows 0-2)")

DDIM_T, DDIM_S = 100, 20   # linspace(99, 0, 20) has fractions and no exact halves


@check(points=1, uses=REVERSE, task="`ddim_sample`",
       hint="visit ddim_timesteps(T, num_sample_steps) in order; each ddim_step goes from one "
            "visited t to the next, and the last from t = 0 to t_prev = -1, which returns x0")
def ddim_sample(lab, rng):
    """The loop alone (stand-ins of known, other behaviour for ddim_step and ddim_timesteps
    record each call): one step from each timestep ddim_timesteps gives to the next, the
    last to -1, each from the previous step's output with its predicted noise, returning
    the last one. A loop that does not call them must visit DDIM's timesteps and give
    samples with about the data's mean and std."""
    schedule = ProbeSchedule(known_log_snr(DDIM_T))
    x_T = rng.normal(size=(1000, 2)).astype(np.float32)
    predictor = gaussian_noise_predictor(schedule, MEAN, STD)
    _, step, steps, state = recording_steps(x_T, predictor)
    visited = []
    predict = timestep_spy(predictor, visited)
    own = np.asarray(lab.reverse_process.ddim_timesteps(DDIM_T, DDIM_S)).astype(np.int64)
    with standing_in(lab.reverse_process, ddim_step=step, ddim_timesteps=stand_in_ddim_timesteps):
        samples = lab.reverse_process.ddim_sample(predict, tensor(x_T), schedule, DDIM_S)
    samples = np.asarray(samples)
    gap = (float(np.max(np.abs(samples - state["previous"])))
           if steps and samples.shape == state["previous"].shape else -1.0)
    return {"visited": visited, "steps": steps, "last_gap": gap, "samples": samples,
            "timesteps": own}


@ddim_sample.verdict
def _(student, reference):
    what = f"ddim_sample(predict_noise, x_T (1000, 2), schedule (T = {DDIM_T}), {DDIM_S} steps)"
    stand_in = stand_in_ddim_timesteps(DDIM_T, DDIM_S).tolist()
    ddim = [int(v) for v in reference["timesteps"]]
    steps = student["steps"]
    if not steps:   # ddim_step written out in the loop: the samples must be right
        expect_true(student["visited"] in (stand_in, ddim), f"{what} calls predict_noise at "
                    f"t = {student['visited'][:4]} ...: expected the timesteps of "
                    f"ddim_timesteps({DDIM_T}, {DDIM_S}) in order")
        judge_gaussian_samples(student["samples"], MEAN, STD, what, 1000)
        return
    # The stand-in's timesteps if the loop called ddim_timesteps, DDIM's if it wrote them out.
    visits = stand_in if len(steps) > 1 and steps[1]["t"] == stand_in[1] else ddim
    pairs = list(zip(visits, visits[1:] + [-1]))
    got = [(s["t"], s["t_prev"]) for s in steps]
    if got == pairs[:-1]:
        raise CheckFailed(f"{what} stops at t = 0: after the last visited t, one more "
                          "ddim_step to t_prev = -1 (alpha_bar = 1) returns x0")
    expect_true(got == pairs, f"{what} steps (t, t_prev) = {got[:3]} ... {got[-2:]}: expected "
                f"each t that ddim_timesteps gives ({visits[:4]} ... here) in order to the "
                "next, then the last to -1")
    for k, s in enumerate(steps):
        expect_true(s["chained"] <= CHAINED, f"step {k} of {what} does not start from "
                    + ("x_T" if k == 0 else "the previous step's output"))
        expect_true(s["prediction_gap"] <= CHAINED, f"step {k} of {what} gets a predicted "
                    "noise that is not predict_noise(x, t) of its own x and t")
    expect_true(student["last_gap"] == 0.0, f"{what} does not return the last ddim_step's "
                "output")
