"""Mutants of lab13_wgan: the usual ways a WGAN goes wrong, each a small edit of the solution."""
from tests.mutants import Mutant

CRITIC_TAPE = '''        with tf.GradientTape() as tape:
            real_scores = keras.ops.cast(self.critic(real, training=True), "float32")
            fake_scores = keras.ops.cast(self.critic(fake, training=True), "float32")
            loss = self.critic_objective(real_scores, fake_scores)
            penalty = tf.zeros((), "float32")
            if self.gp_weight > 0:
                penalty = gradient_penalty(self.critic, self.sample_interpolates(real, fake))
'''

# The penalty computed before the critic's tape opens: its value is right, but the outer
# tape never sees it, so it adds nothing to the critic's gradient.
PENALTY_BEFORE_TAPE = '''        penalty = tf.zeros((), "float32")
        if self.gp_weight > 0:
            penalty = gradient_penalty(self.critic, self.sample_interpolates(real, fake))
        with tf.GradientTape() as tape:
            real_scores = keras.ops.cast(self.critic(real, training=True), "float32")
            fake_scores = keras.ops.cast(self.critic(fake, training=True), "float32")
            loss = self.critic_objective(real_scores, fake_scores)
'''

MUTANTS = [
    Mutant(
        "penalty_pushes_gradient_norm_to_zero",
        "wgan_losses.py",
        find="return tf.reduce_mean(tf.square(norms - 1.0))",
        replace="return tf.reduce_mean(tf.square(norms))",
        breaks=("gradient_penalty", "gradient_penalty_reaches_critic_weights",
                "critic_estimates_w1"),
        says="pushes the gradient to 0",
    ),
    Mutant(
        "one_interpolation_coefficient_for_the_batch",
        "wgan_losses.py",
        find="alpha = keras.random.uniform((batch_size,) + (1,) * (len(real.shape) - 1), "
             "seed=seed)",
        replace="alpha = keras.random.uniform((1,) * len(real.shape), seed=seed)",
        breaks=("random_interpolates",),
    ),
    Mutant(
        "penalty_at_real_samples",
        "wgan_model.py",
        find="penalty = gradient_penalty(self.critic, self.sample_interpolates(real, fake))\n"
             "            total",
        replace="penalty = gradient_penalty(self.critic, real)\n            total",
        breaks=("critic_step_with_penalty",),
        says="at the real samples",
    ),
    Mutant(
        "penalty_outside_the_critic_tape",
        "wgan_model.py",
        find=CRITIC_TAPE,
        replace=PENALTY_BEFORE_TAPE,
        breaks=("critic_step_with_penalty",),
        says="ignores the gradient penalty",
    ),
    Mutant(
        "critic_loss_sign_flipped",
        "wgan_losses.py",
        find="return tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores)",
        replace="return tf.reduce_mean(real_scores) - tf.reduce_mean(fake_scores)",
        breaks=("critic_loss",),
        says="opposite sign",
    ),
    Mutant(
        "clipping_every_weight_of_the_model",
        "wgan_model.py",
        find="for variable in self.critic.trainable_variables:",
        replace="for variable in self.trainable_variables:",
        breaks=("weight_clipping",),
    ),
    Mutant(
        "generator_step_inside_the_critic_loop",
        "wgan_model.py",
        find="            return self.critic_step(real)\n",
        replace="            self.generator_step(tf.shape(real)[0])\n"
                "            return self.critic_step(real)\n",
        breaks=("train_step_runs_n_critic_steps", "wgan_gp_learns_moons"),
    ),
    # The critic's loss is not scaled: fine in float32, but under mixed precision the
    # LossScaleOptimizer divides its unscaled float16 gradients by the scale.
    Mutant("critic_loss_not_scaled", "wgan_model.py",
           "scaled_total = self.critic_optimizer.scale_loss(total)",
           "scaled_total = total",
           breaks=("wgan_trains_in_mixed_precision",)),
    # Only right when N == M: the extra points of the larger sample are dropped.
    Mutant(
        "wasserstein_1d_truncates_to_the_smaller_sample",
        "wasserstein.py",
        find="    points = np.sort(np.concatenate([x, y]))\n",
        replace="    k = min(len(x), len(y))\n"
                "    return float(np.mean(np.abs(x[:k] - y[:k])))\n"
                "    points = np.sort(np.concatenate([x, y]))\n",
        breaks=("wasserstein_1d",),
        says="drops the larger sample",
    ),
    Mutant(
        "wasserstein_1d_cdf_one_point_late",
        "wasserstein.py",
        find='cdf_x = np.searchsorted(x, points[:-1], side="right") / len(x)\n'
             '    cdf_y = np.searchsorted(y, points[:-1], side="right") / len(y)',
        replace="cdf_x = np.searchsorted(x, points[:-1]) / len(x)\n"
                "    cdf_y = np.searchsorted(y, points[:-1]) / len(y)",
        breaks=("wasserstein_1d", "sliced_wasserstein"),
        says="side='right'",
    ),
    Mutant(
        "sliced_wasserstein_sums_over_directions",
        "wasserstein.py",
        find="return float(np.mean([wasserstein_1d(",
        replace="return float(np.sum([wasserstein_1d(",
        breaks=("sliced_wasserstein",),
        says="sums over the directions",
    ),
    Mutant(
        "interpolates_ignore_the_seed",
        "wgan_losses.py",
        find="alpha = keras.random.uniform((batch_size,) + (1,) * (len(real.shape) - 1), "
             "seed=seed)",
        replace="alpha = tf.random.uniform((batch_size,) + (1,) * (len(real.shape) - 1))",
        breaks=("random_interpolates",),
        says="ignores its seed",
    ),
    # Right for points (N, D), wrong for images (N, H, W, C).
    Mutant(
        "penalty_norm_over_the_last_axis",
        "wgan_losses.py",
        find="    grads = tf.reshape(grads, (tf.shape(grads)[0], -1))\n"
             "    # The epsilon keeps the norm's own gradient finite where the input gradient is 0.\n"
             "    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=1) + 1e-12)\n",
        replace="    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=-1) + 1e-12)\n",
        breaks=("gradient_penalty",),
        says="last axis",
    ),
    Mutant(
        "js_conjugate_written_literally",
        "fgan_losses.py",
        find="return tf.nn.softplus(v) - math.log(2.0)",
        replace="return -tf.math.log(2.0 - tf.exp(fgan_activation(v, divergence)))",
        breaks=("fgan_activation_and_conjugate",),
        says="NaN or inf",
    ),
    Mutant(
        "clipping_the_kernels_only",
        "wgan_model.py",
        find="for variable in self.critic.trainable_variables:\n            variable.assign(",
        replace="for variable in [v for v in self.critic.trainable_variables if len(v.shape) == 2]:"
                "\n            variable.assign(",
        breaks=("weight_clipping",),
        says="bias",
    ),
    Mutant(
        "clipping_before_the_update",
        "wgan_model.py",
        find="        self.critic_optimizer.apply(grads, variables)\n"
             "        if self.clip_value is not None:\n"
             "            self.clip_critic_weights()\n",
        replace="        if self.clip_value is not None:\n"
                "            self.clip_critic_weights()\n"
                "        self.critic_optimizer.apply(grads, variables)\n",
        breaks=("weight_clipping",),
        says="not before",
    ),
    # An f-GAN would train a Wasserstein critic, without any Lipschitz constraint.
    Mutant(
        "critic_step_ignores_the_divergence",
        "wgan_model.py",
        find="            loss = self.critic_objective(real_scores, fake_scores)\n",
        replace="            loss = critic_loss(real_scores, fake_scores)\n",
        breaks=("critic_step",),
        says="whatever the divergence",
    ),
    Mutant(
        "generator_step_ignores_the_divergence",
        "wgan_model.py",
        find="            loss = self.generator_objective(fake_scores)\n",
        replace="            loss = generator_loss(fake_scores)\n",
        breaks=("generator_step",),
        says="whatever the divergence",
    ),
    Mutant(
        "penalty_without_its_weight",
        "wgan_model.py",
        find="total = loss + self.gp_weight * penalty",
        replace="total = loss + penalty",
        breaks=("critic_step_with_penalty",),
        says="without its weight",
    ),
    Mutant(
        "one_critic_step_too_many",
        "wgan_model.py",
        find="keras.ops.fori_loop(0, self.n_critic, one_critic_step",
        replace="keras.ops.fori_loop(0, self.n_critic + 1, one_critic_step",
        breaks=("train_step_runs_n_critic_steps",),
        says="expected 6",
    ),
    # Spectral normalisation, R1 and the Fréchet distance (regularizers.py, quality.py).
    Mutant(
        "power_iteration_leaves_u_unnormalised",
        "regularizers.py",
        find="    u_new = u_new / tf.sqrt(tf.reduce_sum(tf.square(u_new)) + eps)\n",
        replace="",
        breaks=("power_iteration",),
        says="norm of u_new",
    ),
    Mutant(
        "sigma_without_its_gradient",
        "regularizers.py",
        find="sigma = tf.reduce_sum(v * tf.linalg.matvec(matrix, u_new))",
        replace="sigma = tf.stop_gradient(tf.reduce_sum(v * tf.linalg.matvec(matrix, u_new)))",
        breaks=("power_iteration", "spectral_normalization_converges"),
        says="no gradient",
    ),
    Mutant(
        "spectral_norm_updates_u_at_inference",
        "regularizers.py",
        find="        if training:\n            self.u.assign(u_new)\n",
        replace="        self.u.assign(u_new)\n",
        breaks=("spectral_normalization_layer",),
        says="training=False",
    ),
    # keras.layers.SpectralNormalization's way: the normalised kernel written back.
    Mutant(
        "spectral_norm_assigns_the_kernel",
        "regularizers.py",
        find="        return self.call_with_kernel(inputs, kernel / sigma)\n",
        replace="        self.layer.kernel.assign(kernel / sigma)\n"
                "        return self.layer(inputs)\n",
        breaks=("spectral_normalization_layer", "spectral_normalization_converges"),
        says="never assign the kernel",
    ),
    Mutant(
        "spectral_norm_never_divides",
        "regularizers.py",
        find="        return self.call_with_kernel(inputs, kernel / sigma)\n",
        replace="        return self.call_with_kernel(inputs, kernel)\n",
        breaks=("sn_critic_estimates_w1", "spectral_normalization_layer",
                "spectral_normalization_converges"),
        says="not divided by",
    ),
    Mutant(
        "r1_without_the_half",
        "regularizers.py",
        find="return 0.5 * gamma * tf.reduce_mean(squared_norms)",
        replace="return gamma * tf.reduce_mean(squared_norms)",
        breaks=("r1_penalty",),
        says="gamma / 2 times",
    ),
    Mutant(
        "r1_norm_not_squared",
        "regularizers.py",
        find="return 0.5 * gamma * tf.reduce_mean(squared_norms)",
        replace="return 0.5 * gamma * tf.reduce_mean(tf.sqrt(squared_norms))",
        breaks=("r1_penalty",),
        says="square the norm",
    ),
    Mutant(
        "r1_at_the_fakes",
        "regularizers.py",
        find="penalty = r1_penalty(self.critic, real, self.r1_gamma)",
        replace="penalty = r1_penalty(self.critic, fake, self.r1_gamma)",
        breaks=("r1gan_critic_step",),
        says="not the real batch",
    ),
    Mutant(
        "r1_at_interpolates",
        "regularizers.py",
        find="penalty = r1_penalty(self.critic, real, self.r1_gamma)",
        replace="penalty = r1_penalty(self.critic, self.sample_interpolates(real, fake), "
                "self.r1_gamma)",
        breaks=("r1gan_critic_step",),
        says="not the real batch",
    ),
    Mutant(
        "r1_gamma_applied_twice",
        "regularizers.py",
        find="scaled_total = self.critic_optimizer.scale_loss(loss + penalty)",
        replace="scaled_total = self.critic_optimizer.scale_loss(loss + self.r1_gamma * penalty)",
        breaks=("r1gan_critic_step",),
        says="applied twice",
    ),
    Mutant(
        "covariance_divided_by_n",
        "quality.py",
        find="return mean, centred.T @ centred / (len(features) - 1)",
        replace="return mean, centred.T @ centred / len(features)",
        breaks=("feature_statistics",),
        says="divides by N",
    ),
    Mutant(
        "frechet_elementwise_square_root",
        "quality.py",
        find="    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)\n",
        replace="    trace_root = np.trace(np.sqrt(np.abs(cov_a @ cov_b)))\n"
                "    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)\n",
        breaks=("frechet_distance",),
        says="elementwise",
    ),
    Mutant(
        "frechet_without_the_factor_two",
        "quality.py",
        find="                 - 2.0 * trace_root)",
        replace="                 - trace_root)",
        breaks=("frechet_distance", "frechet_distance_ranks_generators"),
        says="factor 2",
    ),
    Mutant(
        "covariance_of_uncentred_rows",
        "quality.py",
        find="return mean, centred.T @ centred / (len(features) - 1)",
        replace="return mean, features.T @ features / (len(features) - 1)",
        breaks=("feature_statistics",),
        says="centre them",
    ),
    Mutant(
        "r1_norm_over_the_last_axis_only",
        "regularizers.py",
        find="squared_norms = tf.reduce_sum(tf.reshape(tf.square(grads), (tf.shape(grads)[0], -1)), "
             "axis=1)",
        replace="squared_norms = tf.reduce_sum(tf.square(grads), axis=-1)",
        breaks=("r1_penalty",),
        says="last axis only",
    ),
    # Tiny negative eigenvalues (rounding, where a rank-deficient covariance has 0) make NaN.
    Mutant(
        "frechet_without_clipping_the_eigenvalues",
        "quality.py",
        find="    root_a = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T\n"
             "    middle = root_a @ cov_b @ root_a\n"
             "    trace_root = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), "
             "0.0, None)))\n",
        replace="    root_a = (vectors * np.sqrt(values)) @ vectors.T\n"
                "    middle = root_a @ cov_b @ root_a\n"
                "    trace_root = np.sum(np.sqrt(np.linalg.eigvalsh((middle + middle.T) / 2)))\n",
        breaks=("frechet_distance",),
        says="clip the eigenvalues",
    ),
    Mutant(
        "frechet_eigvalsh_of_the_product",
        "quality.py",
        find="    middle = root_a @ cov_b @ root_a\n"
             "    trace_root = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), "
             "0.0, None)))\n",
        replace="    trace_root = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(cov_a @ cov_b), 0.0, "
                "None)))\n",
        breaks=("frechet_distance",),
        says="not symmetric",
    ),
]
