"""Mutants of lab18_few_shot: the mistakes students make in a first few-shot lab.

The train_step check runs on the checks' own encoder and head, so a wrong head costs the
head's checks, not the train_step's; MAML is judged on closed forms and finite differences."""
from tests.mutants import Mutant

FEWSHOT = "fewshot.py"
MAML = "maml.py"

MUTANTS = [
    # The query drawn from the same images as the support: the episode leaks its answers.
    Mutant("query_overlaps_support", FEWSHOT,
           "query_index.append(picked[k_shot:])",
           "query_index.append(picked[:n_query])",
           breaks=("episode_sampling",), says="appears twice"),
    # The support keeps the global class ids: labels are not 0..N-1.
    Mutant("support_not_relabelled", FEWSHOT,
           "support_y.append(np.full(k_shot, new_label))",
           "support_y.append(np.full(k_shot, cls))",
           breaks=("episode_sampling",), says="labels 0"),
    # Episodes drawn from every class, the training classes included.
    Mutant("episodes_from_all_classes", FEWSHOT,
           "chosen = rng.choice(np.asarray(classes), size=n_way, replace=False)",
           "chosen = rng.choice(np.unique(labels), size=n_way, replace=False)",
           breaks=("episode_sampling",), says="not in `classes`"),
    # sqrt at 0: the gradient of an identical pair is NaN.
    Mutant("distance_without_floor", FEWSHOT,
           "return tf.sqrt(tf.maximum(squared, 1e-12))",
           "return tf.sqrt(squared)",
           breaks=("euclidean_distance",), says="1e-12"),
    Mutant("contrastive_margin_on_squared_distance", FEWSHOT,
           "tf.square(tf.maximum(margin - distance, 0.0))",
           "tf.square(tf.maximum(margin - tf.square(distance), 0.0))",
           breaks=("contrastive_loss",), says="d² instead of d"),
    Mutant("contrastive_labels_swapped", FEWSHOT,
           "pull = same * tf.square(distance)\n    push = (1.0 - same) *",
           "pull = (1.0 - same) * tf.square(distance)\n    push = same *",
           breaks=("contrastive_loss",), says="swapped"),
    # The Siamese network returns the squared distance.
    Mutant("siamese_squared_distance", FEWSHOT,
           "return euclidean_distance(self.encoder(x1), self.encoder(x2))",
           "return tf.reduce_sum(tf.square(self.encoder(x1) - self.encoder(x2)), -1)",
           breaks=("siamese_network",)),
    Mutant("prototypes_are_sums", FEWSHOT,
           "return sums / counts",
           "return sums",
           breaks=("prototypical_head",), says="SUMS"),
    # Logits that grow with the distance: the nearest prototype is the least likely.
    Mutant("prototypical_logits_sign", FEWSHOT,
           "return -squared_distances(query_embeddings, class_prototypes)",
           "return squared_distances(query_embeddings, class_prototypes)",
           breaks=("prototypical_head", "episode_log_probs", "prototypical_network_learns"),
           says="sign"),
    Mutant("matching_dot_products", FEWSHOT,
           "q = tf.math.l2_normalize(query_embeddings, axis=-1)\n"
           "    s = tf.math.l2_normalize(support_embeddings, axis=-1)",
           "q = query_embeddings\n    s = support_embeddings",
           breaks=("matching_head", "episode_log_probs"), says="cosines"),
    Mutant("loss_summed_over_queries", FEWSHOT,
           "loss = -tf.reduce_mean(picked)",
           "loss = -tf.reduce_mean(tf.reduce_sum(picked, -1))",
           breaks=("train_step_logs",), says="SUMMED"),
    Mutant("train_step_never_applies", FEWSHOT,
           "        self.optimizer.apply(grads, self.trainable_variables)\n"
           "        self.trackers.update(loss=loss, accuracy=accuracy)",
           "        self.trackers.update(loss=loss, accuracy=accuracy)",
           breaks=("train_step_logs",)),
    Mutant("loss_not_scaled", FEWSHOT,
           "scaled_loss = self.optimizer.scale_loss(loss)",
           "scaled_loss = loss",
           breaks=("episodic_trains_in_mixed_precision",)),
    # Inner gradients always stopped: second-order MAML silently becomes first order.
    Mutant("inner_gradients_always_stopped", MAML,
           "if first_order:\n            grads = [tf.stop_gradient(g) for g in grads]",
           "grads = [tf.stop_gradient(g) for g in grads]",
           breaks=("maml_second_order_linear", "maml_second_order_mlp"), says="FIRST-order"),
    Mutant("first_order_flag_ignored", MAML,
           "adapted = inner_adapt(forward, loss_fn, params, support_x, support_y, inner_lr,\n"
           "                                  inner_steps, first_order)",
           "adapted = inner_adapt(forward, loss_fn, params, support_x, support_y, inner_lr,\n"
           "                                  inner_steps, False)",
           breaks=("maml_second_order_linear", "maml_second_order_mlp"), says="SECOND-order"),
    Mutant("inner_adapt_one_step", MAML,
           "    for _ in range(steps):\n        with tf.GradientTape() as tape:",
           "    for _ in range(1):\n        with tf.GradientTape() as tape:",
           breaks=("inner_adapt", "maml_second_order_linear"), says="one step"),
    Mutant("reptile_jumps_to_the_adapted_weights", MAML,
           "return [p + epsilon * (a - p) for p, a in zip(params, adapted)]",
           "return adapted",
           breaks=("reptile_update",), says="epsilon"),
    # np.random's choice draws WITH replacement by default: one class under two labels.
    Mutant("episode_classes_with_replacement", FEWSHOT,
           "chosen = rng.choice(np.asarray(classes), size=n_way, replace=False)",
           "chosen = rng.choice(np.asarray(classes), size=n_way)",
           breaks=("episode_sampling",), says="two labels"),
    # The model called without training=True: dropout and batch norm would not train.
    Mutant("train_step_no_training_flag", FEWSHOT,
           "log_probs = self(x, training=True)\n            loss, accuracy",
           "log_probs = self(x)\n            loss, accuracy",
           breaks=("train_step_logs",), says="training=True"),
    # Dividing by the static shape: None once Keras relaxes the batch axis.
    Mutant("loss_static_shape_division", FEWSHOT,
           "loss = -tf.reduce_mean(picked)",
           "n_episodes, n_queries = query_y.shape\n"
           "        loss = -tf.reduce_sum(picked) / (n_episodes * n_queries)",
           breaks=("episodic_train_step_traces_at_most_twice",), says="NoneType"),
    # The tasks adapted before the outer tape opens: every meta-gradient is None.
    Mutant("maml_inner_outside_outer_tape", MAML,
           "    with tf.GradientTape() as outer_tape:\n"
           "        outer_tape.watch(params)\n"
           "        losses = []\n"
           "        for support_x, support_y, query_x, query_y in tasks:\n"
           "            adapted = inner_adapt(forward, loss_fn, params, support_x, support_y, "
           "inner_lr,\n"
           "                                  inner_steps, first_order)\n",
           "    adapted_all = [inner_adapt(forward, loss_fn, params, sx, sy, inner_lr, inner_steps,\n"
           "                               first_order) for sx, sy, _, _ in tasks]\n"
           "    with tf.GradientTape() as outer_tape:\n"
           "        outer_tape.watch(params)\n"
           "        losses = []\n"
           "        for (support_x, support_y, query_x, query_y), adapted in zip(tasks, "
           "adapted_all):\n",
           breaks=("maml_second_order_linear", "maml_second_order_mlp"), says="None gradients"),
    # assign_sub on the caller's Variables: params change, and MAML loses its second order.
    Mutant("inner_adapt_assign_in_place", MAML,
           "fast = [p - inner_lr * g for p, g in zip(fast, grads)]",
           "fast = [p.assign_sub(inner_lr * g) if isinstance(p, tf.Variable) else "
           "p - inner_lr * g\n                for p, g in zip(fast, grads)]",
           breaks=("inner_adapt", "maml_second_order_linear"), says="in place"),
]
