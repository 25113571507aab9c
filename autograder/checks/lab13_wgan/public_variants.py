"""Public checks of lab13_wgan, part 5: the f-GAN variant (fgan_losses.py), each function on
its own."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import tensor
from autograder.checks.lab13_wgan.probes import DIVERGENCES, FGAN, elementwise, scalar
from autograder.verdicts import expect_close, expect_true

# Scores where sigmoid(v) rounds to 0 or 1 in float32: only a hand-simplified formula holds.
LARGE_SCORES = np.array([-120.0, -30.0, 30.0, 60.0], dtype=np.float32)


def fgan_values(lab, v):
    shape = v.shape
    out = {}
    for divergence in DIVERGENCES:
        out[divergence] = {
            "activation": elementwise(lab.fgan_losses.fgan_activation(tensor(v), divergence),
                                      shape, f"fgan_activation(v, {divergence!r})"),
            "conjugate": elementwise(lab.fgan_losses.fgan_conjugate(tensor(v), divergence),
                                     shape, f"fgan_conjugate(v, {divergence!r})")}
    return out


def judge_fgan_values(student, reference, where):
    for divergence in DIVERGENCES:
        for part, formula in (("activation", "g_f(v)"), ("conjugate", "f*(g_f(v))")):
            expect_close(student[divergence][part], reference[divergence][part],
                         f"fgan_{part}(v, {divergence!r}) = {formula} {where}")


@check(points=2, uses=FGAN, task="`fgan_activation`, `fgan_conjugate`",
       hint="g_f: v for kl and pearson, log 2 - softplus(-v) for js; f*(g_f(v)): exp(v - 1), "
            "v^2/4 + v, and for js softplus(v) - log 2 (worked out by hand: the literal "
            "-log(2 - exp(g_f(v))) is log(0) once sigmoid(v) rounds to 1)")
def fgan_activation_and_conjugate(lab, rng):
    """g_f(v) and f*(g_f(v)) of the three divergences on random scores, and on scores
    -120, -30, 30 and 60, where they must stay finite: against the reference."""
    return {"random": fgan_values(lab, 3.0 * rng.normal(size=(40,))),
            "large": fgan_values(lab, LARGE_SCORES)}


@fgan_activation_and_conjugate.verdict
def _(student, reference):
    judge_fgan_values(student["random"], reference["random"], "on random scores")
    where = f"at v = {', '.join(f'{v:g}' for v in LARGE_SCORES)}"
    for divergence in DIVERGENCES:
        for part in ("activation", "conjugate"):
            values = np.asarray(student["large"][divergence][part], dtype=np.float64)
            bad = [f"{v:g}" for v, ok in zip(LARGE_SCORES, np.isfinite(values)) if not ok]
            expect_true(not bad, f"fgan_{part}(v, {divergence!r}) is NaN or inf at v = "
                        f"{', '.join(bad)}: once sigmoid(v) rounds to 0 or 1 in float32, a "
                        "log of it (or of 2 - exp(g_f(v))) is infinite; use the forms "
                        "simplified by hand, which hold for every v")
    judge_fgan_values(student["large"], reference["large"], where)
@check(points=1, uses=FGAN, task="`fgan_critic_loss`, `fgan_generator_loss`",
       hint="critic: -(mean fgan_activation(real) - mean fgan_conjugate(fake)); generator: "
            "-mean fgan_activation(fake)")
def fgan_losses(lab, rng):
    """Both f-GAN losses of the three divergences on random scores, against the reference."""
    real, fake = rng.normal(0.5, 1.5, size=(30, 1)), rng.normal(size=(20, 1))
    losses = lab.fgan_losses
    return {divergence: {
        "critic": scalar(losses.fgan_critic_loss(tensor(real), tensor(fake), divergence),
                         f"fgan_critic_loss(..., {divergence!r})"),
        "generator": scalar(losses.fgan_generator_loss(tensor(fake), divergence),
                            f"fgan_generator_loss(..., {divergence!r})")}
        for divergence in DIVERGENCES}


@fgan_losses.verdict
def _(student, reference):
    for divergence in DIVERGENCES:
        for part in ("critic", "generator"):
            expect_close(student[divergence][part], reference[divergence][part],
                         f"fgan_{part}_loss(real_scores, fake_scores, {divergence!r})")


# P = N(0, 1), Q = N(SHIFT, 1): log p/q = SHIFT^2/2 - SHIFT x, and the optimal raw scores.
SHIFT = 1.0
GRID = np.linspace(-10.0, 11.0, 8401)


def optimal_scores(divergence, log_ratio):
    if divergence == "kl":        # T* = f'(r) = 1 + log r, g = identity
        return 1.0 + log_ratio
    if divergence == "js":        # T* = log(2r / (r + 1)) = g(v) with v = log r
        return log_ratio
    return 2.0 * (np.exp(log_ratio) - 1.0)   # pearson: T* = 2 (r - 1)


@check(points=2, uses=FGAN, reference=False, task="`fgan_activation`, `fgan_conjugate`",
       hint="at the optimal critic T* = f'(p/q) the bound E_P[g_f(v)] - E_Q[f*(g_f(v))] equals "
            "D_f(P || Q): check the g_f and f* columns of the table")
def fgan_bound_is_tight_at_the_optimal_critic(lab, rng):
    """For P = N(0, 1), Q = N(1, 1), the bound E_P[g_f(v)] - E_Q[f*(g_f(v))] at the optimal
    critic v* equals D_f(P || Q) to 0.1 %, and is smaller at v* + 0.3."""
    log_ratio = SHIFT ** 2 / 2 - SHIFT * GRID
    out = {}
    for divergence in DIVERGENCES:
        for name, offset in (("optimal", 0.0), ("perturbed", 0.3)):
            v = (optimal_scores(divergence, log_ratio) + offset).astype(np.float32)
            out[f"{divergence}_{name}"] = fgan_values_for(lab, v, divergence)
    return out


def fgan_values_for(lab, v, divergence):
    losses = lab.fgan_losses
    return {"activation": elementwise(losses.fgan_activation(tensor(v), divergence), v.shape,
                                      f"fgan_activation(v, {divergence!r})"),
            "conjugate": elementwise(losses.fgan_conjugate(tensor(v), divergence), v.shape,
                                     f"fgan_conjugate(v, {divergence!r})")}


def true_divergence(divergence):
    """D_f(P || Q) = E_Q f(p/q), by quadrature on GRID."""
    ratio = np.exp(SHIFT ** 2 / 2 - SHIFT * GRID)
    f = {"kl": lambda u: u * np.log(u),
         "js": lambda u: u * np.log(u) - (u + 1) * np.log((u + 1) / 2),
         "pearson": lambda u: (u - 1) ** 2}[divergence]
    return np.trapezoid(gaussian(GRID, SHIFT) * f(ratio), GRID)


def gaussian(x, mean):
    return np.exp(-0.5 * (x - mean) ** 2) / np.sqrt(2 * np.pi)


def bound(values):
    activation = np.asarray(values["activation"], dtype=np.float64)
    conjugate = np.asarray(values["conjugate"], dtype=np.float64)
    return (np.trapezoid(gaussian(GRID, 0.0) * activation, GRID)
            - np.trapezoid(gaussian(GRID, SHIFT) * conjugate, GRID))


@fgan_bound_is_tight_at_the_optimal_critic.verdict
def _(student, reference):
    for divergence in DIVERGENCES:
        truth = true_divergence(divergence)
        tight = bound(student[f"{divergence}_optimal"])
        loose = bound(student[f"{divergence}_perturbed"])
        what = (f"{divergence!r}, P = N(0, 1), Q = N({SHIFT:g}, 1): the f-GAN bound "
                f"E_P[g_f(v)] - E_Q[f*(g_f(v))] at the optimal critic v*")
        expect_true(np.isfinite(tight) and abs(tight - truth) <= 1e-3 * max(1.0, abs(truth)),
                    f"{what} is {tight:.5g}, but D_f(P || Q) = {truth:.5g}: the bound must be "
                    "tight there (check fgan_activation and fgan_conjugate)")
        expect_true(loose < tight,
                    f"{what} + 0.3 is {loose:.5g}, not below the bound at v* ({tight:.5g}): "
                    "a lower bound must be largest at the optimal critic")
