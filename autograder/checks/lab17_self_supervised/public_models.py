"""Public checks of lab17_self_supervised, part 2: the models' train_steps and methods.

Each runs the student's model code with the checks' own stand-ins (probes.py): an augmenter
whose call number c returns x * (1 + 0.25 c) + 0.05 c, a small random encoder, and losses of
known, different behaviour put in place of the lab's with `standing_in`, so a wrong loss
costs its own check only. One step runs eagerly with plain SGD, and the check recomputes it
with tf.GradientTape from the weights before the step: the logged loss, every weight's
update and (BYOL, mean teacher) the EMA of the target. The training checks (SimCLR's
linear-probe margin, CPC) run the student's whole code, relative to the reference.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import standing_in
from autograder.checks.lab17_self_supervised.probes import (
    counting_augmenter,
    cpc_pairs_probe,
    judge_cpc_pairs,
    judge_lists,
    randomise,
    sgd_step_expected,
    tiny_encoder,
    training_flag_layer,
    view_of,
    weights_of,
)
from autograder.verdicts import expect_at_most, expect_close, expect_true

STEP = {"rtol": 1e-4, "atol": 1e-6}
LR = 0.1



def stand_in_pair_loss(a, b, temperature=1.0):
    """The checks' loss of two projections: symmetric, not NT-Xent."""
    import tensorflow as tf
    a, b = tf.cast(a, tf.float32), tf.cast(b, tf.float32)
    return (tf.reduce_mean(tf.square(a - b)) + 0.1 * tf.reduce_mean(a * b)) / temperature


def one_eager_step(model, x, y=None):
    """Compile with SGD(LR), run eagerly, one fit step; the logged values."""
    import keras
    model.compile(optimizer=keras.optimizers.SGD(LR), run_eagerly=True)
    history = model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return {name: float(values[-1]) for name, values in history.history.items()}


def judge_step(student, what):
    expect_close(student["logged"], student["expected_loss"], f"the loss {what} logs", **STEP)
    judge_lists(student["after"], student["expected_after"],
                f"the weights after one SGD step of {what} (encoder and head, in order)", **STEP)


@check(points=3, uses="selfsup", reference=False, task="`SimCLR.train_step`",
       hint="two calls of self.augmenter(x, training=True); z = self(view, training=True); "
            "loss = nt_xent_loss(z1, z2, self.temperature); gradients of every trainable weight")
def simclr_train_step(lab, rng):
    """One SGD step with the checks' augmenter, encoder (whose output depends on the training
    flag, like dropout's) and pair loss (temperature 0.25) standing in for nt_xent_loss: the
    logged loss and the update of every encoder and projection-head weight, against
    GradientTape."""
    import tensorflow as tf
    model = lab.selfsup.SimCLR(tiny_encoder(rng, flag=True), counting_augmenter(),
                               projection_dim=3, hidden_units=5, temperature=0.25)
    randomise(model.projector, rng)
    x = rng.uniform(size=(6, 8, 8, 1)).astype("float32")
    variables = model.encoder.trainable_variables + model.projector.trainable_variables

    def loss_of(v1, v2, training=True):
        z1 = model.projector(model.encoder(tf.constant(v1), training=training))
        z2 = model.projector(model.encoder(tf.constant(v2), training=training))
        return stand_in_pair_loss(z1, z2, 0.25)
    with tf.GradientTape() as tape:
        loss = loss_of(view_of(x, 0), view_of(x, 1))
    expected_after = sgd_step_expected(variables, tape.gradient(loss, variables), LR)
    slips = [float(loss_of(view_of(x, 0), view_of(x, 0))), float(loss_of(x, x)),
             float(loss_of(view_of(x, 0), view_of(x, 1), training=False))]
    with standing_in(lab.selfsup, nt_xent_loss=stand_in_pair_loss):
        logged = one_eager_step(model, x)
    return {"logged": logged.get("loss", np.nan), "expected_loss": float(loss), "slips": slips,
            "after": weights_of(variables), "expected_after": expected_after}


@simclr_train_step.verdict
def _(student, _reference):
    for wrong, message in zip(student["slips"], (
            "both views are one augmenter call: call self.augmenter(x, training=True) twice",
            "the views are x itself: call the augmenter with training=True",
            "the encoder ran in inference mode (the checks' encoder, like one with dropout or "
            "batch norm, answers differently in training): z = self(view, training=True)")):
        if np.isclose(student["logged"], wrong, rtol=1e-5) and not np.isclose(
                wrong, student["expected_loss"], rtol=1e-5):
            raise CheckFailed(f"SimCLR.train_step logs {student['logged']:.6g}: {message}")
    judge_step(student, "SimCLR.train_step")


@check(points=2, uses="selfsup", reference=False, task="`CPC.cpc_loss`",
       hint="z = encoder(x), c = context(z); for k = 1..K: predictions W_k(c[:, :-k]), targets "
            "z[:, k:], reshaped to (-1, latent_dim); the mean over k of info_nce_loss")
def cpc_loss_pairs(lab, rng):
    """CPC(latent 4, context 5, 2 steps ahead) on 3 random sequences of 12 steps, with a
    recording stand-in for info_nce_loss: for each k the (prediction W_k c_t, target z_t+k)
    rows (in any order) and the mean over k."""
    return cpc_pairs_probe(lab, rng, latent=4, context=5, steps=2, n=3, length=12)


@cpc_loss_pairs.verdict
def _(student, _reference):
    judge_cpc_pairs(student)


def stand_in_regression(predictions, targets):
    """The checks' stand-in for byol_loss: asymmetric in its arguments."""
    import tensorflow as tf
    return tf.reduce_mean(tf.square(tf.cast(predictions, tf.float32)
                                    - 0.5 * tf.cast(targets, tf.float32)))


def byol_model(lab, rng, decay=0.9):
    model = lab.selfsup.BYOL(tiny_encoder(rng), counting_augmenter(), projection_dim=3,
                             hidden_units=5, decay=decay)
    for network in (model.projector, model.predictor, model.target_encoder,
                    model.target_projector):
        randomise(network, rng)
    return model


def byol_expected(model, v1, v2):
    """The objective the checks expect, with the stand-in regression."""
    online = [model.predictor(model.projector(model.encoder(v))) for v in (v1, v2)]
    target = [model.target_projector(model.target_encoder(v)) for v in (v1, v2)]
    return (stand_in_regression(online[0], target[1]) + stand_in_regression(online[1], target[0]),
            stand_in_regression(online[0], target[0]) + stand_in_regression(online[1], target[1]))


@check(points=2, uses="selfsup", reference=False, task="`BYOL.byol_objective`",
       hint="p = predictor(projector(encoder(view))), t = stop_gradient(target_projector("
            "target_encoder(view))); byol_loss(p1, t2) + byol_loss(p2, t1)")
def byol_target_gets_no_gradient(lab, rng):
    """With a stand-in regression loss and target weights unlike the online ones: the value,
    a zero gradient for every target weight, a non-zero one for the online weights."""
    import tensorflow as tf
    model = byol_model(lab, rng)
    x = rng.uniform(size=(5, 8, 8, 1)).astype("float32")
    v1, v2 = tf.constant(view_of(x, 0)), tf.constant(view_of(x, 1))
    targets = [v.value for v in model.target_variables]   # the tf.Variables, to watch
    online = model.encoder.trainable_variables + model.projector.trainable_variables
    with standing_in(lab.selfsup, byol_loss=stand_in_regression):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(targets)
            value = model.byol_objective(v1, v2)
        to_target = tape.gradient(value, targets)
        to_online = tape.gradient(value, online)
    expected, same_view = byol_expected(model, v1, v2)
    size = [0.0 if g is None else float(np.abs(np.asarray(g)).max()) for g in to_target]
    return {"value": float(value), "expected": float(expected), "same_view": float(same_view),
            "to_target": max(size),
            "to_online": max(0.0 if g is None else float(np.abs(np.asarray(g)).max())
                             for g in to_online)}


@byol_target_gets_no_gradient.verdict
def _(student, _reference):
    expect_at_most(student["to_target"], 0.0, "the largest gradient of byol_objective w.r.t. a "
                   "TARGET weight (wrap the target projections in tf.stop_gradient)")
    expect_true(student["to_online"] > 0, "byol_objective gives the online weights no gradient")
    if np.isclose(student["value"], student["same_view"], rtol=1e-5):
        raise CheckFailed("byol_objective compares each view's prediction with the target of "
                          "the SAME view: predict the other view (p1 with t2, p2 with t1)")
    expect_close(student["value"], student["expected"], "byol_objective(view1, view2) with the "
                 "checks' regression loss", rtol=1e-5, atol=1e-6)


@check(points=2, uses="selfsup", reference=False, task="`BYOL.train_step`",
       hint="one optimizer step on byol_objective over self.trainable_variables, THEN "
            "ema_update(self.target_variables, self.online_variables, self.decay)")
def byol_train_step(lab, rng):
    """One SGD step (decay 0.9, stand-in regression): the online update against GradientTape,
    and the target moved by exactly 10 % of the way to the UPDATED online weights."""
    import tensorflow as tf
    model = byol_model(lab, rng)
    x = rng.uniform(size=(5, 8, 8, 1)).astype("float32")
    online = model.encoder.weights + model.projector.weights
    trainable = model.encoder.trainable_variables + model.projector.trainable_variables + \
        model.predictor.trainable_variables
    target_before = weights_of(model.target_variables)
    online_before = weights_of(online)
    with tf.GradientTape() as tape:
        loss = byol_expected(model, tf.constant(view_of(x, 0)), tf.constant(view_of(x, 1)))[0]
    expected_after = sgd_step_expected(trainable, tape.gradient(loss, trainable), LR)
    with standing_in(lab.selfsup, byol_loss=stand_in_regression):
        logged = one_eager_step(model, x)
    return {"logged": logged.get("loss", np.nan), "expected_loss": float(loss),
            "after": weights_of(trainable), "expected_after": expected_after,
            "target_before": target_before, "online_before": online_before,
            "online_after": weights_of(online), "target_after": weights_of(model.target_variables)}


@byol_train_step.verdict
def _(student, _reference):
    judge_step(student, "BYOL.train_step")
    for k, (t0, o0, o1, t1) in enumerate(zip(student["target_before"], student["online_before"],
                                             student["online_after"], student["target_after"])):
        what = f"target weight {k} after one BYOL.train_step (decay 0.9)"
        if np.allclose(t1, t0, atol=1e-7) and not np.allclose(o1, t0):
            raise CheckFailed(f"{what} did not move: call ema_update after the optimizer step")
        if np.allclose(t1, 0.9 * t0 + 0.1 * o0, rtol=1e-4, atol=1e-6) and not np.allclose(o1, o0):
            raise CheckFailed(f"{what} followed the online weights from BEFORE the step: "
                              "update the target after optimizer.apply")
        expect_close(t1, 0.9 * t0 + 0.1 * o1, what, **STEP)


@check(points=2, uses="selfsup", reference=False, task="`PiModel.train_step`",
       hint="the supervised term averages the cross-entropy over the rows with y >= 0 only; "
            "weight = max_weight * sigmoid_rampup(self.optimizer.iterations, ramp_steps)")
def pi_model_train_step(lab, rng):
    """One SGD step at optimizer step 4 on 8 images, 3 of them labelled, with stand-ins for
    sigmoid_rampup (linear) and consistency_loss (mean absolute difference): the three logged
    values and every weight's update, against GradientTape (either augmented pass may feed
    the supervised term)."""
    import keras
    import tensorflow as tf
    classifier = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                   keras.layers.Dense(4)])
    randomise(classifier, rng)
    model = lab.selfsup.PiModel(classifier, counting_augmenter(), max_weight=2.0, ramp_steps=10)
    x = rng.uniform(size=(8, 8, 8, 1)).astype("float32")
    y = np.array([2, -1, 0, -1, -1, 3, -1, -1], dtype="int32")
    ramp = lambda step, ramp_steps: tf.cast(step, tf.float32) / ramp_steps + 0.15  # noqa: E731
    gap = lambda p, q: tf.reduce_mean(tf.abs(tf.cast(p, tf.float32) - tf.cast(q, tf.float32)))  # noqa: E731
    variables = classifier.trainable_variables
    rows = np.flatnonzero(y >= 0)
    orders = []   # the first augmenter call feeds the supervised term, or the second does
    for first, second in ((0, 1), (1, 0)):
        with tf.GradientTape() as tape:
            logits = classifier(view_of(x, first))
            supervised = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                y[rows], tf.gather(logits, rows), from_logits=True))
            consistency = gap(tf.nn.softmax(logits),
                              tf.nn.softmax(classifier(view_of(x, second))))
            loss = supervised + 2.0 * 0.55 * consistency
        orders.append({"loss": float(loss), "supervised": float(supervised),
                       "consistency": float(consistency), "all_rows": float(tf.reduce_mean(
                           keras.losses.sparse_categorical_crossentropy(
                               np.maximum(y, 0), logits, from_logits=True))),
                       "after": sgd_step_expected(variables, tape.gradient(loss, variables), LR)})
    with standing_in(lab.selfsup, sigmoid_rampup=ramp, consistency_loss=gap):
        model.compile(optimizer=keras.optimizers.SGD(LR), run_eagerly=True)
        model.optimizer.iterations.assign(4)
        history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    supervised = float(history.get("supervised", [np.nan])[-1])
    # The order whose supervised term the student's matches (the augmenter's call order is
    # the student's choice); the first when neither does.
    chosen = orders[1] if np.isclose(supervised, orders[1]["supervised"], rtol=1e-5) and not \
        np.isclose(supervised, orders[0]["supervised"], rtol=1e-5) else orders[0]
    return {"logged": float(history.get("loss", [np.nan])[-1]), "supervised": supervised,
            "consistency": float(history.get("consistency", [np.nan])[-1]),
            "expected_loss": chosen["loss"], "expected_supervised": chosen["supervised"],
            "expected_consistency": chosen["consistency"], "all_rows": chosen["all_rows"],
            "all_rows_other": orders[1 - orders.index(chosen)]["all_rows"],
            "after": weights_of(variables), "expected_after": chosen["after"]}


@pi_model_train_step.verdict
def _(student, _reference):
    if any(np.isclose(student["supervised"], student[key], rtol=1e-5)
           for key in ("all_rows", "all_rows_other")):
        raise CheckFailed("PiModel.train_step averages the cross-entropy over ALL rows, the "
                          "unlabelled (y = -1) ones too: mask them out")
    expect_close(student["supervised"], student["expected_supervised"], "the supervised loss "
                 "PiModel.train_step logs (mean cross-entropy of the labelled rows, first pass)",
                 **STEP)
    expect_close(student["consistency"], student["expected_consistency"], "the consistency loss "
                 "PiModel.train_step logs (unweighted)", **STEP)
    expect_close(student["logged"], student["expected_loss"], "the loss PiModel.train_step logs "
                 "(supervised + max_weight * sigmoid_rampup(optimizer.iterations, ramp_steps) * "
                 "consistency; the checks' ramp gives 0.55 at step 4)", **STEP)
    judge_lists(student["after"], student["expected_after"], "the classifier's weights after "
                "one SGD step of PiModel.train_step", **STEP)


@check(points=2, uses="selfsup", reference=False,
       task="`MeanTeacher.consistency_targets`, `after_step`",
       hint="targets = stop_gradient(softmax(teacher(augmenter(x, training=True), "
            "training=True))); "
            "after_step: ema_update(self.teacher.weights, self.classifier.weights, self.decay)")
def mean_teacher(lab, rng):
    """consistency_targets: the teacher's (not the classifier's) probabilities on an
    augmented view in training mode (the checks' classifier answers differently in training),
    with no gradient to the teacher; after_step moves the teacher 10 % of the
    way to the classifier (decay 0.9)."""
    import keras
    import tensorflow as tf
    classifier = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                   keras.layers.Dense(4), training_flag_layer()])
    model = lab.selfsup.MeanTeacher(classifier, counting_augmenter(), decay=0.9)
    randomise(classifier, rng)
    randomise(model.teacher, rng)
    x = rng.uniform(size=(5, 8, 8, 1)).astype("float32")
    teacher = [v.value for v in model.teacher.weights]   # the tf.Variables, to watch
    with tf.GradientTape() as tape:
        tape.watch(teacher)
        targets = model.consistency_targets(tf.constant(x))
    gradient = tape.gradient(tf.reduce_sum(tf.square(targets)), teacher)
    teacher0, classifier0 = weights_of(model.teacher.weights), weights_of(classifier.weights)
    expected = np.asarray(tf.nn.softmax(model_output(model.teacher, x)))
    from_classifier = np.asarray(tf.nn.softmax(model_output(classifier, x)))
    in_inference = np.asarray(tf.nn.softmax(model.teacher(view_of(x, 0), training=False)))
    model.after_step()
    return {"targets": np.asarray(targets), "expected": expected,
            "from_classifier": from_classifier, "in_inference": in_inference,
            "to_teacher": max(0.0 if g is None else float(np.abs(np.asarray(g)).max())
                              for g in gradient),
            "teacher": weights_of(model.teacher.weights),
            "expected_teacher": [0.9 * t + 0.1 * c for t, c in zip(teacher0, classifier0)]}


def model_output(network, x):
    return network(view_of(x, 0), training=True)


@mean_teacher.verdict
def _(student, _reference):
    if np.allclose(student["targets"], student["from_classifier"], atol=1e-6):
        raise CheckFailed("MeanTeacher.consistency_targets uses the classifier: the targets "
                          "come from self.teacher")
    if np.allclose(student["targets"], student["in_inference"], atol=1e-6) and not np.allclose(
            student["in_inference"], student["expected"], atol=1e-6):
        raise CheckFailed("MeanTeacher.consistency_targets runs the teacher in inference mode "
                          "(the checks' classifier, like one with dropout, answers differently "
                          "in training): the teacher's pass is as stochastic as the student's, "
                          "self.teacher(augmenter(x, training=True), training=True)")
    expect_close(student["targets"], student["expected"], "MeanTeacher.consistency_targets(x) "
                 "(softmax of the teacher on augmenter(x, training=True))", **STEP)
    expect_at_most(student["to_teacher"], 0.0, "the largest gradient of consistency_targets "
                   "w.r.t. a teacher weight (tf.stop_gradient)")
    judge_lists(student["teacher"], student["expected_teacher"], "the teacher's weights after "
                "after_step() (decay 0.9)", **STEP)
