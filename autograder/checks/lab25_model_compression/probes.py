"""Helpers that the checks of lab25_model_compression share: probes run in the worker (they
import TensorFlow inside), verdicts in the grader.

Distiller.train_step is graded on the checks' own stand-in for `distillation_loss`: the mean
squared difference of the logits divided by T, times T (logit matching, not the KL), so a
correct train_step trains exactly like the reference on it and a wrong distillation_loss
costs its own check only. MagnitudePruning is graded on a stand-in `magnitude_mask` that
thresholds |w| at its k-th smallest value with np.partition (the same masks on arrays
without ties, written another way).
"""
from __future__ import annotations

import numpy as np

from autograder.check_helpers import snapshot

# The distillation training of distillation_beats_training_alone (stated in the handout): a
# teacher MLP (128 hidden) trained by the check for 100 Adam steps (3e-3, batches of 128) on
# the 1347 training digits; the student MLP (32 hidden) sees only 3 labelled digits per class
# (seed 0), 60 full-batch Adam steps (1e-2), alone (alpha 1) and distilled (T 4, alpha 0.1).
DISTILL_TRAIN = {"teacher_steps": 100, "per_class": 3, "steps": 60, "seed": 0,
                 "temperature": 4.0, "alpha": 0.1}
# The distilled student must beat the student trained alone by this much (the reference's
# gain over seeds 0-5 at this budget: +8.0, +11.6, +8.0, +14.0, +13.6 and +11.1 points).
DISTILL_GAIN = 0.04
# ...and come within this of the reference's distilled accuracy at the same seed and budget.
DISTILL_MARGIN = 0.05


def stand_in_distillation_loss(teacher_logits, student_logits, temperature):
    """The checks' soft loss: T * mean((teacher - student)^2 / T), logit matching."""
    import tensorflow as tf
    temp = tf.cast(temperature, tf.float32)
    diff = tf.cast(teacher_logits, tf.float32) - tf.cast(student_logits, tf.float32)
    return temp * tf.reduce_mean(tf.square(diff) / temp)


def stand_in_magnitude_mask(weights, sparsity):
    """The checks' mask: |w| above its k-th smallest value (np.partition), k = round(s n)."""
    flat = np.abs(np.asarray(weights, np.float64)).ravel()
    k = int(round(sparsity * flat.size))
    if k == 0:
        return np.ones(np.shape(weights), np.float32)
    threshold = np.partition(flat, k - 1)[k - 1]
    return (np.abs(np.asarray(weights)) > threshold).astype(np.float32)


def mask_count(sparsity, size):
    """k = round(sparsity * size), the count of zeros the handout asks for."""
    return int(round(sparsity * size))


def half_ties(sparsity, size):
    """Both roundings of sparsity * size when it is a tie (x.5), which the handout leaves open;
    the checks' sizes and sparsities avoid ties, this keeps a tie from failing either way."""
    product = sparsity * size
    if abs(product - np.floor(product) - 0.5) < 1e-9:
        return {int(np.floor(product)), int(np.ceil(product))}
    return set()


def count_slip(pruned, sparsity, size):
    """What a count of zeros other than round(sparsity * size) likely comes from."""
    k = mask_count(sparsity, size)
    if pruned == int(sparsity * size) != k:
        return (f": it truncates sparsity * size = {sparsity * size:.4g} to {pruned} (int() or "
                "floor); round it to the nearest integer, k = round(sparsity * size)")
    if pruned == int(np.ceil(sparsity * size)) != k:
        return (f": it rounds sparsity * size = {sparsity * size:.4g} up to {pruned} (ceil); "
                "round it to the nearest integer")
    if pruned == size - k:
        return " (did you keep the k smallest and prune the rest?)"
    return ""


def teacher_with_noise_layers(rng):
    """A teacher whose training mode differs from its inference mode (batch norm with moving
    statistics far from 0 and 1, dropout), so calling it with training=True shows."""
    import keras
    teacher = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8),
                                keras.layers.BatchNormalization(),
                                keras.layers.Dropout(0.5), keras.layers.Dense(4)],
                               name="teacher")
    for weight in teacher.weights:
        name = weight.path.rsplit("/", 1)[-1]
        shape = tuple(weight.shape)
        value = (rng.uniform(0.3, 2.0, shape) if name == "moving_variance" else
                 rng.normal(0.5, 0.5, shape) if name == "moving_mean" else
                 rng.normal(0.0, 0.6, shape))
        weight.assign(value.astype("float32"))
    return teacher


def distiller_steps(lab, rng, *, temperature, alpha, stand_in=True, steps=2, batch=12):
    """A Distiller (student MLP 6-5-4, the noisy teacher) with random weights, `steps`
    train_steps of SGD with momentum through fit on fixed batches. Returns the first step's
    logs, the student's weights after all steps, the teacher's weights before and after,
    and the shapes of the variables the optimizer built slots for."""
    import keras

    from autograder.check_helpers import assign_random_weights, standing_in
    compression = lab.compression
    teacher = teacher_with_noise_layers(rng)
    student = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="tanh"),
                                keras.layers.Dense(4)], name="student")
    assign_random_weights(student, rng, 0.5)
    model = compression.Distiller(student, teacher, temperature=temperature, alpha=alpha)
    model.compile(optimizer=keras.optimizers.SGD(0.3, momentum=0.5))
    x = rng.normal(size=(steps * batch, 6)).astype("float32")
    y = rng.integers(0, 4, steps * batch).astype("int32")
    teacher_before = snapshot(teacher.weights)
    names = {"distillation_loss": stand_in_distillation_loss} if stand_in else {}
    with standing_in(compression, **names):
        first = model.fit(x[:batch], y[:batch], batch_size=batch, epochs=1, verbose=0,
                          shuffle=False)
        model.fit(x[batch:], y[batch:], batch_size=batch, epochs=1, verbose=0, shuffle=False)
    teacher_after = snapshot(teacher.weights)
    return {"logs": {key: float(values[-1]) for key, values in first.history.items()},
            "student": [np.asarray(w) for w in student.weights],
            "teacher_moved": max(float(np.abs(a - b).max())
                                 for a, b in zip(teacher_before, teacher_after)),
            "teacher_trainable": int(sum(id(w) in {id(v) for v in teacher.weights}
                                         for w in model.trainable_weights)),
            "optimizer_slots": int(len(model.optimizer.variables))}


def judge_distiller_steps(student, reference, what):
    from autograder.api import CheckFailed
    from autograder.verdicts import expect_close, expect_true
    expect_true(student["teacher_moved"] == 0.0,
                f"{what}: the teacher's weights or batch norm statistics changed by up to "
                f"{student['teacher_moved']:.3g}: the teacher never trains; call it with "
                "training=False and take gradients of self.student.trainable_variables only")
    expect_true(student["teacher_trainable"] == 0,
                f"{what}: {student['teacher_trainable']} teacher weights are trainable in the "
                "Distiller: the teacher is frozen")
    expect_true(student["optimizer_slots"] == reference["optimizer_slots"],
                f"{what}: the optimizer holds {student['optimizer_slots']} variables, the "
                f"reference's {reference['optimizer_slots']}: apply gradients to the student's "
                "trainable variables only, so no gradient reaches the teacher")
    for key in ("loss", "hard_loss", "soft_loss"):
        expect_true(key in student["logs"], f"{what}: fit logged {sorted(student['logs'])}, "
                    f"missing {key!r}: update the three trackers")
    advice = {"hard_loss": "self.hard_loss_fn(y, student logits), the student run with "
                           "training=True",
              "soft_loss": "distillation_loss(teacher logits, student logits, "
                           "self.temperature), the teacher run with training=False (its "
                           "dropout off and batch norm on its moving statistics)",
              "loss": "alpha * hard_loss + (1 - alpha) * soft_loss"}
    for key in ("hard_loss", "soft_loss", "loss"):
        try:
            expect_close(student["logs"][key], reference["logs"][key],
                         f"{what}: the logged {key}", rtol=1e-4, atol=1e-5)
        except CheckFailed as failure:
            raise CheckFailed(f"{failure}; it should be {advice[key]}") from None
    for index, (got, expected) in enumerate(zip(student["student"], reference["student"])):
        expect_close(got, expected, f"{what}: the student's weight {index} after two steps",
                     against="the reference's (gradients of the scaled loss over the "
                             "student's trainable variables, optimizer.apply)",
                     rtol=1e-4, atol=1e-5)


def pruning_probe(lab, rng, *, schedule, steps=5, stand_in=True, units=(7, 5)):
    """An MLP 4-7-5 with random weights, fit for `steps` batches with the student's
    MagnitudePruning on both kernels and a fixed schedule (a list), the stand-in mask unless
    stand_in=False. After every step: each kernel's zero count and whether every entry that
    was 0 stays 0; the final kernels and the callback's masks. The schedule is total (a step
    past its end reads its last value) and records the steps it is asked for. With the
    student's own mask, also the zeros magnitude_mask itself leaves at each sparsity."""
    import keras

    from autograder.check_helpers import assign_random_weights, standing_in
    compression = lab.compression
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units[0], activation="tanh"),
                              keras.layers.Dense(units[1])])
    assign_random_weights(model, rng, 0.6)
    kernels = [layer.kernel for layer in model.layers]
    asked = []

    def schedule_of(step):
        asked.append(int(step))
        return schedule[min(max(int(step), 0), len(schedule) - 1)]
    pruning = compression.MagnitudePruning(kernels, schedule_of)
    zeros, stayed = [], []
    previous = [np.zeros(tuple(k.shape), bool) for k in kernels]

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            now = [np.asarray(k) == 0 for k in kernels]
            zeros.append([int(z.sum()) for z in now])
            stayed.append(all(bool(np.all(n[p])) for n, p in zip(now, previous)))
            previous[:] = now

    model.compile(optimizer=keras.optimizers.SGD(2.0), loss="mse")
    x = rng.normal(size=(steps * 8, 4)).astype("float32")
    y = (3 * rng.normal(size=(steps * 8, units[1]))).astype("float32")
    names = {"magnitude_mask": stand_in_magnitude_mask} if stand_in else {}
    with standing_in(compression, **names):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False,
                  callbacks=[pruning, Record()])
    own_counts = [] if stand_in else [
        [int((np.asarray(compression.magnitude_mask(
            rng.normal(size=tuple(k.shape)).astype("float32"), s)) == 0).sum()) for k in kernels]
        for s in schedule[:steps]]
    return {"zeros": np.array(zeros), "stayed": np.array(stayed), "asked": np.array(asked),
            "own_counts": np.array(own_counts),
            "sizes": np.array([int(np.prod(k.shape)) for k in kernels]),
            "kernels": [np.asarray(k) for k in kernels],
            "masks": [np.asarray(m, np.float32) for m in pruning.masks],
            "schedule": np.array(schedule[:steps])}


def judge_pruning(student, reference, what):
    from autograder.verdicts import expect_close, expect_equal, expect_true
    expect_true(len(student["zeros"]) == len(student["schedule"]),
                f"{what}: recorded {len(student['zeros'])} steps")
    asked = student["asked"].tolist()
    expected_steps = list(range(len(student["schedule"])))
    expect_true(list(dict.fromkeys(asked)) == expected_steps,
                f"{what}: over {len(expected_steps)} batches the callback asked the schedule "
                f"for steps {asked}, expected {expected_steps}: the step counts from 0 (call "
                "self.schedule(self.step) once per batch, THEN self.step += 1)")
    for step, sparsity in enumerate(student["schedule"]):
        wanted = [mask_count(sparsity, n) for n in student["sizes"]]
        if len(student["own_counts"]):
            for n, own in zip(student["sizes"], student["own_counts"][step]):
                expect_true(own == mask_count(sparsity, n) or own in half_ties(sparsity, n),
                            f"{what}: your magnitude_mask itself zeros {own} of {n} entries at "
                            f"sparsity {sparsity:g}, expected round(sparsity * size) = "
                            f"{mask_count(sparsity, n)}" + count_slip(own, sparsity, n)
                            + " (the mask's count, not the callback, is the cause)")
        expect_true(list(student["zeros"][step]) == wanted,
                    f"{what}: after step {step} (schedule {sparsity:g}) the kernels hold "
                    f"{list(student['zeros'][step])} zeros, expected {wanted}: after EVERY "
                    "batch, mask = magnitude_mask(kernel * old mask, schedule(step)) with step "
                    "counting batches from 0, and kernel.assign(kernel * mask)")
    expect_true(bool(np.all(student["stayed"])),
                f"{what}: a weight pruned at one step was nonzero after a later one "
                f"(steps {np.flatnonzero(~student['stayed']).tolist()}): mask the kernel with "
                "the OLD mask before computing the new one, and apply the new mask")
    for index, (got, expected) in enumerate(zip(student["masks"], reference["masks"])):
        expect_equal(got, expected, f"{what}: the callback's masks[{index}] after training")
        expect_close(student["kernels"][index], reference["kernels"][index],
                     f"{what}: kernel {index} after training", rtol=1e-4, atol=1e-6)
