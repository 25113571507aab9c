"""Public checks of lab02_autodiff, part 1: reverse.py, the tape.

The engine's machinery (unbroadcast, topological_order, backward) is checked on graphs whose
VJPs the probe writes itself, and backward runs on the check's own unbroadcast and
topological_order, so each costs only its own points. The VJPs are called one primitive at
a time and held against tf.GradientTape. The random programs then run the whole engine."""
from autograder.api import check
from autograder.checks.lab02_autodiff.primitives import REDUCTIONS
from autograder.checks.lab02_autodiff.probes import (
    ancestors,
    backward_probe,
    judge_backward,
    judge_vjps,
    random_dag,
    vjp_probe,
)
from autograder.checks.lab02_autodiff.programs import (
    judge_reverse_programs,
    reverse_programs_probe,
)
from autograder.verdicts import expect_close, expect_true

UNBROADCAST_CASES = [((3, 4), (4,)), ((3, 4), (3, 1)), ((3, 4), ()), ((2, 3, 4), (3, 1)),
                     ((2, 3, 4), (1, 4)), ((2, 3, 4), (2, 1, 4)), ((3, 4), (3, 4))]


@check(points=2, uses="reverse", task="`unbroadcast`",
       hint="sum over the leading axes broadcasting added (grad.ndim - len(shape) of them), "
            "then with keepdims=True over every axis where shape is 1 and grad is not")
def unbroadcast(lab, rng):
    """(3, 4) and (2, 3, 4) gradients summed back to (4,), (3, 1), (), (1, 4), (2, 1, 4) and
    their own shape."""
    return {"grads": [lab.reverse.unbroadcast(rng.normal(size=big), small)
                      for big, small in UNBROADCAST_CASES]}


@unbroadcast.verdict
def _(student, reference):
    for (big, small), mine, theirs in zip(UNBROADCAST_CASES, student["grads"],
                                          reference["grads"]):
        expect_close(mine, theirs, f"unbroadcast(grad of shape {big}, {small})")


@check(points=2, uses="reverse", reference=False, task="`topological_order`",
       hint="depth-first search from the output: append a node only after all its parents, "
            "and remember visited nodes so one reached along two paths appears once")
def topological_order(lab, rng):
    """A valid order of a 14-node DAG: the output's ancestors, each once, parents first,
    the output last."""
    parents = random_dag(rng, 14)
    nodes = []
    for mine in parents:
        nodes.append(lab.reverse.Node(0.0, [nodes[p] for p in mine], [None] * len(mine)))
    output = 11  # nodes 12 and 13 do not feed it: they must not appear
    index = {id(node): k for k, node in enumerate(nodes)}
    order = lab.reverse.topological_order(nodes[output])
    return {"parents": parents, "output": output,
            "order": [index.get(id(node), -1) for node in order]}


@topological_order.verdict
def _(student, _reference):
    parents, output, order = student["parents"], student["output"], list(student["order"])
    what = (f"topological_order(node {output}) of a {len(parents)}-node graph (parents: "
            + ", ".join(f"{k}: {p}" for k, p in enumerate(parents) if p) + ")")
    expect_true(-1 not in order, f"{what} returned something that is not a node of the graph")
    repeated = sorted({k for k in order if order.count(k) > 1})
    expect_true(not repeated, f"{what} lists nodes {repeated} more than once: skip the nodes "
                              "already visited")
    needed = ancestors(parents, output)
    missing, extra = sorted(needed - set(order)), sorted(set(order) - needed)
    expect_true(not missing, f"{what} misses nodes {missing}")
    expect_true(not extra, f"{what} lists nodes {extra}, which node {output} does not depend on")
    position = {k: i for i, k in enumerate(order)}
    for k in order:
        for parent in parents[k]:
            expect_true(position[parent] < position[k],
                        f"{what} puts node {k} before its parent {parent}: a node must come "
                        "after all its parents")
    expect_true(order[-1] == output, f"{what} must end with the output node {output}")


@check(points=3, uses="reverse", task="`backward`",
       hint="zero every node's grad, set the output's grad to (a copy of) the seed, visit the "
            "nodes in reversed topological order and ADD unbroadcast(vjp(node.grad), "
            "parent.shape) to each parent's grad with parent.grad = parent.grad + ...: a node "
            "used twice gets both contributions")
def backward(lab, rng):
    """`.grad` of every node of a 9-node DAG with reused nodes, broadcast inputs and VJPs
    that return g itself or a read-only view: after backward(output), again after a second
    backward on the same graph, and for an inner node with a random seed."""
    return backward_probe(lab, rng, size=9, shape=(2, 3))


@backward.verdict
def _(student, reference):
    judge_backward(student, reference)


@check(points=2, uses="reverse", reference=False,
       task="VJPs of `add`, `sub`, `mul`, `div`, `neg`",
       hint="add: (g, g); sub: (g, -g); mul: (g * b, g * a), each operand gets the OTHER "
            "operand; div: (g / b, -g * a / b**2); neg: -g")
def vjp_arithmetic(lab, rng):
    """Each operand's VJP against tf.GradientTape with the same upstream gradient."""
    return vjp_probe(lab, rng, ("add", "sub", "mul", "div", "neg"))


@vjp_arithmetic.verdict
def _(student, _reference):
    judge_vjps(student)


@check(points=2, uses="reverse", reference=False,
       task="VJPs of `exp`, `log`, `tanh`, `sigmoid`, `relu`",
       hint="exp: g * exp(x); log: g / x; tanh: g * (1 - tanh(x)**2); sigmoid: g * s * (1 - s); "
            "relu: g * (x > 0), so 0 at x == 0")
def vjp_elementwise(lab, rng):
    """Each VJP against tf.GradientTape, relu's with some inputs exactly 0 (where it is 0)."""
    return vjp_probe(lab, rng, ("exp", "log", "tanh", "sigmoid", "relu"))


@vjp_elementwise.verdict
def _(student, _reference):
    judge_vjps(student)


@check(points=1, uses="reverse", reference=False, task="VJP of `matmul`",
       hint="out = a @ b: da = g @ b.T and db = a.T @ g; each has its operand's shape")
def vjp_matmul(lab, rng):
    """Both operands' VJPs of a (3, 4) @ (4, 5) product against tf.GradientTape."""
    return vjp_probe(lab, rng, ("matmul",))


@vjp_matmul.verdict
def _(student, _reference):
    judge_vjps(student)


@check(points=2, uses="reverse", reference=False, task="VJPs of `reduce_sum`, `reduce_mean`",
       hint="np.expand_dims(g, axis) puts back the summed axis (unless keepdims), then "
            "np.broadcast_to(g, x.shape); the mean also divides by the number of entries "
            "averaged")
def vjp_reductions(lab, rng):
    """Sums and means over axis None, 0, 1 and -1, with and without keepdims, against
    tf.GradientTape."""
    return vjp_probe(lab, rng, REDUCTIONS)


@vjp_reductions.verdict
def _(student, _reference):
    judge_vjps(student)


@check(points=3, uses="reverse", task="the whole reverse-mode engine",
       hint="a random program of every primitive, with broadcasting and reused values; the "
            "message says whether a VJP (under the check's own backward) or your backward "
            "goes wrong, and where")
def reverse_random_programs(lab, rng):
    """Three random programs: every value's gradient against tf.GradientTape, first with your
    primitives under a correct backward, then with your backward."""
    return reverse_programs_probe(lab, rng, count=3, length=16, sizes=lambda r: (3, 4))


@reverse_random_programs.verdict
def _(student, _reference):
    judge_reverse_programs(student["programs"], "random program")
