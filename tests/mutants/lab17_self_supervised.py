"""Mutants of lab17_self_supervised: the mistakes students make in a first self-supervised
lab. The model checks run the student's train_steps with the checks' own augmenter and
losses, so a wrong loss breaks the loss's check and a wrong train_step the model's."""
from tests.mutants import Mutant

SELFSUP = "selfsup.py"

MUTANTS = [
    # Dot products of raw embeddings: the loss then rewards large norms, not alignment.
    Mutant("nt_xent_not_normalised", SELFSUP,
           "z = tf.math.l2_normalize(tf.cast(tf.concat([z1, z2], axis=0), tf.float32), axis=1)",
           "z = tf.cast(tf.concat([z1, z2], axis=0), tf.float32)",
           breaks=("nt_xent",), says="L2-normalise"),
    # Each row compared with itself: a similarity of 1/t that swamps every negative.
    Mutant("nt_xent_self_similarity_kept", SELFSUP,
           "    logits -= 1e9 * tf.eye(2 * n)\n", "",
           breaks=("nt_xent",), says="diagonal"),
    Mutant("nt_xent_multiplies_by_temperature", SELFSUP,
           "logits = tf.matmul(z, z, transpose_b=True) / temperature",
           "logits = tf.matmul(z, z, transpose_b=True) * temperature",
           breaks=("nt_xent",), says="multiplies by the temperature"),
    # The softmax over the predictions (columns) instead of over each row's targets.
    Mutant("info_nce_transposed", SELFSUP,
           "logits = tf.matmul(tf.cast(predictions, tf.float32), tf.cast(targets, tf.float32),\n"
           "                       transpose_b=True)",
           "logits = tf.matmul(tf.cast(targets, tf.float32), tf.cast(predictions, tf.float32),\n"
           "                       transpose_b=True)",
           breaks=("info_nce",), says="columns"),
    Mutant("augmenter_flips_digits", SELFSUP,
           "        keras.layers.RandomContrast(contrast, seed=seed + 1),\n",
           "        keras.layers.RandomFlip(\"horizontal\", seed=seed + 4),\n"
           "        keras.layers.RandomContrast(contrast, seed=seed + 1),\n",
           breaks=("augmenter",), says="mirrored"),
    Mutant("augmenter_not_clipped", SELFSUP,
           "        keras.layers.ReLU(max_value=1.0),\n", "",
           breaks=("augmenter",), says="clip"),
    # One augmenter call: the two "views" are identical, and the positive pair is trivial.
    Mutant("simclr_one_view_twice", SELFSUP,
           "view2 = self.augmenter(x, training=True)\n        with tf.GradientTape() as tape:\n"
           "            z1 = self(view1, training=True)",
           "view2 = view1\n        with tf.GradientTape() as tape:\n"
           "            z1 = self(view1, training=True)",
           breaks=("simclr_train_step",), says="twice"),
    Mutant("simclr_loss_not_scaled", SELFSUP,
           "loss = nt_xent_loss(z1, z2, self.temperature)\n"
           "            scaled_loss = self.optimizer.scale_loss(loss)",
           "loss = nt_xent_loss(z1, z2, self.temperature)\n            scaled_loss = loss",
           breaks=("simclr_trains_in_mixed_precision",)),
    # The context at t predicts the latent at t: no future, nothing to learn.
    Mutant("cpc_predicts_the_present", SELFSUP,
           "targets = tf.reshape(z[:, k:], (-1, self.latent_dim))",
           "targets = tf.reshape(z[:, k - 1:-1], (-1, self.latent_dim))",
           breaks=("cpc_loss_pairs",), says="present"),
    Mutant("cpc_sums_over_steps_ahead", SELFSUP,
           "return tf.add_n(losses) / len(losses)", "return tf.add_n(losses)",
           breaks=("cpc_loss_pairs",), says="MEAN over k"),
    # Without stop_gradient the online loss also pulls the target's projections.
    Mutant("byol_target_not_stopped", SELFSUP,
           "t1 = tf.stop_gradient(self.target_projector(self.target_encoder(view1)))",
           "t1 = self.target_projector(self.target_encoder(view1))",
           breaks=("byol_target_gets_no_gradient",), says="stop_gradient"),
    Mutant("byol_predicts_the_same_view", SELFSUP,
           "return byol_loss(p1, t2) + byol_loss(p2, t1)",
           "return byol_loss(p1, t1) + byol_loss(p2, t2)",
           breaks=("byol_target_gets_no_gradient",), says="SAME view"),
    Mutant("byol_ema_before_the_step", SELFSUP,
           "self.optimizer.apply(grads, self.trainable_variables)\n"
           "        ema_update(self.target_variables, self.online_variables, self.decay)",
           "ema_update(self.target_variables, self.online_variables, self.decay)\n"
           "        self.optimizer.apply(grads, self.trainable_variables)",
           breaks=("byol_train_step",), says="BEFORE the step"),
    Mutant("ema_decay_swapped", SELFSUP,
           "target.assign(decay * target + (1.0 - decay) * tf.cast(online, target.dtype))",
           "target.assign((1.0 - decay) * target + decay * tf.cast(online, target.dtype))",
           breaks=("ema", "byol_train_step", "mean_teacher"), says="90 %"),
    Mutant("byol_loss_not_normalised", SELFSUP,
           "p = tf.math.l2_normalize(tf.cast(predictions, tf.float32), axis=-1)\n"
           "    t = tf.math.l2_normalize(tf.cast(targets, tf.float32), axis=-1)\n"
           "    return tf.reduce_mean(2.0 - 2.0 * tf.reduce_sum(p * t, axis=-1))",
           "p = tf.cast(predictions, tf.float32)\n    t = tf.cast(targets, tf.float32)\n"
           "    return tf.reduce_mean(tf.reduce_sum(tf.square(p - t), axis=-1))",
           breaks=("byol_regression",), says="normalise both"),
    # The unlabelled rows (y = -1, clipped to class 0) counted as labelled class 0.
    Mutant("pi_model_supervised_over_all_rows", SELFSUP,
           "supervised = tf.reduce_sum(labelled * per_row) / tf.maximum(\n"
           "                tf.reduce_sum(labelled), 1.0)",
           "supervised = tf.reduce_mean(per_row)",
           breaks=("pi_model_train_step",), says="ALL rows"),
    Mutant("pi_model_ramp_frozen_at_step_0", SELFSUP,
           "sigmoid_rampup(self.optimizer.iterations, self.ramp_steps)",
           "sigmoid_rampup(0, self.ramp_steps)",
           breaks=("pi_model_train_step",), says="sigmoid_rampup"),
    Mutant("mean_teacher_targets_from_the_classifier", SELFSUP,
           "return tf.stop_gradient(tf.nn.softmax(tf.cast(self.teacher(",
           "return tf.stop_gradient(tf.nn.softmax(tf.cast(self.classifier(",
           breaks=("mean_teacher",), says="uses the classifier"),
    Mutant("linear_probe_features_in_training_mode", SELFSUP,
           "f_train = np.asarray(encoder(x_train, training=False), dtype=np.float32)",
           "f_train = np.asarray(encoder(x_train, training=True), dtype=np.float32)",
           breaks=("linear_probe",), says="training=False"),
    # The forward passes in inference mode: dropout and batch norm would not train.
    Mutant("simclr_encoder_in_inference_mode", SELFSUP,
           "            z1 = self(view1, training=True)\n            z2 = self(view2, training=True)",
           "            z1 = self(view1)\n            z2 = self(view2)",
           breaks=("simclr_train_step",), says="inference mode"),
    # A deterministic teacher: the targets lose the noise the consistency term is about.
    Mutant("mean_teacher_teacher_in_inference_mode", SELFSUP,
           "            self.augmenter(x, training=True), training=True), tf.float32)))",
           "            self.augmenter(x, training=True), training=False), tf.float32)))",
           breaks=("mean_teacher",), says="inference mode"),
    # Two random layers on one seed draw the same numbers: correlated augmentations.
    Mutant("augmenter_layers_share_a_seed", SELFSUP,
           "keras.layers.RandomContrast(contrast, seed=seed + 1)",
           "keras.layers.RandomContrast(contrast, seed=seed)",
           breaks=("augmenter",), says="own seed"),
    # A test-time leak: the test features standardised with their own statistics.
    Mutant("linear_probe_test_standardised_by_itself", SELFSUP,
           "f_train, f_test = (f_train - mean) / std, (f_test - mean) / std",
           "f_train, f_test = (f_train - mean) / std, (f_test - f_test.mean(axis=0)) / (\n"
           "        f_test.std(axis=0) + 1e-6)",
           breaks=("linear_probe",), says="TRAINING features' mean and std"),
    # Minibatches of 32: four times the optimizer steps the handout's budget states.
    Mutant("linear_probe_minibatches", SELFSUP,
           "batches = tf.data.Dataset.from_tensors((f_train, y_train)).repeat(epochs)",
           "batches = tf.data.Dataset.from_tensor_slices((f_train, y_train)).batch(32).repeat("
           "epochs)",
           breaks=("linear_probe",), says="full batch"),
]
