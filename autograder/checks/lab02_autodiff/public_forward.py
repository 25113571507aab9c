"""Public checks of lab02_autodiff, part 2: forward.py, dual numbers. Each JVP against
tf.autodiff.ForwardAccumulator, then whole random programs."""
from autograder.api import check
from autograder.checks.lab02_autodiff.primitives import REDUCTIONS
from autograder.checks.lab02_autodiff.probes import judge_jvps, jvp_probe
from autograder.checks.lab02_autodiff.programs import (
    forward_programs_probe,
    judge_forward_programs,
)


@check(points=2, uses="forward", reference=False,
       task="JVPs of `add`, `sub`, `mul`, `div`, `neg`",
       hint="add/sub: tangents add/subtract; mul: ta * b + a * tb (the product rule); div: "
            "ta / b - a * tb / b**2 (the quotient rule); neg: -ta")
def jvp_arithmetic(lab, rng):
    """Each tangent against ForwardAccumulator, with random input tangents."""
    return jvp_probe(lab, rng, ("add", "sub", "mul", "div", "neg"))


@jvp_arithmetic.verdict
def _(student, _reference):
    judge_jvps(student)


@check(points=1, uses="forward", reference=False,
       task="JVPs of `exp`, `log`, `tanh`, `sigmoid`, `relu`",
       hint="the chain rule: f'(x) * tx, with exp' = exp, log' = 1/x, tanh' = 1 - tanh**2, "
            "sigmoid' = s (1 - s), relu' = (x > 0), so 0 at x == 0")
def jvp_elementwise(lab, rng):
    """Each tangent against ForwardAccumulator, relu's with some inputs exactly 0 (where
    its derivative is 0)."""
    return jvp_probe(lab, rng, ("exp", "log", "tanh", "sigmoid", "relu"))


@jvp_elementwise.verdict
def _(student, _reference):
    judge_jvps(student)


@check(points=1, uses="forward", reference=False,
       task="JVPs of `matmul`, `reduce_sum`, `reduce_mean`",
       hint="matmul: ta @ b + a @ tb; sums and means are linear: reduce the tangent the same "
            "way as the value (same axis and keepdims)")
def jvp_matmul_and_reductions(lab, rng):
    """The tangents of a matrix product and of sums and means over axis None, 0, 1 and -1,
    with and without keepdims, against ForwardAccumulator."""
    return jvp_probe(lab, rng, ("matmul",) + REDUCTIONS)


@jvp_matmul_and_reductions.verdict
def _(student, _reference):
    judge_jvps(student)


@check(points=2, uses="forward", task="the whole forward-mode engine",
       hint="random programs of every primitive with broadcasting: the first wrong tangent "
            "names the primitive whose JVP is off")
def forward_random_programs(lab, rng):
    """Two random programs: every value's tangent against ForwardAccumulator."""
    return forward_programs_probe(lab, rng, count=2, length=16, sizes=lambda r: (3, 4))


@forward_random_programs.verdict
def _(student, _reference):
    judge_forward_programs(student["programs"], "random program")
