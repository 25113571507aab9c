"""Mutants of lab09_point_clouds: the mistakes students make with sets and point clouds.

The classifier's checks run its call on the checks' stand-in T-Net, and its train_step on
the checks' stand-in call and loss, so a mistake in the T-Net, the call, the loss or the
step breaks that unit's checks only."""
from tests.mutants import Mutant

GEOMETRY = "geometry.py"
POINTNET = "pointnet.py"

MUTANTS = [
    Mutant("distances_not_squared", GEOMETRY,
           "return tf.maximum(a_norms - 2.0 * cross + b_norms, 0.0)",
           "return tf.sqrt(tf.maximum(a_norms - 2.0 * cross + b_norms, 0.0))",
           breaks=("pairwise_squared_distances", "chamfer_distance", "ball_query"),
           says="not its square"),
    Mutant("distances_not_clipped", GEOMETRY,
           "return tf.maximum(a_norms - 2.0 * cross + b_norms, 0.0)",
           "return a_norms - 2.0 * cross + b_norms",
           breaks=("pairwise_squared_distances",), says="clip it"),
    # The Chamfer distance of one direction only.
    Mutant("chamfer_one_direction", GEOMETRY,
           "return a_to_b + b_to_a",
           "return a_to_b",
           breaks=("chamfer_distance",), says="a -> b half"),
    Mutant("chamfer_sums_over_points", GEOMETRY,
           "a_to_b = tf.reduce_mean(tf.reduce_min(distances, axis=2), axis=1)\n"
           "    b_to_a = tf.reduce_mean(tf.reduce_min(distances, axis=1), axis=1)",
           "a_to_b = tf.reduce_sum(tf.reduce_min(distances, axis=2), axis=1)\n"
           "    b_to_a = tf.reduce_sum(tf.reduce_min(distances, axis=1), axis=1)",
           breaks=("chamfer_distance",), says="MEAN"),
    # Furthest from the last pick, not from the whole picked set.
    Mutant("fps_distance_to_last_pick_only", GEOMETRY,
           "nearest = tf.minimum(nearest, distances)",
           "nearest = distances",
           breaks=("furthest_point_sampling",), says="LAST pick only"),
    Mutant("fps_starts_at_a_random_point", GEOMETRY,
           "chosen = tf.zeros((batch,), tf.int32)",
           "chosen = tf.fill((batch,), count - 1)",
           breaks=("furthest_point_sampling",), says="start from point 0"),
    # The K nearest neighbours, ball or not.
    Mutant("ball_query_ignores_the_radius", GEOMETRY,
           "inside = tf.where(distances < radius ** 2, indices, count)\n"
           "    nearest_first = tf.sort(inside, axis=-1)[..., :max_neighbours]",
           "nearest_first = tf.argsort(distances, axis=-1, stable=True)[..., :max_neighbours]",
           breaks=("ball_query",), says="NEAREST points"),
    Mutant("ball_query_pads_with_zero", GEOMETRY,
           "return tf.where(nearest_first == count, first, nearest_first)",
           "return tf.where(nearest_first == count, 0, nearest_first)",
           breaks=("ball_query",), says="index 0"),
    Mutant("group_points_not_centred", GEOMETRY,
           "return grouped - tf.cast(centroids, tf.float32)[:, :, None, :]",
           "return grouped",
           breaks=("group_points",), says="subtract the centroid"),
    # Deep Sets with a mean: the size of the set is lost.
    Mutant("deep_sets_mean_pooling", POINTNET,
           "return run(self.rho, tf.reduce_sum(run(self.phi, x), axis=1))",
           "return run(self.rho, tf.reduce_mean(run(self.phi, x), axis=1))",
           breaks=("deep_sets",), says="mean or a max"),
    Mutant("orthogonality_not_squared", POINTNET,
           "return tf.reduce_mean(tf.reduce_sum(tf.square(residual), axis=[1, 2]))",
           "return tf.reduce_mean(tf.norm(residual, axis=[1, 2]))",
           breaks=("orthogonality_loss",), says="not its SQUARE"),
    Mutant("tnet_without_identity", POINTNET,
           "return matrix + tf.eye(self.k, dtype=tf.float32)",
           "return matrix",
           breaks=("tnet",), says="tf.eye"),
    # The classifier pools by the mean: still invariant, but not PointNet.
    Mutant("classifier_mean_pooling", POINTNET,
           "features = tf.reduce_max(run(self.shared, aligned), axis=1)",
           "features = tf.reduce_mean(run(self.shared, aligned), axis=1)",
           breaks=("classifier_call",), says="MAX over the points"),
    Mutant("classifier_ignores_the_transform", POINTNET,
           "features = tf.reduce_max(run(self.shared, aligned), axis=1)",
           "features = tf.reduce_max(run(self.shared, points), axis=1)",
           breaks=("classifier_call",), says="ignores the T-Net"),
    Mutant("classifier_transform_transposed", POINTNET,
           "aligned = tf.matmul(points, tf.cast(transform, points.dtype))",
           "aligned = tf.matmul(points, tf.cast(transform, points.dtype), transpose_b=True)",
           breaks=("classifier_call",), says="A\\^T"),
    Mutant("loss_without_regulariser", POINTNET,
           "loss = cross_entropy + self.regularizer_weight * orthogonality_loss(transform)",
           "loss = cross_entropy",
           breaks=("classification_loss",), says="leaves out the regulariser"),
    # The segmenter forgets the global feature: each point is labelled from itself alone.
    Mutant("segmenter_without_global_feature", POINTNET,
           "logits = run(self.point_head, tf.concat([local, pooled], axis=-1))",
           "logits = run(self.point_head, tf.concat([local, local], axis=-1))",
           breaks=("segmenter_call", "segmenter_trains"), says="global"),
    Mutant("iou_over_labelled_parts_only", POINTNET,
           "for part in np.union1d(labels, predictions):",
           "for part in np.unique(labels):",
           breaks=("part_mean_iou",), says="labels only"),
    # The set as the queries: one output per element, not per seed.
    Mutant("pma_queries_from_the_set", POINTNET,
           "pooled = seeds + self.attention(seeds, x, x)",
           "pooled = x + self.attention(x, x, x)",
           breaks=("attention_pooling",), says="seeds are the queries"),
    Mutant("train_step_without_gradient_step", POINTNET,
           "self.optimizer.apply(gradients, self.trainable_variables)\n"
           "        self.trackers.update(loss=loss, accuracy=accuracy)",
           "self.trackers.update(loss=loss, accuracy=accuracy)",
           breaks=("train_step_logs_the_loss", "classifier_trains"), says="unchanged"),
    Mutant("train_step_loss_not_scaled", POINTNET,
           "scaled_loss = self.optimizer.scale_loss(loss)",
           "scaled_loss = loss",
           breaks=("pointnet_trains_in_mixed_precision",)),
    # Found by the fresh-eyes review of the checks.
    Mutant("ball_query_radius_not_squared", GEOMETRY,
           "inside = tf.where(distances < radius ** 2, indices, count)",
           "inside = tf.where(distances < radius, indices, count)",
           breaks=("ball_query",), says="radius \\*\\* 2"),
    Mutant("tnet_mean_pooling", POINTNET,
           "features = tf.reduce_max(run(self.shared, x), axis=1)",
           "features = tf.reduce_mean(run(self.shared, x), axis=1)",
           breaks=("tnet",), says="point 0 appears twice"),
    Mutant("loss_regularizer_stop_gradient", POINTNET,
           "loss = cross_entropy + self.regularizer_weight * orthogonality_loss(transform)",
           "loss = cross_entropy + self.regularizer_weight * orthogonality_loss(\n"
           "            tf.stop_gradient(transform))",
           breaks=("classification_loss",), says="no gradient to the T-Net"),
    Mutant("loss_hardcoded_regularizer_weight", POINTNET,
           "loss = cross_entropy + self.regularizer_weight * orthogonality_loss(transform)",
           "loss = cross_entropy + 1e-3 * orthogonality_loss(transform)",
           breaks=("classification_loss",), says="not self.regularizer_weight"),
    Mutant("segmenter_mean_global_feature", POINTNET,
           "pooled = tf.reduce_max(local, axis=1, keepdims=True)",
           "pooled = tf.reduce_mean(local, axis=1, keepdims=True)",
           breaks=("segmenter_call",), says="MAX over the points"),
    Mutant("segmenter_global_feature_first", POINTNET,
           "logits = run(self.point_head, tf.concat([local, pooled], axis=-1))",
           "logits = run(self.point_head, tf.concat([pooled, local], axis=-1))",
           breaks=("segmenter_call",), says="BEFORE the local one"),
    # points.shape[1] is None when fit traces clouds of different sizes.
    Mutant("segmenter_static_num_points", POINTNET,
           "pooled = tf.tile(pooled, (1, tf.shape(points)[1], 1))",
           "pooled = tf.tile(pooled, (1, points.shape[1], 1))",
           breaks=("segmenter_call",), says="not known while tracing"),
    Mutant("pma_without_feed_forward_residual", POINTNET,
           "return pooled + self.feed_forward(pooled)",
           "return self.feed_forward(pooled)",
           breaks=("attention_pooling",), says="residual"),
    Mutant("train_step_resets_trackers", POINTNET,
           "self.optimizer.apply(gradients, self.trainable_variables)\n"
           "        self.trackers.update(loss=loss, accuracy=accuracy)",
           "self.optimizer.apply(gradients, self.trainable_variables)\n"
           "        for tracker in self.metrics:\n"
           "            tracker.reset_state()\n"
           "        self.trackers.update(loss=loss, accuracy=accuracy)",
           breaks=("train_step_logs_the_loss",), says="running means"),
    Mutant("train_step_skips_tnet_weights", POINTNET,
           "gradients = tape.gradient(scaled_loss, self.trainable_variables)\n"
           "        self.optimizer.apply(gradients, self.trainable_variables)",
           "weights = [w for layer in self.shared + self.head for w in layer.trainable_weights]\n"
           "        gradients = tape.gradient(scaled_loss, weights)\n"
           "        self.optimizer.apply(gradients, weights)",
           breaks=("train_step_logs_the_loss",), says="T-Net"),
]
