"""What the checks of lab06b_attention share: the task generators' invariants, and the
encoders against Keras's own Bidirectional layer.

The generators are judged without a reference (any way of drawing the digits is right):
their answers are recomputed here from the sources with Python integers and
collections.Counter, and they must be seeded by the rng they are given (the same seed gives
the same data, another seed other data) and cover the range they promise. The encoders are
compared with keras.layers.Bidirectional and keras.Sequential holding the same weights.
Probes run in the worker, verdicts in the grader: numpy only at module level.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from autograder.api import CheckFailed
from autograder.check_helpers import assign_random_weights
from autograder.verdicts import as_array, expect_close, expect_close_naming, expect_true

TASKS, ENCODERS, ATTENTION, BEAM = "tasks", "encoders", "attention", "beam"
PLUS = 10

# ---- The tasks -------------------------------------------------------------------------------


def task_probe(lab, rng, kind, n, size, **options):
    """The generator `kind` called three times: twice on generators of one seed, once on
    another seed."""
    make = getattr(lab.tasks, f"make_{kind}_task")
    seed = int(rng.integers(2 ** 31))
    runs = [make(n, size, np.random.default_rng(s), **options) for s in (seed, seed, seed + 1)]
    return {"kind": kind, "n": n, "size": size, "options": options,
            "runs": [{"sources": as_int(s, f"make_{kind}_task sources"),
                      "targets": as_int(t, f"make_{kind}_task targets")} for s, t in runs]}


def as_int(value, what):
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{what} has dtype {array.dtype}, expected int32")
    return array


def task_call(student):
    options = "".join(f", {k}={v!r}" for k, v in student["options"].items())
    return f"make_{student['kind']}_task({student['n']}, {student['size']}, rng{options})"


def judge_task(student, _reference=None):
    call = task_call(student)
    first, again, other = student["runs"]
    sources, targets = np.asarray(first["sources"]), np.asarray(first["targets"])
    n, size, kind = student["n"], student["size"], student["kind"]
    shapes = {"copy": ((n, size), (n, size)), "add": ((n, 2 * size + 1), (n, size + 1)),
              "count": ((n, size + 1), (n, 2))}[kind]
    for name, array, shape in (("sources", sources, shapes[0]), ("targets", targets, shapes[1])):
        expect_true(array.shape == shape, f"{call}: {name} has shape {array.shape}, expected "
                    f"{shape}")
        expect_true(str(array.dtype) == "int32", f"{call}: {name} has dtype {array.dtype}, "
                    "expected int32")
    expect_true(np.array_equal(again["sources"], sources)
                and np.array_equal(again["targets"], targets),
                f"{call} gave other data on a second generator of the same seed: draw every "
                "number from the rng argument (not from np.random or a fresh generator)")
    expect_true(not np.array_equal(other["sources"], sources),
                f"{call} gave the same sources for another seed: draw them from the rng "
                "argument")
    {"copy": judge_copy, "add": judge_add, "count": judge_count}[kind](
        sources, targets, call, student)


def judge_digits(array, call, what):
    expect_true(array.min() >= 0 and array.max() <= 9, f"{call}: {what} holds values outside "
                f"0..9 ({array.min()} to {array.max()})")
    counts = np.bincount(array.ravel(), minlength=10) / array.size
    expect_true(counts.min() > 0.05, f"{call}: the digits of {what} are not drawn uniformly "
                f"from 0..9 (their frequencies: {np.round(counts, 3).tolist()})")


def judge_copy(sources, targets, call, student):
    judge_digits(sources, call, "the sources")
    reverse = student["options"].get("reverse", False)
    if reverse and np.array_equal(targets, sources):
        raise CheckFailed(f"{call}: the targets are the sources themselves; with reverse=True "
                          "each row must be read backwards")
    if not reverse and np.array_equal(targets, sources[:, ::-1]):
        raise CheckFailed(f"{call}: the targets are reversed; with reverse=False they are a "
                          "copy of the sources")
    expected = sources[:, ::-1] if reverse else sources
    expect_true(np.array_equal(targets, expected), f"{call}: the targets are not "
                f"{'each source read backwards' if reverse else 'a copy of the sources'}")


def number(digit_row):
    return int("".join(str(int(d)) for d in digit_row))


def judge_add(sources, targets, call, student):
    d = student["size"]
    expect_true(bool(np.all(sources[:, d] == PLUS)), f"{call}: position {d} of every source "
                "must be PLUS (10), between the two numbers")
    first, second = np.delete(sources, d, axis=1)[:, :d], sources[:, d + 1:]
    judge_digits(np.concatenate([first, second], axis=1), call, "the numbers' digits")
    for row, (a, b, target) in enumerate(zip(first, second, targets)):
        a, b = number(a), number(b)
        expected = [int(c) for c in str(a + b).zfill(d + 1)]
        if list(target) != expected:
            hint = ""
            if list(target) == expected[::-1]:
                hint = ": the digits must come most significant first"
            elif list(target) == [(x + y) % 10 for x, y in
                                  zip([0] + [int(c) for c in str(a).zfill(d)],
                                      [0] + [int(c) for c in str(b).zfill(d)])]:
                hint = ": the digits were added one by one without the carry"
            raise CheckFailed(f"{call}: row {row}, {a} + {b} has targets {list(target)}, "
                              f"expected {expected} (the digits of {a + b}, {d + 1} of "
                              f"them){hint}")
    sums = [number(a) + number(b) for a, b in zip(first, second)]
    expect_true(max(sums) >= 10 ** d and min(sums) < 10 ** (d - 1) * 5,
                f"{call}: the sums range only from {min(sums)} to {max(sums)}: draw both "
                f"numbers uniformly from 0 to {10 ** d - 1}")


def judge_count(sources, targets, call, student):
    judge_digits(sources, call, "the sources")
    counts = []
    for row, (source, target) in enumerate(zip(sources, targets)):
        count = Counter(int(x) for x in source[1:])[int(source[0])]
        counts.append(count)
        expected = [count // 10, count % 10]
        if list(target) != expected:
            hint = ""
            if list(target) == [(count + 1) // 10, (count + 1) % 10]:
                hint = ": the query (position 0) must not count itself"
            elif list(target) == expected[::-1]:
                hint = ": the tens come first, then the units"
            raise CheckFailed(f"{call}: row {row} (query {int(source[0])}) has targets "
                              f"{list(target)}, expected {expected}: the query occurs {count} "
                              f"times in the {len(source) - 1} digits after it{hint}")
    expect_true(min(counts) == 0 and max(counts) >= 3, f"{call}: the counts range only from "
                f"{min(counts)} to {max(counts)}: the query and the digits are drawn "
                "uniformly from 0..9")


# ---- The encoders, against Keras's Bidirectional ----------------------------------------------

def bidirectional_probe(lab, rng, batch, length, input_dim, units):
    """The student's bidirectional() on two GRUs holding the weights of a
    keras.layers.Bidirectional(GRU) (its forward and backward layers), against that layer;
    and what the known slips would give, computed from Keras's layers."""
    import keras
    x = rng.normal(size=(batch, length, input_dim)).astype("float32")
    make = lambda: keras.layers.GRU(units, return_sequences=True, return_state=True)  # noqa: E731
    keras_bi = keras.layers.Bidirectional(make())
    expected, forward_state, backward_state = keras_bi(x)
    assign_random_weights(keras_bi, rng, scale=0.6)
    expected, forward_state, backward_state = keras_bi(x)
    forward, backward = make(), make()
    forward(x), backward(x)
    forward.set_weights(keras_bi.forward_layer.get_weights())
    backward.set_weights(keras_bi.backward_layer.get_weights())
    outputs, state = lab.encoders.bidirectional(forward, backward, x)
    # The slips: the backward RNN reading the source forwards, its outputs left in reading
    # order (not flipped back), the halves swapped.
    unreversed, unreversed_state = backward(x)
    expected, unreversed = np.asarray(expected), np.asarray(unreversed)
    forward_half, backward_half = expected[..., :units], expected[..., units:]
    return {"outputs": outputs, "state": state, "expected": expected,
            "expected_state": np.concatenate([forward_state, backward_state], axis=-1),
            "slips": {
                "reads forwards": np.concatenate([forward_half, unreversed[:, ::-1]], axis=-1),
                "reads forwards, not flipped": np.concatenate([forward_half, unreversed], -1),
                "not flipped back": np.concatenate([forward_half, backward_half[:, ::-1]], -1),
                "swapped": np.concatenate([backward_half, forward_half], axis=-1),
                "state reads forwards": np.concatenate([forward_state, unreversed_state], -1),
                "state from outputs": np.concatenate([forward_half[:, -1], backward_half[:, -1]],
                                                     axis=-1),
                "state swapped": np.concatenate([backward_state, forward_state], axis=-1)},
            "call": f"bidirectional(forward, backward, inputs ({batch}, {length}, "
                    f"{input_dim})) with GRUs of {units} units"}


BIDIRECTIONAL_SLIPS = {
    "reads forwards": "the backward RNN read the source forwards: flip the inputs in time "
                      "(ops.flip(inputs, axis=1)) before it reads them",
    "reads forwards, not flipped": "the backward RNN read the source forwards: flip the "
                                   "inputs in time (ops.flip(inputs, axis=1)) before it reads "
                                   "them, and flip its outputs back",
    "not flipped back": "the backward RNN's outputs are in its reading order: flip them back "
                        "in time so that position t holds what it gave after reading x_t",
    "swapped": "the halves are swapped: forward outputs first, then backward",
    "state reads forwards": "the backward RNN read the source forwards",
    "state from outputs": "the backward half is its output at the last position, which it "
                          "gave after reading x_(S-1) only: take its final state (after "
                          "x_0)",
    "state swapped": "the halves are swapped: [forward final state, backward final state]"}


def judge_bidirectional(student, _reference=None):
    call = student["call"]
    slips = student["slips"]
    expect_close_naming(student["outputs"], student["expected"], f"the outputs of {call}, "
                        "against keras.layers.Bidirectional with the same weights",
                        [(slips[k], BIDIRECTIONAL_SLIPS[k]) for k in
                         ("reads forwards", "reads forwards, not flipped", "not flipped back",
                          "swapped")], atol=1e-5)
    expect_close_naming(student["state"], student["expected_state"], f"the state of {call}, "
                        "against keras.layers.Bidirectional's [forward, backward] final "
                        "states", [(slips[k], BIDIRECTIONAL_SLIPS[k]) for k in
                                   ("state reads forwards", "state from outputs",
                                    "state swapped")], atol=1e-5)


def stacked_probe(lab, rng, batch, length, input_dim, units, depths):
    """StackedBiEncoder of each depth with random weights, against a keras.Sequential of
    Bidirectional GRUs holding the same weights (each layer's outputs: the Sequential cut
    after that layer)."""
    import keras
    x = rng.normal(size=(batch, length, input_dim)).astype("float32")
    results = []
    for depth in depths:
        encoder = lab.encoders.StackedBiEncoder(units, num_layers=depth)
        encoder(x)
        copies = [keras.layers.Bidirectional(keras.layers.GRU(units, return_sequences=True))
                  for _ in range(depth)]
        keras.Sequential([keras.Input((length, input_dim))] + copies)
        bi_layers = list(encoder.bi_layers)
        for layer, copy in zip(bi_layers, copies):
            assign_random_weights(layer, rng, scale=0.6)
            copy.set_weights(layer.get_weights())
        outputs, states = encoder(x)
        per_layer = [np.asarray(keras.Sequential(copies[:k + 1])(x)) for k in range(depth)]
        results.append({"depth": depth, "outputs": np.asarray(outputs),
                        "states": [np.asarray(s) for s in states], "per_layer": per_layer})
    return {"results": results, "units": units,
            "shape": [batch, length, input_dim]}


def judge_stacked(student, _reference=None):
    units = student["units"]
    for result in student["results"]:
        depth = result["depth"]
        call = (f"StackedBiEncoder({units}, num_layers={depth})(inputs "
                f"{tuple(student['shape'])})")
        per_layer = [np.asarray(p) for p in result["per_layer"]]
        outputs = as_array(result["outputs"], f"the outputs of {call}")
        batch, length = student["shape"][:2]
        expect_true(outputs.shape == (batch, length, 2 * units), f"the outputs of {call} have "
                    f"shape {outputs.shape}, expected {(batch, length, 2 * units)}")
        for k, layer_outputs in enumerate(per_layer[:-1]):
            if np.allclose(outputs, layer_outputs, atol=1e-5):
                raise CheckFailed(f"the outputs of {call} are those of layer {k}, not of the "
                                  "top layer: each layer must read the outputs of the one "
                                  "below")
        expect_close(outputs, per_layer[-1], f"the outputs of {call}, against a "
                     "keras.Sequential of its Bidirectional layers", atol=1e-5)
        states = result["states"]
        expect_true(len(states) == depth, f"{call} returned {len(states)} states, expected "
                    f"one per layer ({depth})")
        for k, (state, layer_outputs) in enumerate(zip(states, per_layer)):
            # A GRU's final state is its last output: the forward half's at position S-1, the
            # backward half's at position 0 (its outputs are aligned with the inputs).
            forward, backward = layer_outputs[:, -1, :units], layer_outputs[:, 0, units:]
            expect_close_naming(
                state, np.concatenate([forward, backward], axis=-1),
                f"states[{k}] of {call}: [forward final state, backward final state] of "
                f"layer {k}",
                [(np.concatenate([backward, forward], -1), "the halves are swapped: forward "
                  "final state first"),
                 (np.concatenate([per_layer[-1][:, -1, :units], per_layer[-1][:, 0, units:]],
                                 -1), "it is the top layer's state: keep each layer's own")],
                atol=1e-5)
