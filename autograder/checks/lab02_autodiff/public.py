"""Public checks of lab02_autodiff.

The engine is held against TensorFlow inside each probe (tf.GradientTape for reverse mode,
tf.autodiff.ForwardAccumulator for forward mode), so most verdicts compare two outputs of
the student's own probe. Random programs are expression DAGs drawn from the check's seed;
when one goes wrong, the verdict walks the program to the op where the error enters and
names it.
"""
import math

import numpy as np

from autograder.api import CheckFailed, check
from autograder.verdicts import expect_close, expect_true

# ---------------------------------------------------------------------------------------------
# The primitives, and what each means in numpy and in TensorFlow
# ---------------------------------------------------------------------------------------------

BINARY = ("add", "sub", "mul", "div")
UNARY = ("neg", "exp", "log", "tanh", "sigmoid", "relu")
REDUCTIONS = ("reduce_sum", "reduce_mean")
PRIMITIVES = BINARY + UNARY + ("matmul",) + REDUCTIONS

NUMPY_OPS = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "neg": np.negative, "exp": np.exp, "log": np.log, "tanh": np.tanh,
    "sigmoid": lambda x: 0.5 * (1 + np.tanh(0.5 * x)), "relu": lambda x: np.maximum(x, 0),
    "matmul": np.matmul,
    "reduce_sum": lambda x, axis=None, keepdims=False: np.sum(x, axis=axis, keepdims=keepdims),
    "reduce_mean": lambda x, axis=None, keepdims=False: np.mean(x, axis=axis, keepdims=keepdims),
}


def tensorflow_ops():
    """The same primitives as TensorFlow ops (called in probes only)."""
    import tensorflow as tf
    return {
        "add": tf.add, "sub": tf.subtract, "mul": tf.multiply, "div": tf.divide,
        "neg": tf.negative, "exp": tf.exp, "log": tf.math.log, "tanh": tf.tanh,
        "sigmoid": tf.sigmoid, "relu": tf.nn.relu, "matmul": tf.linalg.matmul,
        "reduce_sum": lambda x, axis=None, keepdims=False: tf.reduce_sum(x, axis, keepdims),
        "reduce_mean": lambda x, axis=None, keepdims=False: tf.reduce_mean(x, axis, keepdims),
    }


TF_OP_NAMES = ("AddV2", "Sub", "Mul", "RealDiv", "Neg", "Exp", "Log", "Tanh", "Sigmoid", "Relu",
               "MatMul", "Sum", "Mean")


def shape_relaxed_forwardprop():
    """Let ForwardAccumulator trace each op's JVP once for all shapes.

    By default it traces a new function for every (op, input shapes) for its first 32 calls,
    which costs seconds over a few random programs; past that count it switches to traces
    that accept any shape. Starting there gives the same tangents, only sooner. If this
    private counter ever moves, the probes are merely slower.
    """
    try:
        from tensorflow.python.eager import forwardprop
        for name in TF_OP_NAMES:
            forwardprop._TRACE_COUNT[name] = max(forwardprop._TRACE_COUNT.get(name, 0),
                                                 forwardprop._TRACE_COUNT_LIMIT)
    except (ImportError, AttributeError):
        pass


def engine_ops(module):
    """The student's primitives of reverse.py or forward.py, by name."""
    return {name: getattr(module, name) for name in PRIMITIVES}


# ---------------------------------------------------------------------------------------------
# Random programs: a list of steps, each an input or a primitive applied to earlier values
# ---------------------------------------------------------------------------------------------

def apply(ops, step, values):
    """Run one step with `ops` (numpy, TensorFlow or an engine) on the earlier `values`."""
    args = [values[i] for i in step["args"]]
    if step["op"] in REDUCTIONS:
        return ops[step["op"]](*args, axis=step["axis"], keepdims=step["keepdims"])
    return ops[step["op"]](*args)


def describe(index, step, shape):
    if step["op"] == "input":
        return f"v{index} = input of shape {shape}"
    args = ", ".join(f"v{i}" for i in step["args"])
    if step["op"] in REDUCTIONS:
        args += f", axis={step['axis']}, keepdims={step['keepdims']}"
    return f"v{index} = {step['op']}({args}) of shape {shape}"


def _reductions(shape, rows, cols):
    """(axis, keepdims) pairs that keep every value broadcastable against (rows, cols)."""
    options = [(None, False)]
    if shape == (rows, cols):
        options += [(0, False), (0, True), (1, True), (-1, True)]
    elif shape in ((cols,), (1, cols)):
        options += [(0, False)]
    elif shape == (rows, 1):
        options += [(1, True)]
    return options


def _tame(step, result, args):
    """Keep values moderate, logs and divisions away from 0, and ReLUs away from their kink."""
    if not np.all(np.isfinite(result)) or np.max(np.abs(result)) > 10:
        return False
    if step["op"] == "log":
        return np.min(args[0]) > 0.1
    if step["op"] == "div":
        return np.min(np.abs(args[1])) > 0.3
    if step["op"] == "relu":
        return np.min(np.abs(args[0])) > 1e-3
    return True


def random_program(rng, rows, cols, length):
    """A random expression DAG over values of shapes (rows, cols), (cols,), (rows, 1),
    (1, cols) and (), which all broadcast against each other; matmul multiplies by a
    (cols, cols) matrix on the right or a (rows, rows) one on the left.

    Every primitive appears at least once, values get reused (so gradients must add up),
    and the program ends in a scalar that depends on every value.
    Returns a list of steps: {"op": "input", "value": array} or {"op", "args", "axis",
    "keepdims"}, value k being the result of step k.
    """
    steps, values = [], []

    def push(step):
        value = step["value"] if step["op"] == "input" else apply(NUMPY_OPS, step, values)
        steps.append(step)
        values.append(np.asarray(value, dtype=np.float64))
        return len(values) - 1

    def new_input(value):
        return push({"op": "input", "value": np.asarray(value, dtype=np.float64)})

    full, row, column, scalar = (new_input(rng.normal(size=shape))
                                 for shape in ((rows, cols), (cols,), (rows, 1), ()))
    positive = new_input(rng.uniform(0.5, 2.0, size=(rows, cols)))  # for log and div
    right = new_input(rng.normal(size=(cols, cols)) / np.sqrt(cols))
    left = new_input(rng.normal(size=(rows, rows)) / np.sqrt(rows))
    matrices = {right, left}
    # Every kind of broadcast happens at least once: a new leading axis, a stretched size-1
    # axis, a scalar.
    push({"op": "add", "args": [row, column], "axis": None, "keepdims": False})
    push({"op": "mul", "args": [scalar, full if rng.random() < 0.5 else positive],
          "axis": None, "keepdims": False})

    names = list(PRIMITIVES) + list(rng.choice(PRIMITIVES, size=max(length - len(PRIMITIVES), 0)))
    for name in rng.permutation(names):
        operands = [i for i in range(len(values)) if i not in matrices]
        # Favour values nothing uses yet (so the program is one deep DAG, not many shallow
        # ones), and recent ones.
        used = {i for step in steps for i in step.get("args", ())}
        weights = np.array([(1 + k) * (1 if i in used else 4) for k, i in enumerate(operands)],
                           dtype=np.float64)
        for attempt in range(100):
            pick = [int(i) for i in rng.choice(operands, size=2, p=weights / weights.sum())]
            if attempt >= 50 and name in ("div", "log"):  # the positive input tames them
                pick[1 if name == "div" else 0] = positive
            step = {"op": str(name), "args": pick[:1], "axis": None, "keepdims": False}
            if name in BINARY:
                step["args"] = pick
            elif name == "matmul":
                full = [i for i in operands if values[i].shape == (rows, cols)]
                x = int(rng.choice(full))
                step["args"] = [x, right] if rng.random() < 0.5 else [left, x]
            elif name in REDUCTIONS:
                options = _reductions(values[pick[0]].shape, rows, cols)
                step["axis"], step["keepdims"] = options[rng.integers(len(options))]
            with np.errstate(all="ignore"):
                result = apply(NUMPY_OPS, step, values)
            if _tame(step, result, [values[i] for i in step["args"]]):
                push(step)
                break

    # Weigh every value that nothing uses yet into one scalar output.
    used = {i for step in steps for i in step.get("args", ())}
    total = None
    for sink in [i for i in range(len(values)) if i not in used]:
        weights = new_input(rng.normal(size=values[sink].shape))
        weighted = push({"op": "mul", "args": [sink, weights], "axis": None, "keepdims": False})
        term = push({"op": "reduce_sum", "args": [weighted], "axis": None, "keepdims": False})
        total = term if total is None else push({"op": "add", "args": [total, term],
                                                 "axis": None, "keepdims": False})
    return steps


def program_summary(steps):
    """What a verdict needs to name a place in the program: its lines, shapes and uses."""
    shapes, values = [], []
    for step in steps:
        values.append(step["value"] if step["op"] == "input" else apply(NUMPY_OPS, step, values))
        shapes.append(list(np.shape(values[-1])))
    uses = [[] for _ in steps]
    for index, step in enumerate(steps):
        for arg in dict.fromkeys(step.get("args", ())):
            uses[arg].append(index)
    return {"lines": [describe(k, s, tuple(shape)) for k, (s, shape) in
                      enumerate(zip(steps, shapes))],
            "shapes": shapes, "uses": uses, "ops": [s["op"] for s in steps],
            "args": [list(s.get("args", ())) for s in steps]}


def program_sizes(rng):
    """Distinct rows and cols, so a transposed gradient has the wrong shape."""
    rows = int(rng.integers(2, 6))
    return rows, int(rng.choice([c for c in range(2, 7) if c != rows]))


def engine_gradients(lab, steps):
    """Run the program on the student's reverse-mode engine; every value's .grad."""
    ops, nodes = engine_ops(lab.reverse), []
    for step in steps:
        nodes.append(lab.reverse.Node(step["value"]) if step["op"] == "input"
                     else apply(ops, step, nodes))
    lab.reverse.backward(nodes[-1])
    return [node.grad for node in nodes]


def tape_gradients(steps):
    """d output / d value for every value of the program, by tf.GradientTape."""
    import tensorflow as tf
    ops, tensors = tensorflow_ops(), []
    with tf.GradientTape() as tape:
        for step in steps:
            if step["op"] == "input":
                tensors.append(tf.constant(step["value"]))
                tape.watch(tensors[-1])
            else:
                tensors.append(apply(ops, step, tensors))
    return tape.gradient(tensors[-1], tensors)


def engine_tangents(lab, steps, tangents):
    """Run the program on the student's dual numbers; every value's tangent."""
    ops, duals, inputs = engine_ops(lab.forward), [], iter(tangents)
    for step in steps:
        duals.append(lab.forward.Dual(step["value"], next(inputs)) if step["op"] == "input"
                     else apply(ops, step, duals))
    return [dual.tangent for dual in duals]


def accumulator_tangents(steps, tangents):
    """The tangent of every value of the program, by tf.autodiff.ForwardAccumulator."""
    import tensorflow as tf
    shape_relaxed_forwardprop()
    ops = tensorflow_ops()
    primals = [tf.constant(step["value"]) for step in steps if step["op"] == "input"]
    inputs, tensors = iter(primals), []
    with tf.autodiff.ForwardAccumulator(primals, [tf.constant(t) for t in tangents]) as acc:
        for step in steps:
            tensors.append(next(inputs) if step["op"] == "input" else apply(ops, step, tensors))
    return [acc.jvp(t) for t in tensors]


def input_tangents(rng, steps):
    return [rng.normal(size=np.shape(step["value"])) for step in steps if step["op"] == "input"]


def worst_relative_error(output, tensorflow_key):
    """How far the engine is from TensorFlow on a random-programs check: per program, the
    largest absolute difference over all its values' gradients (or tangents), relative to
    the largest of TensorFlow's; the worst program's."""
    worst = 0.0
    for program in output["programs"]:
        pairs = [(np.asarray(mine, dtype=np.float64), np.asarray(theirs, dtype=np.float64))
                 for mine, theirs in zip(program["engine"], program[tensorflow_key])]
        difference = max(float(np.max(np.abs(mine - theirs))) for mine, theirs in pairs)
        scale = max(float(np.max(np.abs(theirs))) for _, theirs in pairs)
        worst = max(worst, difference / scale)
    return worst


def reverse_mode_error(output):
    """reverse_random_programs: the engine's gradients against tf.GradientTape's (the
    handout quotes the reference's)."""
    return worst_relative_error(output, "tape")


def forward_mode_error(output):
    """forward_random_programs: the engine's tangents against ForwardAccumulator's."""
    return worst_relative_error(output, "accumulator")


def _close(mine, theirs, what):
    """expect_close's message, or None when they agree."""
    try:
        expect_close(mine, theirs, what)
    except CheckFailed as failure:
        return str(failure)
    return None


def judge_reverse_programs(programs, where):
    """The latest value whose gradient is wrong: the error enters at the ops that use it."""
    for number, program in enumerate(programs, 1):
        lines, shapes, uses = program["lines"], program["shapes"], program["uses"]
        expect_true(len(program["engine"]) == len(lines),
                    f"{where} {number}: expected a gradient for each of its {len(lines)} values")
        for k in reversed(range(len(lines))):
            wrong = _close(program["engine"][k], program["tape"][k],
                           f".grad of v{k} in {where} {number} (against tf.GradientTape)")
            if wrong is None:
                continue
            if k == len(lines) - 1:
                raise CheckFailed(f"{wrong}: backward must seed the output's own gradient "
                                  "with ones")
            users = "; ".join(lines[j] for j in uses[k])
            clues = [f"the VJPs of the ops that use it ({users})"]
            if sum(args.count(k) for args in program["args"]) > 1:
                clues.append("how backward adds up the gradients of a value used more than once")
            if any(shapes[j] != shapes[k] and program["ops"][j] in BINARY for j in uses[k]):
                clues.append(f"unbroadcast to shape {tuple(shapes[k])}")
            raise CheckFailed(f"{wrong}. The gradients of every later value match, so the error "
                              f"enters where v{k} ({lines[k].split(' = ')[1]}) is used: check "
                              + ", and ".join(clues))


def judge_forward_programs(programs, where):
    """The first value whose tangent is wrong: its op's JVP is the culprit."""
    for number, program in enumerate(programs, 1):
        lines = program["lines"]
        expect_true(len(program["engine"]) == len(lines),
                    f"{where} {number}: expected a tangent for each of its {len(lines)} values")
        for k in range(len(lines)):
            wrong = _close(program["engine"][k], program["accumulator"][k],
                           f"the tangent of v{k} in {where} {number} (against "
                           "tf.autodiff.ForwardAccumulator)")
            if wrong is None:
                continue
            op = program["ops"][k]
            raise CheckFailed(f"{wrong}. Its operands' tangents match, so look at the JVP of "
                              f"{op}: {lines[k]}")


# ---------------------------------------------------------------------------------------------
# One primitive at a time
# ---------------------------------------------------------------------------------------------

def primitive_cases(rng, names, shape=(3, 4)):
    """(label, name, arrays, kwargs) for each primitive: inputs where it is smooth."""
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
            cases.append(("relu(x)", name, [away_from_zero(0.05, 2.0, shape)], {}))
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


def linear_nodes(lab, rng, parents, shape):
    """Nodes value = sum_i c_i * parent_i with random arrays c_i, and their VJPs g -> c_i g."""
    nodes, coefficients = [], []
    for index, mine in enumerate(parents):
        if not mine:
            nodes.append(lab.reverse.Node(rng.normal(size=shape)))
            coefficients.append([])
            continue
        cs = [rng.normal(size=shape) for _ in mine]
        value = sum(c * nodes[p].value for c, p in zip(cs, mine))
        vjps = [lambda g, c=c: g * c for c in cs]
        nodes.append(lab.reverse.Node(value, [nodes[p] for p in mine], vjps, f"n{index}"))
        coefficients.append(cs)
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


def ancestors(parents, output):
    found, stack = set(), [output]
    while stack:
        node = stack.pop()
        if node not in found:
            found.add(node)
            stack.extend(parents[node])
    return found


def backward_probe(lab, rng, size, shape):
    """Gradients backward leaves on a probe-made DAG: for a scalar output with the default
    seed, and for an inner node with a random seed."""
    parents = random_dag(rng, size)
    nodes = linear_nodes(lab, rng, parents, shape)
    nodes.append(scalar_output(lab, rng, nodes, parents))
    lab.reverse.backward(nodes[-1])
    scalar = [node.grad for node in nodes]

    inner_parents = random_dag(rng, size)
    inner = linear_nodes(lab, rng, inner_parents, shape)
    target = len(inner) - 1
    seed = rng.normal(size=shape)
    lab.reverse.backward(inner[target], seed)
    reached = sorted(ancestors(inner_parents, target))
    return {"parents": parents, "scalar": scalar,
            "inner_parents": inner_parents, "reached": reached,
            "seeded": [inner[i].grad for i in reached]}


def judge_backward(student, reference):
    def users(parents, k):
        return [i for i, mine in enumerate(parents) if k in mine]

    parents = student["parents"]
    for k in reversed(range(len(parents))):
        name = "the output" if k == len(parents) - 1 else f"node {k}"
        what = (f".grad of {name} after backward(output) on a {len(parents)}-node graph "
                f"(node k = sum of c_i * parent_i; {name} has parents {parents[k]} and is "
                f"used by nodes {users(parents, k)})")
        wrong = _close(student["scalar"][k], reference["scalar"][k], what)
        if wrong:
            count = sum(mine.count(k) for mine in parents)
            if np.all(np.asarray(student["scalar"][k]) == 0):
                clue = (": nothing reached it; does backward visit every node after all the "
                        "nodes that use it (reversed topological order)?")
            elif count > 1:
                clue = f": it is used {count} times, and each use must add its contribution"
            else:
                clue = ""
            raise CheckFailed(wrong + clue)
    for k, mine, theirs in zip(student["reached"], student["seeded"], reference["seeded"]):
        expect_close(mine, theirs, f".grad of node {k} after backward(node, seed) on an inner "
                                   f"node with a random seed (node {k} has parents "
                                   f"{student['inner_parents'][k]})")


# ---------------------------------------------------------------------------------------------
# reverse.py
# ---------------------------------------------------------------------------------------------

UNBROADCAST_CASES = [((3, 4), (4,)), ((3, 4), (3, 1)), ((3, 4), ()), ((2, 3, 4), (3, 1)),
                     ((2, 3, 4), (1, 4)), ((2, 3, 4), (2, 1, 4)), ((3, 4), (3, 4))]


@check(points=2, uses="reverse",
       hint="sum over the leading axes broadcasting added (grad.ndim - len(shape) of them), "
            "then with keepdims=True over every axis where shape is 1 and grad is not")
def unbroadcast(lab, rng):
    return {"grads": [lab.reverse.unbroadcast(rng.normal(size=big), small)
                      for big, small in UNBROADCAST_CASES]}


@unbroadcast.verdict
def _(student, reference):
    for (big, small), mine, theirs in zip(UNBROADCAST_CASES, student["grads"],
                                          reference["grads"]):
        expect_close(mine, theirs, f"unbroadcast(grad of shape {big}, {small})")


@check(points=2, uses="reverse", reference=False,
       hint="depth-first search from the output: append a node only after all its parents, "
            "and remember visited nodes so one reached along two paths appears once")
def topological_order(lab, rng):
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


@check(points=3, uses="reverse",
       hint="zero every node's grad, set the output's grad to the seed, visit the nodes in "
            "reversed topological order and ADD each VJP's result (after unbroadcast) to the "
            "parent's grad: a node used twice gets both contributions")
def backward(lab, rng):
    return backward_probe(lab, rng, size=9, shape=(2, 3))


@backward.verdict
def _(student, reference):
    judge_backward(student, reference)


@check(points=2, uses="reverse", reference=False,
       hint="add: (g, g); sub: (g, -g); mul: (g * b, g * a), each operand gets the OTHER "
            "operand; div: (g / b, -g * a / b**2); neg: -g")
def vjp_arithmetic(lab, rng):
    return vjp_probe(lab, rng, ("add", "sub", "mul", "div", "neg"))


@vjp_arithmetic.verdict
def _(student, _reference):
    judge_vjps(student)


@check(points=2, uses="reverse", reference=False,
       hint="exp: g * exp(x); log: g / x; tanh: g * (1 - tanh(x)**2); sigmoid: g * s * (1 - s); "
            "relu: g * (x > 0)")
def vjp_elementwise(lab, rng):
    return vjp_probe(lab, rng, ("exp", "log", "tanh", "sigmoid", "relu"))


@vjp_elementwise.verdict
def _(student, _reference):
    judge_vjps(student)


@check(points=1, uses="reverse", reference=False,
       hint="out = a @ b: da = g @ b.T and db = a.T @ g; each has its operand's shape")
def vjp_matmul(lab, rng):
    return vjp_probe(lab, rng, ("matmul",))


@vjp_matmul.verdict
def _(student, _reference):
    judge_vjps(student)


@check(points=2, uses="reverse", reference=False,
       hint="np.expand_dims(g, axis) puts back the summed axis (unless keepdims), then "
            "np.broadcast_to(g, x.shape); the mean also divides by the number of entries "
            "averaged")
def vjp_reductions(lab, rng):
    return vjp_probe(lab, rng, REDUCTIONS)


@vjp_reductions.verdict
def _(student, _reference):
    judge_vjps(student)


def reverse_programs_probe(lab, rng, count, length, sizes):
    programs = []
    for _ in range(count):
        steps = random_program(rng, *sizes(rng), length)
        programs.append(dict(program_summary(steps), engine=engine_gradients(lab, steps),
                             tape=tape_gradients(steps)))
    return {"programs": programs}


def forward_programs_probe(lab, rng, count, length, sizes):
    programs = []
    for _ in range(count):
        steps = random_program(rng, *sizes(rng), length)
        tangents = input_tangents(rng, steps)
        programs.append(dict(program_summary(steps), engine=engine_tangents(lab, steps, tangents),
                             accumulator=accumulator_tangents(steps, tangents)))
    return {"programs": programs}


@check(points=3, uses="reverse",
       hint="a random program of every primitive, with broadcasting and reused values: if the "
            "per-primitive checks pass, look at unbroadcast and at how backward adds up "
            "gradients")
def reverse_random_programs(lab, rng):
    return reverse_programs_probe(lab, rng, count=3, length=16, sizes=lambda r: (3, 4))


@reverse_random_programs.verdict
def _(student, _reference):
    judge_reverse_programs(student["programs"], "random program")


# ---------------------------------------------------------------------------------------------
# forward.py
# ---------------------------------------------------------------------------------------------

@check(points=2, uses="forward", reference=False,
       hint="add/sub: tangents add/subtract; mul: ta * b + a * tb (the product rule); div: "
            "ta / b - a * tb / b**2 (the quotient rule); neg: -ta")
def jvp_arithmetic(lab, rng):
    return jvp_probe(lab, rng, ("add", "sub", "mul", "div", "neg"))


@jvp_arithmetic.verdict
def _(student, _reference):
    judge_jvps(student)


@check(points=1, uses="forward", reference=False,
       hint="the chain rule: f'(x) * tx, with exp' = exp, log' = 1/x, tanh' = 1 - tanh**2, "
            "sigmoid' = s (1 - s), relu' = (x > 0)")
def jvp_elementwise(lab, rng):
    return jvp_probe(lab, rng, ("exp", "log", "tanh", "sigmoid", "relu"))


@jvp_elementwise.verdict
def _(student, _reference):
    judge_jvps(student)


@check(points=1, uses="forward", reference=False,
       hint="matmul: ta @ b + a @ tb; sums and means are linear: reduce the tangent the same "
            "way as the value (same axis and keepdims)")
def jvp_matmul_and_reductions(lab, rng):
    return jvp_probe(lab, rng, ("matmul",) + REDUCTIONS)


@jvp_matmul_and_reductions.verdict
def _(student, _reference):
    judge_jvps(student)


@check(points=2, uses="forward",
       hint="random programs of every primitive with broadcasting: the first wrong tangent "
            "names the primitive whose JVP is off")
def forward_random_programs(lab, rng):
    return forward_programs_probe(lab, rng, count=2, length=16, sizes=lambda r: (3, 4))


@forward_random_programs.verdict
def _(student, _reference):
    judge_forward_programs(student["programs"], "random program")


# ---------------------------------------------------------------------------------------------
# jacobians.py: f is written by the probe straight on Node/Dual, and counts its passes
# ---------------------------------------------------------------------------------------------

def jacobian_probe(lab, rng, n, m):
    """J of f(x) = tanh(A x) by both modes, with the number of calls of f and of backward
    passes through its last op."""
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

    return {"a": a, "x": x, "forward": lab.jacobians.jacobian_forward(f_dual, x),
            "reverse": lab.jacobians.jacobian_reverse(f_node, x), **counts}


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


@check(points=2, uses=("jacobians", "forward"), reference=False,
       hint="column j of J is the tangent jvp(f, x, e_j) returns; stack the n columns with "
            "axis=1 so J has shape (m, n)")
def jacobian_forward(lab, rng):
    return jacobian_probe(lab, rng, n=5, m=3)


@jacobian_forward.verdict
def _(student, _reference):
    judge_jacobian(student, "forward")


@check(points=2, uses=("jacobians", "reverse"), reference=False,
       hint="out = f(Node(x)) once; then for each i, backward(out, e_i) and copy x.grad as row i")
def jacobian_reverse(lab, rng):
    return jacobian_probe(lab, rng, n=5, m=3)


@jacobian_reverse.verdict
def _(student, _reference):
    judge_jacobian(student, "reverse")


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


@check(points=1, uses="jacobians",
       hint="forward mode costs one pass per input entry, reverse mode one per output entry; "
            "a tie goes to forward")
def cheaper_mode(lab, rng):
    return {"answers": [str(lab.jacobians.cheaper_mode(i, o)) for i, o in CHEAPER_CASES]}


@cheaper_mode.verdict
def _(student, reference):
    judge_cheaper_mode(CHEAPER_CASES, student["answers"], reference["answers"])
