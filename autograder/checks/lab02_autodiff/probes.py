"""What the checks of lab02_autodiff share: each primitive on its own against TensorFlow,
graphs whose VJPs the probe writes itself (for the engine's machinery), the check's own
correct `unbroadcast`, `topological_order` and `backward` (stand-ins), and Jacobians of a
probe-written function."""
import math

import numpy as np

from autograder.api import CheckFailed
from autograder.checks.lab02_autodiff import standins
from autograder.checks.lab02_autodiff.primitives import (
    NUMPY_OPS,
    REDUCTIONS,
    shape_relaxed_forwardprop,
    tensorflow_ops,
)
from autograder.checks.lab02_autodiff.programs import close_or_message, shared_grads
from autograder.checks.lab02_autodiff.standins import standing_in
from autograder.verdicts import expect_close, expect_true

# ---------------------------------------------------------------------------------------------
# One primitive at a time
# ---------------------------------------------------------------------------------------------

def primitive_cases(rng, names, shape=(3, 4)):
    """(label, name, arrays, kwargs) for each primitive: inputs where it is smooth, and for
    relu some exactly at its kink."""
    def away_from_zero(low, high, size):
        return rng.choice([-1.0, 1.0], size=size) * rng.uniform(low, high, size=size)

    cases = []
    for name in names:
        if name in ("add", "sub", "mul"):
            cases.append((f"{name}(a, b)", name, [rng.normal(size=shape) for _ in "ab"], {}))
        elif name == "div":
            cases.append(("div(a, b)", name, [rng.normal(size=shape),
                                              away_from_zero(0.5, 2.0, shape)], {}))
        elif name == "log":
            cases.append(("log(x)", name, [rng.uniform(0.2, 3.0, size=shape)], {}))
        elif name == "relu":
            x = away_from_zero(0.05, 2.0, shape)
            x[0, :2] = 0.0  # the kink: the derivative there is taken to be 0, as in TensorFlow
            cases.append(("relu(x) with some x == 0", name, [x], {}))
        elif name == "matmul":
            inner = shape[-1] + 1
            cases.append((f"matmul(a {shape}, b {(shape[-1], inner)})", name,
                          [rng.normal(size=shape), rng.normal(size=(shape[-1], inner))], {}))
        elif name in REDUCTIONS:
            for axis, keepdims in ((None, False), (0, False), (1, True), (-1, False)):
                cases.append((f"{name}(x {shape}, axis={axis}, keepdims={keepdims})", name,
                              [rng.normal(size=shape)], {"axis": axis, "keepdims": keepdims}))
        else:
            cases.append((f"{name}(x)", name, [2.0 * rng.normal(size=shape)], {}))
    return cases


def vjp_probe(lab, rng, names):
    """Each primitive's raw VJPs (node.vjps), against tf.GradientTape with the same upstream."""
    import tensorflow as tf
    tf_ops, results = tensorflow_ops(), []
    for label, name, arrays, kwargs in primitive_cases(rng, names):
        upstream = rng.normal(size=np.shape(NUMPY_OPS[name](*arrays, **kwargs)))
        out = getattr(lab.reverse, name)(*[lab.reverse.Node(a) for a in arrays], **kwargs)
        mine = [vjp(upstream) for vjp in out.vjps]
        tensors = [tf.constant(a) for a in arrays]
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            result = tf_ops[name](*tensors, **kwargs)
        tape_grads = tape.gradient(result, tensors, output_gradients=tf.constant(upstream))
        results.append({"label": label, "mine": mine, "tape": tape_grads})
    return {"cases": results}


def judge_vjps(student):
    for case in student["cases"]:
        operands = ("a", "b") if len(case["tape"]) == 2 else ("x",)
        expect_true(len(case["mine"]) == len(operands),
                    f"{case['label']} recorded {len(case['mine'])} VJPs; it needs one per "
                    f"parent ({len(operands)})")
        for operand, mine, theirs in zip(operands, case["mine"], case["tape"]):
            expect_close(mine, theirs, f"the VJP of {case['label']} w.r.t. {operand} (against "
                                       "tf.GradientTape with the same upstream gradient)")


def jvp_probe(lab, rng, names):
    """Each primitive's tangent, against tf.autodiff.ForwardAccumulator."""
    import tensorflow as tf
    shape_relaxed_forwardprop()
    tf_ops, results = tensorflow_ops(), []
    for label, name, arrays, kwargs in primitive_cases(rng, names):
        tangents = [rng.normal(size=a.shape) for a in arrays]
        duals = [lab.forward.Dual(a, t) for a, t in zip(arrays, tangents)]
        mine = getattr(lab.forward, name)(*duals, **kwargs).tangent
        primals = [tf.constant(a) for a in arrays]
        with tf.autodiff.ForwardAccumulator(primals, [tf.constant(t) for t in tangents]) as acc:
            result = tf_ops[name](*primals, **kwargs)
        results.append({"label": label, "mine": mine, "accumulator": acc.jvp(result)})
    return {"cases": results}


def judge_jvps(student):
    for case in student["cases"]:
        expect_close(case["mine"], case["accumulator"],
                     f"the tangent of {case['label']} with random input tangents (against "
                     "tf.autodiff.ForwardAccumulator)")


# ---------------------------------------------------------------------------------------------
# Graphs whose VJPs the probe writes: the engine's machinery, independent of the primitives
# ---------------------------------------------------------------------------------------------

def random_dag(rng, size):
    """Parents of each node of a DAG: nodes 0 and 1 are inputs, every later node has one to
    three parents among the earlier ones (repeats allowed), and some nodes are used twice."""
    parents = [[], []]
    for index in range(2, size):
        count = int(rng.integers(1, 4))
        parents.append([int(p) for p in rng.integers(0, index, size=count)])
    parents[2] = [0, 1, 0]  # an input used twice by the same node
    return parents


def ancestors(parents, output):
    found, stack = set(), [output]
    while stack:
        node = stack.pop()
        if node not in found:
            found.add(node)
            stack.extend(parents[node])
    return found


# How a probe-made node hands g to a parent: scaled by an array (a fresh array), as g itself
# (so a parent's grad may be the child's very array), or as a read-only broadcast view (as
# np.broadcast_to gives in a reduction's VJP).
EDGES = ("scale", "identity", "view")


def backward_dag(rng, size):
    """Parents for backward's graphs (size >= 7): nodes 0-3 are inputs, node 4 uses input 0
    twice, and the last node passes its own g to node 4 first and node 5 adds to it later,
    so a backward that stores that g and then adds in place changes the last node's grad."""
    parents = [[], [], [], [], [0, 1, 0], [4, 3]]
    for index in range(6, size):
        parents.append([int(p) for p in rng.integers(0, index, size=int(rng.integers(1, 4)))])
    parents[-1] = [4, 5, *parents[-1][:1]]
    return parents


def input_shapes(shape):
    """Four input shapes that broadcast to `shape`: itself, fewer axes, a stretched size-1
    axis, a scalar."""
    shape = tuple(shape)
    if not shape:
        return [()] * 4
    return [shape, shape[1:], shape[:-1] + (1,), ()]


def linear_nodes(lab, rng, parents, shape):
    """Node k = sum over its parents of c * parent (c an array of `shape`, or 1 for an
    identity edge): inputs of the shapes of input_shapes, every other node of `shape`."""
    nodes = []
    shapes = input_shapes(shape)
    for index, mine in enumerate(parents):
        if not mine:
            nodes.append(lab.reverse.Node(rng.normal(size=shapes[index % 4])))
            continue
        kinds = [str(rng.choice(EDGES, p=[0.5, 0.3, 0.2])) for _ in mine]
        if index == len(parents) - 1 and mine[:2] == [4, 5]:
            kinds[:2] = ["identity", "scale"]
        cs = [np.ones(shape) if kind == "identity" else rng.normal(size=shape) for kind in kinds]
        value = sum(c * nodes[p].value for c, p in zip(cs, mine))
        vjps = [(lambda g: g) if kind == "identity"
                else (lambda g, c=c: np.broadcast_to(g * c, np.shape(g))) if kind == "view"
                else (lambda g, c=c: g * c) for kind, c in zip(kinds, cs)]
        nodes.append(lab.reverse.Node(value, [nodes[p] for p in mine], vjps, f"n{index}"))
    return nodes


def scalar_output(lab, rng, nodes, parents):
    """A scalar node sum_i sum(c_i * sink_i) over the nodes nothing uses yet."""
    used = {p for mine in parents for p in mine}
    sinks = [i for i in range(len(nodes)) if i not in used]
    cs = [rng.normal(size=nodes[i].shape) for i in sinks]
    value = sum(np.sum(c * nodes[i].value) for c, i in zip(cs, sinks))
    parents.append(sinks)
    return lab.reverse.Node(value, [nodes[i] for i in sinks],
                            [lambda g, c=c: g * c for c in cs], "output")


def grads_of(nodes):
    """Each node's .grad as it is (None stays None), and which other nodes' .grad is the
    very same memory."""
    grads = [node.grad for node in nodes]
    return [None if g is None else np.array(g) for g in grads], shared_grads(grads)


def backward_probe(lab, rng, size, shape):
    """Gradients the student's backward leaves on probe-made DAGs (run on the check's own
    unbroadcast and topological_order): for a scalar output with the default seed, again
    with another seed on the same graph, and for an inner node with a random seed."""
    parents = backward_dag(rng, size)
    nodes = linear_nodes(lab, rng, parents, shape)
    nodes.append(scalar_output(lab, rng, nodes, parents))
    inner_parents = backward_dag(rng, size)
    inner = linear_nodes(lab, rng, inner_parents, shape)
    target = len(inner) - 1
    seed = rng.normal(size=shape)
    with standing_in(lab.reverse, unbroadcast=standins.unbroadcast,
                     topological_order=standins.topological_order):
        lab.reverse.backward(nodes[-1])
        scalar, shared = grads_of(nodes)
        lab.reverse.backward(nodes[-1], np.array(2.0))
        again, _ = grads_of(nodes)
        lab.reverse.backward(inner[target], seed)
    reached = sorted(ancestors(inner_parents, target))
    return {"parents": parents, "shapes": [list(n.shape) for n in nodes],
            "scalar": scalar, "shared": shared, "again": again,
            "inner_parents": inner_parents, "reached": reached,
            "seeded": grads_of([inner[i] for i in reached])[0]}


def judge_backward(student, reference):
    parents, shapes = student["parents"], student["shapes"]
    graph = (f"a {len(parents)}-node graph (node k = sum over its parents of c * parent, c an "
             "array or 1)")

    def node_name(k):
        return "the output" if k == len(parents) - 1 else f"node {k}"

    def described(k):
        users = [i for i, mine in enumerate(parents) if k in mine]
        return (f"{node_name(k)} (shape {tuple(shapes[k])}, parents {parents[k]}, used by "
                f"nodes {users})")

    for k in reversed(range(len(parents))):
        mine = student["scalar"][k]
        what = f".grad of {described(k)} after backward(output) on {graph}"
        expect_true(mine is not None, f"{what} is None: backward must give every node it "
                                      "reaches a gradient, starting from zeros")
        wrong = close_or_message(mine, reference["scalar"][k], what)
        if not wrong:
            continue
        count = sum(p.count(k) for p in parents)
        if list(np.shape(mine)) != shapes[k]:
            clue = (": a VJP may return its gradient in the child's shape where the parent was "
                    "broadcast; backward must sum it back with unbroadcast(..., parent.shape)")
        elif count > 1:
            clue = f": it is used {count} times, and each use must add its contribution"
        elif student["shared"][k]:
            clue = (f": it is the very same array as the .grad of node(s) "
                    f"{student['shared'][k]}. A VJP may return g itself (here node "
                    f"{len(parents) - 2} hands its g on unchanged), so a backward that stores "
                    "a VJP's result and later adds to it in place (+=) changes another node's "
                    "gradient: start every grad from np.zeros and add with "
                    "parent.grad = parent.grad + ...")
        elif not np.any(mine):
            clue = (": nothing reached it; does backward visit every node after all the "
                    "nodes that use it (reversed topological order)?")
        else:
            clue = ""
        raise CheckFailed(wrong + clue)
    for k in reversed(range(len(parents))):
        mine, theirs = student["again"][k], reference["again"][k]
        what = (f".grad of {node_name(k)} after a second backward(output, seed=2.0) on the "
                "same graph")
        expect_true(mine is not None, f"{what} is None")
        if close_or_message(mine, theirs, what) and not close_or_message(
                mine, np.asarray(student["scalar"][k]) + theirs, what):
            raise CheckFailed(f"{what} is the sum of both passes' gradients: backward must "
                              "reset every grad to zero before it adds up the new ones "
                              "(jacobian_reverse runs backward once per row of the Jacobian)")
        expect_close(mine, theirs, what)
    for k, mine, theirs in zip(student["reached"], student["seeded"], reference["seeded"]):
        expect_true(mine is not None, f".grad of node {k} after backward(node, seed) on an "
                                      "inner node is None")
        expect_close(mine, theirs, f".grad of node {k} after backward(node, seed) on an inner "
                                   f"node with a random seed (node {k} has parents "
                                   f"{student['inner_parents'][k]})")


# ---------------------------------------------------------------------------------------------
# jacobians.py: f is written by the probe straight on Node/Dual, and counts its passes
# ---------------------------------------------------------------------------------------------

def jacobian_probe(lab, rng, n, m, modes=("forward", "reverse")):
    """J of f(x) = tanh(A x) by the given modes, with the number of calls of f and of
    backward passes through its last op. Reverse mode runs on the check's own backward."""
    a, x = rng.normal(size=(m, n)) / np.sqrt(n), rng.normal(size=n)
    counts = {"forward_calls": 0, "reverse_calls": 0, "backward_passes": 0}

    def f_dual(dual):
        counts["forward_calls"] += 1
        out = np.tanh(a @ dual.value)
        return lab.forward.Dual(out, (1 - out ** 2) * (a @ dual.tangent))

    def f_node(node):
        counts["reverse_calls"] += 1
        pre = lab.reverse.Node(a @ node.value, [node], [lambda g: a.T @ g], "A @ x")
        out = np.tanh(pre.value)

        def tanh_vjp(g):
            counts["backward_passes"] += 1
            return g * (1 - out ** 2)
        return lab.reverse.Node(out, [pre], [tanh_vjp], "tanh")

    found = {"a": a, "x": x}
    if "forward" in modes:
        found["forward"] = lab.jacobians.jacobian_forward(f_dual, x)
    if "reverse" in modes:
        with standing_in(lab.jacobians, backward=standins.backward):
            found["reverse"] = lab.jacobians.jacobian_reverse(f_node, x)
    return {**found, **counts}


def judge_jacobian(student, mode):
    a, x = student["a"], student["x"]
    m, n = a.shape
    expected = (1 - np.tanh(a @ x) ** 2)[:, None] * a
    expect_close(student[mode], expected, f"jacobian_{mode}(f, x) for f(x) = tanh(A x) with "
                                          f"x of shape ({n},) and A of shape ({m}, {n})")
    if mode == "forward":
        calls = student["forward_calls"]
        expect_true(calls == n, f"jacobian_forward called f {calls} times for n = {n} inputs: "
                                "it needs exactly one forward pass per input coordinate")
    else:
        calls, passes = student["reverse_calls"], student["backward_passes"]
        expect_true(calls == 1, f"jacobian_reverse called f {calls} times: record the tape "
                                "once, then run backward on it once per output")
        expect_true(passes == m, f"jacobian_reverse ran {passes} backward passes for m = {m} "
                                 "outputs: it needs exactly one per output coordinate")


CHEAPER_CASES = [((1000,), ()), ((), (50,)), ((28, 28), (10,)), ((3,), (3, 4)), ((6,), (2, 3)),
                 ((2, 3), (7,))]


def judge_cheaper_mode(cases, mine, theirs):
    expect_true(len(mine) == len(cases), f"expected one answer per case, got {len(mine)}")
    for (inputs, outputs), answer, expected in zip(cases, mine, theirs):
        call = f"cheaper_mode({inputs}, {outputs})"
        expect_true(answer in ("forward", "reverse"),
                    f"{call} returned {answer!r}; expected 'forward' or 'reverse'")
        expect_true(answer == expected,
                    f"{call} is {answer!r}, expected {expected!r}: forward mode needs "
                    f"{math.prod(inputs)} passes (one per input entry), reverse mode "
                    f"{math.prod(outputs)} (one per output entry)")


