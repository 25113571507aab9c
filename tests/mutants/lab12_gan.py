"""Mutants of lab12_gan: the usual ways a GAN goes wrong, each a small edit of the solution."""
from tests.mutants import Mutant

# From the minimax loss's return to the non-saturating loss's return, so one edit swaps both.
SWAPPABLE_BODIES = '''    return {minimax}
    # END SOLUTION


def non_saturating_generator_loss(fake_logits):
    """The non-saturating generator loss: mean(-log D(G(z))).

    G minimises it: the fakes labelled *real* in D's cross-entropy. fake_logits: (M, 1) or
    (M,). Returns a scalar (always >= 0). Its gradient is strongest exactly when D
    confidently rejects the fakes, which is where the minimax loss goes flat.
    """
    # BEGIN SOLUTION -log sigmoid(l) = softplus(-l); take the mean
    return {non_saturating}
'''

MUTANTS = [
    Mutant(
        "generator_loss_labels_fakes_as_fake",
        "gan_losses.py",
        find="return tf.reduce_mean(tf.nn.softplus(-fake_logits))",
        replace="return tf.reduce_mean(tf.nn.softplus(fake_logits))",
        breaks=("non_saturating_generator_loss", "generator_loss_gradients", "gan_learns_moons"),
    ),
    Mutant(
        "discriminator_labels_swapped",
        "gan_losses.py",
        find="real_term = tf.reduce_mean(tf.nn.softplus(-real_logits))\n"
             "    fake_term = tf.reduce_mean(tf.nn.softplus(fake_logits))",
        replace="real_term = tf.reduce_mean(tf.nn.softplus(real_logits))\n"
                "    fake_term = tf.reduce_mean(tf.nn.softplus(-fake_logits))",
        breaks=("discriminator_loss", "gan_learns_moons"),
    ),
    Mutant(
        "generator_step_updates_the_discriminator",
        "gan_model.py",
        find="variables = self.generator.trainable_variables",
        replace="variables = self.trainable_variables",
        breaks=("generator_step", "train_step", "gan_learns_moons"),
    ),
    Mutant(
        "minimax_and_non_saturating_swapped",
        "gan_losses.py",
        find=SWAPPABLE_BODIES.format(minimax="-tf.reduce_mean(tf.nn.softplus(fake_logits))",
                                     non_saturating="tf.reduce_mean(tf.nn.softplus(-fake_logits))"),
        replace=SWAPPABLE_BODIES.format(
            minimax="tf.reduce_mean(tf.nn.softplus(-fake_logits))",
            non_saturating="-tf.reduce_mean(tf.nn.softplus(fake_logits))"),
        breaks=("minimax_generator_loss", "non_saturating_generator_loss",
                "generator_loss_gradients", "train_step"),
    ),
    Mutant(
        "discriminator_step_uses_generator_variables",
        "gan_model.py",
        find="variables = self.discriminator.trainable_variables",
        replace="variables = self.generator.trainable_variables",
        breaks=("discriminator_step", "train_step", "gan_learns_moons"),
    ),
    Mutant(
        "sigmoid_applied_twice_in_discriminator",
        "gan_networks.py",
        find="logits = layers.Dense(1)(hidden)\n    return keras.Model(inputs, logits, name=name)\n"
             "    # END SOLUTION\n\n\ndef make_dcgan_generator",
        replace="logits = layers.Dense(1, activation=\"sigmoid\")(hidden)\n"
                "    return keras.Model(inputs, logits, name=name)\n"
                "    # END SOLUTION\n\n\ndef make_dcgan_generator",
        breaks=("mlp_networks",),
    ),
    Mutant(
        "loss_on_probabilities",
        "gan_losses.py",
        find="real_term = tf.reduce_mean(tf.nn.softplus(-real_logits))",
        replace="real_logits, fake_logits = tf.sigmoid(real_logits), tf.sigmoid(fake_logits)\n"
                "    real_term = tf.reduce_mean(tf.nn.softplus(-real_logits))",
        breaks=("discriminator_loss", "losses_stable_on_extreme_logits", "gan_learns_moons"),
    ),
    Mutant(
        "naive_log_sigmoid",
        "gan_losses.py",
        find="return -tf.reduce_mean(tf.nn.softplus(fake_logits))",
        replace="return tf.reduce_mean(tf.math.log(1.0 - tf.sigmoid(fake_logits)))",
        breaks=("losses_stable_on_extreme_logits",),
    ),
    Mutant(
        "transposed_convolution_without_same_padding",
        "gan_networks.py",
        find="hidden = layers.Conv2DTranspose(base_channels, 4, strides=2, padding=\"same\")",
        replace="hidden = layers.Conv2DTranspose(base_channels, 4, strides=2, padding=\"valid\")",
        breaks=("dcgan_generator",),
    ),
    Mutant(
        "get_config_forgets_generator_loss",
        "gan_model.py",
        find="            generator_loss=self.generator_loss,\n",
        replace="",
        breaks=("gan_saves_and_loads",),
    ),
]
