"""Mutants of lab24_information: the mistakes students make measuring information.

The discrete functions are judged against scipy and scikit-learn, the bounds against Keras's
cross-entropy and scipy's logsumexp, and train_step on the checks' stand-in bound, so a
mistake in a bound does not cost train_step's points."""
from tests.mutants import Mutant

INFO = "information.py"
BN = "variational.py"

MUTANTS = [
    # Natural log where the default base is 2: every entropy in nats, labelled bits.
    Mutant("entropy_forgets_the_base", INFO,
           "return -np.sum(np.where(p > 0, p * np.log(safe), 0.0), axis=-1) / np.log(base)",
           "return -np.sum(np.where(p > 0, p * np.log(safe), 0.0), axis=-1)",
           breaks=("entropy_bits_and_nats",), says="natural log"),
    # p log p with p = 0: 0 * -inf = NaN.
    Mutant("entropy_nan_on_zero_probabilities", INFO,
           "return -np.sum(np.where(p > 0, p * np.log(safe), 0.0), axis=-1) / np.log(base)",
           "return -np.sum(p * np.log(p), axis=-1) / np.log(base)",
           breaks=("entropy_bits_and_nats",), says="0 \\* log 0"),
    # KL(q || p): the expectation under the model instead of the data.
    Mutant("kl_arguments_swapped", INFO,
           "return cross_entropy(p, q, base) - entropy(p, base)",
           "return cross_entropy(q, p, base) - entropy(q, base)",
           breaks=("cross_entropy_and_kl",), says="swapped"),
    Mutant("mi_marginals_swapped", INFO,
           "p_x, p_y = joint.sum(axis=1), joint.sum(axis=0)",
           "p_x, p_y = joint.sum(axis=0), joint.sum(axis=1)",
           breaks=("mutual_information_of_joints",)),
    # Frequencies only up to the largest value seen: an unseen last value drops out.
    Mutant("empirical_distribution_without_minlength", INFO,
           "np.bincount(samples, minlength=num_values).astype",
           "np.bincount(samples).astype",
           breaks=("plug_in_entropy_of_samples",), says="shape"),
    # Miller-Madow with K, the number of possible values, instead of m, the values seen.
    Mutant("miller_madow_counts_all_values", INFO,
           "seen = np.count_nonzero(np.bincount(samples.astype(np.int64), minlength=num_values))",
           "seen = num_values",
           breaks=("miller_madow_bias",), says="m = K = 8"),
    # m = K gives a constant offset of (K - m) / (2N): named, not only "off by a constant".
    Mutant("miller_madow_correction_in_nats", INFO,
           "correction = (seen - 1) / (2 * len(samples)) / np.log(base)",
           "correction = (seen - 1) / (2 * len(samples))",
           breaks=("miller_madow_bias",), says="in nats to an entropy in bits"),
    # Fancy-index increments are unbuffered: a repeated (x, y) pair counts once.
    Mutant("plug_in_mi_fancy_index_increment", INFO,
           "np.add.at(counts, (x, y), 1.0)\n    return mutual_information(counts / len(x), base)",
           "counts[x, y] += 1.0\n    return mutual_information(counts / counts.sum(), base)",
           breaks=("plug_in_mutual_information_of_samples",), says="np.add.at"),
    # log(softmax): -inf where a positive sits ~104 below its row's maximum.
    Mutant("infonce_log_of_softmax", INFO,
           "tf.nn.log_softmax(scores, axis=1)",
           "tf.math.log(tf.nn.softmax(scores, axis=1))",
           breaks=("infonce_bound_values",), says="log\\(softmax"),
    # One encoder trained: h keeps its initial weights.
    Mutant("train_step_updates_only_g", INFO,
           "grads = tape.gradient(scaled, self.trainable_variables)\n"
           "        self.optimizer.apply(grads, self.trainable_variables)",
           "grads = tape.gradient(scaled, self.g.trainable_variables)\n"
           "        self.optimizer.apply(grads, self.g.trainable_variables)",
           breaks=("train_step_one_step",), says="only self.g"),
    Mutant("infonce_softmax_over_columns", INFO,
           "tf.nn.log_softmax(scores, axis=1)",
           "tf.nn.log_softmax(scores, axis=0)",
           breaks=("infonce_bound_values",), says="column"),
    Mutant("infonce_without_log_n", INFO,
           "return tf.reduce_mean(tf.linalg.diag_part(log_probs)) + tf.math.log(n)",
           "return tf.reduce_mean(tf.linalg.diag_part(log_probs))",
           breaks=("infonce_bound_values",), says="log N"),
    # log SUM exp: the bound is off by log M.
    Mutant("dv_log_sum_not_mean", INFO,
           "log_mean_exp = tf.reduce_logsumexp(marginal_scores) - tf.math.log(m)",
           "log_mean_exp = tf.reduce_logsumexp(marginal_scores)",
           breaks=("donsker_varadhan_values",), says="MEAN"),
    # exp then log: right for small scores, inf for scores near 100.
    Mutant("dv_unstable_log_mean_exp", INFO,
           "log_mean_exp = tf.reduce_logsumexp(marginal_scores) - tf.math.log(m)",
           "log_mean_exp = tf.math.log(tf.reduce_mean(tf.exp(marginal_scores)))",
           breaks=("donsker_varadhan_values",), says="overflow"),
    # Minimising the bound: the critic learns to mismatch the pairs.
    Mutant("train_step_minimises_the_bound", INFO,
           "            loss = -bound\n",
           "            loss = bound\n",
           breaks=("train_step_one_step", "infonce_trains"), says="UP the loss"),
    Mutant("train_step_loss_not_scaled", INFO,
           "scaled = self.optimizer.scale_loss(loss)  # so mixed precision still trains",
           "scaled = loss",
           breaks=("infonce_trains_in_mixed_precision",)),
    # MINE without its correction: the batch's mean of exp(T) in the denominator.
    Mutant("mine_uncorrected_denominator", BN,
           "denominator = tf.stop_gradient(tf.cast(running_mean, tf.float32))",
           "denominator = tf.stop_gradient(tf.reduce_mean(tf.exp(marginal_scores)))",
           breaks=("mine_corrected_gradient",), says="biased DV gradient"),
    Mutant("moving_average_decay_swapped", BN,
           "return decay * tf.cast(running, tf.float32) + (1.0 - decay) * tf.cast(value, "
           "tf.float32)",
           "return (1.0 - decay) * tf.cast(running, tf.float32) + decay * tf.cast(value, "
           "tf.float32)",
           breaks=("mine_corrected_gradient", "mine_train_step_one_step"), says="OLD average"),
    # The denominator from before this batch's update.
    Mutant("mine_step_uses_the_old_average", BN,
           "            loss = -mine_surrogate(joint, marginal, running)\n",
           "            loss = -mine_surrogate(joint, marginal, self.running_mean)\n",
           breaks=("mine_train_step_one_step",), says="BEFORE"),
    Mutant("vib_rate_prior_first", BN,
           "return tfd.kl_divergence(posterior, standard_normal(latent_dim))",
           "return tfd.kl_divergence(standard_normal(latent_dim), posterior)",
           breaks=("vib_posterior_and_rate",), says="posterior goes"),
    Mutant("posterior_scale_exp_not_softplus", BN,
           "scale = tf.nn.softplus(params[:, latent_dim:]) + 1e-4",
           "scale = tf.exp(params[:, latent_dim:])",
           breaks=("vib_posterior_and_rate",), says="softplus"),
    Mutant("vib_beta_on_the_cross_entropy", BN,
           "return tf.reduce_mean(ce) + beta * tf.reduce_mean(tf.cast(rates, tf.float32))",
           "return beta * tf.reduce_mean(ce) + tf.reduce_mean(tf.cast(rates, tf.float32))",
           breaks=("vib_loss_values",), says="RATE"),
    Mutant("iwae_without_log_k", BN,
           "return tf.reduce_logsumexp(log_weights, axis=0) - tf.math.log(k)",
           "return tf.reduce_logsumexp(log_weights, axis=0)",
           breaks=("iwae_and_bits_values",), says="log K"),
    Mutant("bits_per_dim_stays_in_nats", BN,
           "return nats / (num_dims * math.log(2.0))",
           "return nats / num_dims",
           breaks=("iwae_and_bits_values",), says="nats to bits"),
    # The VIB trained without its bottleneck: beta never reaches the loss.
    Mutant("vib_train_step_ignores_beta", BN,
           "loss = vib_loss(labels, logits, rates, self.beta)",
           "loss = vib_loss(labels, logits, rates, 0.0)",
           breaks=("vib_beta_tradeoff",), says="rate"),
    # Importance weights without the prior: not log p(x, z) - log q(z | x).
    Mutant("iwae_weights_without_the_prior", BN,
           "return (self.likelihood(z).log_prob(x) + standard_normal(self.latent_dim)"
           ".log_prob(z)\n                - posterior.log_prob(z))",
           "return self.likelihood(z).log_prob(x) - posterior.log_prob(z)",
           breaks=("vae_bits_back",)),
    Mutant("vae_train_step_loss_not_scaled", BN,
           "            loss = tf.reduce_mean(rates + distortion)\n"
           "            scaled = self.optimizer.scale_loss(loss)",
           "            loss = tf.reduce_mean(rates + distortion)\n            scaled = loss",
           breaks=("vae_trains_in_mixed_precision",)),
    # The `ce` tracker fed the whole loss: the logged cross-entropy includes beta * rate.
    Mutant("vib_ce_logs_the_loss", BN,
           "(loss, loss - self.beta * mean_rate, mean_rate)",
           "(loss, loss, mean_rate)",
           breaks=("vib_train_step_logs",), says="full loss"),
    # The negative ELBO summed over the batch: the logged loss N times too big.
    Mutant("vae_loss_summed_over_the_batch", BN,
           "            loss = tf.reduce_mean(rates + distortion)\n"
           "            scaled = self.optimizer.scale_loss(loss)",
           "            loss = tf.reduce_sum(rates + distortion)\n"
           "            scaled = self.optimizer.scale_loss(loss)",
           breaks=("vae_elbo_terms_and_logs",), says="MEAN"),
    # No stop_gradient on the running average: the surrogate's gradient gains a term.
    Mutant("mine_running_mean_not_stopped", BN,
           "denominator = tf.stop_gradient(tf.cast(running_mean, tf.float32))",
           "denominator = tf.cast(running_mean, tf.float32)",
           breaks=("mine_corrected_gradient",), says="stop_gradient"),
    # The VIB trained at the posterior mean: no noise, no bottleneck.
    Mutant("vib_trains_at_the_posterior_mean", BN,
           "            z = reparameterized_sample(posterior, self.seed_generator)\n"
           "            logits = self.decoder(z)",
           "            z = posterior.mean()\n            logits = self.decoder(z)",
           breaks=("vib_train_step_logs",), says="posterior mean"),
]
