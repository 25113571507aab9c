"""Mutants of lab06_rnn: the mistakes students make with recurrent cells, BPTT, teacher
forcing and sampling."""
from tests.mutants import Mutant

CELLS, BPTT, SEQ2SEQ, CHAR_LM = "cells.py", "bptt.py", "seq2seq.py", "char_lm.py"

MUTANTS = [
    # The activation forgotten: the state grows without bound over a long sequence.
    Mutant("rnn_cell_returns_the_pre_activation", CELLS,
           "h = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel)\n"
           "                     + self.bias)",
           "h = (ops.matmul(inputs, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel)\n"
           "             + self.bias)",
           breaks=("rnn_cell_matches_keras",)),
    # Gate order: the forget gate reads the input gate's block of the weights.
    Mutant("lstm_forget_gate_uses_the_input_gate_slice", CELLS,
           "i, f, o = ops.sigmoid(z_i), ops.sigmoid(z_f), ops.sigmoid(z_o)",
           "i, f, o = ops.sigmoid(z_i), ops.sigmoid(z_i), ops.sigmoid(z_o)",
           breaks=("lstm_cell_matches_keras",)),
    Mutant("gru_candidate_without_the_reset_gate", CELLS,
           "candidate = ops.tanh(x_h + r * h_h)",
           "candidate = ops.tanh(x_h + h_h)",
           breaks=("gru_cell_matches_keras",)),
    # Every step starts again from the initial state: no recurrence, no BPTT.
    Mutant("unroll_does_not_carry_the_state", BPTT,
           "        output, states = cell(inputs[:, t], states)\n",
           "        output, _ = cell(inputs[:, t], states)\n",
           breaks=("unroll_matches_keras_rnn",), says="carry the states"),
    Mutant("clipping_each_tensor_by_its_own_norm", BPTT,
           "return [g * scale for g in gradients], norm",
           "return [tf.clip_by_norm(g, max_norm) for g in gradients], norm",
           breaks=("clip_by_global_norm_matches_tensorflow",)),
    # Shifted towards the future: the decoder reads target t + 1 to predict target t.
    Mutant("teacher_forcing_shifts_the_wrong_way", SEQ2SEQ,
           "return tf.concat([start, targets[:, :-1]], axis=1)",
           "return tf.concat([targets[:, 1:], start], axis=1)",
           breaks=("shift_right",), says="wrong way"),
    # No shift at all: the decoder reads the very token it must predict, trains to copy it,
    # and has nothing to copy at test time.
    Mutant("decoder_reads_the_target_it_must_predict", SEQ2SEQ,
           "        decoder_inputs = shift_right(targets, self.start_token)\n"
           "        with tf.GradientTape() as tape:",
           "        decoder_inputs = targets\n"
           "        with tf.GradientTape() as tape:",
           breaks=("seq2seq_train_step", "seq2seq_learns_to_reverse")),
    Mutant("train_step_forgets_scale_loss", SEQ2SEQ,
           "scaled_loss = self.optimizer.scale_loss(loss)  # so mixed precision still trains",
           "scaled_loss = loss",
           breaks=("seq2seq_trains_in_mixed_precision",)),
    # Each greedy step starts from the encoder's state again, forgetting what it emitted.
    Mutant("greedy_decode_drops_the_decoder_state", SEQ2SEQ,
           "            logits, state = self.decode(tokens, state)",
           "            logits, _ = self.decode(tokens, state)",
           breaks=("greedy_decode",)),
    Mutant("language_model_targets_not_shifted", CHAR_LM,
           "targets = np.stack([ids[s + 1:s + seq_len + 1] for s in starts])",
           "targets = np.stack([ids[s:s + seq_len] for s in starts])",
           breaks=("next_char_examples", "char_lm_trains")),
    Mutant("temperature_multiplies_the_logits", CHAR_LM,
           'scaled = np.asarray(logits, dtype="float64") / temperature',
           'scaled = np.asarray(logits, dtype="float64") * temperature',
           breaks=("softmax_with_temperature",), says="divide"),
    # The sum of the tensors' norms is not the norm of all their entries together.
    Mutant("global_norm_adds_the_norms", BPTT,
           "return tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(t)) for t in tensors]))",
           "return tf.add_n([tf.norm(t) for t in tensors])",
           breaks=("global_norm",), says="own norms"),
    # Small gradients scaled up to max_norm as well.
    Mutant("clipping_always_rescales", BPTT,
           "scale = max_norm / tf.maximum(norm, max_norm)",
           "scale = max_norm / norm",
           breaks=("clip_by_global_norm_matches_tensorflow",), says="come back unchanged"),
    # numpy works on the arrays the check passes, not on fit's symbolic tensors.
    Mutant("shift_right_in_numpy", SEQ2SEQ,
           '    targets = tf.cast(targets, "int32")\n'
           '    start = tf.fill([tf.shape(targets)[0], 1], tf.constant(start_token, "int32"))\n'
           "    return tf.concat([start, targets[:, :-1]], axis=1)\n",
           '    targets = np.asarray(targets, dtype="int32")\n'
           '    start = np.full((targets.shape[0], 1), start_token, dtype="int32")\n'
           "    return np.concatenate([start, targets[:, :-1]], axis=1)\n",
           breaks=("shift_right",), says="inside a tf.function"),
    # numpy in train_step itself: fine eagerly, fails where fit traces the step.
    Mutant("train_step_calls_numpy", SEQ2SEQ,
           "        decoder_inputs = shift_right(targets, self.start_token)\n"
           "        with tf.GradientTape() as tape:",
           "        decoder_inputs = np.asarray(shift_right(targets, self.start_token))\n"
           "        with tf.GradientTape() as tape:",
           breaks=("seq2seq_train_step",)),
    # A train_step that never applies its gradients earns nothing, not even for tracing.
    Mutant("train_step_never_applies_the_gradients", SEQ2SEQ,
           "        self.optimizer.apply(gradients, self.trainable_variables)\n",
           "",
           breaks=("seq2seq_train_step", "seq2seq_train_step_traces_at_most_twice",
                   "seq2seq_trains_with_xla", "seq2seq_trains_in_mixed_precision")),
    # scale_loss called, its result unused: under mixed_float16 the LossScaleOptimizer
    # divides unscaled gradients by the loss scale.
    Mutant("train_step_differentiates_the_unscaled_loss", SEQ2SEQ,
           "gradients = tape.gradient(scaled_loss, self.trainable_variables)",
           "gradients = tape.gradient(loss, self.trainable_variables)",
           breaks=("seq2seq_trains_in_mixed_precision",), says="unscaled loss"),
    # The scaled loss written over the loss, then logged: 2^15 times too large.
    Mutant("train_step_logs_the_scaled_loss", SEQ2SEQ,
           "            scaled_loss = self.optimizer.scale_loss(loss)  # so mixed precision still "
           "trains\n        gradients = tape.gradient(scaled_loss, self.trainable_variables)",
           "            loss = self.optimizer.scale_loss(loss)\n"
           "        gradients = tape.gradient(loss, self.trainable_variables)",
           breaks=("seq2seq_trains_in_mixed_precision",), says="log the loss itself"),
    # side="left": on a tie (u equal to a cumulative probability) it draws the category
    # before, even one of probability 0.
    Mutant("sampling_takes_cumulative_at_least_u", CHAR_LM,
           "below = (cumulative <= np.asarray(uniforms",
           "below = (cumulative < np.asarray(uniforms",
           breaks=("sample_from_probs",), says="strictly greater"),
]
