"""Public checks of lab23_nngp_ntk, part 1: the arc-cosine expectations, the NNGP and NTK
recursions and GP regression. Each is compared tightly with the reference, and with a
computation of the checks' own: quadrature, random wide networks drawn in numpy (their
output covariance, their NTK by backpropagation written out), scipy's Cholesky solver."""
import numpy as np

from autograder.api import check
from autograder.checks.lab23_nngp_ntk.probes import (
    independent_expectations,
    judge_monte_carlo,
    judge_tight,
    random_network_kernels,
    unit_inputs,
)
from autograder.verdicts import expect_close_naming, expect_shape, expect_true


def _expect_finite(value, what):
    """A kernel with nan or inf is named, with the usual cause: arccos of a cosine that rounding
    pushed just past +-1 (on the diagonal, where x1_i = x2_j)."""
    value = np.asarray(value, dtype=np.float64)
    bad = np.argwhere(~np.isfinite(value))
    expect_true(bad.size == 0, f"{what}[{bad[0][0] if bad.size else 0}, "
                f"{bad[0][1] if bad.size else 0}] is not finite "
                f"({value[tuple(bad[0])] if bad.size else 0}): where x1_i = x2_j, rounding puts "
                "k12 / sqrt(k11 k22) just past 1, and arccos of it is nan: clip cos(theta) to "
                "[-1, 1] in relu_expectations")


def _scaled_inputs(rng, n, dim):
    """Points of different norms (0.5 to 2), so a kernel that assumes unit inputs fails."""
    return unit_inputs(rng, n, dim) * rng.uniform(0.5, 2.0, size=(n, 1))


@check(points=2, task="`relu_expectations`",
       hint="cos(theta) = k12 / sqrt(k11 k22); E[relu relu] = sqrt(k11 k22) / (2 pi) * "
       "(sin(theta) + (pi - theta) cos(theta)); E[relu' relu'] = (pi - theta) / (2 pi)")
def relu_expectations(lab, rng):
    """Both expectations for 44 covariances (unequal variances, correlations from -1 to 1, and
    equal or opposite vectors of large norm, whose cosine rounds just past +-1),
    against quadrature (scipy's bivariate normal CDF for the second) and the reference."""
    k11 = rng.uniform(0.3, 3.0, size=40)
    k22 = rng.uniform(0.3, 3.0, size=40)
    rho = np.concatenate([[-1.0, -0.999, 0.0, 0.999, 1.0], rng.uniform(-0.95, 0.95, size=35)])
    k12 = rho * np.sqrt(k11 * k22)
    # Identical (and opposite) vectors of large norm: k12 = +-k11 = +-k22 up to rounding, which
    # pushes k12 / sqrt(k11 k22) a few ulps past +-1, as in a kernel's own diagonal.
    big = np.full(4, 1e4) * rng.uniform(1.0, 3.0, size=4)
    k11, k22 = np.concatenate([k11, big ** 2]), np.concatenate([k22, big ** 2])
    k12 = np.concatenate([k12, big ** 2 * (1 + np.array([2.0, 6.0, -2.0, -6.0]) * 2.0 ** -52)
                          * np.array([1.0, 1.0, -1.0, -1.0])])
    e_relu, e_step = lab.kernels.relu_expectations(k12, k11, k22)
    quad_relu, quad_step = independent_expectations(k12, k11, k22)
    return {"e_relu": e_relu, "e_step": e_step, "quad_relu": quad_relu,
            "quad_step": quad_step, "k12": k12, "k11": k11, "k22": k22}


@relu_expectations.verdict
def _(student, reference):
    k12, k11, k22 = student["k12"], student["k11"], student["k22"]
    theta = np.arccos(np.clip(k12 / np.sqrt(k11 * k22), -1, 1))
    for index, key in enumerate(("e_relu", "e_step")):
        value = expect_shape(student[key], (44,), f"relu_expectations(k12, k11, k22)[{index}] "
                             "for 44 covariances")
        bad = np.flatnonzero(~np.isfinite(value))
        expect_true(bad.size == 0, f"relu_expectations(k12, k11, k22)[{index}] is "
                    f"{value[bad[0]] if bad.size else 0} for k12 / sqrt(k11 k22) = "
                    f"{k12[bad[0]] / np.sqrt(k11[bad[0]] * k22[bad[0]]) if bad.size else 0:.17g} "
                    "(rounding puts the cosine of equal or opposite vectors just past +-1): clip "
                    "cos(theta) to [-1, 1] before arccos")
    # E[relu relu] over sqrt(k11 k22): of order 1 at every scale, so one tolerance fits the
    # covariances of norm 1e8 as well (their rounding is that large in absolute terms).
    scale = np.sqrt(k22) * np.sqrt(k11)
    expect_close_naming(
        student["e_relu"] / scale, reference["e_relu"] / scale,
        "relu_expectations(...)[0] / sqrt(k11 k22)",
        [(2 * reference["e_relu"] / scale, "1/pi instead of 1/(2 pi)"),
         ((np.sin(theta) + theta * np.cos(theta)) / (2 * np.pi),
          "theta in place of pi - theta")], rtol=1e-6, atol=1e-9)
    expect_close_naming(
        student["e_step"], reference["e_step"], "relu_expectations(...)[1]",
        [(theta / (2 * np.pi), "theta / (2 pi) instead of (pi - theta) / (2 pi)"),
         ((np.pi - theta) / np.pi, "(pi - theta) / pi (missing the 2)")],
        rtol=1e-6, atol=1e-9)
    for key, quad, name in (("e_relu", "quad_relu", "E[relu(u) relu(v)]"),
                            ("e_step", "quad_step", "E[relu'(u) relu'(v)]")):
        what = f"relu_expectations(k12, k11, k22): {name}"
        value = expect_shape(student[key], (44,), what)
        expect_true(np.all(np.abs(value - student[quad]) <= 0.02 * np.abs(student[quad]) + 2e-3),
                    f"{what} is off quadrature by up to "
                    f"{np.abs(value - student[quad]).max():.3g}: check the 1/(2 pi), the angle "
                    "(pi - theta, not theta) and sqrt(k11 k22)")


NNGP_MC = {"depth": 2, "width": 256, "weight_var": 2.0, "bias_var": 0.3, "nets": 40}


@check(points=2, task="`ntk_kernel` (its NNGP half, returned by `nngp_kernel`)",
       hint="K^1 = bias_var + weight_var x1 x2^T / d (the /d matters), then depth times "
       "K = bias_var + weight_var E[relu relu], with the diagonals updated the same way")
def nngp_kernel(lab, rng):
    """nngp_kernel(x1, x2) of inputs of different norms, depths 1 and 3, against the
    reference, and nngp_kernel(x, x) against the output covariance of 40 random ReLU networks
    of width 256 (numpy), within 5 standard errors plus 2 % for the finite width."""
    x1, x2 = _scaled_inputs(rng, 4, 3), _scaled_inputs(rng, 6, 3)
    x = _scaled_inputs(rng, 5, 3)
    covariances, _ = random_network_kernels(
        x, NNGP_MC["depth"], NNGP_MC["width"], NNGP_MC["weight_var"], NNGP_MC["bias_var"],
        NNGP_MC["nets"], rng)
    k = lab.kernels.nngp_kernel
    return {"cross_1": k(x1, x2, 1, 2.0, 0.1), "cross_3": k(x1, x2, 3, 1.5, 0.4),
            "same": k(x, x, NNGP_MC["depth"], NNGP_MC["weight_var"], NNGP_MC["bias_var"]),
            "samples": covariances}


def _judge_kernel(student, reference, function: str, part: str, samples: str) -> None:
    """The depth-2 kernel of x against random networks' `samples`, the two cross kernels
    against the reference; `part` is "" or "[1]" (ntk_kernel's NTK half)."""
    same = f"{function}(x, x, depth=2){part}"
    _expect_finite(expect_shape(student["same"], (5, 5), same), same)
    judge_monte_carlo(student["same"], student["samples"], same, samples)
    for key, what in (("cross_1", f"{function}(x1, x2, depth=1, 2.0, 0.1){part}"),
                      ("cross_3", f"{function}(x1, x2, depth=3, 1.5, 0.4){part}")):
        expect_shape(student[key], (4, 6), f"{what} for x1 (4, 3) and x2 (6, 3)")
        judge_tight(student[key], reference[key], what)


@nngp_kernel.verdict
def _(student, reference):
    _judge_kernel(student, reference, "nngp_kernel", "",
                  "the output covariances of random ReLU networks of width 256")


NTK_MC = {"depth": 2, "width": 384, "weight_var": 2.0, "bias_var": 0.2, "nets": 16}


@check(points=2, task="`ntk_kernel`",
       hint="Theta^1 = K^1; then Theta^{l+1} = K^{l+1} + weight_var * E[relu' relu'] * "
       "Theta^l, with both expectations under K^l (the previous layer's kernel)")
def ntk_kernel(lab, rng):
    """The NTK of ntk_kernel(x1, x2) at depths 1 and 3, against the reference, and at depth 2
    against the NTK of 16 random networks of width 384 (numpy, backpropagation written out),
    within 5 standard errors plus 2 %."""
    x1, x2 = _scaled_inputs(rng, 4, 3), _scaled_inputs(rng, 6, 3)
    x = unit_inputs(rng, 5, 3)
    _, ntks = random_network_kernels(x, NTK_MC["depth"], NTK_MC["width"], NTK_MC["weight_var"],
                                     NTK_MC["bias_var"], NTK_MC["nets"], rng)
    k = lab.kernels.ntk_kernel
    return {"cross_1": k(x1, x2, 1, 2.0, 0.1)[1], "cross_3": k(x1, x2, 3, 1.5, 0.4)[1],
            "same": k(x, x, NTK_MC["depth"], NTK_MC["weight_var"], NTK_MC["bias_var"])[1],
            "samples": ntks}


@ntk_kernel.verdict
def _(student, reference):
    _judge_kernel(student, reference, "ntk_kernel", "[1]",
                  "the NTKs of random ReLU networks of width 384")


@check(points=2, task="`gp_posterior`",
       hint="with L = cholesky(K + noise I): mean = K* (K + noise I)^-1 y, var = diag(K**) - "
       "diag(K* (K + noise I)^-1 K*^T): the noise goes on the training kernel only")
def gp_posterior(lab, rng):
    """Posterior mean and variance with an RBF kernel, 12 training and 7 test points, two
    noise levels, against scipy's cho_factor / cho_solve."""
    from scipy.linalg import cho_factor, cho_solve
    x = rng.uniform(-2, 2, size=(12, 2))
    xs = rng.uniform(-2, 2, size=(7, 2))
    y = np.sin(x[:, 0]) + 0.1 * rng.normal(size=12)

    def rbf(a, b):
        return 1.3 * np.exp(-0.5 * ((a[:, None] - b[None]) ** 2).sum(-1) / 0.8 ** 2)

    out = {}
    for name, noise in (("noisy", 0.3), ("quiet", 1e-3)):
        mean, var = lab.kernels.gp_posterior(rbf(x, x), rbf(xs, x), np.diag(rbf(xs, xs)),
                                             y, noise)
        factor = cho_factor(rbf(x, x) + noise * np.eye(12))
        out[name] = {"mean": mean, "var": var,
                     "no_noise_mean": rbf(xs, x) @ np.linalg.solve(rbf(x, x), y),
                     "half_solve_mean": rbf(xs, x) @ np.linalg.solve(
                         np.linalg.cholesky(rbf(x, x) + noise * np.eye(12)), y),
                     "scipy_mean": rbf(xs, x) @ cho_solve(factor, y),
                     "scipy_var": np.diag(rbf(xs, xs) - rbf(xs, x) @ cho_solve(factor,
                                                                               rbf(x, xs)))}
    return out


@gp_posterior.verdict
def _(student, reference):
    for name, noise in (("noisy", 0.3), ("quiet", 1e-3)):
        s = student[name]
        what = f"gp_posterior(K, K*, diag K**, y, noise_var={noise})"
        expect_close_naming(expect_shape(s["mean"], (7,), f"the mean of {what}"),
                            s["scipy_mean"], f"the mean of {what}",
                            [(s["no_noise_mean"], "noise_var is left out: factor K + noise_var I, "
                              "not K"),
                             (s["half_solve_mean"], "alpha = L^-1 y is half the solve: alpha = "
                              "L^-T (L^-1 y)")], rtol=1e-6, atol=1e-8)
        expect_close_naming(
            expect_shape(s["var"], (7,), f"the variance of {what}"), s["scipy_var"],
            f"the variance of {what}",
            [(s["scipy_var"] + noise, "noise_var added to the test variance")],
            advice="the variance is that of f(x*), without the "
            "observation noise", rtol=1e-6, atol=1e-8)
        judge_tight(s["mean"], reference[name]["mean"], f"the mean of {what}")
