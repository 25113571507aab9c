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
                "critic_step_with_penalty", "critic_estimates_w1"),
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
    ),
    Mutant(
        "penalty_outside_the_critic_tape",
        "wgan_model.py",
        find=CRITIC_TAPE,
        replace=PENALTY_BEFORE_TAPE,
        breaks=("critic_step_with_penalty", "critic_estimates_w1", "wgan_gp_learns_moons"),
    ),
    Mutant(
        "critic_loss_sign_flipped",
        "wgan_losses.py",
        find="return tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores)",
        replace="return tf.reduce_mean(real_scores) - tf.reduce_mean(fake_scores)",
        breaks=("critic_loss", "critic_step", "critic_step_with_penalty", "critic_estimates_w1",
                "wgan_gp_learns_moons"),
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
        find="            loss, penalty = self.critic_step(real)\n",
        replace="            loss, penalty = self.critic_step(real)\n"
                "            self.generator_step(tf.shape(real)[0])\n",
        breaks=("train_step_runs_n_critic_steps", "wgan_gp_learns_moons"),
    ),
    # The critic's loss is not scaled: fine in float32, but under mixed precision the
    # LossScaleOptimizer divides its unscaled float16 gradients by the scale.
    Mutant("critic_loss_not_scaled", "wgan_model.py",
           "scaled_total = self.critic_optimizer.scale_loss(total)",
           "scaled_total = total",
           breaks=("wgan_trains_in_mixed_precision",)),
]
