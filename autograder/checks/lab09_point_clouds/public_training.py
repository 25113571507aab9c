"""Public checks of lab09_point_clouds, part 3: the classifier's loss and train_step, and
training.

classification_loss runs on the checks' stand-in T-Net and a stand-in regulariser (not
PointNet's: see probes.py), and is compared with scipy's log-softmax of the model's own
logits. train_step runs with the checks' stand-in call and loss as well, so it is graded
alone; the training checks are relative to the reference trained with the same seed and
budget."""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import (
    assign_random_weights,
    largest_change,
    snapshot,
    standing_in,
    tensor,
)
from autograder.checks.lab09_point_clouds.probes import (
    ACCURACY_MARGIN,
    IOU_SHARE,
    LOSS_MARGIN,
    classifier_train_probe,
    fixed_transform,
    judge_classifier_training,
    judge_segmenter_training,
    mean_pool_call,
    segmenter_train_probe,
    smoothed_classification_loss,
    stand_in_orthogonality,
)
from autograder.verdicts import expect_close_naming, expect_true

# The budgets of the training checks, stated in the handout. The segmenter's 416 clouds
# are 13 whole batches of 32: a smaller last batch would trace its training step again.
CLASSIFIER = {"train_size": 400, "test_size": 200, "num_points": 48, "widths": (32, 64),
              "head_units": (32,), "learning_rate": 1e-2, "batch_size": 32, "epochs": 12}
SEGMENTER = {"train_size": 416, "test_size": 200, "num_points": 48, "widths": (32, 64),
             "head_units": (64, 32), "learning_rate": 3e-3, "batch_size": 32, "epochs": 6}
REGULARIZER_WEIGHT = 0.5


@check(points=2, uses="pointnet", reference=False, task="`PointNetClassifier.classification_loss`",
       hint="mean sparse cross-entropy from the LOGITS + regularizer_weight * "
            "orthogonality_loss(A) (A from call(points, return_transform=True)); the argmax "
            "accuracy")
def classification_loss(lab, rng):
    """On the stand-in T-Net and a stand-in for orthogonality_loss: loss and accuracy of a
    batch of 10 clouds, against scipy's log-softmax of the model's own logits plus
    regularizer_weight times the stand-in's value; the regulariser's gradient with respect to
    the T-Net's weights (the loss with regularizer_weight 0.5 minus the loss with 0)."""
    import tensorflow as tf
    from scipy.special import log_softmax
    matrix = rng.normal(scale=0.5, size=(3, 3)) + np.eye(3)
    with standing_in(lab.pointnet, TNet=fixed_transform(matrix),
                     orthogonality_loss=stand_in_orthogonality):
        model = lab.pointnet.PointNetClassifier(4, widths=(8, 16), head_units=(8,),
                                                num_points=12,
                                                regularizer_weight=REGULARIZER_WEIGHT)
        assign_random_weights(model, rng, 0.6)
        model.input_transform.matrix.assign(matrix.astype("float32"))
        x = rng.normal(size=(10, 12, 3)).astype("float32")
        labels = rng.integers(0, 4, size=10).astype("int32")
        tnet = model.input_transform.matrix
        gradients = []
        for weight in (REGULARIZER_WEIGHT, 0.0):
            model.regularizer_weight = weight
            with tf.GradientTape() as tape:
                loss, accuracy = model.classification_loss(tensor(x), tensor(labels, "int32"))
            gradients.append(np.asarray(tape.gradient(loss, tnet)))
            if weight:
                loss_and_accuracy = (np.asarray(loss), np.asarray(accuracy))
            else:
                unweighted = np.asarray(loss)
        model.regularizer_weight = REGULARIZER_WEIGHT
        with tf.GradientTape() as tape:
            regularizer = stand_in_orthogonality(model.input_transform(x))
        expected_gradient = REGULARIZER_WEIGHT * np.asarray(tape.gradient(regularizer, tnet))
        logits, transform = (np.asarray(v) for v in model(x, return_transform=True))
        regularizer = float(stand_in_orthogonality(transform))
    cross_entropy = -log_softmax(logits.astype(np.float64), axis=1)[np.arange(10), labels]
    return {"loss": loss_and_accuracy[0], "accuracy": loss_and_accuracy[1],
            "unweighted": unweighted, "cross_entropy": cross_entropy, "regularizer": regularizer,
            "hits": (np.argmax(logits, axis=1) == labels).astype(np.float64),
            "regularizer_gradient": gradients[0] - gradients[1],
            "expected_gradient": expected_gradient}


@classification_loss.verdict
def _(student, _reference):
    ce, reg = student["cross_entropy"], student["regularizer"]
    what = (f"classification_loss(points, labels) with regularizer_weight={REGULARIZER_WEIGHT} "
            "(stand-in T-Net and regulariser)")
    loss = float(np.asarray(student["loss"], dtype=np.float64).reshape(-1)[0])
    implied = (loss - ce.mean()) / reg
    weight_ignored = abs(float(student["unweighted"]) - loss) <= 1e-6 + 1e-5 * abs(loss)
    if (weight_ignored and abs(implied) > 1e-4 and abs(implied - 1) > 1e-4
            and abs(implied - REGULARIZER_WEIGHT) > 1e-4):
        raise CheckFailed(f"the loss of {what} weights the regulariser by {implied:.3g} "
                          "whatever self.regularizer_weight is (the same loss with "
                          "regularizer_weight=0): the weight is not self.regularizer_weight; "
                          "use self.regularizer_weight, not a number")
    expect_close_naming(student["loss"], np.float32(ce.mean() + REGULARIZER_WEIGHT * reg),
                        f"the loss of {what}", [
        (ce.mean(), "leaves out the regulariser: add regularizer_weight * "
                    "orthogonality_loss(A)"),
        (ce.mean() + reg, "adds the regulariser without its weight (regularizer_weight)"),
        (ce.sum() + REGULARIZER_WEIGHT * reg, "SUMS the cross-entropy over the batch: take "
                                              "the mean")],
        against="the mean cross-entropy of the logits + regularizer_weight * "
                "orthogonality_loss(A)", rtol=1e-4, atol=1e-5)
    expect_close_naming(student["accuracy"], np.float32(student["hits"].mean()),
                        f"the accuracy of {what}", [], against="the argmax accuracy",
                        rtol=1e-6, atol=1e-6)
    gradient = np.asarray(student["regularizer_gradient"], dtype=np.float64)
    expected = np.asarray(student["expected_gradient"], dtype=np.float64)
    if np.allclose(gradient, 0.0, atol=1e-7):
        raise CheckFailed(f"{what}: the regulariser sends no gradient to the T-Net's weights "
                          "(its value is right, so is A behind tf.stop_gradient, or taken out "
                          "of the tape?): regularizer_weight * orthogonality_loss(A) must train "
                          "the T-Net, so A must be the one call(..., return_transform=True) "
                          "returns")
    expect_close_naming(gradient, expected, f"the gradient of the regulariser's term of {what} "
                        "with respect to the T-Net's weights", [],
                        against="regularizer_weight * the gradient of orthogonality_loss(A)",
                        rtol=1e-3, atol=1e-6)


@check(points=1, uses="pointnet", reference=False, task="`PointNetClassifier.train_step`",
       hint="loss, accuracy = self.classification_loss(points, labels) inside a GradientTape; "
            "optimizer.apply; the trackers log the loss itself, not the scaled one")
def train_step_logs_the_loss(lab, rng):
    """Two train_steps on batches of 24 and 16 clouds (the checks' stand-in call and loss):
    each logs the running means of classification_loss before its step, and the weights
    move."""
    import keras
    pointnet = lab.pointnet
    batches = [(rng.normal(size=(n, 12, 3)).astype("float32"),
                rng.integers(0, 4, size=n).astype("int32")) for n in (24, 16)]
    with standing_in(pointnet, TNet=fixed_transform()), \
            standing_in(pointnet.PointNetClassifier, call=mean_pool_call,
                        classification_loss=smoothed_classification_loss):
        model = pointnet.PointNetClassifier(4, widths=(8, 16), head_units=(8,), num_points=12)
        assign_random_weights(model, rng, 0.5)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        expected, logged, moved = [], [], []
        for x, y in batches:
            expected.append([float(v) for v in
                             model.classification_loss(tensor(x), tensor(y, "int32"))])
            before = snapshot(model.trainable_variables)
            tnet_before = snapshot(model.input_transform.trainable_variables)
            logs = model.train_step((tensor(x), tensor(y, "int32")))
            moved.append([largest_change(before, model.trainable_variables),
                          largest_change(tnet_before, model.input_transform.trainable_variables)])
            if not isinstance(logs, dict):
                raise ValueError(f"train_step returned {type(logs).__name__}, expected a dict "
                                 "{'loss': ..., 'accuracy': ...}")
            logged.append({str(k): float(v) for k, v in logs.items()})
    return {"expected": expected, "logged": json.dumps(logged), "moved": moved}


@train_step_logs_the_loss.verdict
def _(student, _reference):
    logged = json.loads(student["logged"])
    (loss_1, acc_1), (loss_2, acc_2) = student["expected"]
    expect_true(sorted(logged[0]) == ["accuracy", "loss"], f"train_step returned "
                f"{sorted(logged[0])}; it must return {{'loss': ..., 'accuracy': ...}} (the "
                "trackers' results)")
    expect_true(student["moved"][0][0] > 0, "one train_step left every weight unchanged: "
                "apply the gradients with self.optimizer.apply")
    expect_true(student["moved"][0][1] > 0, "one train_step moved some weights but not the "
                "T-Net's (input_transform): take tape.gradient with respect to "
                "self.trainable_variables, every one of them, and apply them all")
    first = logged[0]["loss"]
    if loss_1 and abs(first / loss_1 - 24) < 0.5:
        raise CheckFailed(f"the loss train_step logs for a batch of 24 is {first:.5g}, 24 times "
                          f"classification_loss ({loss_1:.5g}): log the loss as it is")
    second = logged[1]["loss"]
    if (abs(second - loss_2) <= 1e-4 * abs(loss_2) + 1e-4
            and abs(loss_2 - loss_1) > 1e-3 * abs(loss_1) + 1e-3):
        raise CheckFailed(f"the loss logged after a second train_step is {second:.5g}, the "
                          f"second batch's loss alone: the trackers must keep running means "
                          "over the epoch (do not reset them in train_step; fit resets them "
                          "each epoch)")
    for got, want, what in ((first, loss_1, "the loss logged by the first train_step"),
                            (logged[0]["accuracy"], acc_1, "the accuracy logged by the first "
                                                           "train_step"),
                            (logged[1]["loss"], (loss_1 + loss_2) / 2,
                             "the loss logged after a second train_step"),
                            (logged[1]["accuracy"], (acc_1 + acc_2) / 2,
                             "the accuracy logged after a second train_step")):
        expect_close_naming(np.float32(got), np.float32(want), what, [],
                            against="classification_loss before each step (the trackers' "
                                    "running means)", rtol=1e-4, atol=1e-4)


@check(points=3, timeout=45, uses="pointnet", task="`PointNetClassifier.train_step`",
       hint=f"train_step: classification_loss inside a GradientTape, optimizer.scale_loss, "
            f"tape.gradient w.r.t. self.trainable_variables, optimizer.apply; the logged loss "
            f"must come within {LOSS_MARGIN} of the reference's")
def classifier_trains(lab, rng):
    """`fit` on 400 clouds of 48 points (the checks' stand-in T-Net, call and loss: only
    train_step is the student's): the last epoch's logged loss within 0.02 of the
    reference's, and the held-out accuracy at most 0.05 below it."""
    return classifier_train_probe(lab, rng, CLASSIFIER)


@classifier_trains.verdict
def _(student, reference):
    judge_classifier_training(student, reference)


@check(points=2, timeout=45, uses="pointnet", task="`PointNetSegmenter.call`",
       hint="each point's logits from its local feature and the cloud's global feature")
def segmenter_trains(lab, rng):
    """The student's PointNetSegmenter trained with compile/fit on 416 clouds of 48 points:
    the held-out part mean IoU (scikit-learn's) at least half the reference's."""
    return segmenter_train_probe(lab, rng, SEGMENTER)


@segmenter_trains.verdict
def _(student, reference):
    judge_segmenter_training(student, reference)


assert ACCURACY_MARGIN == 0.05 and IOU_SHARE == 0.5 and LOSS_MARGIN == 0.02  # the docstrings
