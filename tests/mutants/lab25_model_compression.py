"""Mutants of lab25_model_compression: the mistakes students make in a first model-compression
lab.

The Distiller and pruning-callback checks run the student's code on the checks' own soft loss
and mask, so a mistake in distillation_loss or magnitude_mask breaks their own checks only."""
from tests.mutants import Mutant

C = "compression.py"
Q = "qat.py"
# QATDense.call: the range update, then the inputs quantised on the updated range
UPDATE = ('        if training:\n'
          '            batch_min, batch_max = tf.reduce_min(inputs), tf.reduce_max(inputs)\n'
          '            first = tf.equal(self.seen, 0.0)\n'
          '            m = self.momentum\n'
          '            self.input_min.assign(tf.where(first, batch_min,\n'
          '                                           m * self.input_min + (1.0 - m) * batch_min))\n'
          '            self.input_max.assign(tf.where(first, batch_max,\n'
          '                                           m * self.input_max + (1.0 - m) * batch_max))\n'
          '            self.seen.assign_add(1.0)\n')
QUANTISE = '        x_q = fake_quant_range(inputs, self.input_min, self.input_max, self.num_bits)\n'

MUTANTS = [
    # Mish with tanh(x) in place of tanh(softplus(x)).
    Mutant("mish_without_softplus", C,
           "return x * tf.tanh(tf.math.softplus(x))", "return x * tf.tanh(x)",
           breaks=("swish_and_mish",), says="softplus"),
    # Swish that forgets beta.
    Mutant("swish_ignores_beta", C,
           "return x * tf.sigmoid(tf.cast(beta, x.dtype) * x)", "return x * tf.sigmoid(x)",
           breaks=("swish_and_mish",), says="ignores beta"),
    # Squeeze by the maximum (global max pooling) in place of the mean.
    Mutant("squeeze_by_max", C,
           "squeezed = tf.reduce_mean(x, axis=[1, 2])", "squeezed = tf.reduce_max(x, axis=[1, 2])",
           breaks=("squeeze_excite",), says="MEAN"),
    # The distillation loss without the T^2 factor.
    Mutant("distillation_without_t_squared", C,
           "return t * t * tf.reduce_mean(kl)", "return tf.reduce_mean(kl)",
           breaks=("distillation_loss",), says="without the factor T\\^2"),
    # The KL the wrong way round.
    Mutant("distillation_kl_reversed", C,
           "kl = tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), axis=-1)",
           "kl = tf.reduce_sum(tf.exp(log_q) * (log_q - log_p), axis=-1)",
           breaks=("distillation_loss",), says="teacher's distribution comes first"),
    # The teacher's logits not softened.
    Mutant("teacher_not_softened", C,
           "log_p = tf.nn.log_softmax(tf.cast(teacher_logits, \"float32\") / t, axis=-1)",
           "log_p = tf.nn.log_softmax(tf.cast(teacher_logits, \"float32\"), axis=-1)",
           breaks=("distillation_loss",), says="does not divide the teacher"),
    # The teacher run in training mode: dropout on and batch norm statistics updated.
    Mutant("teacher_in_training_mode", C,
           "teacher_logits = tf.cast(self.teacher(x, training=False), \"float32\")",
           "teacher_logits = tf.cast(self.teacher(x, training=True), \"float32\")",
           breaks=("distiller_train_step",), says="teacher"),
    # The weights of the two terms swapped.
    Mutant("distiller_alpha_swapped", C,
           "loss = self.alpha * hard + (1.0 - self.alpha) * soft",
           "loss = (1.0 - self.alpha) * hard + self.alpha * soft",
           breaks=("distiller_train_step",), says="alpha"),
    # Gradients of every trainable variable, the teacher unfrozen: the teacher trains too.
    Mutant("teacher_not_frozen", C,
           "        self.teacher.trainable = False\n", "",
           breaks=("distiller_train_step",), says="teacher"),
    # No loss scaling: float16 gradients underflow under mixed precision.
    Mutant("distiller_without_scale_loss", C,
           "scaled = self.optimizer.scale_loss(loss)", "scaled = loss",
           breaks=("distiller_trains_in_mixed_precision",), says="scale_loss"),
    # The schedule raises p (not 1 - p) to the power.
    Mutant("schedule_power_of_p", C,
           "return float(final_sparsity + (initial_sparsity - final_sparsity) * (1.0 - progress) "
           "** power)",
           "return float(initial_sparsity\n"
           "                 + (final_sparsity - initial_sparsity) * progress ** power)",
           breaks=("polynomial_sparsity",), says="raises p"),
    # The schedule's progress not clipped.
    Mutant("schedule_not_clipped", C,
           "progress = min(max((step - begin_step) / (end_step - begin_step), 0.0), 1.0)",
           "progress = (step - begin_step) / (end_step - begin_step)",
           breaks=("polynomial_sparsity",), says="clip"),
    # Pruning by signed value: the large negative weights go first.
    Mutant("mask_by_signed_value", C,
           "mask[np.argsort(np.abs(weights), axis=None, kind=\"stable\")[:k]] = 0.0",
           "mask[np.argsort(weights, axis=None, kind=\"stable\")[:k]] = 0.0",
           breaks=("magnitude_mask",), says="ABSOLUTE"),
    # The new mask computed from the raw kernel: weights revived by the optimizer may survive.
    Mutant("pruning_forgets_old_mask", C,
           "masked = np.asarray(kernel) * self.masks[index]", "masked = np.asarray(kernel)",
           breaks=("pruning_keeps_weights_pruned",), says="OLD mask"),
    # The lottery ticket rewound to the trained values.
    Mutant("rewind_keeps_trained_values", C,
           "kernel.assign(np.asarray(initial, np.float32) * mask)",
           "kernel.assign(np.asarray(kernel) * mask)",
           breaks=("lottery_rewind",), says="TRAINED"),
    # One scale for the whole kernel.
    Mutant("quantize_per_tensor", C,
           "scale = (np.abs(kernel).max(axis=0) / 127.0).astype(np.float32)",
           "scale = np.full(kernel.shape[1], np.abs(kernel).max() / 127.0, np.float32)",
           breaks=("int8_matches_keras",), says="one scale for the whole kernel"),
    # No straight-through estimator: the gradient of round is 0.
    Mutant("fake_quant_without_ste", C,
           "return upstream * tf.cast(inside, upstream.dtype)", "return upstream * 0.0",
           breaks=("fake_quant_matches_tensorflow",), says="straight-through"),
    # No nudging of the range.
    Mutant("fake_quant_not_nudged", C,
           "zero_point = min(max(round(-min_value / scale), 0.0), levels)\n"
           "    nudged_min = -zero_point * scale",
           "nudged_min = min_value",
           breaks=("fake_quant_matches_tensorflow",), says="nudge"),
    # The smallest singular values kept.
    Mutant("low_rank_keeps_smallest", C,
           "root = np.sqrt(s[:rank])\n    return ((u[:, :rank] * root).astype(np.float32),\n"
           "            (root[:, None] * vt[:rank]).astype(np.float32))",
           "root = np.sqrt(s[-rank:])\n    return ((u[:, -rank:] * root).astype(np.float32),\n"
           "            (root[:, None] * vt[-rank:]).astype(np.float32))",
           breaks=("low_rank_factors",), says="SMALLEST"),
    # The factorised layer loses its activation.
    Mutant("factorized_without_activation", C,
           "keras.layers.Dense(kernel.shape[1], activation=layer.activation, name=\"factor_b\")",
           "keras.layers.Dense(kernel.shape[1], name=\"factor_b\")",
           breaks=("factorize_dense",), says="activation"),
    # QAT: one scale for the whole kernel in place of one per output channel.
    Mutant("qat_per_tensor_scale", Q,
           "scale = tf.maximum(tf.reduce_max(tf.abs(weights), axis=0) / levels, 1e-12)",
           "scale = tf.maximum(tf.reduce_max(tf.abs(weights)) / levels, 1e-12)",
           breaks=("fake_quant_per_channel", "qat_dense_forward_and_gradient"),
           says="one scale for the whole kernel"),
    # QAT: the asymmetric 255-level grid on [-max, max] in place of 127 levels each side.
    Mutant("qat_kernel_full_range", Q,
           "levels = float(2 ** (num_bits - 1) - 1)",
           "levels = float(2 ** num_bits - 1) / 2",
           breaks=("fake_quant_per_channel", "qat_dense_forward_and_gradient"),
           says="2\\^bits - 1 levels"),
    # QAT: the kernel rounded with no straight-through estimator (no gradient reaches it).
    Mutant("qat_kernel_without_ste", Q,
           "return weights + tf.stop_gradient(quantised - weights)", "return quantised",
           breaks=("fake_quant_per_channel", "qat_dense_forward_and_gradient"),
           says="straight-through"),
    # QAT: the activations' range not nudged so that 0.0 is on the grid.
    Mutant("qat_range_not_nudged", Q,
           "zero_point = tf.clip_by_value(tf.round(-low / scale), 0.0, levels)",
           "zero_point = -low / scale",
           breaks=("fake_quant_range", "qat_dense_forward_and_gradient"), says="nudge"),
    # QAT: the straight-through gradient passed where x was clipped too.
    Mutant("qat_range_gradient_through_clip", Q,
           "return clipped + tf.stop_gradient(rounded - clipped)",
           "return values + tf.stop_gradient(rounded - values)",
           breaks=("fake_quant_range", "qat_dense_forward_and_gradient"),
           says="0 where x was clipped"),
    # QAT: the range kept from the first batch (no moving average).
    Mutant("qat_range_frozen_after_first_batch", Q,
           "m = self.momentum", "m = 1.0",
           breaks=("qat_dense_forward_and_gradient",), says="keeps the first batch's range"),
    # QAT: the range updated in inference too.
    Mutant("qat_range_updated_in_inference", Q,
           "        if training:\n            batch_min", "        if True:\n            batch_min",
           breaks=("qat_dense_forward_and_gradient",), says="training=False"),
    # QAT: 127 levels hard-coded in the kernel's grid, whatever num_bits.
    Mutant("qat_kernel_127_levels", Q,
           "levels = float(2 ** (num_bits - 1) - 1)", "levels = 127.0",
           breaks=("fake_quant_per_channel", "qat_dense_forward_and_gradient"),
           says="127 levels"),
    # QAT: the inputs quantised on the range from before this batch's update.
    Mutant("qat_quantises_on_stale_range", Q, UPDATE + QUANTISE, QUANTISE + UPDATE,
           breaks=("qat_dense_forward_and_gradient",), says="BEFORE this batch's update"),
    # QAT: the gradient reaches the tracked range (the bounds not under stop_gradient).
    Mutant("qat_range_gets_gradient", Q,
           "low = tf.stop_gradient(tf.cast(min_value, tf.float32))",
           "low = tf.cast(min_value, tf.float32)",
           breaks=("fake_quant_range",), says="reaches the range"),
    # QAT: the inputs left in float.
    Mutant("qat_float_inputs", Q,
           "x_q = fake_quant_range(inputs, self.input_min, self.input_max, self.num_bits)",
           "x_q = inputs",
           breaks=("qat_dense_forward_and_gradient",), says="the output in inference"),
    # k truncated (int(s * size)) in place of rounded: 6.6 entries prune 6, not 7.
    Mutant("mask_truncates_k", C,
           "k = int(round(sparsity * weights.size))", "k = int(sparsity * weights.size)",
           breaks=("magnitude_mask",), says="truncates"),
    # The callback's step counted from 1: the schedule is read one batch ahead.
    Mutant("pruning_step_from_one", C,
           "sparsity = self.schedule(self.step)\n        self.step += 1",
           "self.step += 1\n        sparsity = self.schedule(self.step)",
           breaks=("pruning_keeps_weights_pruned",), says="counts from 0"),
    # The KL summed over the batch in place of averaged.
    Mutant("distillation_summed_over_batch", C,
           "return t * t * tf.reduce_mean(kl)", "return t * t * tf.reduce_sum(kl)",
           breaks=("distillation_loss",), says="MEAN over the batch"),
    # numpy's V^T taken for V: the first r columns of vt, transposed.
    Mutant("low_rank_v_for_vt", C,
           "(root[:, None] * vt[:rank]).astype(np.float32))",
           "(root[:, None] * vt[:, :rank].T).astype(np.float32))",
           breaks=("low_rank_factors",), says="V\\^T for V"),
]
