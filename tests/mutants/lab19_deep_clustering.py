"""Mutants of lab19_deep_clustering: the mistakes students make in a first DEC.

The model checks run DEC's methods with the checks' own formulas (stand-ins), so a mistake in
soft_assignment, target_distribution or clustering_kl breaks that formula's check only, and a
mistake in the model breaks the model's."""
from tests.mutants import Mutant

DEC = "dec.py"

MUTANTS = [
    # The code layer with a ReLU: codes can no longer be negative, half the code space is lost.
    Mutant("code_layer_has_relu", DEC,
           '+ [keras.layers.Dense(code_dim)], name="encoder")',
           '+ [keras.layers.Dense(code_dim, activation="relu")], name="encoder")',
           breaks=("build_autoencoder",), says="linear"),
    # Pretraining with the binary cross-entropy: it trains, but logs another loss.
    Mutant("pretrain_with_cross_entropy", DEC,
           'loss="mse")',
           'loss="binary_crossentropy")',
           breaks=("pretrain_autoencoder",), says="mse"),
    # The Student-t exponent without the /2 (right shape, wrong sharpness).
    Mutant("student_t_exponent_without_half", DEC,
           "kernel = tf.pow(1.0 + squared / alpha, -(alpha + 1.0) / 2.0)",
           "kernel = tf.pow(1.0 + squared / alpha, -(alpha + 1.0))",
           breaks=("soft_assignment",), says="exponent"),
    # The squared distance not divided by alpha: invisible at alpha = 1.
    Mutant("student_t_ignores_alpha_in_the_distance", DEC,
           "kernel = tf.pow(1.0 + squared / alpha, -(alpha + 1.0) / 2.0)",
           "kernel = tf.pow(1.0 + squared, -(alpha + 1.0) / 2.0)",
           breaks=("soft_assignment",), says="divided by alpha"),
    # q normalised over the points instead of over the clusters.
    Mutant("soft_assignment_normalises_columns", DEC,
           "return kernel / tf.reduce_sum(kernel, axis=1, keepdims=True)",
           "return kernel / tf.reduce_sum(kernel, axis=0, keepdims=True)",
           breaks=("soft_assignment",), says="ROW"),
    # The target without the cluster frequencies: large clusters swallow small ones.
    Mutant("target_without_frequencies", DEC,
           "weight = tf.square(q) / frequency",
           "weight = tf.square(q)",
           breaks=("target_distribution",), says="frequencies"),
    # The frequencies summed over the clusters (a row sum, 1 for every point).
    Mutant("target_frequency_over_rows", DEC,
           "frequency = tf.reduce_sum(q, axis=0)",
           "frequency = tf.reduce_sum(q, axis=1, keepdims=True)",
           breaks=("target_distribution",), says="ROW sums of q"),
    # No stop-gradient: a target computed from q in the tape passes its gradient on.
    Mutant("kl_without_stop_gradient", DEC,
           "p = tf.stop_gradient(tf.cast(p, tf.float32))",
           "p = tf.cast(p, tf.float32)",
           breaks=("clustering_kl",), says="stop_gradient"),
    # KL(Q || P) instead of KL(P || Q).
    Mutant("kl_reversed", DEC,
           "per_point = tf.reduce_sum(p * (tf.math.log(p + EPSILON) - tf.math.log(q + EPSILON)), axis=1)",
           "per_point = tf.reduce_sum(q * (tf.math.log(q + EPSILON) - tf.math.log(p + EPSILON)), axis=1)",
           breaks=("clustering_kl",), says="KL\\(Q"),
    # The KL summed over the batch: Adam hardly minds the scale, so DEC still clusters, but
    # fit logs a loss batch_size times the reference's, which the training check compares.
    Mutant("kl_summed_over_points", DEC,
           "return tf.reduce_mean(per_point)",
           "return tf.reduce_sum(per_point)",
           breaks=("clustering_kl", "dec_and_idec_train"), says="SUM"),
    # k-means on the inputs instead of the codes (here the inputs have another width).
    Mutant("kmeans_on_the_inputs", DEC,
           'codes = np.asarray(self.encoder(x), dtype="float64")',
           'codes = np.asarray(x, dtype="float64")',
           breaks=("dec_initialize",)),
    # Targets refreshed at every step: DEC chases a moving target.
    Mutant("targets_refreshed_every_step", DEC,
           "refresh = tf.equal(self.optimizer.iterations % self.update_interval, 0)",
           "refresh = tf.constant(True)",
           breaks=("dec_train_step",), says="NOT change"),
    # Targets refreshed after the step instead of before: step 0 trains on empty targets.
    Mutant("targets_refreshed_after_the_step", DEC,
           "refresh = tf.equal(self.optimizer.iterations % self.update_interval, 0)",
           "refresh = tf.equal((self.optimizer.iterations + 1) % self.update_interval, 0)",
           breaks=("dec_train_step",), says="BEFORE"),
    # Only the encoder trains: the centres stay where k-means put them.
    Mutant("centres_not_trained", DEC,
           "gradients = tape.gradient(scaled, self.trainable_variables)\n"
           "        self.optimizer.apply(gradients, self.trainable_variables)",
           "gradients = tape.gradient(scaled, self.encoder.trainable_variables)\n"
           "        self.optimizer.apply(gradients, self.encoder.trainable_variables)",
           breaks=("dec_train_step",), says="centres"),
    # The targets of the first rows of the table, not of the batch's points.
    Mutant("targets_not_gathered_by_index", DEC,
           "p = tf.gather(self.targets, tf.cast(index, tf.int32))",
           "p = self.targets[: tf.shape(x)[0]]",
           breaks=("dec_train_step",)),
    # Unscaled loss: fine in float32, but mixed precision divides unscaled float16 gradients.
    Mutant("dec_loss_not_scaled", DEC,
           'scaled = self.optimizer.scale_loss(losses["loss"])',
           'scaled = losses["loss"]',
           breaks=("dec_trains_in_mixed_precision",)),
    Mutant("idec_forgets_gamma", DEC,
           '"loss": kl + self.gamma * reconstruction',
           '"loss": kl + reconstruction',
           breaks=("idec_losses",), says="gamma"),
    # The Hungarian algorithm minimises by default: the worst matching.
    Mutant("matching_minimises", DEC,
           "rows, cols = linear_sum_assignment(counts, maximize=True)",
           "rows, cols = linear_sum_assignment(counts)",
           breaks=("cluster_accuracy",), says="MAXIMISES"),
    Mutant("accuracy_without_matching", DEC,
           "return float(counts[rows, cols].sum() / len(y_true))",
           "return float(np.mean(y_true == y_pred))",
           breaks=("cluster_accuracy",), says="plain accuracy"),
    Mutant("nmi_geometric_mean", DEC,
           "return float(max(mutual, 0.0) / ((h_true + h_pred) / 2))",
           "return float(max(mutual, 0.0) / np.sqrt(h_true * h_pred))",
           breaks=("normalized_mutual_info",), says="geometric"),
    # Two constant labelings: 0/0 gives nan where the docstring (and scikit-learn) say 1.0.
    Mutant("nmi_without_the_constant_case", DEC,
           "    if h_true == 0 and h_pred == 0:\n        return 1.0\n",
           "",
           breaks=("normalized_mutual_info",), says="two constant labelings"),
    # The decoder fed a detached code: the values are right, but the reconstruction no longer
    # reaches the encoder, and IDEC quietly becomes DEC plus a separately trained decoder.
    Mutant("idec_decoder_detached", DEC,
           "decoded = tf.cast(self.decoder(z), tf.float32)",
           "decoded = tf.cast(self.decoder(tf.stop_gradient(z)), tf.float32)",
           breaks=("idec_losses",), says="KL's gradient alone"),
    # The refresh after optimizer.apply: step 0 trains on the all-zero targets.
    Mutant("targets_refreshed_after_apply", DEC,
           "        tf.cond(refresh, self._refreshed, lambda: tf.constant(False))\n"
           "        p = tf.gather(self.targets, tf.cast(index, tf.int32))\n"
           "        with tf.GradientTape() as tape:\n"
           "            losses = self.compute_losses(x, p)\n"
           "            scaled = self.optimizer.scale_loss(losses[\"loss\"])\n"
           "        gradients = tape.gradient(scaled, self.trainable_variables)\n"
           "        self.optimizer.apply(gradients, self.trainable_variables)\n",
           "        p = tf.gather(self.targets, tf.cast(index, tf.int32))\n"
           "        with tf.GradientTape() as tape:\n"
           "            losses = self.compute_losses(x, p)\n"
           "            scaled = self.optimizer.scale_loss(losses[\"loss\"])\n"
           "        gradients = tape.gradient(scaled, self.trainable_variables)\n"
           "        self.optimizer.apply(gradients, self.trainable_variables)\n"
           "        tf.cond(refresh, self._refreshed, lambda: tf.constant(False))\n",
           breaks=("dec_train_step",), says="all-zero"),
    # Adam at its default learning rate: pretraining ignores its argument.
    Mutant("pretrain_ignores_the_learning_rate", DEC,
           "optimizer=keras.optimizers.Adam(learning_rate)",
           "optimizer=keras.optimizers.Adam()",
           breaks=("pretrain_autoencoder",), says="learning rate"),
    # Greedy matching: the largest count first, which is not the best matching.
    Mutant("matching_greedy", DEC,
           "rows, cols = linear_sum_assignment(counts, maximize=True)",
           "rows, cols = [], []\n"
           "    left = counts.astype(float)\n"
           "    for _ in range(min(left.shape)):\n"
           "        row, col = np.unravel_index(np.argmax(left), left.shape)\n"
           "        rows.append(row)\n"
           "        cols.append(col)\n"
           "        left[row, :] = -1\n"
           "        left[:, col] = -1",
           breaks=("cluster_accuracy",), says="GREEDY"),
]
