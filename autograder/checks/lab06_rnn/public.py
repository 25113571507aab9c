"""Public checks of lab06_rnn.

The cells are compared with Keras's own cells holding the same (copied) weights, computed in
the same probe; unrolling and clipping with TensorFlow's. The seq2seq and language-model
pieces are compared with the reference on identical inputs and weights, and each model gets
one relative training check whose metric the probe measures with its own code (its own
shift, its own greedy loop, its own windows), so that only the part under test decides it.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.verdicts import (
    expect_at_least,
    expect_at_most,
    expect_close,
    expect_equal,
    expect_true,
)

CELLS, BPTT, SEQ2SEQ, CHAR_LM = "cells", "bptt", "seq2seq", "char_lm"

# name in cells.py -> (Keras cell, Keras layer, number of states, gate hint)
CELL_KINDS = {
    "VanillaRNNCell": ("SimpleRNNCell", 1),
    "LSTMCell": ("LSTMCell", 2),
    "GRUCell": ("GRUCell", 1),
}


# ---------------------------------------------------------------------------------------------
# Helpers: run in the worker (probes) or here (verdicts); numpy only at module level
# ---------------------------------------------------------------------------------------------

def randomise_weights(layer, rng, scale=0.5):
    """Overwrite every weight of a built layer or model with N(0, scale^2), in its own order."""
    for weight in layer.weights:
        weight.assign(rng.normal(scale=scale, size=weight.shape).astype("float32"))


def as_state_list(states):
    return list(states) if isinstance(states, (list, tuple)) else [states]


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
    randomise_weights(reference_cell, rng)
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
    expect_equal(student["state_size"], student["state_size_keras"],
                 f"{name}.state_size (Keras's {keras_name} has {student['state_size_keras']})")
    step = np.asarray(student["step"])
    pre = np.asarray(student["pre_activation"])
    if name == "VanillaRNNCell" and step.shape == pre.shape and np.allclose(step, pre, atol=1e-4):
        raise CheckFailed(f"{call} returns the pre-activation x W + h U + b: apply tanh")
    expect_close(step, student["step_keras"],
                 f"the output of one step of {call}, against keras.layers.{keras_name} with "
                 "the same weights")
    expect_true(len(student["step_states"]) == len(student["step_states_keras"]),
                f"one step of {call} returned {len(student['step_states'])} new states, "
                f"expected {len(student['step_states_keras'])}")
    for index, (state, expected) in enumerate(zip(student["step_states"],
                                                  student["step_states_keras"])):
        expect_close(state, expected, f"new state {index} of one step of {call}")
    expect_close(student["outputs"], student["outputs_keras"],
                 f"keras.layers.RNN({name}, return_sequences=True) outputs for {call}")
    for index, (state, expected) in enumerate(zip(student["final"], student["final_keras"])):
        expect_close(state, expected, f"final state {index} of keras.layers.RNN({name}) for {call}")


# ---------------------------------------------------------------------------------------------
# 1. The cells, against Keras's
# ---------------------------------------------------------------------------------------------

@check(points=2, uses=CELLS, reference=False,
       hint="h = tanh(inputs @ kernel + h_prev @ recurrent_kernel + bias); return (h, [h])")
def rnn_cell_matches_keras(lab, rng):
    return cell_against_keras(lab, rng, "VanillaRNNCell", batch=5, length=6, input_dim=3,
                              units=4)


@rnn_cell_matches_keras.verdict
def _(student, _reference):
    judge_cell(student, "VanillaRNNCell")


@check(points=3, uses=CELLS, reference=False,
       hint="the 4 blocks of kernel / recurrent_kernel / bias are i, f, c, o in this order; "
            "c = f * c_prev + i * tanh(z_c), h = o * tanh(c); return (h, [h, c])")
def lstm_cell_matches_keras(lab, rng):
    return cell_against_keras(lab, rng, "LSTMCell", batch=5, length=6, input_dim=3, units=4)


@lstm_cell_matches_keras.verdict
def _(student, _reference):
    judge_cell(student, "LSTMCell")


@check(points=3, uses=CELLS, reference=False,
       hint="blocks z, r, h; bias[0] goes with the input part, bias[1] with the recurrent part; "
            "the reset gate multiplies (h_prev @ U_h + bias[1]_h); h = z * h_prev + (1 - z) * h~")
def gru_cell_matches_keras(lab, rng):
    return cell_against_keras(lab, rng, "GRUCell", batch=5, length=6, input_dim=3, units=4)


@gru_cell_matches_keras.verdict
def _(student, _reference):
    judge_cell(student, "GRUCell")


def cells_round_trip(lab, rng, path, batch=3, length=5, input_dim=3):
    """A model stacking the three cells, saved as .keras and loaded back."""
    import keras
    x = rng.normal(size=(batch, length, input_dim)).astype("float32")
    model = keras.Sequential([
        keras.Input((None, input_dim)),
        keras.layers.RNN(lab.cells.VanillaRNNCell(4), return_sequences=True),
        keras.layers.RNN(lab.cells.LSTMCell(5), return_sequences=True),
        keras.layers.RNN(lab.cells.GRUCell(3))])
    randomise_weights(model, rng)
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
                 "RNN(GRUCell) model after save and load")


@check(points=1, uses=CELLS, reference=False,
       hint="every cell must run inside keras.layers.RNN and save/reload as .keras "
            "(get_config returns units)")
def cells_save_and_reload(lab, rng):
    return cells_round_trip(lab, rng, str(lab.tmpdir / "cells.keras"))


@cells_save_and_reload.verdict
def _(student, _reference):
    judge_round_trip(student)


# ---------------------------------------------------------------------------------------------
# 2. Backpropagation through time and clipping
# ---------------------------------------------------------------------------------------------

def unroll_against_keras(lab, rng, batch, length, input_dim, units):
    """unroll() with a Keras LSTMCell (random weights) against keras.layers.RNN."""
    import keras
    x = rng.normal(size=(batch, length, input_dim)).astype("float32")
    states = [rng.normal(scale=0.5, size=(batch, units)).astype("float32") for _ in range(2)]
    cell = keras.layers.LSTMCell(units)
    cell.build((None, input_dim))
    randomise_weights(cell, rng)
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
    expect_close(student["outputs"], student["expected"],
                 f"the outputs of {call}, stacked on axis 1, against keras.layers.RNN")
    expect_true(len(student["final"]) == 2, f"{call} returned {len(student['final'])} final "
                "states, expected 2 ([h, c] of the LSTM)")
    for index, (state, expected) in enumerate(zip(student["final"], student["expected_final"])):
        expect_close(state, expected, f"final state {index} of {call}")


@check(points=1, uses=BPTT, reference=False,
       hint="for t in range(T): output, states = cell(inputs[:, t], states); keep each output "
            "in a list; return (outputs, states)")
def unroll_matches_keras_rnn(lab, rng):
    return unroll_against_keras(lab, rng, batch=4, length=5, input_dim=3, units=6)


@unroll_matches_keras_rnn.verdict
def _(student, _reference):
    judge_unroll(student)


def gradient_norms_probe(lab, rng, kind, batch, length, input_dim, units, recurrent_scale):
    """state_gradient_norms of a Keras cell whose recurrent weights have a given scale."""
    import keras
    x = rng.normal(size=(batch, length, input_dim)).astype("float32")
    cell = getattr(keras.layers, kind)(units)
    cell.build((None, input_dim))
    kernel, recurrent, bias = cell.weights
    kernel.assign(rng.normal(scale=0.5, size=kernel.shape).astype("float32"))
    recurrent.assign(rng.normal(scale=recurrent_scale / np.sqrt(units),
                                size=recurrent.shape).astype("float32"))
    states = [np.zeros((batch, units), "float32") for _ in range(2 if kind == "LSTMCell" else 1)]
    return {"norms": lab.bptt.state_gradient_norms(cell, x, states),
            "call": f"state_gradient_norms({kind}({units}), x ({batch}, {length}, {input_dim}))",
            "last": float(np.sqrt(batch * units))}


def judge_gradient_norms(student, reference, vanishing=True):
    call = student["call"]
    expect_close(student["norms"], reference["norms"], call, rtol=1e-3, atol=1e-6)
    norms = np.asarray(student["norms"], dtype=np.float64)
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


@check(points=2, uses=BPTT,
       hint="unroll inside tf.GradientTape; L = tf.reduce_sum(outputs[-1]); "
            "tape.gradient(L, outputs) gives one gradient per step; tf.norm of each")
def state_gradient_norms_vanish(lab, rng):
    return gradient_norms_probe(lab, rng, "SimpleRNNCell", batch=4, length=12, input_dim=3,
                                units=8, recurrent_scale=0.5)


@state_gradient_norms_vanish.verdict
def _(student, reference):
    judge_gradient_norms(student, reference)


def clipping_probe(lab, rng, shapes, max_norms):
    import tensorflow as tf
    gradients = [rng.normal(size=shape).astype("float32") for shape in shapes]
    out = {"shapes": [list(s) for s in shapes], "max_norms": list(max_norms), "cases": []}
    for max_norm in max_norms:
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
    for max_norm, case in zip(student["max_norms"], student["cases"]):
        call = f"clip_by_global_norm(gradients of shapes {student['shapes']}, {max_norm})"
        expect_true(case["count"] == len(student["shapes"]),
                    f"{call} returned {case['count']} tensors, expected {len(student['shapes'])}")
        expect_close(case["norm"], case["expected_norm"], f"the global norm {call} returns")
        clipped = np.asarray(case["clipped"], dtype=np.float64)
        if clipped.shape == np.shape(case["per_tensor"]) and not np.allclose(
                case["per_tensor"], case["expected"]) and np.allclose(
                clipped, case["per_tensor"], rtol=1e-4, atol=1e-6):
            raise CheckFailed(f"{call} clipped each tensor by its own norm: scale them all by "
                              "the same factor max_norm / max(global_norm, max_norm), so the "
                              "update keeps its direction")
        expect_close(clipped, case["expected"],
                     f"the clipped gradients of {call}, against tf.clip_by_global_norm")


@check(points=2, uses=BPTT, reference=False,
       hint="one factor for all: max_norm / max(global_norm, max_norm), where global_norm = "
            "sqrt(sum of all squared entries of all tensors)")
def clip_by_global_norm_matches_tensorflow(lab, rng):
    return clipping_probe(lab, rng, [(3, 4), (4,), (2, 2, 3)], max_norms=(1.0, 100.0))


@clip_by_global_norm_matches_tensorflow.verdict
def _(student, _reference):
    judge_clipping(student)


# ---------------------------------------------------------------------------------------------
# 3. Sequence to sequence
# ---------------------------------------------------------------------------------------------

def shift_probe(lab, rng, batch, length, start_token):
    targets = rng.integers(0, 10, size=(batch, length)).astype("int32")
    return {"targets": targets, "start_token": start_token,
            "shifted": lab.seq2seq.shift_right(targets, start_token)}


def judge_shift(student, reference):
    call = (f"shift_right(targets {np.shape(reference['targets'])}, "
            f"start_token={reference['start_token']})")
    shifted, targets = np.asarray(student["shifted"]), np.asarray(student["targets"])
    if shifted.shape == targets.shape and targets.shape[1] > 1:
        if np.array_equal(shifted, targets):
            raise CheckFailed(f"{call} returned the targets themselves: the decoder would read "
                              "the token it must predict")
        if np.array_equal(shifted[:, :-1], targets[:, 1:]):
            raise CheckFailed(f"{call} shifts the wrong way: at step t the decoder must read "
                              "target t - 1 (the past), not target t + 1 (the future)")
    expect_equal(shifted, reference["shifted"], call)


@check(points=1, uses=SEQ2SEQ, hint="[start_token, targets[:, 0], ..., targets[:, T-2]] per row: "
                                    "tf.concat of a start column and targets[:, :-1]")
def shift_right(lab, rng):
    return shift_probe(lab, rng, batch=5, length=6, start_token=10)


@shift_right.verdict
def _(student, reference):
    judge_shift(student, reference)


def train_step_probe(lab, rng, batch, length, units):
    """One train_step with SGD on fixed weights: the loss it logs and the weights after."""
    import keras
    seq2seq = lab.seq2seq
    sources, targets = seq2seq.make_reverse_task(batch, length, rng)
    model = seq2seq.Seq2Seq(embed_dim=4, units=units)
    start = np.full((batch, 1), seq2seq.START_TOKEN, "int32")
    teacher = np.concatenate([start, targets[:, :-1]], axis=1)   # this probe's own shift
    model((sources, teacher))
    randomise_weights(model, rng, scale=0.4)
    expected_loss = float(seq2seq.sequence_loss(targets, model((sources, teacher))))
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    model.optimizer.build(model.trainable_variables)
    logs = model.train_step((sources, targets))
    logs = {name: float(value) for name, value in logs.items()}
    weights = np.concatenate([np.ravel(v.numpy()) for v in model.trainable_variables])
    return {"logged": sorted(logs), "loss": logs.get("loss", np.nan),
            "expected_loss": expected_loss, "weights": weights,
            "call": f"Seq2Seq(units={units}).train_step((sources, targets)) on {batch} "
                    f"sequences of {length} digits"}


def judge_train_step(student, reference):
    call = student["call"]
    expect_true(student["logged"] == ["accuracy", "loss"],
                f"{call} returned {student['logged']}, expected ['accuracy', 'loss']")
    loss, expected = float(student["loss"]), float(student["expected_loss"])
    if not np.isclose(loss, expected, rtol=1e-4, atol=1e-5):
        raise CheckFailed(f"{call} logged the loss {loss:.5g}, but the teacher-forced loss of "
                          f"the model is {expected:.5g}: the decoder must read "
                          "shift_right(targets) and the loss compare its logits with targets")
    expect_close(student["weights"], reference["weights"],
                 f"the weights after one SGD step of {call} (same starting weights as the "
                 "reference)", rtol=1e-3, atol=1e-5)


@check(points=2, uses=SEQ2SEQ,
       hint="decoder inputs = shift_right(targets); logits = self((source, decoder_inputs), "
            "training=True) inside the tape; loss = sequence_loss(targets, logits); scale_loss; "
            "gradients of every trainable variable; optimizer.apply")
def seq2seq_train_step(lab, rng):
    return train_step_probe(lab, rng, batch=6, length=4, units=8)


@seq2seq_train_step.verdict
def _(student, reference):
    judge_train_step(student, reference)


def greedy_probe(lab, rng, batch, source_length, lengths, units):
    seq2seq = lab.seq2seq
    sources, _ = seq2seq.make_reverse_task(batch, source_length, rng)
    model = seq2seq.Seq2Seq(embed_dim=4, units=units)
    model((sources, sources))
    randomise_weights(model, rng, scale=1.0)
    return {"decoded": [np.asarray(model.greedy_decode(sources, n)) for n in lengths],
            "lengths": list(lengths), "shape": [batch, source_length]}


def judge_greedy(student, reference):
    for n, decoded, expected in zip(reference["lengths"], student["decoded"],
                                    reference["decoded"]):
        expect_equal(decoded, expected, f"greedy_decode(sources {tuple(reference['shape'])}, "
                     f"length={n}) of a Seq2Seq with fixed random weights")


@check(points=2, uses=SEQ2SEQ,
       hint="start from encode(source) and a (N, 1) column of START; each step decode the "
            "previous prediction (the argmax, int32) from the state the last step returned")
def greedy_decode(lab, rng):
    return greedy_probe(lab, rng, batch=6, source_length=5, lengths=(5, 2), units=8)


@greedy_decode.verdict
def _(student, reference):
    judge_greedy(student, reference)


# The training budget of seq2seq_learns_to_reverse, stated in the handout.
SEQ2SEQ_TRAIN = {"length": 4, "train_size": 2048, "test_size": 500, "embed_dim": 16,
                 "units": 64, "learning_rate": 0.02, "batch_size": 64, "epochs": 3}
# Over seeds the reference's held-out token accuracy varies by a few points; a decoder that
# reads the token it must predict learns nothing it can use at test time and stays near 10 %.
SEQ2SEQ_MARGIN = 0.12


def own_greedy_decode(model, sources, length, start_token):
    """The probe's own greedy loop over the given encode/decode (not the student's)."""
    state = model.encode(sources)
    tokens = np.full((len(sources), 1), start_token, "int32")
    emitted = []
    for _ in range(length):
        logits, state = model.decode(tokens, state)
        tokens = np.argmax(np.asarray(logits), axis=-1).astype("int32")
        emitted.append(tokens)
    return np.concatenate(emitted, axis=1)


def seq2seq_training_probe(lab, rng, budget):
    import keras
    seq2seq = lab.seq2seq
    length = budget["length"]
    sources, targets = seq2seq.make_reverse_task(budget["train_size"], length, rng)
    test_sources, test_targets = seq2seq.make_reverse_task(budget["test_size"], length, rng)
    model = seq2seq.Seq2Seq(embed_dim=budget["embed_dim"], units=budget["units"])
    steps = budget["train_size"] // budget["batch_size"]
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]),
                  steps_per_execution=steps)
    history = model.fit(sources, targets, batch_size=budget["batch_size"],
                        epochs=budget["epochs"], verbose=0).history
    predicted = own_greedy_decode(model, test_sources, length, seq2seq.START_TOKEN)
    correct = predicted == test_targets
    return {"logged": sorted(history), "token_accuracy": float(correct.mean()),
            "sequence_accuracy": float(correct.all(axis=1).mean()),
            "final_loss": float(history.get("loss", [np.nan])[-1])}


def judge_seq2seq_training(student, reference, margin=SEQ2SEQ_MARGIN):
    expect_true(student["logged"] == ["accuracy", "loss"],
                f"fit() logged {student['logged']}; train_step must return the trackers' "
                "results, ['accuracy', 'loss']")
    what = (f"the held-out token accuracy of greedy decoding after training (whole sequences "
            f"right: {student['sequence_accuracy']:.0%}; the reference: "
            f"{reference['token_accuracy']:.1%} of tokens, "
            f"{reference['sequence_accuracy']:.0%} of sequences)")
    expect_at_least(student["token_accuracy"], reference["token_accuracy"] - margin, what)


@check(points=3, uses=SEQ2SEQ, timeout=40,
       hint="train_step must train with teacher forcing: decoder inputs shift_right(targets), "
            "loss against targets, gradients applied to every trainable variable")
def seq2seq_learns_to_reverse(lab, rng):
    return seq2seq_training_probe(lab, rng, SEQ2SEQ_TRAIN)


@seq2seq_learns_to_reverse.verdict
def _(student, reference):
    judge_seq2seq_training(student, reference)


# ---------------------------------------------------------------------------------------------
# 4. The character-level language model
# ---------------------------------------------------------------------------------------------

def examples_probe(lab, rng, length, seq_len, strides):
    ids = rng.integers(0, 40, size=length).astype("int32")
    out = {"ids": ids, "seq_len": seq_len, "strides": list(strides), "windows": []}
    for stride in strides:
        inputs, targets = lab.char_lm.next_char_examples(ids, seq_len, stride)
        out["windows"].append({"inputs": np.asarray(inputs), "targets": np.asarray(targets)})
    return out


def judge_examples(student, reference):
    for stride, windows, expected in zip(reference["strides"], student["windows"],
                                         reference["windows"]):
        call = (f"next_char_examples(ids ({len(reference['ids'])},), seq_len="
                f"{reference['seq_len']}, stride={stride})")
        inputs, targets = np.asarray(windows["inputs"]), np.asarray(windows["targets"])
        if inputs.shape == targets.shape and inputs.size and np.array_equal(inputs, targets):
            raise CheckFailed(f"{call} returns targets equal to the inputs: the model would "
                              "learn to copy its input, not to predict the next character")
        expect_equal(inputs, expected["inputs"], f"the inputs of {call}")
        expect_equal(targets, expected["targets"], f"the targets of {call}")


@check(points=1, uses=CHAR_LM,
       hint="window m starts at m * stride; targets are the same slice moved one character "
            "ahead; keep only windows whose targets fit in the text")
def next_char_examples(lab, rng):
    return examples_probe(lab, rng, length=40, seq_len=6, strides=(None, 3))


@next_char_examples.verdict
def _(student, reference):
    judge_examples(student, reference)


def softmax_probe(lab, rng, batch, vocab, temperatures):
    logits = (3.0 * rng.normal(size=(batch, vocab))).astype("float32")
    logits[0, 0] = 1000.0   # exp(1000) overflows unless the row's max is subtracted
    return {"logits": logits, "temperatures": list(temperatures),
            "probs": [np.asarray(lab.char_lm.softmax_with_temperature(logits, t), "float32")
                      for t in temperatures]}


def numpy_softmax(logits):
    logits = logits - logits.max(axis=-1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=-1, keepdims=True)


def judge_softmax(student, reference):
    logits = np.asarray(reference["logits"], dtype=np.float64)
    for t, probs, expected in zip(reference["temperatures"], student["probs"],
                                  reference["probs"]):
        call = f"softmax_with_temperature(logits {logits.shape}, temperature={t})"
        probs = np.asarray(probs, dtype=np.float64)
        if t != 1 and probs.shape == logits.shape and np.all(np.isfinite(probs)) \
                and np.allclose(probs, numpy_softmax(logits * t), atol=1e-5):
            raise CheckFailed(f"{call} multiplies the logits by the temperature: divide them "
                              "(a high temperature must flatten the distribution)")
        expect_close(probs.astype("float32"), expected, call, atol=1e-6)


@check(points=1, uses=CHAR_LM,
       hint="softmax(logits / temperature) with each row's max subtracted before exp")
def softmax_with_temperature(lab, rng):
    return softmax_probe(lab, rng, batch=4, vocab=9, temperatures=(1.0, 0.5, 2.0))


@softmax_with_temperature.verdict
def _(student, reference):
    judge_softmax(student, reference)


def sampling_probe(lab, rng, batch, vocab):
    probs = rng.dirichlet(np.full(vocab, 0.7), size=batch).astype("float32")
    probs[0] = np.eye(vocab, dtype="float32")[vocab // 2]   # a certain outcome
    uniforms = rng.random(batch).astype("float32")
    uniforms[1] = 0.0
    return {"uniforms": uniforms, "vocab": vocab,
            "sampled": np.asarray(lab.char_lm.sample_from_probs(probs, uniforms))}


@check(points=1, uses=CHAR_LM,
       hint="the smallest k whose cumulative probability probs[0] + ... + probs[k] exceeds "
            "the uniform (np.cumsum, then count the entries <= u)")
def sample_from_probs(lab, rng):
    return sampling_probe(lab, rng, batch=12, vocab=7)


@sample_from_probs.verdict
def _(student, reference):
    expect_equal(np.ravel(student["sampled"]).astype(np.int64),
                 np.asarray(reference["sampled"], dtype=np.int64),
                 f"sample_from_probs(probs ({len(reference['uniforms'])}, "
                 f"{reference['vocab']}), uniforms)")


def generate_probe(lab, rng, batch, prompt_length, length, temperature, units):
    char_lm = lab.char_lm
    model = char_lm.CharLanguageModel(12, embed_dim=4, units=units)
    prompt = rng.integers(0, 12, size=(batch, prompt_length)).astype("int32")
    model(prompt)
    randomise_weights(model, rng, scale=0.8)
    uniforms = rng.random((batch, length)).astype("float32")
    return {"sampled": np.asarray(char_lm.generate(model, prompt, length, temperature, uniforms)),
            "call": f"generate(model, prompt ({batch}, {prompt_length}), length={length}, "
                    f"temperature={temperature}, uniforms)"}


@check(points=2, uses=CHAR_LM,
       hint="read the whole prompt first (model.step(prompt_ids)); then per step: "
            "softmax_with_temperature, sample_from_probs with uniforms[:, i], and feed the "
            "sample back with the state model.step returned")
def generate(lab, rng):
    return generate_probe(lab, rng, batch=3, prompt_length=4, length=10, temperature=0.7,
                          units=8)


@generate.verdict
def _(student, reference):
    expect_equal(student["sampled"], reference["sampled"],
                 f"{reference['call']} of a model with fixed random weights")


# The training budget of char_lm_trains, stated in the handout.
CHAR_LM_TRAIN = {"seq_len": 32, "stride": 8, "embed_dim": 16, "units": 64,
                 "learning_rate": 0.01, "batch_size": 32, "epochs": 4, "train_fraction": 0.9}
# Over seeds the reference's validation bits per character vary by about 0.1; targets equal
# to the inputs (no shift) leave the model predicting the character it reads, above 6 bits.
CHAR_LM_MARGIN_BITS = 0.25


def char_lm_training_probe(lab, rng, budget):
    import keras
    char_lm = lab.char_lm
    text = char_lm.load_corpus()
    chars = sorted(set(text))
    ids = np.array([chars.index(c) for c in text], dtype="int32")
    split = int(budget["train_fraction"] * len(ids))
    seq_len = budget["seq_len"]
    inputs, targets = char_lm.next_char_examples(ids[:split], seq_len, budget["stride"])
    # Validation windows cut by this probe: only the student's training data is theirs.
    valid = ids[split:]
    starts = range(0, len(valid) - seq_len, seq_len)
    valid_inputs = np.stack([valid[s:s + seq_len] for s in starts])
    valid_targets = np.stack([valid[s + 1:s + seq_len + 1] for s in starts])
    model = char_lm.CharLanguageModel(len(chars), embed_dim=budget["embed_dim"],
                                      units=budget["units"])
    steps = -(-len(inputs) // budget["batch_size"])
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=steps)
    order = rng.permutation(len(inputs))
    model.fit(np.asarray(inputs)[order], np.asarray(targets)[order],
              batch_size=budget["batch_size"], epochs=budget["epochs"], verbose=0)
    logits = np.asarray(model(valid_inputs), dtype=np.float64)
    log_probs = logits - logits.max(-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    nats = -np.take_along_axis(log_probs, valid_targets[..., None], axis=-1).mean()
    return {"valid_bits": float(nats / np.log(2.0)), "vocab": len(chars),
            "windows": len(inputs)}


def judge_char_lm_training(student, reference, margin=CHAR_LM_MARGIN_BITS):
    expect_true(student["windows"] == reference["windows"],
                f"next_char_examples gave {student['windows']} training windows, the reference "
                f"{reference['windows']}")
    expect_at_most(student["valid_bits"], reference["valid_bits"] + margin,
                   f"the validation cross-entropy after training (the reference: "
                   f"{reference['valid_bits']:.3f} bits per character; uniform guessing: "
                   f"{np.log2(reference['vocab']):.2f})", unit=" bits/char")


@check(points=3, uses=CHAR_LM, timeout=40,
       hint="the language model trains on next_char_examples: the targets must be the inputs "
            "moved one character ahead")
def char_lm_trains(lab, rng):
    return char_lm_training_probe(lab, rng, CHAR_LM_TRAIN)


@char_lm_trains.verdict
def _(student, reference):
    judge_char_lm_training(student, reference)
