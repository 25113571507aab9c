"""Mutants of lab11_vae: the mistakes students make in a first VAE."""
from tests.mutants import Mutant

VAE = "vae.py"

MUTANTS = [
    Mutant("kl_sign_flipped", VAE,
           "return 0.5 * tf.reduce_sum(tf.square(mean)",
           "return -0.5 * tf.reduce_sum(tf.square(mean)",
           breaks=("kl_divergence", "vae_loss_terms", "train_step_trains", "test_step_evaluates",
                   "beta_vae_trades_kl_for_reconstruction", "cvae_loss_terms",
                   "cvae_generates_requested_digits")),
    Mutant("kl_missing_half", VAE,
           "return 0.5 * tf.reduce_sum(tf.square(mean)",
           "return tf.reduce_sum(tf.square(mean)",
           breaks=("kl_divergence", "vae_loss_terms", "train_step_trains", "test_step_evaluates",
                   "beta_vae_trades_kl_for_reconstruction", "cvae_loss_terms")),
    # The encoder's second output is a log-variance, not a variance: its square root is NaN
    # wherever it is negative. (test_step_evaluates still passes: its fresh model happens to
    # give positive log-variances on the test digits, and evaluate's wiring is right.)
    Mutant("log_variance_used_as_variance", VAE,
           "return mean + tf.exp(0.5 * log_var) * epsilon",
           "return mean + tf.sqrt(log_var) * epsilon",
           breaks=("sample_gaussian", "vae_loss_terms", "train_step_trains",
                   "beta_vae_trades_kl_for_reconstruction", "log_likelihood_estimate",
                   "iwae_tightens_with_more_samples", "cvae_loss_terms",
                   "cvae_generates_requested_digits", "vae_trains_with_xla",
                   "vae_trains_in_mixed_precision")),
    # The Keras binary_crossentropy habit: a mean over pixels scales the likelihood by 1/64,
    # so the KL term dominates and the posterior collapses to the prior.
    Mutant("reconstruction_averaged_over_pixels", VAE,
           "return tf.reduce_sum(x * logits - softplus, axis=-1)",
           "return tf.reduce_mean(x * logits - softplus, axis=-1)",
           breaks=("bernoulli_log_likelihood", "bernoulli_log_likelihood_extreme_logits",
                   "vae_loss_terms", "train_step_trains", "test_step_evaluates",
                   "beta_vae_trades_kl_for_reconstruction", "log_likelihood_estimate",
                   "iwae_tightens_with_more_samples", "cvae_loss_terms")),
    Mutant("reconstruction_summed_over_the_batch_axis", VAE,
           "return tf.reduce_sum(x * logits - softplus, axis=-1)",
           "return tf.reduce_sum(x * logits - softplus, axis=0)",
           breaks=("bernoulli_log_likelihood", "bernoulli_log_likelihood_extreme_logits",
                   "vae_loss_terms", "test_step_evaluates", "log_likelihood_estimate",
                   "iwae_tightens_with_more_samples", "cvae_loss_terms")),
    Mutant("log_of_sigmoid_overflows", VAE,
           "softplus = tf.maximum(logits, 0.0) + tf.math.log1p(tf.exp(-tf.abs(logits)))\n"
           "    return tf.reduce_sum(x * logits - softplus, axis=-1)",
           "p = tf.sigmoid(logits)\n"
           "    return tf.reduce_sum(x * tf.math.log(p) + (1 - x) * tf.math.log(1 - p), axis=-1)",
           breaks=("bernoulli_log_likelihood_extreme_logits",)),
    Mutant("train_step_forgets_the_kl_term", VAE,
           "scaled_loss = self.optimizer.scale_loss(loss)",
           "scaled_loss = self.optimizer.scale_loss(reconstruction)",
           breaks=("train_step_trains", "beta_vae_trades_kl_for_reconstruction",
                   "cvae_generates_requested_digits")),
    # The tape records nothing: there are no gradients to apply.
    Mutant("loss_computed_outside_the_tape", VAE,
           "        with tf.GradientTape() as tape:\n"
           "            loss, reconstruction, kl = self.loss_terms(*inputs)\n",
           "        loss, reconstruction, kl = self.loss_terms(*inputs)\n"
           "        with tf.GradientTape() as tape:\n",
           breaks=("train_step_trains", "beta_vae_trades_kl_for_reconstruction",
                   "cvae_generates_requested_digits", "vae_trains_with_xla",
                   "vae_trains_in_mixed_precision", "vae_train_step_traces_at_most_twice")),
    Mutant("test_step_trains", VAE,
           "        loss, reconstruction, kl = self.loss_terms(*inputs)\n        # END SOLUTION\n"
           "        return self.update_trackers(loss, reconstruction, kl)\n\n"
           "    def update_trackers",
           "        return self.train_step(data)\n        # END SOLUTION\n\n"
           "    def update_trackers",
           breaks=("test_step_evaluates",)),
    Mutant("get_config_forgets_hidden_units", VAE,
           '"latent_dim": self.latent_dim, "hidden_units": list(self.hidden_units),\n'
           '                "likelihood"',
           '"latent_dim": self.latent_dim,\n                "likelihood"',
           breaks=("save_load_round_trip", "cvae_sample_and_round_trip")),
    # The beta-VAE: the loss is rewritten in train_step, and beta falls out of it.
    Mutant("train_step_ignores_beta", VAE,
           "scaled_loss = self.optimizer.scale_loss(loss)",
           "scaled_loss = self.optimizer.scale_loss(reconstruction + kl)",
           breaks=("beta_vae_trades_kl_for_reconstruction",)),
    # The importance-weighted bound: the mean of the log-weights is just the ELBO again.
    Mutant("iwae_mean_of_log_weights", VAE,
           "return tf.reduce_logsumexp(log_weights, axis=0) - tf.math.log(num_samples)",
           "return tf.reduce_mean(log_weights, axis=0)",
           breaks=("iwae_bound", "log_likelihood_estimate", "iwae_tightens_with_more_samples")),
    # log w = log p(x, z) - log q(z|x): without the proposal's density the weights are wrong.
    Mutant("iwae_forgets_log_q", VAE,
           "return iwae_bound(log_px + log_pz - log_qz)",
           "return iwae_bound(log_px + log_pz)",
           breaks=("log_likelihood_estimate", "iwae_tightens_with_more_samples")),
    # The conditional VAE reloads with the default 10 classes, and its weights do not fit.
    Mutant("cvae_get_config_forgets_num_classes", VAE,
           'return {**super().get_config(), "num_classes": self.num_classes}',
           "return super().get_config()",
           breaks=("cvae_sample_and_round_trip",)),
]
