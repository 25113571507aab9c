"""Mutants of lab20_transfer_learning: the mistakes students make in a first transfer-learning
and domain-adaptation lab.

The DANN.train_step checks run the student's train_step on the checks' own gradient reversal
and MMD, so a mistake in the reversal or the MMD breaks their own checks only, and a mistake
in train_step breaks train_step's."""
from tests.mutants import Mutant

TRANSFER = "transfer.py"

MUTANTS = [
    # Fine-tuning at the full rate: large steps wreck the pretrained features.
    Mutant("fine_tuning_rate_not_lowered", TRANSFER,
           "return base_rate * factor if fine_tune else base_rate",
           "return base_rate",
           breaks=("transfer_learning_rate",), says="base rate"),
    # The backbone never frozen: feature extraction trains it as well.
    Mutant("feature_extractor_not_frozen", TRANSFER,
           "backbone.trainable = bool(fine_tune)",
           "backbone.trainable = True",
           breaks=("feature_extractor_freezes_the_backbone",), says="trainable"),
    # The backbone follows fit's training=True: batch norm renormalises with the tiny target
    # batches and overwrites the moving statistics of pretraining.
    Mutant("backbone_in_training_mode", TRANSFER,
           "return self.head(self.backbone(images, training=False))",
           "return self.head(self.backbone(images, training=training))",
           breaks=("fine_tuning_trains_the_backbone",), says="moving statistics"),
    # The reversal forgets the minus: the backbone helps the domain classifier.
    Mutant("reversal_not_negated", TRANSFER,
           "return -tf.cast(lambda_, upstream.dtype) * upstream",
           "return tf.cast(lambda_, upstream.dtype) * upstream",
           breaks=("gradient_reversal",), says="negate"),
    # The reversal ignores lambda_.
    Mutant("reversal_not_scaled", TRANSFER,
           "return -tf.cast(lambda_, upstream.dtype) * upstream",
           "return -upstream",
           breaks=("gradient_reversal",), says="not scaled by lambda_"),
    # The Gaussian kernel without the 2 in 2 s^2.
    Mutant("kernel_without_the_two", TRANSFER,
           "kernels = [tf.exp(-d2 / (2.0 * float(s) ** 2)) for s in bandwidths]",
           "kernels = [tf.exp(-d2 / (float(s) ** 2)) for s in bandwidths]",
           breaks=("gaussian_kernel", "mmd2_unbiased"), says="2 s\\^2"),
    # The kernels of the bandwidths summed, not averaged.
    Mutant("kernel_sums_the_bandwidths", TRANSFER,
           "return tf.add_n(kernels) / float(len(kernels))",
           "return tf.add_n(kernels)",
           breaks=("gaussian_kernel", "mmd2_unbiased"), says="sums over the bandwidths"),
    # The biased estimator: the diagonal k(x_i, x_i) = 1 kept in the within-sample means.
    Mutant("mmd_biased_estimator", TRANSFER,
           "xx = (tf.reduce_sum(k_xx) - tf.linalg.trace(k_xx)) / (n * (n - 1.0))\n"
           "    yy = (tf.reduce_sum(k_yy) - tf.linalg.trace(k_yy)) / (m * (m - 1.0))",
           "xx = tf.reduce_mean(k_xx)\n    yy = tf.reduce_mean(k_yy)",
           breaks=("mmd2_unbiased",), says="BIASED"),
    # The unbiased correction with n^2 in the denominator.
    Mutant("mmd_diagonal_dropped_but_divided_by_n_squared", TRANSFER,
           "xx = (tf.reduce_sum(k_xx) - tf.linalg.trace(k_xx)) / (n * (n - 1.0))",
           "xx = (tf.reduce_sum(k_xx) - tf.linalg.trace(k_xx)) / (n * n)",
           breaks=("mmd2_unbiased",), says="mmd2"),
    # The domain classifier reads the features directly: no reversal, so the backbone is
    # trained to HELP it tell the domains apart.
    Mutant("domain_head_skips_the_reversal", TRANSFER,
           "domain_loss = self.domain_loss_fn(domains, self.domain_logits(features))",
           "domain_loss = self.domain_loss_fn(domains, self.domain_head(features))",
           breaks=("dann_train_step", "dann_beats_source_only"), says="reversal"),
    # Source labelled 1 and target 0.
    Mutant("domain_labels_swapped", TRANSFER,
           "domains = tf.concat([tf.zeros((batch, 1)), tf.ones((batch, 1))], axis=0)",
           "domains = tf.concat([tf.ones((batch, 1)), tf.zeros((batch, 1))], axis=0)",
           breaks=("dann_train_step",), says="domain"),
    # The backbone run twice, once per domain: batch norm normalises each domain with its
    # own statistics.
    Mutant("backbone_run_per_domain", TRANSFER,
           "features = self.backbone(tf.concat([source, target], axis=0), training=True)",
           "features = tf.concat([self.backbone(source, training=True),\n"
           "                                  self.backbone(target, training=True)], axis=0)",
           breaks=("dann_train_step",), says="once on concat"),
    # The MMD term added at weight 1 whatever mmd_weight says.
    Mutant("mmd_weight_ignored", TRANSFER,
           "loss = loss + self.mmd_weight * mmd",
           "loss = loss + mmd",
           breaks=("dann_train_step_adds_mmd",), says="mmd_weight"),
    # Fine-tuning never unfreezes: a backbone frozen for feature extraction first (the
    # two-stage recipe) stays frozen, and only the head trains.
    Mutant("fine_tune_never_unfreezes", TRANSFER,
           "backbone.trainable = bool(fine_tune)",
           "if not fine_tune:\n        backbone.trainable = False",
           breaks=("fine_tuning_trains_the_backbone",), says="frozen before"),
    # The model returned unbuilt: no head weights until fit builds it.
    Mutant("build_without_call", TRANSFER,
           "    model(keras.ops.zeros((1, 8, 8, 1)))\n    return model",
           "    return model",
           breaks=("feature_extractor_freezes_the_backbone", "fine_tuning_trains_the_backbone"),
           says="not built"),
    # The unbiased estimate clipped at zero, as if it were a squared distance.
    Mutant("mmd_clipped_at_zero", TRANSFER,
           "return xx + yy - 2.0 * tf.reduce_mean(k_xy)",
           "return tf.maximum(xx + yy - 2.0 * tf.reduce_mean(k_xy), 0.0)",
           breaks=("mmd2_unbiased",), says="clip"),
    # No loss scaling: float16 gradients underflow under mixed precision.
    Mutant("train_step_without_scale_loss", TRANSFER,
           "scaled = self.optimizer.scale_loss(loss)",
           "scaled = loss",
           breaks=("dann_trains_in_mixed_precision",), says="scale_loss"),
]
