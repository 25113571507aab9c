"""Mutants of lab15_flows: the mistakes students make in a first normalizing flow."""
from tests.mutants import Mutant

FLOWS = "flows.py"

MUTANTS = [
    # The change of variables with the wrong sign: log p(x) = log p(z) - log|det dz/dx|.
    # Training then rewards contracting the data, and the held-out NLL (measured with the
    # autodiff log-determinant) gets worse instead of better.
    Mutant("change_of_variables_subtracts_the_log_det", FLOWS,
           "return base.log_prob(z) + log_det",
           "return base.log_prob(z) - log_det",
           breaks=("change_of_variables", "flow_log_prob", "tfp_distribution",
                   "train_step_lowers_nll")),
    # The inverse reuses the forward log-determinant instead of its negative. TFP's
    # TransformedDistribution evaluates log_prob through the inverse log-det (at the z it
    # cached from the forward), so the model and its TFP distribution disagree too.
    Mutant("coupling_inverse_log_det_sign_flipped", FLOWS,
           "log_det = -tf.reduce_sum((1.0 - self.mask) * log_scale, axis=-1)",
           "log_det = tf.reduce_sum((1.0 - self.mask) * log_scale, axis=-1)",
           breaks=("coupling_log_det", "flow_inverse_and_sample", "tfp_distribution")),
    # The log-scales of the kept (mask 1) dimensions are never applied to z, but this
    # log-determinant counts them: the model "gains" likelihood for free by pushing them to
    # the bound. (The bound limits the damage: its true held-out NLL stays within the
    # training check's margin, 2.88 against 2.83, so the log-det checks catch it, and TFP,
    # whose log_prob goes through the inverse log-det, which is right.)
    Mutant("coupling_log_det_includes_kept_dimensions", FLOWS,
           "log_det = tf.reduce_sum((1.0 - self.mask) * log_scale, axis=-1)\n        return z, log_det",
           "log_det = tf.reduce_sum(log_scale, axis=-1)\n        return z, log_det",
           breaks=("coupling_log_det", "coupling_matches_reference", "flow_log_prob",
                   "tfp_distribution")),
    # Every coupling with the same mask: the kept dimension is never transformed.
    Mutant("masks_not_alternated", FLOWS,
           "first if k % 2 == 0 else 1 - first for k in range(count)",
           "first for k in range(count)",
           breaks=("alternating_masks", "train_step_lowers_nll")),
    # No bound on the log-scale: exp(log_scale) overflows for large network outputs.
    Mutant("unbounded_log_scale", FLOWS,
           "return bound * tf.tanh(raw / bound)",
           "return raw",
           breaks=("bounded_log_scale", "coupling_matches_reference", "flow_log_prob",
                   "flow_inverse_and_sample")),
    Mutant("actnorm_init_with_std_not_mean", FLOWS,
           "self.loc.assign(mean)",
           "self.loc.assign(std)",
           breaks=("actnorm_initialize",)),
    # Sampling a MAF in one pass: the MADE sees z instead of the x being built. The result is
    # still an autoregressive map with a consistent log-det, just not the forward's inverse
    # (and TFP, which takes log-dets through the inverse, no longer agrees with the model).
    Mutant("maf_inverse_in_one_pass", FLOWS,
           "for _ in range(self.dim):  # pass k",
           "for _ in range(1):  # pass k",
           breaks=("maf_inverts", "flow_inverse_and_sample", "tfp_distribution")),
    # The reloaded RealNVP gets the default bound (2.0) instead of the saved one (1.5).
    Mutant("realnvp_get_config_forgets_the_bound", FLOWS,
           '"hidden_units": list(self.hidden_units), "log_scale_bound": self.log_scale_bound,\n                "actnorm"',
           '"hidden_units": list(self.hidden_units),\n                "actnorm"',
           breaks=("save_load_round_trip",)),
    # Unscaled gradients: fine in float32, but under mixed precision the LossScaleOptimizer
    # divides the float16 gradients of an unscaled loss by its scale.
    Mutant("nll_not_scaled", "flows.py",
           "scaled_loss = self.optimizer.scale_loss(loss)  # so mixed precision still trains",
           "scaled_loss = loss",
           breaks=("realnvp_trains_in_mixed_precision",)),
]
