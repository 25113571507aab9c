"""What the checks of lab06_rnn share: the check's own correct versions of the pieces other
graded functions call (stand-ins), and the probes and verdicts of the cells and of
backpropagation through time.

A check of a function that calls another graded one runs it on the stand-in
(`standing_in`): state_gradient_norms on a correct `unroll`, clip_by_global_norm on a
correct `global_norm`, train_step on a correct `shift_right`, generate on a correct softmax
and sampler. One wrong line then costs the points of its own function only. Probes run in
the worker, verdicts in the grader: numpy only at module level.
"""
from __future__ import annotations

import contextlib

import numpy as np
from scipy.special import softmax

from autograder.api import CheckFailed
from autograder.check_helpers import assign_random_weights
from autograder.verdicts import as_array, expect_close, expect_equal, expect_true

CELLS, BPTT, SEQ2SEQ, CHAR_LM = "cells", "bptt", "seq2seq", "char_lm"

# name in cells.py -> (Keras cell, number of states)
CELL_KINDS = {
    "VanillaRNNCell": ("SimpleRNNCell", 1),
    "LSTMCell": ("LSTMCell", 2),
    "GRUCell": ("GRUCell", 1),
}


# ---- Stand-ins: the check's own, correct, pieces -------------------------------------------

@contextlib.contextmanager
def standing_in(module, **replacements):
    """Replace names in a graded module while the block runs, then put the originals back
    (the worker keeps the module for the next check)."""
    missing = object()
    saved = {name: getattr(module, name, missing) for name in replacements}
    for name, value in replacements.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                delattr(module, name)
            else:
                setattr(module, name, value)


def as_state_list(states):
    return list(states) if isinstance(states, (list, tuple)) else [states]


def correct_unroll(cell, inputs, states):
    outputs, states = [], as_state_list(states)
    for t in range(int(inputs.shape[1])):
        output, states = cell(inputs[:, t], states)
        states = as_state_list(states)
        outputs.append(output)
    return outputs, states


def correct_global_norm(tensors):
    import tensorflow as tf
    return tf.linalg.global_norm([tf.convert_to_tensor(t, tf.float32) for t in tensors])


def correct_shift_right(targets, start_token):
    import tensorflow as tf
    targets = tf.cast(targets, tf.int32)
    return tf.pad(targets[:, :-1], [[0, 0], [1, 0]], constant_values=int(start_token))


def correct_softmax_with_temperature(logits, temperature):
    return softmax(np.asarray(logits, np.float64) / temperature, axis=-1).astype("float32")


def correct_sample_from_probs(probs, uniforms):
    cumulative = np.cumsum(np.asarray(probs, np.float64), axis=-1)
    index = np.sum(cumulative <= np.asarray(uniforms, np.float64).reshape(-1, 1), axis=-1)
    return np.minimum(index, cumulative.shape[-1] - 1).astype("int32")


@contextlib.contextmanager
def explained_none_step():
    """fit over a train_step that returns None fails deep inside Keras ("OptionalFromValue
    ... list of length 0"): say what happened instead."""
    try:
        yield
    except ValueError as error:
        if "OptionalFromValue" not in str(error):
            raise
        raise ValueError("fit failed because Seq2Seq.train_step returned None: it must return "
                         "the logs, self.update_trackers(targets, logits, loss)") from None


def correct_shift(lab):
    """seq2seq.py with the check's shift_right, for the checks of train_step."""
    return standing_in(lab.seq2seq, shift_right=correct_shift_right)


# ---- Cells against Keras's -----------------------------------------------------------------

def cell_against_keras(lab, rng, name, batch, length, input_dim, units):
    """The student's cell `name` and Keras's, holding the same random weights, on the same
    random inputs and states: one step, then the whole sequence through keras.layers.RNN."""
    import keras
    keras_name, num_states = CELL_KINDS[name]
    x = rng.normal(size=(batch, length, input_dim)).astype("float32")
    states = [rng.normal(scale=0.5, size=(batch, units)).astype("float32")
              for _ in range(num_states)]
    reference_cell = getattr(keras.layers, keras_name)(units)
    reference_cell.build((None, input_dim))
    assign_random_weights(reference_cell, rng, scale=0.5)
    cell = getattr(lab.cells, name)(units)
    cell.build((None, input_dim))
    cell.set_weights(reference_cell.get_weights())
    out = {"call": f"{name}({units}) on x ({batch}, {length}, {input_dim})"}
    step_keras, step_keras_states = reference_cell(x[:, 0], states)
    step, step_states = cell(x[:, 0], states)
    out.update(step=step, step_keras=step_keras,
               step_states=[np.asarray(s) for s in as_state_list(step_states)],
               step_states_keras=[np.asarray(s) for s in as_state_list(step_keras_states)])
    kernel, recurrent, bias = (w.numpy() for w in reference_cell.weights)
    bias = bias if bias.ndim == 1 else bias.sum(axis=0)
    out["pre_activation"] = x[:, 0] @ kernel + states[0] @ recurrent + bias
    sequence = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    sequence_keras = keras.layers.RNN(reference_cell, return_sequences=True, return_state=True)
    result, result_keras = sequence(x, initial_state=states), sequence_keras(x, initial_state=states)
    out.update(outputs=result[0], outputs_keras=result_keras[0],
               final=list(result[1:]), final_keras=list(result_keras[1:]),
               state_size=np.ravel(cell.state_size).astype("int64"),
               state_size_keras=np.ravel(reference_cell.state_size).astype("int64"))
    return out


def judge_cell(student, name):
    call, keras_name = student["call"], CELL_KINDS[name][0]
    keras_cell = f"keras.layers.{keras_name} with the same weights"
    expect_equal(student["state_size"], student["state_size_keras"],
                 f"{name}.state_size (Keras's {keras_name} has {student['state_size_keras']})")
    step = np.asarray(student["step"])
    pre = np.asarray(student["pre_activation"])
    if name == "VanillaRNNCell" and step.shape == pre.shape and np.allclose(step, pre, atol=1e-4):
        raise CheckFailed(f"{call} returns the pre-activation x W + h U + b: apply tanh")
    expect_close(step, student["step_keras"], f"the output of one step of {call}",
                 against=keras_cell)
    expect_true(len(student["step_states"]) == len(student["step_states_keras"]),
                f"one step of {call} returned {len(student['step_states'])} new states, "
                f"expected {len(student['step_states_keras'])}")
    states, expected_states = student["step_states"], student["step_states_keras"]
    if len(states) == 2 and np.shape(states[0]) == np.shape(expected_states[1]) and \
            not np.allclose(states[0], expected_states[0], atol=1e-4) and \
            np.allclose(states[0], expected_states[1], atol=1e-4) and \
            np.allclose(states[1], expected_states[0], atol=1e-4):
        raise CheckFailed(f"one step of {call} returns its new states as [c, h]: Keras's order "
                          "is [h, c] (return h, [h, c])")
    for index, (state, expected) in enumerate(zip(student["step_states"],
                                                  student["step_states_keras"])):
        expect_close(state, expected, f"new state {index} of one step of {call}",
                     against=keras_cell)
    expect_close(student["outputs"], student["outputs_keras"],
                 f"the outputs of keras.layers.RNN({name}, return_sequences=True) for {call}",
                 against=f"keras.layers.RNN({keras_name})")
    for index, (state, expected) in enumerate(zip(student["final"], student["final_keras"])):
        expect_close(state, expected, f"final state {index} of keras.layers.RNN({name}) for "
                     f"{call}", against=f"keras.layers.RNN({keras_name})")


def cells_round_trip(lab, rng, path, batch=3, length=5, input_dim=3):
    """A model stacking the three cells, saved as .keras and loaded back."""
    import keras
    x = rng.normal(size=(batch, length, input_dim)).astype("float32")
    model = keras.Sequential([
        keras.Input((None, input_dim)),
        keras.layers.RNN(lab.cells.VanillaRNNCell(4), return_sequences=True),
        keras.layers.RNN(lab.cells.LSTMCell(5), return_sequences=True),
        keras.layers.RNN(lab.cells.GRUCell(3))])
    assign_random_weights(model, rng, scale=0.5)
    outputs = model(x)
    model.save(path)
    try:
        loaded = keras.saving.load_model(path)
    except Exception as error:  # the message goes to the student
        return {"error": f"{type(error).__name__}: {error}"[:600]}
    return {"error": "", "outputs": outputs, "loaded_outputs": loaded(x),
            "cells": [type(layer.cell).__name__ for layer in loaded.layers]}


def judge_round_trip(student):
    if student["error"]:
        raise CheckFailed("keras.saving.load_model could not rebuild a model of "
                          "RNN(VanillaRNNCell), RNN(LSTMCell), RNN(GRUCell): " + student["error"])
    expect_true(student["cells"] == list(CELL_KINDS), f"the reloaded model's cells are "
                f"{student['cells']}, expected {list(CELL_KINDS)}")
    expect_close(student["loaded_outputs"], student["outputs"],
                 "the outputs of the stacked RNN(VanillaRNNCell) -> RNN(LSTMCell) -> "
                 "RNN(GRUCell) model after save and load", against="the outputs before saving")


# ---- Backpropagation through time and clipping ---------------------------------------------

def unroll_against_keras(lab, rng, batch, length, input_dim, units):
    """unroll() with a Keras LSTMCell (random weights) against keras.layers.RNN."""
    import keras
    x = rng.normal(size=(batch, length, input_dim)).astype("float32")
    states = [rng.normal(scale=0.5, size=(batch, units)).astype("float32") for _ in range(2)]
    cell = keras.layers.LSTMCell(units)
    cell.build((None, input_dim))
    assign_random_weights(cell, rng, scale=0.5)
    outputs, final = lab.bptt.unroll(cell, x, states)
    expected = keras.layers.RNN(cell, return_sequences=True, return_state=True)(
        x, initial_state=states)
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else None
    return {"call": f"unroll(LSTMCell({units}), x ({batch}, {length}, {input_dim}), [h0, c0])",
            "is_list": outputs is not None, "count": len(outputs) if outputs else 0,
            "length": length,
            "outputs": np.stack([np.asarray(o) for o in outputs], axis=1) if outputs else 0,
            "expected": expected[0], "final": [np.asarray(s) for s in as_state_list(final)],
            "expected_final": list(expected[1:])}


def judge_unroll(student):
    call = student["call"]
    expect_true(student["is_list"], f"{call} must return a Python list of per-step outputs")
    expect_true(student["count"] == student["length"],
                f"{call} returned {student['count']} outputs, expected one per step "
                f"({student['length']})")
    outputs, expected = np.asarray(student["outputs"]), np.asarray(student["expected"])
    if outputs.shape == expected.shape and outputs.shape[1] > 1 and not np.allclose(
            outputs, expected, atol=1e-4) and np.allclose(outputs[:, 0], expected[:, 0],
                                                          atol=1e-4):
        raise CheckFailed(f"the outputs of {call} are right at step 0 only: carry the states "
                          "from step to step (output, states = cell(inputs[:, t], states))")
    expect_close(outputs, expected, f"the outputs of {call}, stacked on axis 1",
                 against="keras.layers.RNN")
    expect_true(len(student["final"]) == 2, f"{call} returned {len(student['final'])} final "
                "states, expected 2 ([h, c] of the LSTM)")
    for index, (state, expected) in enumerate(zip(student["final"], student["expected_final"])):
        expect_close(state, expected, f"final state {index} of {call}",
                     against="keras.layers.RNN")


def gradient_norms_probe(lab, rng, kind, batch, length, input_dim, units, recurrent_scale):
    """state_gradient_norms of a Keras cell whose recurrent weights have a given scale, on
    the check's own unroll."""
    import keras
    x = rng.normal(size=(batch, length, input_dim)).astype("float32")
    cell = getattr(keras.layers, kind)(units)
    cell.build((None, input_dim))
    kernel, recurrent, bias = cell.weights
    kernel.assign(rng.normal(scale=0.5, size=kernel.shape).astype("float32"))
    recurrent.assign(rng.normal(scale=recurrent_scale / np.sqrt(units),
                                size=recurrent.shape).astype("float32"))
    states = [np.zeros((batch, units), "float32") for _ in range(2 if kind == "LSTMCell" else 1)]
    with standing_in(lab.bptt, unroll=correct_unroll):
        norms = lab.bptt.state_gradient_norms(cell, x, states)
    return {"norms": norms,
            "call": f"state_gradient_norms({kind}({units}), x ({batch}, {length}, {input_dim}))",
            "last": float(np.sqrt(batch * units))}


def judge_gradient_norms(student, reference, vanishing=True):
    call = student["call"]
    norms = as_array(student["norms"], call).astype(np.float64)
    expected = np.asarray(reference["norms"], dtype=np.float64)
    scale = student["last"] ** 2   # N * U
    if norms.shape == expected.shape and np.allclose(norms * scale, expected, rtol=1e-3):
        raise CheckFailed(f"{call} is the reference divided by N * U = {scale:g}: L is the SUM "
                          "of the last output over the batch and the units, not its mean")
    expect_close(norms, expected, call, rtol=1e-3, atol=1e-6)
    expect_true(np.isclose(norms[-1], student["last"], rtol=1e-4),
                f"the last entry of {call} is {norms[-1]:.4g}; dL/dh_T of L = sum(h_T) is all "
                f"ones, whose norm is sqrt(N * U) = {student['last']:.4g}")
    if vanishing:
        expect_true(np.all(np.diff(norms) > 0), f"{call} should grow towards the last step "
                    f"(the gradient vanishes going back in time), got {np.round(norms, 4)}")


def vanishing_ratio(output):
    """How much smaller dL/dh_0 is than dL/dh_T: norms[0] / norms[-1]."""
    norms = np.asarray(output["norms"], dtype=np.float64)
    return float(norms[0] / norms[-1])


def global_norm_probe(lab, rng, shapes):
    import tensorflow as tf
    tensors = [rng.normal(size=shape).astype("float32") for shape in shapes]
    return {"shapes": [list(s) for s in shapes],
            "norm": lab.bptt.global_norm([tf.constant(t) for t in tensors]),
            "norms": [float(np.sqrt(np.sum(np.square(t, dtype=np.float64)))) for t in tensors]}


def judge_global_norm(student):
    call = f"global_norm(tensors of shapes {[tuple(s) for s in student['shapes']]})"
    expected = float(np.sqrt(np.sum(np.square(student["norms"]))))
    norm = as_array(student["norm"], call).astype(np.float64)
    if norm.size == 1 and np.isclose(float(norm), sum(student["norms"]), rtol=1e-4):
        raise CheckFailed(f"{call} adds up the tensors' own norms: the global norm is the "
                          "square root of the sum of ALL squared entries (the norm of every "
                          "tensor flattened into one vector)")
    expect_close(norm, np.float32(expected), call,
                 against="sqrt of the sum of the squares of every entry")


def clipping_probe(lab, rng, shapes, max_norms):
    """clip_by_global_norm (on the check's own global_norm) and tf.clip_by_global_norm."""
    import tensorflow as tf
    gradients = [rng.normal(size=shape).astype("float32") for shape in shapes]
    out = {"shapes": [list(s) for s in shapes], "max_norms": list(max_norms), "cases": [],
           "original": np.concatenate([np.ravel(g) for g in gradients])}
    for max_norm in max_norms:
        with standing_in(lab.bptt, global_norm=correct_global_norm):
            clipped, norm = lab.bptt.clip_by_global_norm(gradients, max_norm)
        expected, expected_norm = tf.clip_by_global_norm(gradients, max_norm)
        out["cases"].append({
            "count": len(clipped), "norm": norm, "expected_norm": expected_norm,
            "clipped": np.concatenate([np.ravel(np.asarray(c)) for c in clipped]),
            "expected": np.concatenate([np.ravel(e.numpy()) for e in expected]),
            "per_tensor": np.concatenate([np.ravel(tf.clip_by_norm(g, max_norm).numpy())
                                          for g in gradients])})
    return out


def judge_clipping(student):
    original = np.asarray(student["original"], dtype=np.float64)
    for max_norm, case in zip(student["max_norms"], student["cases"]):
        call = f"clip_by_global_norm(gradients of shapes {student['shapes']}, {max_norm})"
        expect_true(case["count"] == len(student["shapes"]),
                    f"{call} returned {case['count']} tensors, expected {len(student['shapes'])}")
        expect_close(case["norm"], case["expected_norm"], f"the global norm returned by {call}",
                     against="tf.clip_by_global_norm's")
        clipped = np.asarray(case["clipped"], dtype=np.float64)
        norm = float(case["expected_norm"])
        if clipped.shape == np.shape(case["per_tensor"]) and not np.allclose(
                case["per_tensor"], case["expected"]) and np.allclose(
                clipped, case["per_tensor"], rtol=1e-4, atol=1e-6):
            raise CheckFailed(f"{call} clipped each tensor by its own norm: scale them all by "
                              "the same factor max_norm / max(global_norm, max_norm), so the "
                              "update keeps its direction")
        if norm < max_norm and clipped.shape == original.shape and np.allclose(
                clipped, original * max_norm / norm, rtol=1e-4):
            raise CheckFailed(f"{call} scaled the gradients UP to the norm {max_norm}: their "
                              f"global norm {norm:.4g} is already below max_norm, so they must "
                              "come back unchanged (factor max_norm / max(global_norm, "
                              "max_norm))")
        expect_close(clipped, case["expected"], f"the clipped gradients of {call}",
                     against="tf.clip_by_global_norm")
