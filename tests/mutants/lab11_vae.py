"""Mutants of lab11_vae: the mistakes students make in a first VAE."""
from tests.mutants import Mutant

VAE = "vae.py"

MUTANTS = [
    Mutant("kl_sign_flipped", VAE,
           "return 0.5 * tf.reduce_sum(tf.square(mean)",
           "return -0.5 * tf.reduce_sum(tf.square(mean)",
           breaks=("kl_divergence", "vae_loss_terms", "train_step_trains", "test_step_evaluates")),
    Mutant("kl_missing_half", VAE,
           "return 0.5 * tf.reduce_sum(tf.square(mean)",
           "return tf.reduce_sum(tf.square(mean)",
           breaks=("kl_divergence", "vae_loss_terms", "train_step_trains", "test_step_evaluates")),
    # The encoder's second output is a log-variance, not a variance: its square root is NaN
    # wherever it is negative. (test_step_evaluates still passes: its fresh model happens to
    # give positive log-variances on the test digits, and evaluate's wiring is right.)
    Mutant("log_variance_used_as_variance", VAE,
           "return mean + tf.exp(0.5 * log_var) * epsilon",
           "return mean + tf.sqrt(log_var) * epsilon",
           breaks=("sample_gaussian", "vae_loss_terms", "train_step_trains")),
    # The Keras binary_crossentropy habit: a mean over pixels scales the likelihood by 1/64,
    # so the KL term dominates and the posterior collapses to the prior.
    Mutant("reconstruction_averaged_over_pixels", VAE,
           "return tf.reduce_sum(x * logits - softplus, axis=-1)",
           "return tf.reduce_mean(x * logits - softplus, axis=-1)",
           breaks=("bernoulli_log_likelihood", "bernoulli_log_likelihood_extreme_logits",
                   "vae_loss_terms", "train_step_trains", "test_step_evaluates")),
    Mutant("reconstruction_summed_over_the_batch_axis", VAE,
           "return tf.reduce_sum(x * logits - softplus, axis=-1)",
           "return tf.reduce_sum(x * logits - softplus, axis=0)",
           breaks=("bernoulli_log_likelihood", "bernoulli_log_likelihood_extreme_logits",
                   "vae_loss_terms", "test_step_evaluates")),
    Mutant("log_of_sigmoid_overflows", VAE,
           "softplus = tf.maximum(logits, 0.0) + tf.math.log1p(tf.exp(-tf.abs(logits)))\n"
           "    return tf.reduce_sum(x * logits - softplus, axis=-1)",
           "p = tf.sigmoid(logits)\n"
           "    return tf.reduce_sum(x * tf.math.log(p) + (1 - x) * tf.math.log(1 - p), axis=-1)",
           breaks=("bernoulli_log_likelihood_extreme_logits",)),
    Mutant("train_step_forgets_the_kl_term", VAE,
           "scaled_loss = self.optimizer.scale_loss(loss)",
           "scaled_loss = self.optimizer.scale_loss(reconstruction)",
           breaks=("train_step_trains",)),
    # The tape records nothing: there are no gradients to apply.
    Mutant("loss_computed_outside_the_tape", VAE,
           "        with tf.GradientTape() as tape:\n"
           "            loss, reconstruction, kl = self.loss_terms(x)\n",
           "        loss, reconstruction, kl = self.loss_terms(x)\n"
           "        with tf.GradientTape() as tape:\n",
           breaks=("train_step_trains",)),
    Mutant("test_step_trains", VAE,
           "        loss, reconstruction, kl = self.loss_terms(x)\n        # END SOLUTION\n"
           "        return self.update_trackers(loss, reconstruction, kl)\n\n"
           "    def update_trackers",
           "        return self.train_step(data)\n        # END SOLUTION\n\n"
           "    def update_trackers",
           breaks=("test_step_evaluates",)),
    Mutant("get_config_forgets_hidden_units", VAE,
           '"latent_dim": self.latent_dim, "hidden_units": list(self.hidden_units),\n'
           '                "likelihood"',
           '"latent_dim": self.latent_dim,\n                "likelihood"',
           breaks=("save_load_round_trip",)),
]
