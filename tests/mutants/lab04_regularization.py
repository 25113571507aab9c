"""Mutants of lab04_regularization: the mistakes students make with regularisers and attacks."""
from tests.mutants import Mutant

DECAY, NOISE, SHIFT, STOP, ATTACK = ("weight_decay.py", "noise_layers.py", "augmentation.py",
                                     "early_stopping.py", "adversarial.py")

MUTANTS = [
    Mutant("l2_penalty_missing_half", DECAY,
           "return 0.5 * coefficient * total",
           "return coefficient * total",
           breaks=("l2_penalty", "l2_equals_decoupled_decay_only_for_sgd")),
    # "Decoupled" decay that goes through the gradient is just L2 in the loss again: Adam
    # rescales it, and AdamW becomes Adam + L2.
    Mutant("adamw_decays_through_the_gradient", DECAY,
           "self.assign_sub(variable, learning_rate * decay * variable)",
           "gradient = gradient + decay * variable",
           breaks=("adamw_matches_keras", "l2_equals_decoupled_decay_only_for_sgd")),
    # Dropout without the inverted scaling: the expected activation shrinks by (1 - rate)
    # in training, and the network sees larger activations at inference than it learned on.
    Mutant("dropout_without_rescaling", NOISE,
           "return ops.where(keep, x / (1.0 - self.rate), ops.zeros_like(x))",
           "return ops.where(keep, x, ops.zeros_like(x))",
           breaks=("dropout_training_statistics",)),
    Mutant("dropout_active_at_inference", NOISE,
           "if not training or self.rate == 0.0:",
           "if self.rate == 0.0:",
           breaks=("dropout_inference_is_identity", "dropout_in_a_model")),
    # randint's maxval is exclusive: the largest positive shift is never drawn.
    Mutant("random_shift_never_reaches_max_shift", SHIFT,
           "-self.max_shift, self.max_shift + 1,",
           "-self.max_shift, self.max_shift,",
           breaks=("random_shift_layer",)),
    Mutant("random_shift_one_offset_per_batch", SHIFT,
           "shifts = keras.random.randint((batch, 2),",
           "shifts = 0 * ops.ones((batch, 2), 'int32') + keras.random.randint((1, 2),",
           breaks=("random_shift_layer",)),
    Mutant("shift_images_swaps_rows_and_columns", SHIFT,
           "rows = shift_matrices(shifts[:, 0], height)\n"
           "    cols = shift_matrices(shifts[:, 1], width)",
           "rows = shift_matrices(shifts[:, 1], height)\n"
           "    cols = shift_matrices(shifts[:, 0], width)",
           breaks=("shift_images",)),
    Mutant("early_stopping_keeps_the_last_weights", STOP,
           "            self.model.set_weights(self.best_weights)",
           "            pass",
           breaks=("early_stopping_on_scripted_losses", "early_stopping_in_fit")),
    Mutant("early_stopping_ignores_min_delta", STOP,
           "if self.best is None or current < self.best - self.min_delta:",
           "if self.best is None or current < self.best:",
           breaks=("early_stopping_on_scripted_losses",)),
    Mutant("fgsm_uses_the_raw_gradient", ATTACK,
           "x_adv = x + epsilon * tf.sign(input_gradient(classifier, x, y))",
           "x_adv = x + epsilon * input_gradient(classifier, x, y)",
           # The training check measures robustness with the lab's fgsm: a weak one hides it.
           breaks=("fgsm",)),
    Mutant("fgsm_forgets_the_clip", ATTACK,
           "    return tf.clip_by_value(x_adv, clip_min, clip_max)\n",
           "    return x_adv\n",
           breaks=("fgsm",)),
    Mutant("pgd_without_projection", ATTACK,
           "x_adv = tf.clip_by_value(project_linf(x_adv, x, epsilon), clip_min, clip_max)",
           "x_adv = tf.clip_by_value(x_adv, clip_min, clip_max)",
           # Measured with this pgd, which leaves the ball, no classifier looks robust.
           breaks=("pgd", "pgd_random_start")),
    # Gradient DEScent on the loss: the "attack" makes the examples easier, and training on
    # them buys no robustness.
    Mutant("pgd_descends_the_loss", ATTACK,
           "x_adv = x_adv + step_size * tf.sign(input_gradient(classifier, x_adv, y))",
           "x_adv = x_adv - step_size * tf.sign(input_gradient(classifier, x_adv, y))",
           breaks=("pgd", "pgd_random_start")),
    Mutant("adversarial_training_on_clean_inputs", ATTACK,
           'logits = keras.ops.cast(self.classifier(x_adv, training=True), "float32")',
           'logits = keras.ops.cast(self.classifier(x, training=True), "float32")',
           breaks=("adversarial_train_step", "adversarial_training_improves_robustness",
                   "adversarial_training_robust_to_the_checks_attacks"),
           hidden=True),
    Mutant("adversarial_train_step_without_scale_loss", ATTACK,
           "scaled_loss = self.optimizer.scale_loss(loss)  # so mixed precision still trains",
           "scaled_loss = loss",
           breaks=("adversarial_trains_in_mixed_precision",)),
    # Only a data range other than [0, 1] tells a fixed clip from clip_min and clip_max.
    Mutant("fgsm_clips_to_a_fixed_unit_range", ATTACK,
           "    return tf.clip_by_value(x_adv, clip_min, clip_max)\n",
           "    return tf.clip_by_value(x_adv, 0.0, 1.0)\n",
           breaks=("fgsm",), says="fixed \\[0, 1\\]"),
    Mutant("pgd_gradient_taken_once", ATTACK,
           "    for _ in range(steps):\n"
           "        x_adv = x_adv + step_size * tf.sign(input_gradient(classifier, x_adv, y))\n",
           "    direction = tf.sign(input_gradient(classifier, x_adv, y))\n"
           "    for _ in range(steps):\n"
           "        x_adv = x_adv + step_size * direction\n",
           breaks=("pgd",), says="gradient at the current x_k"),
    # An einsum slip: the column matrix used transposed moves the content left.
    Mutant("shift_images_columns_the_wrong_way", SHIFT,
           'ops.einsum("nir,nrsc,njs->nijc"',
           'ops.einsum("nir,nrsc,nsj->nijc"',
           breaks=("shift_images",), says="wrong way along the columns"),
    # With a dropout-free classifier, training=True changes nothing: the check's classifier
    # has a layer that acts in training only.
    Mutant("adversarial_train_step_classifier_at_inference", ATTACK,
           'logits = keras.ops.cast(self.classifier(x_adv, training=True), "float32")',
           'logits = keras.ops.cast(self.classifier(x_adv), "float32")',
           breaks=("adversarial_train_step",), says="training=True"),
    Mutant("adversarial_train_step_accuracy_on_the_clean_batch", ATTACK,
           "self.trackers.update(loss=loss, accuracy=correct_predictions(y, logits))",
           "self.trackers.update(loss=loss, accuracy=correct_predictions(y, self.classifier(x)))",
           breaks=("adversarial_train_step",), says="CLEAN batch"),
    Mutant("adversarial_train_step_logs_the_scaled_loss", ATTACK,
           "self.trackers.update(loss=loss, accuracy=",
           "self.trackers.update(loss=scaled_loss, accuracy=",
           breaks=("adversarial_trains_in_mixed_precision",), says="not what scale_loss returned"),
    # A train_step that takes no step never retraces either: no readiness point for it.
    Mutant("adversarial_train_step_takes_no_step", ATTACK,
           "        self.optimizer.apply(tape.gradient(scaled_loss, variables), variables)\n",
           "",
           breaks=("adversarial_train_step_traces_at_most_twice", "adversarial_train_step",
                   "adversarial_trains_with_xla", "adversarial_trains_in_mixed_precision"),
           says="optimizer step"),
]
