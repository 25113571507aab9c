"""Public checks of lab06_rnn, part 1: the cells (cells.py), backpropagation through time
and clipping (bptt.py).

The cells are compared with Keras's own cells holding the same (copied) weights, computed in
the same probe; unrolling and clipping with TensorFlow's. state_gradient_norms runs on a
stand-in unroll (a linear recurrence of known gradients), clip_by_global_norm on
tf.linalg.global_norm standing in for global_norm (see probes.py).
"""
from autograder.api import check
from autograder.checks.lab06_rnn.probes import (
    BPTT,
    CELLS,
    cell_against_keras,
    cells_round_trip,
    clipping_probe,
    global_norm_probe,
    gradient_norms_probe,
    judge_cell,
    judge_clipping,
    judge_global_norm,
    judge_gradient_norms,
    judge_round_trip,
    judge_unroll,
    unroll_against_keras,
)

# ---------------------------------------------------------------------------------------------
# 1. The cells, against Keras's
# ---------------------------------------------------------------------------------------------


@check(points=2, uses=CELLS, reference=False, task="`VanillaRNNCell.call`",
       hint="h = tanh(inputs @ kernel + h_prev @ recurrent_kernel + bias); return (h, [h])")
def rnn_cell_matches_keras(lab, rng):
    """One step and a whole sequence (through `keras.layers.RNN`) against Keras's
    `SimpleRNNCell` holding the same weights."""
    return cell_against_keras(lab, rng, "VanillaRNNCell", batch=5, length=6, input_dim=3,
                              units=4)


rnn_cell_matches_keras.verdict(lambda student, _: judge_cell(student, "VanillaRNNCell"))


@check(points=3, uses=CELLS, reference=False, task="`LSTMCell.call`",
       hint="the 4 blocks of kernel / recurrent_kernel / bias are i, f, c, o in this order; "
            "c = f * c_prev + i * tanh(z_c), h = o * tanh(c); return (h, [h, c])")
def lstm_cell_matches_keras(lab, rng):
    """One step (output and states [h, c]) and a whole sequence against Keras's `LSTMCell`
    holding the same weights."""
    return cell_against_keras(lab, rng, "LSTMCell", batch=5, length=6, input_dim=3, units=4)


lstm_cell_matches_keras.verdict(lambda student, _: judge_cell(student, "LSTMCell"))


@check(points=3, uses=CELLS, reference=False, task="`GRUCell.call`",
       hint="blocks z, r, h; bias[0] goes with the input part, bias[1] with the recurrent part; "
            "the reset gate multiplies (h_prev @ U_h + bias[1]_h); h = z * h_prev + (1 - z) * h~")
def gru_cell_matches_keras(lab, rng):
    """One step and a whole sequence against Keras's `GRUCell` (reset_after=True) holding
    the same weights."""
    return cell_against_keras(lab, rng, "GRUCell", batch=5, length=6, input_dim=3, units=4)


gru_cell_matches_keras.verdict(lambda student, _: judge_cell(student, "GRUCell"))


@check(points=1, uses=CELLS, reference=False, task="the three cells",
       hint="every cell must run inside keras.layers.RNN and save/reload as .keras "
            "(get_config returns units)")
def cells_save_and_reload(lab, rng):
    """A model stacking RNN(VanillaRNNCell), RNN(LSTMCell) and RNN(GRUCell) reloads from
    `.keras` with the same outputs."""
    return cells_round_trip(lab, rng, str(lab.tmpdir / "cells.keras"))


cells_save_and_reload.verdict(lambda student, _: judge_round_trip(student))


# ---------------------------------------------------------------------------------------------
# 2. Backpropagation through time and clipping
# ---------------------------------------------------------------------------------------------

@check(points=1, uses=BPTT, reference=False, task="`unroll`",
       hint="for t in range(T): output, states = cell(inputs[:, t], states); keep each output "
            "in a list; return (outputs, states)")
def unroll_matches_keras_rnn(lab, rng):
    """Unrolling a Keras `LSTMCell` step by step gives the outputs and final states of
    `keras.layers.RNN`."""
    return unroll_against_keras(lab, rng, batch=4, length=5, input_dim=3, units=6)


unroll_matches_keras_rnn.verdict(lambda student, _: judge_unroll(student))


@check(points=2, uses=BPTT, task="`state_gradient_norms`",
       hint="call unroll(cell, inputs, states) inside tf.GradientTape; L = the sum of the "
            "last output; one gradient per step output, in step order; tf.norm of each")
def state_gradient_norms_vanish(lab, rng):
    """On the check's stand-in `unroll` (called by name), the linear recurrence
    h_t = 0.8·h_(t−1) + x_t·B: ‖∂L/∂h_t‖ = 0.8^(T−1−t)·sqrt(N·U), as the chain rule gives,
    matching the reference and shrinking going back in time."""
    return gradient_norms_probe(lab, rng, batch=4, length=12, input_dim=3, units=8)


state_gradient_norms_vanish.verdict(judge_gradient_norms)


@check(points=1, uses=BPTT, reference=False, task="`global_norm`",
       hint="sqrt of the sum of the squares of every entry of every tensor: "
            "tf.sqrt(sum of tf.reduce_sum(tf.square(t)))")
def global_norm(lab, rng):
    """The global norm of four tensors of different shapes (a scalar among them)."""
    return global_norm_probe(lab, rng, [(3, 4), (4,), (2, 2, 3), ()])


global_norm.verdict(lambda student, _: judge_global_norm(student))


@check(points=2, uses=BPTT, reference=False, task="`clip_by_global_norm`",
       hint="one factor for all: max_norm / max(global_norm, max_norm); gradients whose global "
            "norm is below max_norm come back unchanged")
def clip_by_global_norm_matches_tensorflow(lab, rng):
    """Clipping to a norm below the gradients' (1) and above it (100), on
    `tf.linalg.global_norm` standing in for `global_norm`, against `tf.clip_by_global_norm`."""
    return clipping_probe(lab, rng, [(3, 4), (4,), (2, 2, 3)], max_norms=(1.0, 100.0))


clip_by_global_norm_matches_tensorflow.verdict(lambda student, _: judge_clipping(student))
