"""Public checks of lab03_optimization, part 2: curvature, step sizes and input scaling
(conditioning.py), and momentum against gradient descent on an ill-conditioned quadratic."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.checks.lab03_optimization.probes import (
    convergence_probe,
    judge_convergence,
    judge_standardize,
    quadratic,
    scale_problem,
)
from autograder.verdicts import as_array, expect_close, expect_true

# Symmetric matrices with no minimum: condition_number must say np.inf, where
# np.linalg.cond (|lambda| largest over smallest) gives a finite number.
INDEFINITE = (-2.0, 1.0, 4.0, 8.0)


@check(points=1, uses="conditioning",
       task="`least_squares_hessian`, `condition_number` (conditioning.py)",
       hint="least_squares_hessian: x.T @ x / N; condition_number: largest over smallest "
            "eigenvalue (np.linalg.eigvalsh for a symmetric matrix), np.inf when the smallest "
            "is <= 0")
def hessian_and_condition_number(lab, rng):
    """The Hessian of a least-squares loss, and condition numbers of positive definite,
    indefinite and negative definite matrices (np.inf for the last two)."""
    x = rng.normal(size=(40, 5)) * np.array([0.1, 1.0, 3.0, 10.0, 1.0]) + 2.0
    hessian, _ = quadratic(rng, 6, 250.0)
    rotation, _ = np.linalg.qr(rng.normal(size=(len(INDEFINITE), len(INDEFINITE))))
    indefinite = (rotation * np.array(INDEFINITE)) @ rotation.T
    conditioning = lab.conditioning
    return {"hessian": conditioning.least_squares_hessian(x),
            "kappa": conditioning.condition_number(hessian),
            "kappa_of_inputs": conditioning.condition_number(x.T @ x / len(x)),
            "kappa_indefinite": conditioning.condition_number(indefinite),
            "kappa_negative": conditioning.condition_number(-hessian)}


@hessian_and_condition_number.verdict
def _(student, reference):
    expect_close(student["hessian"], reference["hessian"], "least_squares_hessian(x) for x (40, 5)")
    expect_close(student["kappa"], reference["kappa"],
                 "condition_number(A) of a 6x6 Hessian with eigenvalues from 1 to 250",
                 rtol=1e-6)
    expect_close(student["kappa_of_inputs"], reference["kappa_of_inputs"],
                 "condition_number(x.T @ x / N)", rtol=1e-6)
    for key, eigenvalues in (("kappa_indefinite", np.array(INDEFINITE)),
                             ("kappa_negative", -np.geomspace(1.0, 250.0, 6))):
        what = (f"condition_number(A) of a symmetric matrix with eigenvalues "
                f"{np.array2string(eigenvalues, precision=3)}")
        got = float(as_array(student[key], what).reshape(-1)[0])
        if got == np.inf:
            continue
        magnitudes = np.abs(eigenvalues)
        slip = ""
        if np.isclose(got, magnitudes.max() / magnitudes.min(), rtol=1e-6):
            slip = (": that is |lambda|_max / |lambda|_min, what np.linalg.cond computes "
                    "(singular values), finite even when A has negative eigenvalues")
        elif np.isclose(got, eigenvalues.max() / eigenvalues.min(), rtol=1e-6):
            slip = ": that is largest / smallest with no test of the smallest's sign"
        raise CheckFailed(f"{what} is {got:.4g}; it must be np.inf: with an eigenvalue <= 0 "
                          f"the quadratic has no minimum (the docstring's contract){slip}")


@check(points=2, uses="conditioning",
       task="`gradient_descent_parameters`, `heavy_ball_parameters`",
       hint="with L, mu the extreme eigenvalues and kappa = L / mu: gradient descent lr = "
            "2 / (L + mu), rate (kappa - 1) / (kappa + 1); heavy ball lr = 4 / (sqrt(L) + "
            "sqrt(mu))^2, momentum = rate^2 with rate = (sqrt(kappa) - 1) / (sqrt(kappa) + 1)")
def step_size_rules(lab, rng):
    """The best constant learning rate, momentum and contraction rate of gradient descent
    and of the heavy ball, for a Hessian with eigenvalues from 3 to 150."""
    hessian, _ = quadratic(rng, 5, 50.0)
    hessian *= 3.0  # eigenvalues from 3 to 150: lr must depend on L and mu, not only kappa
    return {"gradient_descent": list(lab.conditioning.gradient_descent_parameters(hessian)),
            "heavy_ball": list(lab.conditioning.heavy_ball_parameters(hessian))}


@step_size_rules.verdict
def _(student, reference):
    names = {"gradient_descent": ("learning_rate", "rate"),
             "heavy_ball": ("learning_rate", "momentum", "rate")}
    for method, fields in names.items():
        got = student[method]
        expect_true(len(got) == len(fields),
                    f"{method}_parameters(A) returned {len(got)} values, expected "
                    f"{len(fields)}: {fields}")
        for field, mine, theirs in zip(fields, got, reference[method]):
            expect_close(np.float64(mine), np.float64(theirs),
                         f"the {field} of {method}_parameters(A) for eigenvalues 3 to 150",
                         rtol=1e-6)


QUADRATIC = {"dim": 10, "kappa": 100.0, "tolerance": 1e-4, "max_steps": 2000}


@check(points=2, uses="optimizers", task="(your `MomentumSGD`)",
       hint="with the right momentum, MomentumSGD needs about sqrt(kappa) times fewer steps "
            "than gradient descent; if sgd_momentum passes, the update itself is right")
def momentum_on_ill_conditioned_quadratic(lab, rng):
    """Steps to converge on a 10-d quadratic with condition number 100, for gradient descent
    and for the heavy ball at Polyak's constants: each within 5 % of the reference's."""
    return convergence_probe(lab, rng, QUADRATIC)


@momentum_on_ill_conditioned_quadratic.verdict
def _(student, reference):
    judge_convergence(student, reference, QUADRATIC)


@check(points=1, uses="conditioning", task="`standardize`",
       hint="the mean and std (np.std's, ddof=0) of x_train, over axis 0, scale BOTH sets; a "
            "std <= epsilon becomes 1, so a constant feature is only centred")
def standardize(lab, rng):
    """Features with wildly different offsets and scales, one constant in training: both
    sets scaled with the training statistics, the constant feature only centred."""
    x_train, x_test = scale_problem(rng, 30, 12, 6)
    train, test = lab.conditioning.standardize(x_train, x_test)
    return {"train": train, "test": test, "x_train": x_train, "x_test": x_test}


@standardize.verdict
def _(student, reference):
    judge_standardize(student, reference, "standardize(x_train, x_test)")
