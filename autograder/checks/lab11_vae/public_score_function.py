"""Public checks of lab11_vae, part 6: the reparameterisation and score-function gradient
estimators (estimators.py).

The per-draw estimates are compared with numpy formulas for a check-chosen f whose
derivative is written out here, f(z) = sin(2z) + 0.3 z^3, with the usual slips named.
Unbiasedness is judged on f(z) = (z - 0.5)^2, whose expectation has a closed form: the mean
of 20 000 per-draw estimates must lie within 4.5 standard errors of the exact gradient. The
surrogate loss is differentiated by a GradientTape here and compared with the mean
REINFORCE estimate written in numpy.
"""
import math

import numpy as np

from autograder.api import CheckFailed, check
from autograder.verdicts import expect_close_naming, expect_shape, expect_true

ESTIMATORS = "estimators"
MU, LOG_SIGMA = 0.4, math.log(0.7)
# Unbiasedness: E[(z - 0.5)^2] = (mu - 0.5)^2 + sigma^2 for z ~ N(mu, sigma^2).
UNBIASED_MU, UNBIASED_SIGMA, UNBIASED_DRAWS = 1.0, 0.5, 20_000
STANDARD_ERRORS = 4.5
LOG_VARIANCE = ("(the VAE encoder's log-VARIANCE convention); here log_sigma is the log of "
                "sigma itself: sigma = exp(log_sigma), and through it dz/dlog_sigma = "
                "sigma * eps")


def wiggly(z):
    """The checks' f: sin(2z) + 0.3 z^3 (TensorFlow ops, elementwise)."""
    import tensorflow as tf
    return tf.sin(2.0 * z) + 0.3 * z ** 3


def _wiggly_numpy(z):
    return np.sin(2.0 * z) + 0.3 * z ** 3, 2.0 * np.cos(2.0 * z) + 0.9 * z ** 2


def shifted_square(z):
    return (z - 0.5) ** 2


def _exact_shifted_square_gradient(mu, sigma):
    return np.array([2.0 * (mu - 0.5), 2.0 * sigma ** 2])


def _per_draw(value, what, draws):
    value = np.asarray(value, np.float64)
    if value.shape == (2, draws):
        raise CheckFailed(f"{what} has shape (2, S): one ROW per draw, (S, 2), the columns "
                          "d/dmu and d/dlog_sigma")
    return expect_shape(value, (draws, 2), what)


def judge_unbiased(estimates, what):
    """The mean of the per-draw estimates within STANDARD_ERRORS of the exact gradient."""
    estimates = _per_draw(estimates, what, UNBIASED_DRAWS)
    exact = _exact_shifted_square_gradient(UNBIASED_MU, UNBIASED_SIGMA)
    mean = estimates.mean(axis=0)
    error = estimates.std(axis=0, ddof=1) / math.sqrt(UNBIASED_DRAWS)
    for j, name in enumerate(("d/dmu", "d/dlog_sigma")):
        if not abs(mean[j] - exact[j]) <= STANDARD_ERRORS * error[j] + 1e-12:
            raise CheckFailed(
                f"{what}: the mean of its {UNBIASED_DRAWS} per-draw estimates of {name} is "
                f"{mean[j]:.4f}, the exact gradient {exact[j]:.4f} ({abs(mean[j] - exact[j]) / error[j]:.1f} "
                f"standard errors away): the estimator is biased")


def _draws_of(rng, size):
    return rng.standard_normal(size)


# ---------------------------------------------------------------------------------------------
# The reparameterisation estimator
# ---------------------------------------------------------------------------------------------

@check(points=2, uses=ESTIMATORS, reference=False,
       task="`reparameterization_gradient` (estimators.py)",
       hint="z = mu + sigma * eps; the columns f'(z) and f'(z) * sigma * eps (the chain rule "
            "through sigma = exp(log_sigma)); f'(z) from a GradientTape watching z")
def reparameterization_gradient(lab, rng):
    """Per-draw estimates for f(z) = sin(2z) + 0.3 z^3, mu = 0.4, sigma = 0.7, 12 draws,
    against f'(z) (1, sigma eps) in numpy; unbiased for f(z) = (z - 0.5)^2, mu = 1,
    sigma = 0.5 over 20 000 draws."""
    epsilon = _draws_of(rng, 12)
    many = _draws_of(rng, UNBIASED_DRAWS)
    return {"epsilon": epsilon,
            "estimates": lab.estimators.reparameterization_gradient(wiggly, MU, LOG_SIGMA,
                                                                    epsilon),
            "unbiased": lab.estimators.reparameterization_gradient(
                shifted_square, UNBIASED_MU, math.log(UNBIASED_SIGMA), many)}


@reparameterization_gradient.verdict
def _(student, _reference):
    epsilon = np.asarray(student["epsilon"])
    what = "reparameterization_gradient(f, 0.4, log 0.7, epsilon) for 12 draws"
    estimates = _per_draw(student["estimates"], what, len(epsilon))
    sigma = math.exp(LOG_SIGMA)
    z = MU + sigma * epsilon
    _, slope = _wiggly_numpy(z)
    expected = np.stack([slope, slope * sigma * epsilon], axis=1)
    column = lambda second: np.stack([slope, second], axis=1)  # noqa: E731
    draws = len(epsilon)
    # sigma = exp(log_sigma / 2), the standard deviation of a log-variance: in dz/dlog_sigma
    # only, or in z too.
    root = math.sqrt(sigma)
    _, root_slope = _wiggly_numpy(MU + root * epsilon)
    advice = ""
    if np.allclose(estimates[:, 0], expected[:, 0], rtol=1e-6, atol=1e-9):
        advice = ("d/dmu is right, d/dlog_sigma is not: it is f'(z) * dz/dlog_sigma, the chain "
                  "rule through sigma = exp(log_sigma), so dz/dlog_sigma = sigma * eps")
    expect_close_naming(estimates, expected, what, (
        (expected / draws, f"every estimate is divided by S = {draws}: f'(z) taken as the "
                           "gradient of the MEAN of f(z) (a mean instead of a sum); the "
                           "gradient of the SUM of f(z) is f'(z) draw by draw, and the "
                           "per-draw estimates are returned as they are"),
        (column(slope * root * epsilon), f"d/dlog_sigma uses sigma = exp(log_sigma / 2) "
                                         f"{LOG_VARIANCE}"),
        (np.stack([root_slope, root_slope * root * epsilon], axis=1), "z and dz/dlog_sigma use "
         f"sigma = exp(log_sigma / 2) {LOG_VARIANCE}"),
        (column(slope * epsilon), "d/dlog_sigma is f'(z) * eps, the derivative with respect "
                                  "to sigma: through sigma = exp(log_sigma) it is "
                                  "f'(z) * sigma * eps"),
        (column(slope * sigma), "d/dlog_sigma is f'(z) * sigma: dz/dlog_sigma = sigma * eps"),
        (column(slope * z), "d/dlog_sigma is f'(z) * z: dz/dlog_sigma = sigma * eps = z - mu"),
        (expected[:, ::-1], "the columns are swapped: d/dmu first, then d/dlog_sigma"),
        (np.stack([_wiggly_numpy(z)[0]] * 2, axis=1), "those are values of f, not of f'(z): "
                                                     "differentiate f with a GradientTape"),
    ), rtol=1e-6, atol=1e-9, advice=advice)
    judge_unbiased(student["unbiased"], "reparameterization_gradient for f(z) = (z - 0.5)^2, "
                   "mu = 1, sigma = 0.5")


# ---------------------------------------------------------------------------------------------
# The score-function estimator and its baseline
# ---------------------------------------------------------------------------------------------

@check(points=2, uses=ESTIMATORS, reference=False, task="`score_function_gradient`",
       hint="(f(z) - baseline) * ((z - mu) / sigma^2, (z - mu)^2 / sigma^2 - 1), draw by draw")
def score_function_gradient(lab, rng):
    """Per-draw estimates for f(z) = sin(2z) + 0.3 z^3, mu = 0.4, sigma = 0.7, 12 draws, with
    no baseline, a constant one and one per draw, against numpy; unbiased for
    f(z) = (z - 0.5)^2, mu = 1, sigma = 0.5 over 20 000 draws."""
    epsilon = _draws_of(rng, 12)
    per_draw = rng.normal(size=12)
    many = _draws_of(rng, UNBIASED_DRAWS)
    estimate = lab.estimators.score_function_gradient
    return {"epsilon": epsilon, "per_draw_baseline": per_draw,
            "plain": estimate(wiggly, MU, LOG_SIGMA, epsilon),
            "constant": estimate(wiggly, MU, LOG_SIGMA, epsilon, 0.7),
            "per_draw": estimate(wiggly, MU, LOG_SIGMA, epsilon, per_draw),
            "unbiased": estimate(shifted_square, UNBIASED_MU, math.log(UNBIASED_SIGMA), many)}


@score_function_gradient.verdict
def _(student, _reference):
    epsilon = np.asarray(student["epsilon"])
    sigma = math.exp(LOG_SIGMA)
    z = MU + sigma * epsilon
    values, _ = _wiggly_numpy(z)
    score_mu = (z - MU) / sigma ** 2
    score_log_sigma = (z - MU) ** 2 / sigma ** 2 - 1.0

    def weighted(weights, first=score_mu, second=score_log_sigma):
        return np.stack([weights * first, weights * second], axis=1)

    what = "score_function_gradient(f, 0.4, log 0.7, epsilon) for 12 draws"
    estimates = _per_draw(student["plain"], what, len(epsilon))
    expect_close_naming(estimates, weighted(values), what, (
        (weighted(values, (z - MU) / sigma), "d log q/d mu is (z - mu) / sigma: divide by "
                                            "sigma^2, (z - mu) / sigma^2"),
        (weighted(values, z - MU), "d log q/d mu is z - mu: divide by sigma^2"),
        (weighted(values, second=(z - MU) ** 2 / sigma ** 2), "d log q/d log_sigma misses the "
         "-1 (from the -log sigma of the density): (z - mu)^2 / sigma^2 - 1"),
        (weighted(values, second=(z - MU) ** 2 / sigma ** 3 - 1.0 / sigma), "that is "
         "d log q/d sigma: through sigma = exp(log_sigma), d/dlog_sigma = sigma d/dsigma = "
         "(z - mu)^2 / sigma^2 - 1"),
        (weighted(values)[:, ::-1], "the columns are swapped: d/dmu first, then d/dlog_sigma"),
        (weighted(np.ones_like(values)), "the scores are not multiplied by f(z)"),
    ), rtol=1e-6, atol=1e-9)
    per_draw = np.asarray(student["per_draw_baseline"])
    for key, baseline, named in (("constant", 0.7, "a constant baseline 0.7"),
                                 ("per_draw", per_draw, "a baseline per draw (12,)")):
        what = f"score_function_gradient(f, 0.4, log 0.7, epsilon, baseline) with {named}"
        expect_close_naming(_per_draw(student[key], what, len(epsilon)),
                            weighted(values - baseline), what, (
            (weighted(values), "the baseline is ignored: multiply by f(z) - baseline"),
            (weighted(values + baseline), "the baseline is added: multiply by f(z) - baseline"),
        ), rtol=1e-6, atol=1e-9)
    judge_unbiased(student["unbiased"], "score_function_gradient for f(z) = (z - 0.5)^2, "
                   "mu = 1, sigma = 0.5")


@check(points=1, uses=ESTIMATORS, reference=False, task="`leave_one_out_baseline`",
       hint="b_s = (sum of all values - values[s]) / (S - 1): the mean of the OTHER draws")
def leave_one_out_baseline(lab, rng):
    """On 7 random values: each entry is the mean of the other 6 (numpy, by deleting it)."""
    values = rng.normal(size=7) * 3.0 + 1.0
    return {"values": values, "baseline": lab.estimators.leave_one_out_baseline(values)}


@leave_one_out_baseline.verdict
def _(student, _reference):
    values = np.asarray(student["values"])
    expected = np.array([np.delete(values, s).mean() for s in range(len(values))])
    what = "leave_one_out_baseline(values) for 7 values"
    baseline = np.asarray(student["baseline"], np.float64)
    if baseline.size == 1:
        raise CheckFailed(f"{what} returned one number: one baseline per draw, (S,), each the "
                          "mean of the OTHER draws")
    expect_close_naming(baseline, expected, what, (
        (np.full(7, values.mean()), "the mean over ALL the draws, the draw itself included: "
                                    "b_s must not depend on draw s (or the estimate is "
                                    "biased); leave it out"),
        ((values.sum() - values) / len(values), "divided by S: the other draws are S - 1"),
        (values.sum() / (len(values) - 1) * np.ones(7), "the draw itself is not left out"),
    ), rtol=1e-9, atol=1e-12)


@check(points=1, uses=ESTIMATORS, reference=False, task="`score_function_surrogate`",
       hint="z = tf.stop_gradient(mu + exp(log_sigma) * eps); mean(f(z) * log q(z)) with "
            "log q = -0.5 log 2 pi - log_sigma - (z - mu)^2 / (2 sigma^2)")
def score_function_surrogate(lab, rng):
    """The GradientTape gradient of the surrogate with respect to the variables mu = 0.4 and
    log_sigma = log 0.7 (f(z) = sin(2z) + 0.3 z^3, 12 draws) against the mean REINFORCE
    estimate in numpy."""
    import tensorflow as tf
    epsilon = _draws_of(rng, 12)
    mu = tf.Variable(MU, dtype=tf.float64)
    log_sigma = tf.Variable(LOG_SIGMA, dtype=tf.float64)
    with tf.GradientTape() as tape:
        surrogate = lab.estimators.score_function_surrogate(wiggly, mu, log_sigma, epsilon)
    gradients = tape.gradient(surrogate, [mu, log_sigma])
    return {"epsilon": epsilon, "shape": list(np.shape(surrogate)),
            "gradient": [None if g is None else float(g) for g in gradients]}


@score_function_surrogate.verdict
def _(student, _reference):
    what = "the gradient of score_function_surrogate(f, mu, log_sigma, epsilon)"
    expect_true(len(student["shape"]) == 0 or int(np.prod(student["shape"])) == 1,
                f"score_function_surrogate returned shape {tuple(student['shape'])}: one scalar, "
                "the mean over the draws")
    if any(g is None for g in student["gradient"]):
        raise CheckFailed(f"{what} with respect to (mu, log_sigma) is None: compute log q(z) "
                          "from the variables mu and log_sigma with TensorFlow ops")
    epsilon = np.asarray(student["epsilon"])
    sigma = math.exp(LOG_SIGMA)
    z = MU + sigma * epsilon
    values, slope = _wiggly_numpy(z)
    reinforce = np.array([np.mean(values * (z - MU) / sigma ** 2),
                          np.mean(values * ((z - MU) ** 2 / sigma ** 2 - 1.0))])
    # The draws not held constant: the tape also differentiates f(z(theta)) log q(z(theta)),
    # whose z-terms change both components.
    log_q = -0.5 * math.log(2 * math.pi) - LOG_SIGMA - 0.5 * epsilon ** 2
    through_z = np.array([np.mean(slope * log_q),
                          np.mean(slope * sigma * epsilon * log_q - values)])
    gradient = np.asarray(student["gradient"], np.float64)
    advice = ""
    if np.isclose(gradient[0], reinforce[0], rtol=1e-6, atol=1e-9):
        advice = ("d/dmu is right, d/dlog_sigma is not: sigma must stay a function of "
                  "log_sigma in log q (tf.exp(log_sigma), not a number), so the tape "
                  "differentiates both -log_sigma and -(z - mu)^2 / (2 sigma^2)")
    draws = len(epsilon)
    expect_close_naming(gradient, reinforce, what, (
        (reinforce * draws, f"S = {draws} times the mean estimate: the sum over the draws "
                            "instead of the mean; the surrogate is mean(f(z) log q(z))"),
        (np.array([reinforce[0], -np.mean(values)]), "d/dlog_sigma is -mean f(z), the "
         "-log_sigma term's alone: sigma in log q is a constant (a Python float, or "
         ".numpy()); sigma must stay a function of log_sigma in log q, tf.exp(log_sigma), so "
         "the tape also differentiates -(z - mu)^2 / (2 sigma^2)"),
        (through_z, "the draws are not held constant, so the tape also differentiates "
                    "f(z) and z in log q(z) through z = mu + sigma * eps: use "
                    "z = tf.stop_gradient(mu + sigma * eps), so the gradient flows through "
                    "the parameters of log q only"),
        (reinforce + np.array([0.0, np.mean(values)]), "log q misses the -log_sigma term of "
                                                       "the normaliser"),
        (-reinforce, "the sign is flipped: the surrogate is +mean(f(z) log q(z))"),
    ), rtol=1e-6, atol=1e-9, advice=advice)


# ---------------------------------------------------------------------------------------------
# Their variances
# ---------------------------------------------------------------------------------------------

@check(points=1, uses=ESTIMATORS,
       task="`reparameterization_gradient`, `score_function_gradient`, "
            "`leave_one_out_baseline` (variances)",
       hint="the three estimators on the same draws: per-draw variance reparameterisation < "
            "REINFORCE with the leave-one-out baseline < REINFORCE")
def estimator_variances(lab, rng):
    """For f(z) = z^2, mu = 1, sigma = 0.5 and the same 1000 draws: the per-draw variance of
    each column is smallest for reparameterisation, larger for REINFORCE with the
    leave-one-out baseline, largest for plain REINFORCE, and equals the reference's."""
    epsilon = _draws_of(rng, 1000)
    log_sigma = math.log(0.5)
    est = lab.estimators
    values = np.asarray(est.draws(1.0, log_sigma, epsilon)) ** 2

    def square(z):
        return z ** 2

    variances = {
        "reparameterisation": est.reparameterization_gradient(square, 1.0, log_sigma, epsilon),
        "REINFORCE": est.score_function_gradient(square, 1.0, log_sigma, epsilon),
        "REINFORCE with the leave-one-out baseline": est.score_function_gradient(
            square, 1.0, log_sigma, epsilon, est.leave_one_out_baseline(values)),
    }
    return {name: np.var(np.asarray(v, np.float64), axis=0) for name, v in variances.items()}


def variance_ratio(output):
    """REINFORCE's per-draw variance of d/dmu over reparameterisation's."""
    return float(output["REINFORCE"][0] / output["reparameterisation"][0])


@estimator_variances.verdict
def _(student, reference):
    order = ["reparameterisation", "REINFORCE with the leave-one-out baseline", "REINFORCE"]
    for name in order:
        expect_shape(np.asarray(student[name]), (2,), f"the per-draw variances of {name}")
    for j, column in enumerate(("d/dmu", "d/dlog_sigma")):
        for lower, higher in zip(order, order[1:]):
            if not student[lower][j] < student[higher][j]:
                raise CheckFailed(f"the per-draw variance of {column} is "
                                  f"{student[lower][j]:.3g} for {lower}, not below "
                                  f"{student[higher][j]:.3g} for {higher}")
    for name in order:
        expected = np.asarray(reference[name], np.float64)
        expect_close_naming(student[name], expected, f"the per-draw variances (d/dmu, "
                            f"d/dlog_sigma) of {name} on the same 1000 draws", (
            (expected / 1000 ** 2, "1/S^2 times the reference's: every per-draw estimate is "
                                   "divided by S = 1000 (a mean instead of a sum)"),
            (expected * 1000 ** 2, "S^2 times the reference's: every per-draw estimate is "
                                   "multiplied by S = 1000 (a sum instead of a mean)"),
        ), rtol=1e-6, atol=1e-9)
