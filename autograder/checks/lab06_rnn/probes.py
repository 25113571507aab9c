"""What the checks of lab06_rnn share: the stand-ins for the graded functions that other
graded functions call, and the probes and verdicts of the cells and of backpropagation
through time.

A check of a function that calls another graded one runs it on a stand-in (`standing_in`),
so one wrong line costs the points of its own function only. None of them is the lab's
code: where the handout makes the call part of the function's contract, the stand-in has
simple known behaviour of its own, and the reference's function, run on the same stand-in,
gives the expected output; otherwise it is TensorFlow's own computation.
- state_gradient_norms calls `unroll`: a linear recurrence h_t = 0.8 h_{t-1} + x_t B that
  ignores the cell, so that ||dL/dh_t|| = 0.8^(T-1-t) sqrt(N U) exactly;
- clip_by_global_norm may compute the global norm inline: `tf.linalg.global_norm`;
- train_step calls `shift_right`: the targets in reverse order (one step), or a START token
  at every position (training, readiness: the decoder then reads no targets at all);
- generate calls softmax_with_temperature and sample_from_probs: probabilities proportional
  to 1 + (logits / temperature)^2, and a pick by how many categories come close to the
  most likely one (probes_sequences.py).
Probes run in the worker, verdicts in the grader: numpy only at module level.
"""
from __future__ import annotations

import numpy as np

from autograder.api import CheckFailed
from autograder.check_helpers import assign_random_weights, standing_in
from autograder.verdicts import as_array, expect_close, expect_equal, expect_true

CELLS, BPTT, SEQ2SEQ, CHAR_LM = "cells", "bptt", "seq2seq", "char_lm"

# name in cells.py -> (Keras cell, number of states)
CELL_KINDS = {
    "VanillaRNNCell": ("SimpleRNNCell", 1),
    "LSTMCell": ("LSTMCell", 2),
    "GRUCell": ("GRUCell", 1),
}


# ---- Stand-ins -----------------------------------------------------------------------------

def as_state_list(states):
    return list(states) if isinstance(states, (list, tuple)) else [states]


# The stand-in unroll's decay per step: dL/dh_t = DECAY^(T-1-t) * ones for L = sum(h_T).
DECAY = 0.8


def linear_unroll(input_weights):
    """The stand-in for unroll: NOT the cell run step by step but the linear recurrence
    h_t = DECAY * h_{t-1} + x_t @ input_weights from h_{-1} = states[0], whatever the cell.
    Returns (outputs, [h_T]) as unroll does: a list of T tensors (N, U), each computed from
    the one before, so that gradients with respect to each of them can be taken."""
    import tensorflow as tf
    # A variable, as a cell's weights are: a GradientTape records what it touches.
    weights = tf.Variable(input_weights, dtype=tf.float32)

    def unroll(cell, inputs, states):
        inputs = tf.convert_to_tensor(inputs, tf.float32)
        h = tf.convert_to_tensor(as_state_list(states)[0], tf.float32)
        outputs = []
        for t in range(int(inputs.shape[1])):
            h = DECAY * h + tf.matmul(inputs[:, t], weights)
            outputs.append(h)
        return outputs, [h]
    return unroll


def library_global_norm(tensors):
    """The stand-in for global_norm: TensorFlow's tf.linalg.global_norm."""
    import tensorflow as tf
    return tf.linalg.global_norm([tf.convert_to_tensor(t, tf.float32) for t in tensors])


def reversed_targets(targets, start_token):
    """The stand-in for shift_right in the one-step checks: the targets in reverse order
    (start_token unused), so the decoder's inputs depend on the targets in a known way."""
    import tensorflow as tf
    return tf.reverse(tf.cast(targets, tf.int32), axis=[1])


def start_everywhere(targets, start_token):
    """The stand-in for shift_right in the training and readiness checks: start_token at
    every position. The decoder reads no targets, so the trained model is measured without
    any decoding loop: its argmax on START inputs."""
    import tensorflow as tf
    return tf.fill(tf.shape(targets), tf.constant(start_token, tf.int32))


def on_stand_in_shift(lab, shift=start_everywhere):
    """seq2seq.py with a stand-in shift_right, for the checks of train_step."""
    return standing_in(lab.seq2seq, shift_right=shift)


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
    step = np.asarray(student["step"], dtype=np.float64)
    if name == "VanillaRNNCell":
        # Keras's output is tanh(pre-activation): arctanh gives the pre-activation back.
        keras_step = np.clip(np.asarray(student["step_keras"], np.float64), -1 + 1e-6, 1 - 1e-6)
        pre = np.arctanh(keras_step)
        if step.shape == pre.shape and np.allclose(step, pre, rtol=1e-2, atol=1e-3):
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


def gradient_norms_probe(lab, rng, batch, length, input_dim, units, unroll=None,
                         kind="SimpleRNNCell", recurrent_scale=0.5):
    """state_gradient_norms of a Keras cell (random weights, recurrent ones of the given
    scale) run on `unroll`: by default the stand-in linear_unroll, which ignores the cell."""
    import keras
    x = rng.normal(size=(batch, length, input_dim)).astype("float32")
    cell = getattr(keras.layers, kind)(units)
    cell.build((None, input_dim))
    kernel, recurrent, bias = cell.weights
    kernel.assign(rng.normal(scale=0.5, size=kernel.shape).astype("float32"))
    recurrent.assign(rng.normal(scale=recurrent_scale / np.sqrt(units),
                                size=recurrent.shape).astype("float32"))
    states = [np.zeros((batch, units), "float32") for _ in range(2 if kind == "LSTMCell" else 1)]
    linear = unroll is None
    if linear:
        unroll = linear_unroll(rng.normal(size=(input_dim, units)).astype("float32"))
    with standing_in(lab.bptt, unroll=unroll):
        norms = lab.bptt.state_gradient_norms(cell, x, states)
    on = (f"the stand-in unroll h_t = {DECAY} h_(t-1) + x_t B" if linear
          else f"{kind}({units})")
    return {"norms": norms, "linear": linear,
            "call": f"state_gradient_norms(cell, x ({batch}, {length}, {input_dim}), states) "
                    f"on {on}",
            "last": float(np.sqrt(batch * units))}


def judge_gradient_norms(student, reference, vanishing=True):
    call = student["call"]
    norms = as_array(student["norms"], call).astype(np.float64)
    expected = np.asarray(reference["norms"], dtype=np.float64)
    scale = student["last"] ** 2   # N * U
    if norms.shape == expected.shape and np.allclose(norms * scale, expected, rtol=1e-3):
        raise CheckFailed(f"{call} is the reference divided by N * U = {scale:g}: L is the SUM "
                          "of the last output over the batch and the units, not its mean")
    if student["linear"] and norms.shape == expected.shape and \
            np.allclose(norms[::-1], expected, rtol=1e-3) and len(norms) > 1:
        raise CheckFailed(f"{call} lists the norms from the last step to the first: norms[t] "
                          "belongs to the output of step t = 0 .. T-1")
    if student["linear"]:
        # Known maths on the stand-in: dL/dh_t = DECAY^(T-1-t) * ones(N, U).
        known = student["last"] * DECAY ** np.arange(len(expected) - 1, -1, -1.0)
        expect_close(norms, known, call, rtol=1e-3, atol=1e-6,
                     against=f"sqrt(N * U) * {DECAY}^(T-1-t), the chain rule on this "
                             "recurrence")
    expect_close(norms, expected, call, rtol=1e-3, atol=1e-6)
    expect_true(np.isclose(norms[-1], student["last"], rtol=1e-4),
                f"the last entry of {call} is {norms[-1]:.4g}; dL/dh_T of L = sum(h_T) is all "
                f"ones, whose norm is sqrt(N * U) = {student['last']:.4g}")
    if vanishing:
        expect_true(np.all(np.diff(norms) > 0), f"{call} should grow towards the last step "
                    f"(the gradient vanishes going back in time), got {np.round(norms, 4)}")


def global_norm_probe(lab, rng, shapes):
    import tensorflow as tf
    tensors = [rng.normal(size=shape).astype("float32") for shape in shapes]
    entries = np.concatenate([np.ravel(t) for t in tensors]).astype(np.float64)
    return {"shapes": [list(s) for s in shapes],
            "norm": lab.bptt.global_norm([tf.constant(t) for t in tensors]),
            "norms": [float(np.linalg.norm(np.ravel(t).astype(np.float64))) for t in tensors],
            "expected": float(np.linalg.norm(entries))}


def judge_global_norm(student):
    call = f"global_norm(tensors of shapes {[tuple(s) for s in student['shapes']]})"
    norm = as_array(student["norm"], call).astype(np.float64)
    if norm.size == 1 and np.isclose(float(norm), sum(student["norms"]), rtol=1e-4):
        raise CheckFailed(f"{call} adds up the tensors' own norms: the global norm is the "
                          "square root of the sum of ALL squared entries (the norm of every "
                          "tensor flattened into one vector)")
    expect_close(norm, np.float32(student["expected"]), call,
                 against="np.linalg.norm of every entry of every tensor, as one vector")


def clipping_probe(lab, rng, shapes, max_norms):
    """clip_by_global_norm (on tf.linalg.global_norm standing in for global_norm) and
    tf.clip_by_global_norm."""
    import tensorflow as tf
    gradients = [rng.normal(size=shape).astype("float32") for shape in shapes]
    out = {"shapes": [list(s) for s in shapes], "max_norms": list(max_norms), "cases": [],
           "original": np.concatenate([np.ravel(g) for g in gradients])}
    for max_norm in max_norms:
        with standing_in(lab.bptt, global_norm=library_global_norm):
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
