"""Mutants of lab15_flows: the mistakes students make in a first normalizing flow.

The model checks run FlowModel's code on the checks' own layers (and, for train_step and
test_step, the checks' own density), so a mistake in a layer breaks that layer's checks
only, and a mistake in the model breaks the model's."""
from tests.mutants import Mutant

FLOWS = "flows.py"

MUTANTS = [
    # The change of variables with the wrong sign: log p(x) = log p(z) - log|det dz/dx|.
    Mutant("change_of_variables_subtracts_the_log_det", FLOWS,
           "return base.log_prob(z) + log_det",
           "return base.log_prob(z) - log_det",
           breaks=("change_of_variables",)),
    # The inverse reuses the forward log-determinant instead of its negative.
    Mutant("coupling_inverse_log_det_sign_flipped", FLOWS,
           "log_det = -tf.reduce_sum((1.0 - self.mask) * log_scale, axis=-1)",
           "log_det = tf.reduce_sum((1.0 - self.mask) * log_scale, axis=-1)",
           breaks=("coupling_log_det",)),
    # The log-scales of the kept (mask 1) dimensions are never applied to z, but this
    # log-determinant counts them: the model "gains" likelihood for free by pushing them to
    # the bound.
    Mutant("coupling_log_det_includes_kept_dimensions", FLOWS,
           "log_det = tf.reduce_sum((1.0 - self.mask) * log_scale, axis=-1)\n        return z, log_det",
           "log_det = tf.reduce_sum(log_scale, axis=-1)\n        return z, log_det",
           breaks=("coupling_log_det", "coupling_matches_reference")),
    # The conditioner reads all of x: the inverse, which sees z, cannot recompute it.
    Mutant("coupling_conditioner_reads_all_of_x", FLOWS,
           "h = x * self.mask\n",
           "h = x\n",
           breaks=("coupling_inverts", "coupling_matches_reference"), says="mask \\* x"),
    # Every coupling with the same mask: the kept dimension is never transformed.
    Mutant("masks_not_alternated", FLOWS,
           "first if k % 2 == 0 else 1 - first for k in range(count)",
           "first for k in range(count)",
           breaks=("alternating_masks",)),
    # No bound on the log-scale: exp(log_scale) overflows for large network outputs.
    Mutant("unbounded_log_scale", FLOWS,
           "return bound * tf.tanh(raw / bound)",
           "return raw",
           breaks=("bounded_log_scale", "coupling_matches_reference")),
    Mutant("actnorm_init_with_std_not_mean", FLOWS,
           "self.loc.assign(mean)",
           "self.loc.assign(std)",
           breaks=("actnorm_initialize",)),
    # Sampling a MAF in one pass: the MADE sees z instead of the x being built.
    Mutant("maf_inverse_in_one_pass", FLOWS,
           "for _ in range(self.dim):  # pass k",
           "for _ in range(1):  # pass k",
           breaks=("maf_inverts",)),
    # The model's inverse runs the layers in the forward order.
    Mutant("model_inverse_not_reversed", FLOWS,
           "for layer in reversed(self.flow_layers):\n            z, layer_log_det = layer.inverse(z)",
           "for layer in self.flow_layers:\n            z, layer_log_det = layer.inverse(z)",
           breaks=("flow_inverse_and_sample",), says="forward order"),
    # tfb.Chain applies its last bijector first: listing the layers data side first makes
    # the distribution chain them backwards.
    Mutant("distribution_chain_not_reversed", FLOWS,
           "tfb.Chain([FlowBijector(layer) for layer in reversed(self.flow_layers)])",
           "tfb.Chain([FlowBijector(layer) for layer in self.flow_layers])",
           breaks=("tfp_distribution",), says="LAST bijector first"),
    # The inverse log-det taken as minus the FORWARD log-det at z: right for couplings (their
    # log-det depends on the kept half only), wrong for any layer whose log-det depends on
    # the point, like the checks' sinh-arcsinh layer.
    Mutant("bijector_inverse_log_det_at_the_wrong_point", FLOWS,
           "return self.flow.inverse(z)[1]",
           "return -self.flow.forward(z)[1]",
           breaks=("tfp_distribution",), says="inverse_log_det_jacobian"),
    # The reloaded RealNVP gets the default bound (2.0) instead of the saved one (1.5).
    Mutant("realnvp_get_config_forgets_the_bound", FLOWS,
           '"hidden_units": list(self.hidden_units), "log_scale_bound": self.log_scale_bound,\n                "actnorm"',
           '"hidden_units": list(self.hidden_units),\n                "actnorm"',
           breaks=("save_load_round_trip",), says="log_scale_bound"),
    # The batch SUM of the NLL: Adam does not care (the same steps), but fit logs about
    # batch-size times the NLL.
    Mutant("train_step_sums_the_nll", FLOWS,
           "with tf.GradientTape() as tape:\n            loss = -tf.reduce_mean(self.log_prob(x))",
           "with tf.GradientTape() as tape:\n            loss = -tf.reduce_sum(self.log_prob(x))",
           breaks=("train_step_logs_the_nll", "train_step_lowers_nll"), says="batch SUM"),
    Mutant("test_step_sums_the_nll", FLOWS,
           "        # BEGIN SOLUTION loss = -mean(log_prob(x))\n        loss = -tf.reduce_mean(",
           "        # BEGIN SOLUTION loss = -mean(log_prob(x))\n        loss = -tf.reduce_sum(",
           breaks=("test_step_evaluates",), says="batch SUM"),
    # Unscaled gradients: fine in float32, but under mixed precision the LossScaleOptimizer
    # divides the float16 gradients of an unscaled loss by its scale.
    Mutant("nll_not_scaled", FLOWS,
           "scaled_loss = self.optimizer.scale_loss(loss)  # so mixed precision still trains",
           "scaled_loss = loss",
           breaks=("realnvp_trains_in_mixed_precision",)),
    # The loss overwritten by the scaled loss: the gradients are right, but under mixed
    # precision the tracker logs the loss times the loss scale (32768).
    Mutant("train_step_logs_the_scaled_loss", FLOWS,
           "scaled_loss = self.optimizer.scale_loss(loss)  # so mixed precision still trains\n"
           "        grads = tape.gradient(scaled_loss",
           "loss = self.optimizer.scale_loss(loss)\n            scaled_loss = loss\n"
           "        grads = tape.gradient(scaled_loss",
           breaks=("realnvp_trains_in_mixed_precision",), says="not what scale_loss returned"),
]
