"""Mutants of lab16_diffusion: the slips that break a first diffusion model.

Each part is graded on its own (the samplers with stand-ins for the single steps, the model
with stand-ins for the schedule, loss, label dropout, guidance and EMA step), so a slip
breaks the checks of its own function only."""
from tests.mutants import Mutant

FORWARD = "forward_process.py"
REVERSE = "reverse_process.py"
MODEL = "diffusion_model.py"
UNET = "unet.py"
CLASSIFIER = "classifier_guidance.py"

MUTANTS = [
    # alpha_bar_t is the product of all the alphas so far; with alpha_t alone x_t is barely
    # noisy at any t, so the model never learns to denoise real noise.
    Mutant("alpha_bar_is_not_a_cumulative_product", FORWARD,
           "self.alpha_bars = tf.math.cumprod(self.alphas)",
           "self.alpha_bars = self.alphas",
           breaks=("noise_schedule",), says="cumulative product"),
    # alpha_bar is the signal's variance: scaling x0 by it (not its square root) makes a
    # forward process whose x_t is not what the samplers undo.
    Mutant("q_sample_without_the_square_root", FORWARD,
           "return tf.sqrt(alpha_bar) * x0 + tf.sqrt(1.0 - alpha_bar)",
           "return alpha_bar * x0 + tf.sqrt(1.0 - alpha_bar)",
           breaks=("q_sample", "noise_prediction_loss"), says="sqrt\\(alpha_bar_t\\)"),
    # With sigma^2 = beta the last step must skip the noise on purpose (with the posterior
    # variance beta tilde_0 = 0 hides the slip).
    Mutant("noise_added_at_the_last_step", REVERSE,
           "return mean + not_last * tf.sqrt(sigma_squared)",
           "return mean + tf.sqrt(sigma_squared)",
           breaks=("ddpm_step",), says="t = 0"),
    # The loop stops at t = 1: the sample keeps the noise of the last step it skipped.
    Mutant("ddpm_sample_skips_t0", REVERSE,
           "for step in reversed(range(schedule.num_steps)):",
           "for step in range(schedule.num_steps - 1, 0, -1):",
           breaks=("ddpm_sample",), says="stops at t = 1"),
    # astype(int) truncates: 9.67 becomes 9, not 10.
    Mutant("ddim_timesteps_truncate", REVERSE,
           "return np.round(np.linspace(num_steps - 1, 0, num_sample_steps)).astype(np.int64)",
           "return np.linspace(num_steps - 1, 0, num_sample_steps).astype(np.int64)",
           breaks=("ddim_timesteps",), says="rounded DOWN"),
    Mutant("ddim_uses_alpha_instead_of_alpha_bar", REVERSE,
           "alpha_bar_prev = gather_per_example(schedule.alpha_bars, tf.maximum(t_prev, 0), x0)",
           "alpha_bar_prev = gather_per_example(schedule.alphas, tf.maximum(t_prev, 0), x0)",
           breaks=("ddim_step",)),
    # No step to -1 after the last visited t: the sample is x at t = 0, not x0.
    Mutant("ddim_sample_no_final_step", REVERSE,
           "for step, previous in zip(timesteps, timesteps[1:] + [-1]):",
           "for step, previous in zip(timesteps, timesteps[1:]):",
           breaks=("ddim_sample",), says="stops at t = 0"),
    Mutant("guidance_sign_flipped", "guidance.py",
           "return (1.0 + guidance_weight) * conditional - guidance_weight * unconditional",
           "return (1.0 - guidance_weight) * conditional + guidance_weight * unconditional",
           breaks=("guided_noise",)),
    # decay and 1 - decay swapped: the "average" is 99 % the newest weights, so it averages
    # nothing (training still works).
    Mutant("ema_decay_inverted", MODEL,
           "ema.assign(decay * ema + (1.0 - decay) * tf.cast(value, ema.dtype))",
           "ema.assign((1.0 - decay) * ema + decay * tf.cast(value, ema.dtype))",
           breaks=("ema_update",), says="swaps decay"),
    # randint's maxval is exclusive: T - 1 there means t = T - 1 is never trained.
    Mutant("train_step_t_excludes_last", MODEL,
           "t = keras.random.randint((batch,), 0, self.num_steps, dtype=",
           "t = keras.random.randint((batch,), 0, self.num_steps - 1, dtype=",
           breaks=("train_step_draws_timesteps_and_noise",), says="never drew t = T - 1"),
    # One timestep for the whole batch (the handout says per example).
    Mutant("train_step_one_t_per_batch", MODEL,
           "t = keras.random.randint((batch,), 0, self.num_steps, dtype=\"int32\", seed=self.noise)",
           "t = tf.fill([batch], keras.random.randint((), 0, self.num_steps, dtype=\"int32\", "
           "seed=self.noise))",
           breaks=("train_step_draws_timesteps_and_noise",), says="same t"),
    # No label dropout: the null label is never trained, so guidance subtracts an untrained
    # unconditional prediction.
    Mutant("train_step_no_label_dropout", MODEL,
           "labels = drop_labels(labels, uniform, self.label_dropout, self.null_label)",
           "labels = labels",
           breaks=("train_step_drops_labels",), says="never calls drop_labels"),
    # The reloaded model silently gets the default ema_decay.
    Mutant("get_config_drops_ema_decay", MODEL,
           "label_dropout=self.label_dropout, ema_decay=self.ema_decay)",
           "label_dropout=self.label_dropout)",
           breaks=("diffusion_model_saves_and_loads",), says="ema_decay"),
    # Unscaled gradients: fine in float32, but under mixed precision the LossScaleOptimizer
    # divides them by its scale and the float16 ones underflow.
    Mutant("train_step_without_loss_scaling", MODEL,
           "scaled_loss = self.optimizer.scale_loss(loss)",
           "scaled_loss = loss",
           breaks=("diffusion_trains_in_mixed_precision",)),
    # The loss overwritten by the scaled one: right gradients, but under mixed precision
    # fit logs the loss times the loss scale.
    Mutant("train_step_logs_the_scaled_loss", MODEL,
           "scaled_loss = self.optimizer.scale_loss(loss)",
           "loss = self.optimizer.scale_loss(loss)\n            scaled_loss = loss",
           breaks=("diffusion_trains_in_mixed_precision",), says="not what scale_loss returned"),
    # FiLM as gamma * h + beta: with the zero-initialised projection it switches every
    # feature off at the start instead of passing it through.
    Mutant("film_without_the_one", UNET,
           "return (1.0 + gamma) * h + beta",
           "return gamma * h + beta",
           breaks=("film",), says="unchanged"),
    # gamma and beta reshaped along the height: it runs when H = C, and is wrong.
    Mutant("film_broadcasts_over_height", UNET,
           "gamma = keras.ops.reshape(gamma, (-1, 1, 1, self.channels))",
           "gamma = keras.ops.reshape(gamma, (-1, self.channels, 1, 1))",
           breaks=("film",), says="height"),
    # A post-activation habit: conv_1 on h itself, no silu before it.
    Mutant("residual_block_without_pre_activation", UNET,
           "r = self.conv_1(keras.activations.silu(h))",
           "r = self.conv_1(h)",
           breaks=("residual_block",), says="no silu before conv_1"),
    # The 1x1 skip forgotten: the block is two convolutions, no residual path.
    Mutant("residual_block_without_the_skip", UNET,
           "return self.skip(h) + r",
           "return r",
           breaks=("residual_block",), says="1x1 skip is missing"),
    # The full-resolution skip dropped: the last up block sees the upsampled features twice.
    Mutant("unet_without_the_full_resolution_skip", UNET,
           "h = self.up_block_0(keras.ops.concatenate([self.upsample_0(h), skip_0], axis=-1),",
           "h = self.up_block_0(keras.ops.concatenate([self.upsample_0(h), self.upsample_0(h)], axis=-1),",
           breaks=("unet_skip_connections",), says="full-resolution skip"),
    # The gradient of the probability, not of its log.
    Mutant("gradient_of_the_probability", CLASSIFIER,
           "log_probs = tf.nn.log_softmax(logits, axis=-1)",
           "log_probs = tf.nn.softmax(logits, axis=-1)",
           breaks=("class_log_prob_gradient",), says="PROBABILITY"),
    # Guidance added to the noise: it pushes the samples away from the target class.
    Mutant("guidance_sign_flipped", CLASSIFIER,
           "return noise - guidance_weight * scale * gradient",
           "return noise + guidance_weight * scale * gradient",
           breaks=("classifier_guided_noise", "classifier_guidance_steers"), says="sign"),
    # 1 - alpha_bar_t where its square root belongs.
    Mutant("guidance_without_the_square_root", CLASSIFIER,
           "scale = tf.reshape(tf.sqrt(1.0 - alpha_bar), shape)",
           "scale = tf.reshape(1.0 - alpha_bar, shape)",
           breaks=("classifier_guided_noise", "classifier_guidance_steers"), says="square root"),
]
