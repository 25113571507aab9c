"""Mutants of lab10_autoencoders: the slips of a first PCA and a first autoencoder."""
from tests.mutants import Mutant

PCA = "pca.py"
MODELS = "autoencoders.py"

MUTANTS = [
    # The SVD of uncentred data finds the direction of the mean first, not of the variance.
    Mutant("pca_without_centring", PCA,
           "centred = x - self.mean_",
           "centred = x",
           breaks=("pca_fit_components",), says=r"along the mean"),
    # np.linalg.svd returns Vt: its ROWS are the principal directions, not its columns.
    Mutant("components_from_columns_of_vt", PCA,
           "self.components_ = vt[:k]",
           "self.components_ = vt[:, :k].T",
           breaks=("pca_fit_components",), says=r"ROWS of Vt"),
    Mutant("explained_variance_not_squared", PCA,
           "return self.singular_values_ ** 2 / (self.n_samples_ - 1)",
           "return self.singular_values_ / (self.n_samples_ - 1)",
           breaks=("pca_explained_variance",)),
    # Without a decoder bias the reconstructions live in a subspace through the origin: the
    # linear autoencoder spends a direction on the mean and misses the PCA subspace. Still
    # affine; the model check sees the missing bias among the weights, training the 88 degrees.
    Mutant("linear_decoder_without_bias", MODELS,
           'layers.Dense(self.input_dim, name="reconstruction")',
           'layers.Dense(self.input_dim, use_bias=False, name="reconstruction")',
           breaks=("linear_autoencoder_model", "linear_autoencoder_recovers_pca"),
           says=r"bias is missing"),
    # Scored against its own noisy input, the "denoiser" learns to keep the noise.
    Mutant("denoiser_target_is_the_noisy_input", MODELS,
           "return tf.reduce_mean(tf.square(x_hat - x))",
           "return tf.reduce_mean(tf.square(x_hat - x_noisy))",
           breaks=("denoising_loss", "denoising_train_step")),
    Mutant("interpolation_endpoints_swapped", MODELS,
           "return (1.0 - t) * code_start + t * code_end",
           "return t * code_start + (1.0 - t) * code_end",
           breaks=("interpolate",), says=r"swapped"),
    # Unscaled gradients: fine in float32, but under mixed precision the LossScaleOptimizer
    # divides the float16 gradients of an unscaled loss by its scale.
    Mutant("denoiser_loss_not_scaled", "autoencoders.py",
           "scaled_loss = self.optimizer.scale_loss(loss)  # so mixed precision still trains",
           "scaled_loss = loss",
           breaks=("denoiser_trains_in_mixed_precision", "denoising_train_step_exact")),
]

# Slips the first checks missed or misnamed: each must now lose its own check's points with a
# message that names it.
MUTANTS += [
    # Without the clip, a cosine that rounds to 1 + 1e-16 gives arccos = NaN.
    Mutant("angles_not_clipped", PCA,
           "return np.arccos(np.clip(cosines, -1.0, 1.0))",
           "return np.arccos(cosines)",
           breaks=("principal_angles",), says=r"clip"),
    # Hard-coded for 8 x 8 digits: wrong for any other image_shape.
    Mutant("conv_decoder_reshape_hard_coded", MODELS,
           "layers.Dense(height // 4 * width // 4 * f2, activation=\"relu\"),\n"
           "            layers.Reshape((height // 4, width // 4, f2)),",
           "layers.Dense(2 * 2 * f2, activation=\"relu\"),\n"
           "            layers.Reshape((2, 2, f2)),",
           breaks=("conv_autoencoder_model",), says=r"Dense with output shape"),
    # The shapes are right; only the activation is missing.
    Mutant("conv_transpose_without_relu", MODELS,
           'layers.Conv2DTranspose(f1, 3, strides=2, padding="same", activation="relu"),',
           'layers.Conv2DTranspose(f1, 3, strides=2, padding="same"),',
           breaks=("conv_autoencoder_model",), says=r"activation linear, expected .*relu"),
    # scale_loss is called, but the gradient is taken of the unscaled loss: behind a
    # LossScaleOptimizer every update is 32768 times too small.
    Mutant("denoiser_gradient_of_unscaled_loss", MODELS,
           "grads = tape.gradient(scaled_loss, self.trainable_variables)",
           "grads = tape.gradient(loss, self.trainable_variables)",
           breaks=("denoising_train_step_exact", "denoiser_trains_in_mixed_precision"),
           says=r"scale_loss"),
    # fit then logs the last batch's loss, not the epoch's mean.
    Mutant("denoiser_tracker_reset_every_step", MODELS,
           "        self.trackers.update(loss=loss)\n        # END SOLUTION",
           "        self.trackers.reset()\n        self.trackers.update(loss=loss)\n"
           "        # END SOLUTION",
           breaks=("denoising_train_step_exact",), says=r"mean so far"),
    # A straight line in pixel space, encoded and decoded: the same path only when the
    # autoencoder is affine.
    Mutant("interpolate_images_in_pixel_space", MODELS,
           "codes = np.asarray(autoencoder.encode(np.stack([x_start, x_end]).astype(np.float32)))\n"
           "    path = interpolate(codes[0], codes[1], steps)\n"
           "    return np.asarray(autoencoder.decode(path))",
           "pixels = interpolate(np.ravel(x_start), np.ravel(x_end), steps)\n"
           "    pixels = pixels.reshape(steps, *np.shape(x_start))\n"
           "    return np.asarray(autoencoder.decode(autoencoder.encode(pixels)))",
           breaks=("interpolate_images",), says=r"PIXELS"),
    Mutant("linear_encoder_without_bias", MODELS,
           'layers.Dense(self.code_dim, name="code")], name="encoder")',
           'layers.Dense(self.code_dim, use_bias=False, name="code")], name="encoder")',
           breaks=("linear_autoencoder_model",), says=r"bias is missing"),
    Mutant("pca_ratio_over_kept_variance", PCA,
           "return self.explained_variance_ / self.total_variance_",
           "return self.explained_variance_ / np.sum(self.explained_variance_)",
           breaks=("pca_explained_variance",), says=r"total_variance_"),
    Mutant("pca_transform_centres_on_the_batch", PCA,
           "return (np.asarray(x, dtype=np.float64) - self.mean_) @ self.components_.T",
           "x = np.asarray(x, dtype=np.float64)\n"
           "        return (x - x.mean(axis=0)) @ self.components_.T",
           breaks=("pca_transform_and_inverse",), says=r"TRAINING mean_"),
]

# regularized.py: the sparse and contractive autoencoders, anomaly detection.
REG = "regularized.py"
MUTANTS += [
    Mutant("l1_penalty_summed_over_the_batch", REG,
           "return weight * tf.reduce_mean(tf.reduce_sum(tf.abs(codes), axis=-1))",
           "return weight * tf.reduce_sum(tf.abs(codes))",
           breaks=("l1_penalty", "sparse_autoencoder_trains"), says=r"MEAN over the N codes"),
    Mutant("l1_penalty_is_l2", REG,
           "return weight * tf.reduce_mean(tf.reduce_sum(tf.abs(codes), axis=-1))",
           "return weight * tf.reduce_mean(tf.reduce_sum(tf.square(codes), axis=-1))",
           breaks=("l1_penalty",), says=r"L2 penalty"),
    # The penalty computed but never handed to Keras: the model trains on the MSE alone.
    Mutant("sparse_penalty_never_added", REG,
           "        self.add_loss(l1_penalty(codes, self.sparsity_weight))\n",
           "        l1_penalty(codes, self.sparsity_weight)\n",
           breaks=("sparse_autoencoder_call", "sparse_autoencoder_trains"), says=r"add_loss"),
    # tape.gradient of the codes sums them: one row of J's column sums, not the Jacobian.
    Mutant("contractive_gradient_not_jacobian", REG,
           "jacobian = tape.batch_jacobian(codes, x)   # (N, K, *input shape)",
           "jacobian = tape.gradient(codes, x)[:, None]",
           breaks=("contractive_penalty",), says=r"batch_jacobian"),
    Mutant("contractive_norm_not_squared", REG,
           "return tf.reduce_mean(tf.reduce_sum(squares, axis=1))",
           "return tf.reduce_mean(tf.sqrt(tf.reduce_sum(squares, axis=1)))",
           breaks=("contractive_penalty",), says=r"not squared"),
    # The Jacobian of stopped codes: the right value, but no gradient for the weights (it
    # trains as a plain autoencoder, as the next mutant does in contractive_autoencoder_trains).
    Mutant("contractive_penalty_stops_the_gradient", REG,
           "    return tf.reduce_mean(tf.reduce_sum(squares, axis=1))",
           "    return tf.stop_gradient(tf.reduce_mean(tf.reduce_sum(squares, axis=1)))",
           breaks=("contractive_penalty",), says=r"no gradient"),
    Mutant("contractive_penalty_left_out_of_the_loss", REG,
           "            loss = reconstruction + self.contraction_weight * contraction\n",
           "            loss = reconstruction\n",
           breaks=("contractive_train_step_exact", "contractive_autoencoder_trains")),
    Mutant("contractive_gradient_of_unscaled_loss", REG,
           "grads = tape.gradient(scaled_loss, self.trainable_variables)",
           "grads = tape.gradient(loss, self.trainable_variables)",
           breaks=("contractive_train_step_exact", "contractive_trains_in_mixed_precision"),
           says=r"scale_loss"),
    Mutant("roc_auc_ignores_ties", REG,
           "return float(np.mean(greater + 0.5 * ties))",
           "return float(np.mean(greater))",
           breaks=("roc_auc",), says=r"ties"),
    Mutant("roc_auc_inverted", REG,
           "greater = positives[:, None] > negatives[None, :]",
           "greater = positives[:, None] < negatives[None, :]",
           breaks=("roc_auc",), says=r"1 - AUROC"),
    Mutant("reconstruction_errors_summed", REG,
           "return np.mean(np.square(x_hat - x).reshape(len(x), -1), axis=1)",
           "return np.sum(np.square(x_hat - x).reshape(len(x), -1), axis=1)",
           breaks=("reconstruction_errors",), says=r"MEAN per input"),
    # Trained on every class, the "unseen" digit is no longer unseen.
    Mutant("anomaly_trained_on_every_class", REG,
           "seen = np.asarray(x_train)[np.asarray(y_train) != unseen_class]",
           "seen = np.asarray(x_train)",
           breaks=("anomaly_detection",), says=r"other classes only"),
    Mutant("anomaly_labels_inverted", REG,
           "is_unseen = np.asarray(y_test) == unseen_class",
           "is_unseen = np.asarray(y_test) != unseen_class",
           breaks=("anomaly_detection",), says=r"SEEN classes"),
]

# Slips of the regularized.py review: each loses public points with a message naming it.
MUTANTS += [
    # Without the cast, float16 codes (mixed precision) give a float16 penalty.
    Mutant("l1_penalty_without_float32_cast", REG,
           '    codes = tf.cast(codes, "float32")\n    return weight',
           "    return weight",
           breaks=("l1_penalty",), says=r"cast the codes to float32"),
    Mutant("sparse_penalty_of_the_output", REG,
           "        self.add_loss(l1_penalty(codes, self.sparsity_weight))\n"
           "        return self.decoder(codes)",
           "        x_hat = self.decoder(codes)\n"
           "        self.add_loss(l1_penalty(x_hat, self.sparsity_weight))\n"
           "        return x_hat",
           breaks=("sparse_autoencoder_call",), says=r"OUTPUT x_hat"),
    # A penalty 10 times too strong (summed over a batch of 64 would be 64 times): the codes
    # go silent, the reconstructions blur.
    Mutant("sparse_penalty_far_too_strong", REG,
           "        self.add_loss(l1_penalty(codes, self.sparsity_weight))\n",
           "        self.add_loss(l1_penalty(codes, 30 * self.sparsity_weight))\n",
           breaks=("sparse_autoencoder_trains",),
           says=r"test MSE after training \(the reference: 0\.0\d+\) is .*penalty far too strong"),
    # Sums over the code axis and the first image axis only: right for flat inputs only.
    Mutant("contractive_penalty_axes_hard_coded", REG,
           "squares = tf.reshape(tf.square(jacobian), [tf.shape(jacobian)[0], -1])\n"
           "    return tf.reduce_mean(tf.reduce_sum(squares, axis=1))",
           "return tf.reduce_mean(tf.reduce_sum(tf.square(jacobian), axis=[1, 2]))",
           breaks=("contractive_penalty",), says=r"EVERY axis but the batch"),
    Mutant("contractive_logs_the_weighted_penalty", REG,
           "self.trackers.update(loss=loss, reconstruction=reconstruction, contraction=contraction)",
           "self.trackers.update(loss=loss, reconstruction=reconstruction,\n"
           "                             contraction=self.contraction_weight * contraction)",
           breaks=("contractive_train_step_exact",), says=r"UNWEIGHTED"),
    # compile("adam") takes Adam's default rate, 1e-3: the detector is undertrained.
    Mutant("anomaly_adam_default_learning_rate", REG,
           "autoencoder.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=\"mse\",",
           "autoencoder.compile(optimizer=\"adam\", loss=\"mse\",",
           breaks=("anomaly_detection",), says=r"learning rate of 0\.001"),
    # One pass over the seen digits (19 batches), whatever `steps`.
    Mutant("anomaly_one_epoch_whatever_the_steps", REG,
           "autoencoder.fit(data.repeat().batch(batch_size), steps_per_epoch=steps, epochs=1, "
           "verbose=0)",
           "autoencoder.fit(seen, seen, batch_size=batch_size, verbose=0)",
           breaks=("anomaly_detection",), says=r"trained for 19 steps"),
]
