"""Random programs for the checks of lab02_autodiff: expression DAGs over broadcasting
shapes, drawn from a check's seed, run on the student's engine and on TensorFlow, and the
verdicts that name the op where an error enters."""
from pathlib import Path

import numpy as np

from autograder import errors
from autograder.api import CheckFailed
from autograder.checks.lab02_autodiff import standins
from autograder.checks.lab02_autodiff.primitives import (
    BINARY,
    NUMPY_OPS,
    PRIMITIVES,
    REDUCTIONS,
    engine_ops,
    shape_relaxed_forwardprop,
    tensorflow_ops,
)
from autograder.verdicts import expect_close, expect_true

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

    Every primitive appears at least once, values get reused (so gradients must add up), a
    last row sum or mean without keepdims (shape (rows,)) feeds only the output, and the
    program ends in a scalar that depends on every value.
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

    # A row reduction without keepdims gives shape (rows,), which broadcasts against nothing
    # else here: it only feeds the output, so it comes last.
    wide = [i for i in range(len(values)) if values[i].shape == (rows, cols) and i not in matrices]
    push({"op": str(rng.choice(REDUCTIONS)), "args": [int(rng.choice(wide))],
          "axis": int(rng.choice([1, -1])), "keepdims": False})

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


def engine_gradients(lab, steps, backward=None):
    """Run the program on the student's primitives and `backward` (default: the student's);
    every value's .grad."""
    ops, nodes = engine_ops(lab.reverse), []
    for step in steps:
        nodes.append(lab.reverse.Node(step["value"]) if step["op"] == "input"
                     else apply(ops, step, nodes))
    (backward or lab.reverse.backward)(nodes[-1])
    return [node.grad for node in nodes]


def shared_grads(grads):
    """For each value, the other values whose .grad is the very same memory."""
    arrays = [g if isinstance(g, np.ndarray) else None for g in grads]
    return [[j for j, other in enumerate(arrays) if j != k and other is not None
             and np.may_share_memory(mine, other)] if mine is not None else []
            for k, mine in enumerate(arrays)]


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


def close_or_message(mine, theirs, what):
    """expect_close's message, or None when they agree."""
    try:
        expect_close(mine, theirs, what)
    except CheckFailed as failure:
        return str(failure)
    return None


def first_wrong_gradient(program, key, where, number):
    """The latest value whose gradient under `key` differs from the tape's: (k, message),
    or None when all agree."""
    grads, lines = program[key], program["lines"]
    expect_true(grads is not None and len(grads) == len(lines),
                f"{where} {number}: expected a gradient for each of its {len(lines)} values")
    for k in reversed(range(len(lines))):
        if grads[k] is None:
            return k, f"backward left .grad of v{k} in {where} {number} as None"
        wrong = close_or_message(grads[k], program["tape"][k],
                                 f".grad of v{k} in {where} {number} (against tf.GradientTape)")
        if wrong is not None:
            return k, wrong
    return None


def judge_reverse_programs(programs, where):
    """First the primitives, run under the check's own backward: the latest value whose
    gradient is wrong is where the error enters, at the VJPs of the ops that use it. Then
    the whole engine, with the student's backward: what goes wrong only there is backward's."""
    for number, program in enumerate(programs, 1):
        found = first_wrong_gradient(program, "primitives", where, number)
        if found is None:
            continue
        k, wrong = found
        lines, uses = program["lines"], program["uses"]
        if k == len(lines) - 1:
            raise CheckFailed(f"{wrong}: the output's own gradient is the seed")
        users = "; ".join(lines[j] for j in uses[k])
        raise CheckFailed(f"{wrong}, with the check's own correct backward. The gradients of "
                          f"every later value match, so the error enters where v{k} "
                          f"({lines[k].split(' = ')[1]}) is used: check the VJPs of the ops "
                          f"that use it ({users})")
    blame = ("Under a correct backward your primitives give TensorFlow's gradients on this "
             "program, so look at backward (and at unbroadcast and topological_order, which it "
             "calls)")
    for number, program in enumerate(programs, 1):
        if program["crash"]:
            raise CheckFailed(f"backward(output) crashed on {where} {number}: "
                              f"{program['crash']}. {blame}")
        found = first_wrong_gradient(program, "engine", where, number)
        if found is None:
            continue
        k, wrong = found
        shapes, clues = program["shapes"], []
        mine = program["engine"][k]
        if mine is not None and list(np.shape(mine)) != shapes[k]:
            clues.append(f"unbroadcast every contribution to its parent's shape "
                         f"{tuple(shapes[k])}")
        if sum(args.count(k) for args in program["args"]) > 1:
            clues.append(f"v{k} is used more than once: add every use's contribution")
        if program["shared"][k]:
            clues.append(f"its .grad is the same array as that of "
                         f"{', '.join(f'v{j}' for j in program['shared'][k])}: a VJP may "
                         "return g itself, so adding in place (+=) into a stored VJP result "
                         "changes another node's gradient; start from zeros, or write "
                         "parent.grad = parent.grad + ...")
        raise CheckFailed(f"{wrong}. {blame}" + "".join(f"; {clue}" for clue in clues))


def judge_forward_programs(programs, where):
    """First each op on its own (exact operands and tangents): the first wrong tangent names
    the JVP that is off. Then the program chained on the student's Duals."""
    for key, said in (("primitives", "given its operands' exact values and tangents"),
                      ("engine", "with the whole program run on your Duals")):
        for number, program in enumerate(programs, 1):
            lines = program["lines"]
            if key == "engine" and program["crash"]:
                raise CheckFailed(f"{where} {number} crashed when run on your Duals: "
                                  f"{program['crash']}, although each op gives the right "
                                  "tangent on its own")
            expect_true(len(program[key]) == len(lines),
                        f"{where} {number}: expected a tangent for each of its {len(lines)} "
                        "values")
            for k in range(len(lines)):
                wrong = close_or_message(program[key][k], program["accumulator"][k],
                                         f"the tangent of v{k} in {where} {number}, {said} "
                                         "(against tf.autodiff.ForwardAccumulator),")
                if wrong is None:
                    continue
                if key == "primitives":
                    raise CheckFailed(f"{wrong}. Look at the JVP of {program['ops'][k]}: "
                                      f"{lines[k]}")
                raise CheckFailed(f"{wrong}, although each op gives the right tangent on its "
                                  "own: does a JVP change its operands' tangents in place?")


def reverse_programs_probe(lab, rng, count, length, sizes):
    """Each program's gradients three ways: the student's primitives under the check's own
    backward, the student's whole engine (or where it crashed), and tf.GradientTape."""
    folder = Path(lab.reverse.__file__).parent
    programs = []
    for _ in range(count):
        steps = random_program(rng, *sizes(rng), length)
        primitives = engine_gradients(lab, steps, backward=standins.backward)
        engine = crash = None
        try:
            engine = engine_gradients(lab, steps)
        except NotImplementedError:
            raise
        except Exception as error:  # the primitives work: the crash is the engine's
            crash = errors.describe(error, folder)
        programs.append(dict(program_summary(steps), primitives=primitives, engine=engine,
                             crash=crash, shared=shared_grads(engine or []),
                             tape=tape_gradients(steps)))
    return {"programs": programs}


def step_tangents(lab, steps, tangents, exact):
    """Each op of the program run on fresh Duals of its operands' exact values and tangents
    (`exact`, ForwardAccumulator's): every op's own tangent, whatever the others do."""
    values, inputs, found = [], iter(tangents), []
    for step in steps:
        values.append(np.asarray(step["value"] if step["op"] == "input"
                                 else apply(NUMPY_OPS, step, values), dtype=np.float64))
    ops = engine_ops(lab.forward)
    for step in steps:
        if step["op"] == "input":
            found.append(next(inputs))
            continue
        operands = {i: lab.forward.Dual(values[i].copy(), exact[i].copy()) for i in step["args"]}
        found.append(apply(ops, step, operands).tangent)
    return found


def forward_programs_probe(lab, rng, count, length, sizes):
    """Each program's tangents three ways: every op of the student's on exact operands, the
    whole program on the student's Duals (or where it crashed), and ForwardAccumulator."""
    folder = Path(lab.forward.__file__).parent
    programs = []
    for _ in range(count):
        steps = random_program(rng, *sizes(rng), length)
        tangents = input_tangents(rng, steps)
        exact = [np.asarray(t, dtype=np.float64) for t in accumulator_tangents(steps, tangents)]
        primitives = step_tangents(lab, steps, tangents, exact)
        engine = crash = None
        try:
            engine = engine_tangents(lab, steps, tangents)
        except NotImplementedError:
            raise
        except Exception as error:  # each op works on its own: the crash is the chaining's
            crash = errors.describe(error, folder)
        programs.append(dict(program_summary(steps), primitives=primitives, engine=engine or [],
                             crash=crash, accumulator=exact))
    return {"programs": programs}
