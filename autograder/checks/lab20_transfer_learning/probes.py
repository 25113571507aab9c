"""Helpers that the checks of lab20_transfer_learning share: probes run in the worker (they
import TensorFlow inside), verdicts in the grader.

DANN.train_step is graded on the checks' own stand-ins for `gradient_reversal` and `mmd2`
(standing_in): a reversal that scales the gradient by -lambda/2 (not -lambda) and the MMD of
a LINEAR kernel (the squared distance between the two feature means). A correct train_step
calls the module's functions as the skeleton says, so it trains exactly like the reference
on the same stand-ins, and a wrong reversal or MMD costs their own checks only.
"""
from __future__ import annotations

import numpy as np

from autograder.check_helpers import snapshot

# The domain-adaptation training of dann_beats_source_only (stated in the handout): the
# textured target domain, batches of 64 pairs, DANN's two schedules (p the fraction of
# training done): Adam's rate annealed as 3e-3 / (1 + 10 p)^0.75 and lambda ramped as
# lambda_max (2 / (1 + exp(-10 p)) - 1), lambda set every 25 steps (one execution of
# steps_per_execution); source-only and DANN each trained at two seeds and their accuracies
# averaged (one seed's gain is noisy).
DANN_TRAIN = {"shift": "texture", "seeds": (0, 1), "steps": 250, "batch_size": 64,
              "learning_rate": 3e-3, "lambda_max": 0.5, "filters": (16, 32), "hidden": 32,
              "steps_per_execution": 25}
# A correct train_step that computes the same losses in another order ends elsewhere in
# the spread of seeds: over the 276 pairs of seeds 0-23, the reference's mean accuracies
# range over 46.7-60.9 % (source-only) and 53.9-64.5 % (DANN), and seeds 0 and 1 give
# 56.7 % and 62.1 %: the worst pair is 10.0 and 8.2 points below them.
DANN_MARGIN = 0.12
# DANN's mean accuracy must beat the same networks trained on the source alone (lambda 0)
# by this much: the reference's mean gain over the same pairs is +1.4 to +11.8 points (+5.1
# median); a domain loss that skips the reversal gives exactly 0 (lambda changes nothing).
DANN_GAIN = 0.005


def stand_in_reversal(x, lambda_=1.0):
    """The checks' gradient reversal: the identity forward, -lambda/2 times the gradient
    backward (half the real strength, so the reference and the student use the same)."""
    import tensorflow as tf
    half = 0.5 * tf.cast(lambda_, x.dtype)
    return tf.stop_gradient(x * (1.0 + half)) - half * x


def stand_in_mmd(x, y, bandwidths=(1.0,)):
    """The checks' MMD: the squared distance between the two feature means (a linear
    kernel), whatever the bandwidths."""
    import tensorflow as tf
    return tf.reduce_sum(tf.square(tf.reduce_mean(x, axis=0) - tf.reduce_mean(y, axis=0)))


def randomise_backbone(backbone, rng):
    """Random conv kernels, batch norm scales and offsets, and moving statistics far from
    0 and 1, so that normalising with batch statistics and with moving ones differ."""
    for weight in backbone.weights:
        name = weight.path.rsplit("/", 1)[-1]
        shape = tuple(weight.shape)
        if name == "moving_variance":
            value = rng.uniform(0.2, 2.0, shape)
        elif name == "moving_mean":
            value = rng.normal(0.0, 0.3, shape)
        elif name == "beta":
            value = rng.normal(0.3, 0.3, shape)
        elif name == "gamma":
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0.0, 0.4, shape)
        weight.assign(value.astype("float32"))


def kinds(backbone):
    """The backbone's weights by kind: conv kernels, batch norm gamma/beta, moving stats."""
    out = {"kernel": [], "gamma_beta": [], "moving": []}
    for weight in backbone.weights:
        name = weight.path.rsplit("/", 1)[-1]
        key = ("moving" if name.startswith("moving") else
               "gamma_beta" if name in ("gamma", "beta") else "kernel")
        out[key].append(weight)
    return out


def transfer_probe(lab, rng, *, fine_tune, filters=(4, 6), num_classes=3, n=24):
    """Build the student's transfer model on a random backbone, take a few SGD steps, and
    report what moved and what the model computes in training mode."""
    import keras
    transfer = lab.transfer
    backbone = transfer.make_backbone(filters)
    randomise_backbone(backbone, rng)
    # The two-stage recipe: a backbone that fine-tuning gets was frozen for feature
    # extraction first, and one that feature extraction gets may have been trained.
    backbone.trainable = not fine_tune
    model = transfer.build_transfer_model(backbone, num_classes, fine_tune=fine_tune)
    built = bool(getattr(model, "built", False)) and len(model.weights) > len(backbone.weights)
    x = rng.uniform(size=(n, 8, 8, 1)).astype("float32")
    y = rng.integers(0, num_classes, n).astype("int32")
    model(x[:1])   # built, whether or not build_transfer_model built it
    groups = kinds(backbone)
    own = {id(w) for w in backbone.weights}
    head = [w for w in model.weights if id(w) not in own]
    trainable_backbone = sum(id(w) in own for w in model.trainable_weights)
    before = {key: snapshot(ws) for key, ws in groups.items()}
    head_before = snapshot(head)
    model.compile(optimizer=keras.optimizers.SGD(0.5),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    moved = {key: max([float(np.abs(b - a).max()) for b, a in
                       zip(before[key], snapshot(groups[key]))] or [0.0])
             for key in groups}
    head_moved = max([float(np.abs(b - a).max()) for b, a in zip(head_before, snapshot(head))]
                     or [0.0])
    features = np.asarray(backbone(x, training=False), dtype=np.float64)
    kernel = [np.asarray(w, np.float64) for w in head if len(w.shape) == 2]
    bias = [np.asarray(w, np.float64) for w in head if len(w.shape) == 1]
    expected = (features @ kernel[0] + (bias[0] if bias else 0.0)) if len(kernel) == 1 else None
    return {"built": built, "backbone_trainable": bool(backbone.trainable),
            "trainable_backbone_weights": int(trainable_backbone),
            "backbone_weights": len(backbone.weights),
            "kernel_moved": moved["kernel"], "gamma_beta_moved": moved["gamma_beta"],
            "moving_moved": moved["moving"], "head_moved": head_moved,
            "head_shapes": [list(w.shape) for w in head],
            "training_logits": np.asarray(model(x, training=True)),
            "expected_logits": (np.zeros((0,)) if expected is None else expected)}


def dann_pairs(rng, n=32):
    """n random (source, target) image pairs (n, 2, 8, 8, 1) and source labels in 0..9."""
    x = rng.uniform(size=(n, 2, 8, 8, 1)).astype("float32")
    x[:, 1] = np.clip(1.1 - x[:, 1], 0, 1)   # the target half looks different
    return x, rng.integers(0, 10, n).astype("int32")


def dann_steps(lab, rng, *, lambda_, mmd_weight, steps=2, batch=16, stand_ins=True):
    """DANN (filters (4, 6), hidden 8) with random weights, `steps` train_steps through fit
    on fixed batches, with the checks' stand-ins unless stand_ins=False. Returns the values
    the first step logged and every trainable and non-trainable weight after all steps."""
    import keras

    from autograder.check_helpers import assign_random_weights, standing_in
    transfer = lab.transfer
    model = transfer.DANN(10, filters=(4, 6), hidden=8, lambda_=lambda_, mmd_weight=mmd_weight,
                          bandwidths=(0.5, 2.0))
    assign_random_weights(model, rng, 0.4)
    model.compile(optimizer=keras.optimizers.SGD(0.2))
    x, y = dann_pairs(rng, steps * batch)
    names = {"gradient_reversal": stand_in_reversal, "mmd2": stand_in_mmd} if stand_ins else {}
    with standing_in(transfer, **names):
        # The first step alone: its logs are the losses at the given weights, before any
        # update, so a wrong loss is told apart from a wrong gradient.
        first = model.fit(x[:batch], y[:batch], batch_size=batch, epochs=1, verbose=0,
                          shuffle=False)
        model.fit(x[batch:], y[batch:], batch_size=batch, epochs=1, verbose=0, shuffle=False)
    logs = {key: float(values[-1]) for key, values in first.history.items()}
    return {"logs": logs, "weights": [np.asarray(w) for w in model.weights],
            "weight_names": [w.path for w in model.weights]}


def judge_dann_steps(student, reference, what):
    """The logs and weights after the steps against the reference's (same weights, batches
    and stand-ins); a wrong weight is blamed on the part of train_step that feeds it."""
    from autograder.api import CheckFailed
    from autograder.verdicts import expect_close, expect_true
    for key in ("loss", "class_loss", "domain_loss", "mmd"):
        expect_true(key in student["logs"], f"{what}: fit logged {sorted(student['logs'])}, "
                    f"missing {key!r}: update the four trackers (loss, class_loss, domain_loss, "
                    "mmd) and list them in `metrics`")
    advice = {
        "class_loss": "the sparse cross-entropy of the SOURCE logits and labels, with the "
                      "backbone run once on concat([source, target]) in training mode",
        "domain_loss": "binary cross-entropy (from logits) of self.domain_logits(features) "
                       "against 0 for the source rows and 1 for the target rows, the features "
                       "from the backbone run once on concat([source, target]) (batch norm "
                       "normalises both domains together)",
        "mmd": "mmd2(source_features, target_features, self.bandwidths) when mmd_weight > 0, "
               "else 0.0",
        "loss": "class_loss + domain_loss + mmd_weight * mmd"}
    for key in ("class_loss", "domain_loss", "mmd", "loss"):
        try:
            expect_close(student["logs"][key], reference["logs"][key],
                         f"{what}: the logged {key}", rtol=1e-4, atol=1e-5)
        except CheckFailed as failure:
            raise CheckFailed(f"{failure}; it should be {advice[key]}") from None
    expect_true(len(student["weights"]) == len(reference["weights"]),
                f"{what}: the model has {len(student['weights'])} weights, the reference "
                f"{len(reference['weights'])} (do not add layers to DANN)")
    blame = {"domain_head": "the domain head trained differently: are the domain labels 0 for "
                            "the source and 1 for the target, and the loss binary "
                            "cross-entropy from logits?",
             "backbone": "the backbone got different gradients: the domain loss must reach it "
                         "through the reversal (self.domain_logits(features), not "
                         "self.domain_head(features)), and the gradient must be of the scaled "
                         "total loss over self.trainable_variables",
             "label_head": "the label head trained differently: the class loss is on the "
                           "source rows only"}
    for name, got, expected in zip(reference["weight_names"], student["weights"],
                                   reference["weights"]):
        try:
            expect_close(got, expected, f"{what}: the weight {name} after the steps",
                         rtol=1e-4, atol=1e-5)
        except CheckFailed as failure:
            part = next((key for key in blame if key in name), None)
            raise CheckFailed(f"{failure}; {blame[part]}" if part else str(failure)) from None
