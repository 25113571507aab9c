"""Mutants of lab16_diffusion: the slips that break a first diffusion model."""
from tests.mutants import Mutant

FORWARD = "forward_process.py"
REVERSE = "reverse_process.py"

MUTANTS = [
    # alpha_bar_t is the product of all the alphas so far; with alpha_t alone x_t is barely
    # noisy at any t, so the model never learns to denoise real noise.
    Mutant("alpha_bar_is_not_a_cumulative_product", FORWARD,
           "self.alpha_bars = tf.math.cumprod(self.alphas)",
           "self.alpha_bars = self.alphas",
           breaks=("noise_schedule", "diffusion_learns_moons")),
    # alpha_bar is the signal's variance: scaling x0 by it (not its square root) makes a
    # forward process whose x_t is not what the samplers undo.
    Mutant("q_sample_without_the_square_root", FORWARD,
           "return tf.sqrt(alpha_bar) * x0 + tf.sqrt(1.0 - alpha_bar)",
           "return alpha_bar * x0 + tf.sqrt(1.0 - alpha_bar)",
           breaks=("q_sample", "noise_prediction_loss", "diffusion_learns_moons")),
    # With sigma^2 = beta the last step must skip the noise on purpose (with the posterior
    # variance beta tilde_0 = 0 hides the slip, so ddpm_sample still passes).
    Mutant("noise_added_at_the_last_step", REVERSE,
           "return mean + not_last * tf.sqrt(sigma_squared)",
           "return mean + tf.sqrt(sigma_squared)",
           breaks=("ddpm_step",)),
    Mutant("ddim_uses_alpha_instead_of_alpha_bar", REVERSE,
           "alpha_bar_prev = gather_per_example(schedule.alpha_bars, tf.maximum(t_prev, 0), x0)",
           "alpha_bar_prev = gather_per_example(schedule.alphas, tf.maximum(t_prev, 0), x0)",
           breaks=("ddim_step", "ddim_sample")),
    Mutant("guidance_sign_flipped", "guidance.py",
           "return (1.0 + guidance_weight) * conditional - guidance_weight * unconditional",
           "return (1.0 - guidance_weight) * conditional + guidance_weight * unconditional",
           breaks=("guided_noise", "predict_noise_with_guidance")),
    # decay and 1 - decay swapped: the "average" is 99 % the newest weights, so it averages
    # nothing (training still works: diffusion_learns_moons passes).
    Mutant("ema_decay_inverted", "diffusion_model.py",
           "ema.assign(decay * ema + (1.0 - decay) * tf.cast(value, ema.dtype))",
           "ema.assign((1.0 - decay) * ema + decay * tf.cast(value, ema.dtype))",
           breaks=("ema_update", "train_step_updates_ema")),
    # Unscaled gradients: fine in float32, but under mixed precision the LossScaleOptimizer
    # divides them by its scale and the float16 ones underflow.
    Mutant("train_step_without_loss_scaling", "diffusion_model.py",
           "scaled_loss = self.optimizer.scale_loss(loss)",
           "scaled_loss = loss",
           breaks=("diffusion_trains_in_mixed_precision",)),
]
