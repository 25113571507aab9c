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
        breaks=("non_saturating_generator_loss", "generator_loss_gradients"),
    ),
    Mutant(
        "discriminator_labels_swapped",
        "gan_losses.py",
        find="real_term = tf.reduce_mean(tf.nn.softplus(-real_logits))\n"
             "    fake_term = tf.reduce_mean(tf.nn.softplus(fake_logits))",
        replace="real_term = tf.reduce_mean(tf.nn.softplus(real_logits))\n"
                "    fake_term = tf.reduce_mean(tf.nn.softplus(-fake_logits))",
        breaks=("discriminator_loss", "gan_learns_moons", "gan_covers_the_ring",
                "cgan_follows_requested_class"),
    ),
    # An optimizer asked to update the other network's variables fails in every training
    # step, so the GPU-readiness checks fail too (the training checks as well: their own
    # mutants below show they can).
    Mutant(
        "generator_step_updates_the_discriminator",
        "gan_model.py",
        find="variables = self.generator.trainable_variables\n        grads",
        replace="variables = self.trainable_variables\n        grads",
        breaks=("generator_step", "gan_trains_with_xla", "gan_trains_in_mixed_precision"),
    ),
    Mutant(
        "minimax_and_non_saturating_swapped",
        "gan_losses.py",
        find=SWAPPABLE_BODIES.format(minimax="-tf.reduce_mean(tf.nn.softplus(fake_logits))",
                                     non_saturating="tf.reduce_mean(tf.nn.softplus(-fake_logits))"),
        replace=SWAPPABLE_BODIES.format(
            minimax="tf.reduce_mean(tf.nn.softplus(-fake_logits))",
            non_saturating="-tf.reduce_mean(tf.nn.softplus(fake_logits))"),
        # Trained with the saturating loss, the check's networks still learn moons and the
        # labelled moons, and land near the ring check's bar (5.5 modes against 6): the loss
        # checks are the ones that catch it.
        breaks=("minimax_generator_loss", "non_saturating_generator_loss",
                "generator_loss_gradients"),
    ),
    Mutant(
        "discriminator_step_uses_generator_variables",
        "gan_model.py",
        find="variables = self.discriminator.trainable_variables\n        grads",
        replace="variables = self.generator.trainable_variables\n        grads",
        breaks=("discriminator_step", "gan_trains_with_xla", "gan_trains_in_mixed_precision"),
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
        breaks=("discriminator_loss", "losses_stable_on_extreme_logits"),
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
    # Two samples per G step (the latent size, not the batch size): G's gradient is so noisy
    # that it no longer spreads over the ring's modes.
    Mutant(
        "generator_step_on_latent_dim_fakes",
        "gan_model.py",
        find="g_loss = self.generator_step(tf.shape(real)[0])",
        replace="g_loss = self.generator_step(self.latent_dim)",
        breaks=("train_step", "gan_covers_the_ring"),
        says="asked generator_step for 2 fakes",
    ),
    # D's step pairs the real batch with fresh random labels (as it does the fakes): D can no
    # longer tell which class a sample belongs to, so G learns to ignore the label.
    Mutant(
        "cgan_discriminator_step_ignores_the_real_labels",
        "gan_model.py",
        find="        y = self.one_hot(labels)\n        fake = self.generator(",
        replace="        y = self.one_hot(keras.random.randint(\n"
                "            tf.shape(labels), 0, self.num_classes, seed=self.seed_generator))\n"
                "        fake = self.generator(",
        breaks=("conditional_gan_steps", "cgan_follows_requested_class"),
        says="labels that are not the real batch",
    ),
    Mutant(
        "conditional_generator_ignores_its_label",
        "gan_networks.py",
        find="hidden = layers.Concatenate()([z, labels])",
        replace="hidden = z",
        breaks=("conditional_mlp_networks",),
    ),
    Mutant(
        "cgan_get_config_forgets_num_classes",
        "gan_model.py",
        find='        config["num_classes"] = self.num_classes\n',
        replace="",
        breaks=("conditional_gan_generates_and_saves",),
    ),
    Mutant(
        "discriminator_relu",
        "gan_networks.py",
        find="hidden = layers.LeakyReLU(negative_slope=0.2)(hidden)\n"
             "    logits = layers.Dense(1)(hidden)\n    return keras.Model(inputs, logits",
        replace="hidden = layers.ReLU()(hidden)\n"
                "    logits = layers.Dense(1)(hidden)\n    return keras.Model(inputs, logits",
        breaks=("mlp_networks",),
        says="ReLU in its hidden layers",
    ),
    Mutant(
        "discriminator_leaky_relu_default_slope",
        "gan_networks.py",
        find="hidden = layers.LeakyReLU(negative_slope=0.2)(hidden)\n"
             "    logits = layers.Dense(1)(hidden)\n    return keras.Model(inputs, logits",
        replace="hidden = layers.LeakyReLU()(hidden)\n"
                "    logits = layers.Dense(1)(hidden)\n    return keras.Model(inputs, logits",
        breaks=("mlp_networks",),
        says="default slope 0.3",
    ),
    # Batch normalisation per channel of the reshaped map instead of per Dense output.
    Mutant(
        "dcgan_reshape_before_batch_normalization",
        "gan_networks.py",
        find="    hidden = layers.ReLU()(layers.BatchNormalization()(hidden))\n"
             "    hidden = layers.Reshape((height // 4, width // 4, 2 * base_channels))(hidden)\n",
        replace="    hidden = layers.Reshape((height // 4, width // 4, 2 * base_channels))(hidden)\n"
                "    hidden = layers.ReLU()(layers.BatchNormalization()(hidden))\n",
        breaks=("dcgan_generator",),
        says="after the Reshape",
    ),
    Mutant(
        "generator_step_always_non_saturating",
        "gan_model.py",
        find="loss_fn = GENERATOR_LOSSES[self.generator_loss]\n        with tf.GradientTape() as tape:\n"
             "            fake_logits",
        replace="loss_fn = GENERATOR_LOSSES[\"non_saturating\"]\n"
                "        with tf.GradientTape() as tape:\n            fake_logits",
        breaks=("generator_step",),
        says="trains with the non_saturating loss",
    ),
    # The fakes get labels of their own, drawn at random, and D judges them with those.
    Mutant(
        "cgan_fakes_with_random_labels",
        "gan_model.py",
        find="fake = self.generator([self.sample_latent(tf.shape(real)[0]), y], training=True)\n"
             "        with tf.GradientTape() as tape:\n"
             "            real_logits = as_float32(self.discriminator([real, y], training=True))\n"
             "            fake_logits = as_float32(self.discriminator([fake, y], training=True))",
        replace="y_fake = self.one_hot(tf.random.uniform(tf.shape(labels), 0, self.num_classes, "
                "dtype=tf.int32))\n"
                "        fake = self.generator([self.sample_latent(tf.shape(real)[0]), y_fake], "
                "training=True)\n"
                "        with tf.GradientTape() as tape:\n"
                "            real_logits = as_float32(self.discriminator([real, y], training=True))\n"
                "            fake_logits = as_float32(self.discriminator([fake, y_fake], "
                "training=True))",
        breaks=("conditional_gan_steps",),
        says="labels that are not the real batch",
    ),
    Mutant(
        "discriminator_step_in_inference_mode",
        "gan_model.py",
        find="fake = self.generator(self.sample_latent(batch_size), training=True)\n"
             "        with tf.GradientTape() as tape:\n"
             "            real_logits = as_float32(self.discriminator(real, training=True))\n"
             "            fake_logits = as_float32(self.discriminator(fake, training=True))",
        replace="fake = self.generator(self.sample_latent(batch_size))\n"
                "        with tf.GradientTape() as tape:\n"
                "            real_logits = as_float32(self.discriminator(real))\n"
                "            fake_logits = as_float32(self.discriminator(fake))",
        breaks=("steps_run_the_networks_in_training_mode",),
        says="inference mode",
    ),
    Mutant(
        "non_saturating_loss_sums",
        "gan_losses.py",
        find="return tf.reduce_mean(tf.nn.softplus(-fake_logits))",
        replace="return tf.reduce_sum(tf.nn.softplus(-fake_logits))",
        breaks=("non_saturating_generator_loss", "generator_loss_gradients"),
        says="sums over the batch",
    ),
    Mutant(
        "trackers_swapped",
        "gan_model.py",
        find="g_loss = self.generator_step(tf.shape(real)[0])\n"
             "        self.trackers.update(d_loss=d_loss, g_loss=g_loss)",
        replace="g_loss = self.generator_step(tf.shape(real)[0])\n"
                "        self.trackers.update(d_loss=g_loss, g_loss=d_loss)",
        breaks=("train_step",),
        says="swap them",
    ),
    Mutant(
        "static_batch_size",
        "gan_model.py",
        find="g_loss = self.generator_step(tf.shape(real)[0])",
        replace="g_loss = self.generator_step(real.shape[0])",
        breaks=("gan_learns_moons", "gan_covers_the_ring", "gan_train_step_traces_at_most_twice"),
        says=r"tf\.shape\(real\)\[0\]",
    ),
    Mutant(
        "discriminator_loss_arguments_swapped",
        "gan_model.py",
        find="loss = discriminator_loss(real_logits, fake_logits)\n"
             "            scaled_loss = self.d_optimizer.scale_loss(loss)\n"
             "        variables = self.discriminator.trainable_variables\n        grads",
        replace="loss = discriminator_loss(fake_logits, real_logits)\n"
                "            scaled_loss = self.d_optimizer.scale_loss(loss)\n"
                "        variables = self.discriminator.trainable_variables\n        grads",
        breaks=("discriminator_step",),
        says="real logits come first",
    ),
    Mutant(
        "generator_step_before_discriminator_step",
        "gan_model.py",
        find="d_loss = self.discriminator_step(real)\n"
             "        g_loss = self.generator_step(tf.shape(real)[0])",
        replace="g_loss = self.generator_step(tf.shape(real)[0])\n"
                "        d_loss = self.discriminator_step(real)",
        breaks=("train_step",),
        says="in the order",
    ),
]
