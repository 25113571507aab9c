"""Hidden checks of lab02_autodiff: fresh shapes and programs, broadcasting through the whole
reverse-mode engine, and the two modes against each other."""
import numpy as np

from autograder.api import check
from autograder.checks.lab02_autodiff.primitives import BINARY, tensorflow_ops
from autograder.checks.lab02_autodiff.probes import (
    backward_probe,
    jacobian_probe,
    judge_backward,
    judge_cheaper_mode,
    judge_jacobian,
)
from autograder.checks.lab02_autodiff.programs import (
    engine_gradients,
    engine_tangents,
    forward_programs_probe,
    input_tangents,
    judge_forward_programs,
    judge_reverse_programs,
    program_sizes,
    random_program,
    reverse_programs_probe,
)
from autograder.verdicts import expect_close


def random_broadcast_pair(rng):
    """(big, small): a shape, and a shape that broadcasts to it (fewer axes, some set to 1)."""
    big = tuple(int(d) for d in rng.integers(2, 5, size=int(rng.integers(1, 5))))
    small = list(big[int(rng.integers(0, len(big) + 1)):])
    for axis in range(len(small)):
        if rng.random() < 0.4:
            small[axis] = 1
    return big, tuple(small)


@check(points=1, uses="reverse",
       hint="unbroadcast must undo any broadcast: up to 4 axes, leading axes added and size-1 "
            "axes stretched, in any combination")
def unbroadcast_fresh(lab, rng):
    pairs = [random_broadcast_pair(rng) for _ in range(8)]
    return {"pairs": [[list(big), list(small)] for big, small in pairs],
            "grads": [lab.reverse.unbroadcast(rng.normal(size=big), small) for big, small in pairs]}


@unbroadcast_fresh.verdict
def _(student, reference):
    for (big, small), mine, theirs in zip(student["pairs"], student["grads"], reference["grads"]):
        expect_close(mine, theirs, f"unbroadcast(grad of shape {tuple(big)}, {tuple(small)})")


@check(points=1, uses="reverse",
       hint="backward must work on larger graphs, with values of any shape, for the default "
            "seed and a given one")
def backward_fresh(lab, rng):
    shape = tuple(int(d) for d in rng.integers(1, 5, size=int(rng.integers(0, 3))))
    return backward_probe(lab, rng, size=int(rng.integers(14, 20)), shape=shape)


@backward_fresh.verdict
def _(student, reference):
    judge_backward(student, reference)


BROADCAST_PAIRS = [((2, 3, 4), (3, 1)), ((2, 3, 4), (4,)), ((3, 4), ()), ((1, 4), (3, 1)),
                   ((2, 1, 4), (3, 1)), ((5,), (2, 1, 5)), ((3, 1), (1, 3)), ((2, 3), (2, 3))]


@check(points=2, uses="reverse", reference=False,
       hint="every binary op on operands that broadcast, through backward with a random seed: "
            "each operand's .grad must have its own shape (unbroadcast) and TensorFlow's values")
def broadcasting_gradients(lab, rng):
    import tensorflow as tf
    tf_ops, cases = tensorflow_ops(), []
    for name in BINARY:
        for index in rng.choice(len(BROADCAST_PAIRS), size=3, replace=False):
            shapes = list(BROADCAST_PAIRS[index])
            if rng.random() < 0.5:
                shapes.reverse()
            a = rng.normal(size=shapes[0])
            b = (rng.choice([-1.0, 1.0], size=shapes[1]) * rng.uniform(0.5, 2.0, size=shapes[1])
                 if name == "div" else rng.normal(size=shapes[1]))
            seed = rng.normal(size=np.broadcast_shapes(*shapes))
            nodes = [lab.reverse.Node(a), lab.reverse.Node(b)]
            lab.reverse.backward(getattr(lab.reverse, name)(*nodes), seed)
            tensors = [tf.constant(a), tf.constant(b)]
            with tf.GradientTape() as tape:
                tape.watch(tensors)
                result = tf_ops[name](*tensors)
            cases.append({"label": f"{name}(a {shapes[0]}, b {shapes[1]})",
                          "mine": [node.grad for node in nodes],
                          "tape": tape.gradient(result, tensors,
                                                output_gradients=tf.constant(seed))})
    return {"cases": cases}


@broadcasting_gradients.verdict
def _(student, _reference):
    for case in student["cases"]:
        for operand, mine, theirs in zip("ab", case["mine"], case["tape"]):
            expect_close(mine, theirs, f".grad of {operand} after backward({case['label']}, "
                                       "seed) (against tf.GradientTape)")


@check(points=2, uses="reverse", reference=False,
       hint="longer random programs on other shapes must match tf.GradientTape on every value")
def reverse_random_programs_fresh(lab, rng):
    return reverse_programs_probe(lab, rng, count=3, length=24, sizes=program_sizes)


@reverse_random_programs_fresh.verdict
def _(student, _reference):
    judge_reverse_programs(student["programs"], "fresh random program")


@check(points=1, uses="forward", reference=False,
       hint="longer random programs on other shapes must match ForwardAccumulator on every value")
def forward_random_programs_fresh(lab, rng):
    return forward_programs_probe(lab, rng, count=2, length=24, sizes=program_sizes)


@forward_random_programs_fresh.verdict
def _(student, _reference):
    judge_forward_programs(student["programs"], "fresh random program")


@check(points=1, uses=("reverse", "forward"), reference=False,
       hint="for a scalar output, sum over the inputs of <gradient, tangent> (reverse mode) "
            "must equal the output's tangent (forward mode)")
def modes_agree(lab, rng):
    steps = random_program(rng, *program_sizes(rng), 20)
    tangents = input_tangents(rng, steps)
    grads = engine_gradients(lab, steps)
    inputs = [k for k, step in enumerate(steps) if step["op"] == "input"]
    return {"reverse": sum(float(np.sum(np.asarray(grads[k]) * t))
                           for k, t in zip(inputs, tangents)),
            "forward": engine_tangents(lab, steps, tangents)[-1]}


@modes_agree.verdict
def _(student, _reference):
    expect_close(student["reverse"], student["forward"],
                 "sum over the inputs of <gradient, tangent> from backward, against the output "
                 "tangent from the dual numbers, on a random program,")


def fresh_jacobian_shape(rng):
    n = int(rng.integers(1, 8))
    return n, int(rng.choice([m for m in range(1, 8) if m != n]))


@check(points=1, uses="jacobians", reference=False,
       hint="both Jacobians must hold for any n and m, also n == 1 or m == 1, with exactly n "
            "forward passes, or one recorded tape and m backward passes")
def jacobians_fresh(lab, rng):
    n, m = fresh_jacobian_shape(rng)
    return jacobian_probe(lab, rng, n=n, m=m)


@jacobians_fresh.verdict
def _(student, _reference):
    judge_jacobian(student, "forward")
    judge_jacobian(student, "reverse")


def random_shape(rng):
    return tuple(int(d) for d in rng.integers(1, 7, size=int(rng.integers(0, 4))))


@check(points=1, uses="jacobians",
       hint="count the entries of each shape (a shape of () has one entry)")
def cheaper_mode_fresh(lab, rng):
    cases = [(random_shape(rng), random_shape(rng)) for _ in range(10)]
    return {"cases": [[list(i), list(o)] for i, o in cases],
            "answers": [str(lab.jacobians.cheaper_mode(i, o)) for i, o in cases]}


@cheaper_mode_fresh.verdict
def _(student, reference):
    cases = [(tuple(i), tuple(o)) for i, o in student["cases"]]
    judge_cheaper_mode(cases, student["answers"], reference["answers"])
