"""Public checks of lab02_autodiff, part 3: jacobians.py. f is written by the probe
straight on Node and Dual and counts its passes; reverse mode runs on the check's own
backward, so only jacobian_reverse's own mistakes cost its points."""
from autograder.api import check
from autograder.checks.lab02_autodiff.probes import (
    CHEAPER_CASES,
    jacobian_probe,
    judge_cheaper_mode,
    judge_jacobian,
)


@check(points=2, uses=("jacobians", "forward"), reference=False, task="`jacobian_forward`",
       hint="column j of J is the tangent jvp(f, x, e_j) returns; stack the n columns with "
            "axis=1 so J has shape (m, n)")
def jacobian_forward(lab, rng):
    """The (3, 5) Jacobian of tanh(A x), from exactly 5 calls of f."""
    return jacobian_probe(lab, rng, n=5, m=3, modes=("forward",))


@jacobian_forward.verdict
def _(student, _reference):
    judge_jacobian(student, "forward")


@check(points=2, uses=("jacobians", "reverse"), reference=False, task="`jacobian_reverse`",
       hint="out = f(Node(x)) once; then for each i, backward(out, e_i) and copy x.grad as row i")
def jacobian_reverse(lab, rng):
    """The (3, 5) Jacobian of tanh(A x), from one call of f and 3 backward passes (the
    check's own backward)."""
    return jacobian_probe(lab, rng, n=5, m=3, modes=("reverse",))


@jacobian_reverse.verdict
def _(student, _reference):
    judge_jacobian(student, "reverse")


@check(points=1, uses="jacobians", task="`cheaper_mode`",
       hint="forward mode costs one pass per input entry, reverse mode one per output entry; "
            "a tie goes to forward")
def cheaper_mode(lab, rng):
    """Forward or reverse mode, for six pairs of shapes (a tie among them)."""
    return {"answers": [str(lab.jacobians.cheaper_mode(i, o)) for i, o in CHEAPER_CASES]}


@cheaper_mode.verdict
def _(student, reference):
    judge_cheaper_mode(CHEAPER_CASES, student["answers"], reference["answers"])
