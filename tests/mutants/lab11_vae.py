"""Mutants of lab11_vae: the mistakes students make in a first VAE.

The model-level checks run the student's model code with the checks' own maths and networks,
so a slip in a function of the ELBO costs that function's checks only (and the hidden
check that trains the student's whole VAE)."""
from tests.mutants import Mutant

VAE = "vae.py"
PPCA = "ppca.py"
ESTIMATORS = "estimators.py"
READINESS = ("vae_trains_with_xla", "vae_trains_in_mixed_precision",
             "vae_train_step_traces_at_most_twice")

MUTANTS = [
    Mutant("kl_sign_flipped", VAE,
           "return 0.5 * tf.reduce_sum(tf.square(mean)",
           "return -0.5 * tf.reduce_sum(tf.square(mean)",
           breaks=("kl_divergence",), says=r"opposite sign"),
    Mutant("kl_missing_half", VAE,
           "return 0.5 * tf.reduce_sum(tf.square(mean)",
           "return tf.reduce_sum(tf.square(mean)",
           breaks=("kl_divergence",), says=r"factor of 2"),
    # The encoder's second output is a log-variance, not a variance: its square root is NaN
    # wherever it is negative. The readiness checks train the student's own VAE.
    Mutant("log_variance_used_as_variance", VAE,
           "return mean + tf.exp(0.5 * log_var) * epsilon",
           "return mean + tf.sqrt(log_var) * epsilon",
           breaks=("sample_gaussian", "vae_trains_with_xla", "vae_trains_in_mixed_precision")),
    # The Keras binary_crossentropy habit: a mean over pixels scales the likelihood by 1/64,
    # so the KL term dominates and the posterior collapses to the prior.
    Mutant("reconstruction_averaged_over_pixels", VAE,
           "return tf.reduce_sum(x * logits - softplus, axis=-1)",
           "return tf.reduce_mean(x * logits - softplus, axis=-1)",
           breaks=("bernoulli_log_likelihood", "bernoulli_log_likelihood_extreme_logits"),
           says=r"mean over the 64 pixels"),
    Mutant("reconstruction_summed_over_the_batch_axis", VAE,
           "return tf.reduce_sum(x * logits - softplus, axis=-1)",
           "return tf.reduce_sum(x * logits - softplus, axis=0)",
           breaks=("bernoulli_log_likelihood", "bernoulli_log_likelihood_extreme_logits")),
    Mutant("log_of_sigmoid_overflows", VAE,
           "softplus = tf.maximum(logits, 0.0) + tf.math.log1p(tf.exp(-tf.abs(logits)))\n"
           "    return tf.reduce_sum(x * logits - softplus, axis=-1)",
           "p = tf.sigmoid(logits)\n"
           "    return tf.reduce_sum(x * tf.math.log(p) + (1 - x) * tf.math.log(1 - p), axis=-1)",
           breaks=("bernoulli_log_likelihood_extreme_logits",)),
    Mutant("gaussian_without_log_2pi", VAE,
           "return -0.5 * tf.reduce_sum(LOG_2PI + log_var + squared, axis=-1)",
           "return -0.5 * tf.reduce_sum(log_var + squared, axis=-1)",
           breaks=("gaussian_log_likelihood",), says=r"log\(2 pi\)"),
    # Every hidden layer built on the input shape: the second one gets the wrong kernel.
    Mutant("encoder_builds_every_layer_on_the_input", VAE,
           "        shape = input_shape\n        for layer in self.hidden:\n"
           "            layer.build(shape)\n            shape = layer.compute_output_shape(shape)\n"
           "        self.mean_head.build(shape)",
           "        shape = input_shape\n        for layer in self.hidden:\n"
           "            layer.build(input_shape)\n            shape = layer.compute_output_shape(shape)\n"
           "        self.mean_head.build(shape)",
           breaks=("encoder_and_decoder",), says=r"output shape of the layer before"),
    Mutant("loss_terms_ignores_beta", VAE,
           "return negative_elbo(log_px, kl_divergence(mean, log_var), self.beta)\n"
           "        # END SOLUTION\n\n    def loss_inputs",
           "return negative_elbo(log_px, kl_divergence(mean, log_var))\n"
           "        # END SOLUTION\n\n    def loss_inputs",
           breaks=("vae_loss_terms", "beta_weights_the_kl"), says=r"self\.beta"),
    Mutant("sample_ignores_seed", VAE,
           "z = keras.random.normal((int(n), self.latent_dim), seed=seed)",
           "z = keras.random.normal((int(n), self.latent_dim))",
           breaks=("sample_and_reconstruct",), says=r"same seed must give"),
    # loss_terms draws its own noise whatever epsilon it is given.
    Mutant("loss_terms_ignores_epsilon", VAE,
           "mean, log_var = self.encode(x)\n        if epsilon is None:\n"
           "            epsilon = keras.random.normal(tf.shape(mean), seed=self.noise)",
           "mean, log_var = self.encode(x)\n"
           "        epsilon = keras.random.normal(tf.shape(mean), seed=self.noise)",
           breaks=("vae_loss_terms", "beta_weights_the_kl"), says=r"same epsilon"),
    Mutant("train_step_forgets_the_kl_term", VAE,
           "scaled_loss = self.optimizer.scale_loss(loss)",
           "scaled_loss = self.optimizer.scale_loss(reconstruction)",
           breaks=("train_step_exact", "train_step_trains",
                   "beta_vae_trades_kl_for_reconstruction", "cvae_generates_requested_digits")),
    # The tape records nothing: there are no gradients to apply.
    Mutant("loss_computed_outside_the_tape", VAE,
           "        with tf.GradientTape() as tape:\n"
           "            loss, reconstruction, kl = self.loss_terms(*inputs)\n",
           "        loss, reconstruction, kl = self.loss_terms(*inputs)\n"
           "        with tf.GradientTape() as tape:\n",
           breaks=("train_step_exact", *READINESS)),
    # scale_loss is called, but the gradient is taken of the unscaled loss: behind a
    # LossScaleOptimizer every update is 32768 times too small.
    Mutant("gradient_of_the_unscaled_loss", VAE,
           "grads = tape.gradient(scaled_loss, self.trainable_variables)",
           "grads = tape.gradient(loss, self.trainable_variables)",
           breaks=("train_step_exact", "vae_trains_in_mixed_precision"), says=r"scale_loss"),
    # fit then logs each batch's own values, not the means so far.
    Mutant("update_trackers_returns_batch_values", VAE,
           "        self.trackers.update(kl=kl, loss=loss, reconstruction=reconstruction)\n"
           "        return self.trackers.results()",
           "        self.trackers.update(kl=kl, loss=loss, reconstruction=reconstruction)\n"
           '        return {"loss": loss, "reconstruction": reconstruction, "kl": kl}',
           breaks=("train_step_exact",), says=r"batch's own terms"),
    Mutant("test_step_trains", VAE,
           "        loss, reconstruction, kl = self.loss_terms(*inputs)\n        # END SOLUTION\n"
           "        return self.update_trackers(loss, reconstruction, kl)\n\n"
           "    def update_trackers",
           "        return self.train_step(data)\n        # END SOLUTION\n\n"
           "    def update_trackers",
           breaks=("test_step_evaluates",)),
    # "No noise at evaluation": the loss at z = mean is not the negative ELBO.
    Mutant("test_step_at_the_posterior_mean", VAE,
           "        loss, reconstruction, kl = self.loss_terms(*inputs)\n        # END SOLUTION\n"
           "        return self.update_trackers(loss, reconstruction, kl)\n\n"
           "    def update_trackers",
           "        zeros = tf.zeros((tf.shape(inputs[0])[0], self.latent_dim))\n"
           "        loss, reconstruction, kl = self.loss_terms(*inputs, epsilon=zeros)\n"
           "        # END SOLUTION\n"
           "        return self.update_trackers(loss, reconstruction, kl)\n\n"
           "    def update_trackers",
           breaks=("test_step_evaluates",), says=r"z = mean"),
    # reconstruct and sample apply the sigmoid themselves: now it is applied twice.
    Mutant("call_returns_probabilities", VAE,
           "        mean, _ = self.encoder(x)\n        return self.decoder(mean)",
           "        mean, _ = self.encoder(x)\n        return tf.sigmoid(self.decoder(mean))",
           breaks=("sample_and_reconstruct",), says=r"sigmoid\(logits\)"),
    Mutant("get_config_forgets_hidden_units", VAE,
           '"latent_dim": self.latent_dim, "hidden_units": list(self.hidden_units),\n'
           '                "likelihood"',
           '"latent_dim": self.latent_dim,\n                "likelihood"',
           breaks=("save_load_round_trip", "cvae_sample_and_round_trip")),
    # A reloaded beta-VAE silently becomes a plain VAE, with the default likelihood variance.
    Mutant("get_config_forgets_beta", VAE,
           '"likelihood": self.likelihood, "beta": self.beta,\n'
           '                "observation_log_var": self.observation_log_var}',
           '"likelihood": self.likelihood}',
           breaks=("save_load_round_trip",), says=r"beta=1\.0"),
    # The beta-VAE: the loss is rewritten in train_step, and beta falls out of it.
    Mutant("train_step_ignores_beta", VAE,
           "scaled_loss = self.optimizer.scale_loss(loss)",
           "scaled_loss = self.optimizer.scale_loss(reconstruction + kl)",
           breaks=("train_step_exact", "beta_vae_trades_kl_for_reconstruction")),
    # The importance-weighted bound: the mean of the log-weights is just the ELBO again.
    Mutant("iwae_mean_of_log_weights", VAE,
           "return tf.reduce_logsumexp(log_weights, axis=0) - tf.math.log(num_samples)",
           "return tf.reduce_mean(log_weights, axis=0)",
           breaks=("iwae_bound",), says=r"mean of the log-weights"),
    Mutant("iwae_without_log_s", VAE,
           "return tf.reduce_logsumexp(log_weights, axis=0) - tf.math.log(num_samples)",
           "return tf.reduce_logsumexp(log_weights, axis=0)",
           breaks=("iwae_bound",), says=r"without the - log S"),
    # log w = log p(x, z) - log q(z|x): without the proposal's density the weights are wrong.
    Mutant("iwae_forgets_log_q", VAE,
           "return iwae_bound(log_px + log_pz - log_qz)",
           "return iwae_bound(log_px + log_pz)",
           breaks=("log_likelihood_estimate", "iwae_tightens_with_more_samples")),
    # Written for the digits: any other number of classes breaks the encoder's input size.
    Mutant("cvae_encode_assumes_ten_classes", VAE,
           "mean, log_var = self.encoder(concat_one_hot(x, labels, self.num_classes))",
           "mean, log_var = self.encoder(concat_one_hot(x, labels, 10))",
           breaks=("cvae_sample_and_round_trip",), says=r"self\.num_classes"),
    # The conditional VAE reloads with the default 10 classes, and its weights do not fit.
    Mutant("cvae_get_config_forgets_num_classes", VAE,
           'return {**super().get_config(), "num_classes": self.num_classes}',
           "return super().get_config()",
           breaks=("cvae_sample_and_round_trip",)),
    # --- ppca.py ---
    # The unbiased covariance (np.cov's default): the fit is no longer the maximum.
    Mutant("ppca_covariance_divided_by_n_minus_1", PPCA,
           "covariance = centred.T @ centred / len(x)",
           "covariance = centred.T @ centred / (len(x) - 1)",
           breaks=("ppca_fit", "ppca_maximum_likelihood"), says=r"N - 1"),
    # np.linalg.eigh sorts increasing: without the reversal the q SMALLEST directions are kept.
    Mutant("ppca_eigenvalues_in_increasing_order", PPCA,
           "        order = np.argsort(eigenvalues)[::-1]\n",
           "        order = np.argsort(eigenvalues)\n",
           breaks=("ppca_fit", "ppca_maximum_likelihood"), says=r"increasing order"),
    Mutant("ppca_noise_variance_of_all_eigenvalues", PPCA,
           "self.noise_variance_ = float(eigenvalues[q:].mean())",
           "self.noise_variance_ = float(eigenvalues.mean())",
           breaks=("ppca_fit", "ppca_maximum_likelihood"), says=r"DISCARDED"),
    # W = U_q L_q^(1/2): the variance along the kept directions is counted twice.
    Mutant("ppca_weights_without_subtracting_sigma2", PPCA,
           "scales = np.sqrt(np.maximum(eigenvalues[:q] - self.noise_variance_, 0.0))",
           "scales = np.sqrt(eigenvalues[:q])",
           breaks=("ppca_fit", "ppca_maximum_likelihood"), says=r"subtract sigma\^2"),
    Mutant("ppca_weights_without_the_square_root", PPCA,
           "scales = np.sqrt(np.maximum(eigenvalues[:q] - self.noise_variance_, 0.0))",
           "scales = np.maximum(eigenvalues[:q] - self.noise_variance_, 0.0)",
           breaks=("ppca_fit", "ppca_maximum_likelihood"), says=r"SQUARE ROOT"),
    Mutant("ppca_score_without_log_2pi", PPCA,
           "return -0.5 * (x.shape[1] * LOG_2PI + log_det + np.sum(whitened ** 2, axis=0))",
           "return -0.5 * (log_det + np.sum(whitened ** 2, axis=0))",
           breaks=("ppca_score_samples",), says=r"log\(2 pi\)"),
    # log|C| from a Cholesky factor: the factor 2 forgotten.
    Mutant("ppca_score_half_log_determinant", PPCA,
           "log_det = 2.0 * np.sum(np.log(np.diag(factor)))",
           "log_det = np.sum(np.log(np.diag(factor)))",
           breaks=("ppca_score_samples",), says=r"halved"),
    # The covariance of the data without the noise: W W^T has rank q, no Cholesky factor.
    Mutant("ppca_score_covariance_without_noise", PPCA,
           "factor = np.linalg.cholesky(self.covariance())",
           "factor = np.linalg.cholesky(self.weights_ @ self.weights_.T)",
           breaks=("ppca_score_samples",)),
    # The PCA projection instead of the posterior mean: M without sigma^2.
    Mutant("ppca_transform_without_sigma2", PPCA,
           "m = w.T @ w + self.noise_variance_ * np.eye(w.shape[1])",
           "m = w.T @ w",
           breaks=("ppca_posterior_mean",), says=r"without \+ sigma\^2"),
    Mutant("ppca_transform_uncentred", PPCA,
           "return np.linalg.solve(m, w.T @ (x - self.mean_).T).T",
           "return np.linalg.solve(m, w.T @ x.T).T",
           breaks=("ppca_posterior_mean",), says=r"not centred"),
    Mutant("ppca_sample_noise_scaled_by_the_variance", PPCA,
           "math.sqrt(self.noise_variance_) * noise",
           "self.noise_variance_ * noise",
           breaks=("ppca_sample",), says=r"SQUARE ROOT"),
    # One noise value per example, broadcast over the D dimensions: sigma^2 11^T, not sigma^2 I.
    Mutant("ppca_sample_noise_shared_across_dimensions", PPCA,
           "noise = rng.standard_normal((int(n), w.shape[0]))",
           "noise = rng.standard_normal((int(n), 1))",
           breaks=("ppca_sample",), says=r"shared across the D dimensions"),
    Mutant("ppca_noise_variance_divided_by_d", PPCA,
           "self.noise_variance_ = float(eigenvalues[q:].mean())",
           "self.noise_variance_ = float(eigenvalues[q:].sum() / len(eigenvalues))",
           breaks=("ppca_fit", "ppca_maximum_likelihood"), says=r"D - q"),
    # ||L^-T (x - mean)||^2: C^-1 = L^-T L^-1, so the solve is with L.
    Mutant("ppca_score_solves_with_the_transpose", PPCA,
           "whitened = np.linalg.solve(factor, (x - self.mean_).T)",
           "whitened = np.linalg.solve(factor.T, (x - self.mean_).T)",
           breaks=("ppca_score_samples",), says=r"L\^-T"),
    # eigh's increasing order kept and no clipping: sqrt(lambda_j - sigma^2) of negatives is NaN.
    Mutant("ppca_weights_nan_from_the_smallest_eigenvalues", PPCA,
           "order = np.argsort(eigenvalues)[::-1]\n"
           "        eigenvalues, eigenvectors = eigenvalues[order], eigenvectors[:, order]\n"
           "        self.noise_variance_ = float(eigenvalues[q:].mean())\n"
           "        scales = np.sqrt(np.maximum(eigenvalues[:q] - self.noise_variance_, 0.0))",
           "order = np.argsort(eigenvalues)\n"
           "        eigenvalues, eigenvectors = eigenvalues[order], eigenvectors[:, order]\n"
           "        self.noise_variance_ = float(eigenvalues[q:].mean())\n"
           "        scales = np.sqrt(eigenvalues[:q] - self.noise_variance_)",
           breaks=("ppca_maximum_likelihood", "ppca_fit"), says=r"SMALLEST eigenvalues"),
    Mutant("ppca_sample_ignores_seed", PPCA,
           "        rng = np.random.default_rng(seed)\n        # BEGIN SOLUTION draw z",
           "        rng = np.random.default_rng()\n        # BEGIN SOLUTION draw z",
           breaks=("ppca_sample",), says=r"same seed"),
    # --- estimators.py ---
    # d/dsigma instead of d/dlog_sigma: the chain rule through sigma = exp(log_sigma) dropped.
    Mutant("reparameterization_without_the_sigma_chain_rule", ESTIMATORS,
           "return tf.stack([slope, slope * sigma * tf.cast(epsilon, tf.float64)], axis=1)",
           "return tf.stack([slope, slope * tf.cast(epsilon, tf.float64)], axis=1)",
           breaks=("reparameterization_gradient", "estimator_variances"),
           says=r"derivative with respect to sigma"),
    # f'(z) from the gradient of mean f(z): every per-draw estimate divided by S.
    Mutant("reparameterization_of_the_mean", ESTIMATORS,
           "total = tf.reduce_sum(f(z))",
           "total = tf.reduce_mean(f(z))",
           breaks=("reparameterization_gradient", "estimator_variances"),
           says=r"mean instead of a sum"),
    # The VAE encoder's habit: sigma = exp(log_var / 2).
    Mutant("reparameterization_sigma_from_a_log_variance", ESTIMATORS,
           "sigma = math.exp(log_sigma)\n    return tf.stack",
           "sigma = math.exp(0.5 * log_sigma)\n    return tf.stack",
           breaks=("reparameterization_gradient", "estimator_variances"),
           says=r"exp\(log_sigma / 2\)"),
    Mutant("score_of_mu_divided_by_sigma", ESTIMATORS,
           "scores = tf.stack([centred / variance, centred ** 2 / variance - 1.0], axis=1)",
           "scores = tf.stack([centred / math.exp(log_sigma), centred ** 2 / variance - 1.0], "
           "axis=1)",
           breaks=("score_function_gradient", "estimator_variances"), says=r"sigma\^2"),
    # The normaliser's -log sigma forgotten: a biased d/dlog_sigma.
    Mutant("score_of_log_sigma_without_minus_one", ESTIMATORS,
           "scores = tf.stack([centred / variance, centred ** 2 / variance - 1.0], axis=1)",
           "scores = tf.stack([centred / variance, centred ** 2 / variance], axis=1)",
           breaks=("score_function_gradient", "estimator_variances"), says=r"misses the -1"),
    Mutant("score_function_ignores_baseline", ESTIMATORS,
           "weights = tf.cast(f(z), tf.float64) - tf.cast(baseline, tf.float64)",
           "weights = tf.cast(f(z), tf.float64)",
           breaks=("score_function_gradient", "estimator_variances"), says=r"baseline is ignored"),
    # The batch mean, draw s included: a baseline that depends on its own draw.
    Mutant("baseline_includes_its_own_draw", ESTIMATORS,
           "return (values.sum() - values) / (len(values) - 1)",
           "return np.full_like(values, values.mean())",
           breaks=("leave_one_out_baseline", "estimator_variances"), says=r"itself included"),
    # The draws not held constant: the tape adds the pathwise gradient to REINFORCE's.
    Mutant("surrogate_without_stop_gradient", ESTIMATORS,
           "z = tf.stop_gradient(mu + tf.exp(log_sigma) * epsilon)",
           "z = mu + tf.exp(log_sigma) * epsilon",
           breaks=("score_function_surrogate",), says=r"stop_gradient"),
    Mutant("surrogate_sum_not_mean", ESTIMATORS,
           "return tf.reduce_mean(f(z) * log_q)",
           "return tf.reduce_sum(f(z) * log_q)",
           breaks=("score_function_surrogate",), says=r"sum over the draws instead of the mean"),
    # sigma taken out of the tape as a number: d/dlog_sigma keeps only the -log_sigma term.
    Mutant("surrogate_sigma_held_constant", ESTIMATORS,
           "tf.exp(-2.0 * log_sigma)",
           "math.exp(-2.0 * float(log_sigma.numpy()))",
           breaks=("score_function_surrogate",), says=r"function of log_sigma in log q"),
    Mutant("surrogate_log_q_without_log_sigma", ESTIMATORS,
           "log_q = -0.5 * LOG_2PI - log_sigma - 0.5",
           "log_q = -0.5 * LOG_2PI - 0.5",
           breaks=("score_function_surrogate",), says=r"-log_sigma"),
]
