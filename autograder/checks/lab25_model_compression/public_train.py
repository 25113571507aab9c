"""Public checks of lab25_model_compression, part 2: distillation and pruning.

The Distiller checks run the student's train_step with the checks' own soft loss (logit
matching, probes.py) and a teacher with batch norm and dropout, two steps of SGD with
momentum from the same random weights as the reference. The pruning callback runs on the
checks' own mask (np.partition) and a fixed schedule; the mask is judged by invariants
(how many zeros, every kept |w| at least every pruned |w|). The training check is relative
to the reference at the same seed and budget.
"""
import numpy as np

from autograder.api import check
from autograder.checks.lab25_model_compression.probes import (
    DISTILL_GAIN,
    DISTILL_MARGIN,
    DISTILL_TRAIN,
    count_slip,
    distiller_steps,
    half_ties,
    judge_distiller_steps,
    judge_pruning,
    mask_count,
    pruning_probe,
)
from autograder.verdicts import expect_at_least, expect_close, expect_close_naming, expect_true


@check(points=3, task="`Distiller.train_step`",
       hint="teacher(x, training=False) outside the tape; alpha * hard + (1 - alpha) * soft; "
            "gradients of the student's trainable variables only", eager=True)
def distiller_train_step(lab, rng):
    """Two SGD (momentum) steps of `fit` (T 3, alpha 0.3) from random weights with the checks'
    own soft loss and a teacher with batch norm and dropout: the teacher's weights and
    statistics unchanged, no optimizer slot for them, the first step's logged losses and the
    student's weights after both steps against the reference's."""
    return distiller_steps(lab, rng, temperature=3.0, alpha=0.3)


@distiller_train_step.verdict
def _(student, reference):
    judge_distiller_steps(student, reference, "Distiller.train_step (T 3, alpha 0.3)")


SCHEDULES = [(0.0, 0.8, 10, 50, 3), (0.2, 0.9, 0, 40, 1), (0.1, 0.5, 5, 25, 2)]
STEPS = np.array([0, 7, 10, 23, 31, 50, 64])


@check(points=1, task="`polynomial_sparsity`",
       hint="p = (t - begin) / (end - begin) clipped to [0, 1]; final + (initial - final) "
            "(1 - p)^power")
def polynomial_sparsity(lab, rng):
    """The schedule at steps before, inside and after three (initial, final, begin, end,
    power) settings, against the reference's values."""
    out = [[float(lab.compression.polynomial_sparsity(int(t), *params)) for t in STEPS]
           for params in SCHEDULES]
    return {"values": np.array(out)}


@polynomial_sparsity.verdict
def _(student, reference):
    for index, (initial, final, begin, end, power) in enumerate(SCHEDULES):
        got, expected = student["values"][index], reference["values"][index]
        progress = np.clip((STEPS - begin) / (end - begin), 0, 1)
        expect_close_naming(got, expected, f"polynomial_sparsity(t, {initial}, {final}, {begin}"
                            f", {end}, power={power}) at t = {STEPS.tolist()}", [
            (final + (initial - final) * (1 - np.clip((STEPS - begin) / (end - begin), None, 1))
             ** power, "does not clip p at 0 before begin_step"),
            (final + (initial - final) * (1 - (STEPS - begin) / (end - begin)) ** power,
             "does not clip p to [0, 1]"),
            (initial + (final - initial) * progress ** power, "raises p, not (1 - p), to the "
                                                              "power"),
            (final + (initial - final) * (1 - progress), "ignores power")],
            rtol=1e-6, atol=1e-9)


def mask_probe(lab, rng, shapes, sparsities):
    out = {"masks": [], "weights": [], "sparsities": np.array(sparsities)}
    for shape, sparsity in zip(shapes, sparsities):
        w = rng.normal(size=shape).astype("float32")
        out["weights"].append(w)
        out["masks"].append(np.asarray(lab.compression.magnitude_mask(w, sparsity)))
    return out


def judge_masks(student, what):
    for w, mask, s in zip(student["weights"], student["masks"], student["sparsities"]):
        call = f"{what}(weights of shape {w.shape}, {s:g})"
        expect_true(mask.shape == w.shape, f"{call}: the mask has shape {mask.shape}")
        expect_true(bool(np.all((mask == 0) | (mask == 1))), f"{call}: the mask holds values "
                    "other than 0 and 1")
        k, pruned = mask_count(s, w.size), int((mask == 0).sum())
        expect_true(pruned == k or pruned in half_ties(s, w.size), f"{call} zeros {pruned} of "
                    f"{w.size} entries, expected round(sparsity * size) = {k}"
                    + count_slip(pruned, s, w.size))
        if 0 < k < w.size:
            kept, gone = np.abs(w[mask == 1]), np.abs(w[mask == 0])
            expect_true(kept.min() >= gone.max(), f"{call} prunes an entry of |w| "
                        f"{gone.max():.3g} and keeps one of {kept.min():.3g}: prune by ABSOLUTE "
                        "value over the whole array (not by signed value, not per row)")


@check(points=1, reference=False, task="`magnitude_mask`",
       hint="zero the round(s * size) entries of smallest |w| over the whole array")
def magnitude_mask(lab, rng):
    """Masks of random (6, 5), (4, 3, 2), (5, 4) and (3, 3) arrays at sparsities 0.3, 0.75,
    0.33 (6.6 entries: rounds to 7) and 0: the count of zeros is round(s * size) and every
    kept |w| is at least every pruned one."""
    return mask_probe(lab, rng, [(6, 5), (4, 3, 2), (5, 4), (3, 3)], [0.3, 0.75, 0.33, 0.0])


@magnitude_mask.verdict
def _(student, _reference):
    judge_masks(student, "magnitude_mask")


@check(points=2, task="`MagnitudePruning.on_train_batch_end`",
       hint="after each batch: mask = magnitude_mask(kernel * old mask, schedule(step)); "
            "kernel.assign(kernel * mask); step += 1")
def pruning_keeps_weights_pruned(lab, rng):
    """An MLP 4-7-5 trained 5 batches with the callback on both kernels, a fixed schedule
    (0.1 to 0.6) and the checks' own mask: the zeros after each step follow the schedule,
    pruned weights stay 0, and the final masks and kernels match the reference's."""
    return pruning_probe(lab, rng, schedule=[0.1, 0.25, 0.4, 0.4, 0.6])


@pruning_keeps_weights_pruned.verdict
def _(student, reference):
    judge_pruning(student, reference, "MagnitudePruning")


def rewind_probe(lab, rng, shapes):
    import keras
    variables = [keras.Variable(rng.normal(size=s).astype("float32")) for s in shapes]
    initial = [rng.normal(size=s).astype("float32") for s in shapes]
    masks = [(rng.uniform(size=s) > 0.5).astype("float32") for s in shapes]
    trained = [np.asarray(v) for v in variables]
    lab.compression.rewind_to_initial(variables, initial, masks)
    return {"after": [np.asarray(v) for v in variables], "initial": initial, "masks": masks,
            "trained": trained}


@check(points=1, reference=False, task="`rewind_to_initial`",
       hint="kernel.assign(initial * mask) for every kernel")
def lottery_rewind(lab, rng):
    """Two variables with 'trained' values, random initial values and masks: after the rewind
    each holds exactly initial * mask."""
    return rewind_probe(lab, rng, [(4, 3), (3, 2)])


@lottery_rewind.verdict
def _(student, _reference):
    for index, (after, initial, mask, trained) in enumerate(zip(
            student["after"], student["initial"], student["masks"], student["trained"])):
        expect_close_naming(after, initial * mask, f"kernel {index} after rewind_to_initial", [
            (trained * mask, "keeps the TRAINED values: the lottery ticket rewinds the "
                             "survivors to their initial values"),
            (initial, "is not masked: the pruned weights stay 0"),
            (trained, "was not changed: assign initial * mask to the variable")],
            against="initial * mask", rtol=0, atol=0)


def built_adam(learning_rate, model):
    """Adam with its slots built for the model's trainable variables: created inside fit's
    first trace of a train_step override, they would trace it again."""
    import keras
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)
    return optimizer


def distillation_training(lab, rng, config):
    """The checks' teacher trained on all training digits; the student's Distiller trained
    on a few labelled digits alone (alpha 1) and distilled; test accuracies."""
    import keras
    import tensorflow as tf

    from dlkit.backend import reset_keras
    from dlkit.data import load_digits
    x, y = load_digits("train", flatten=True)
    test_x, test_y = load_digits("test", flatten=True)
    reset_keras(0)
    teacher = keras.Sequential([keras.Input((64,)), keras.layers.Dense(128, activation="relu"),
                                keras.layers.Dense(10)], name="teacher")
    teacher.compile(built_adam(3e-3, teacher),
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(tf.data.Dataset.from_tensor_slices((x, y)).shuffle(2000, seed=0).repeat()
                .batch(128), steps_per_epoch=config["teacher_steps"], epochs=1, verbose=0)
    seed = config["seed"]
    pick = np.random.default_rng(seed)
    index = np.concatenate([pick.choice(np.flatnonzero(y == k), config["per_class"],
                                        replace=False) for k in range(10)])
    # Eager calls, not predict: predict would trace a function for each model.
    out = {"teacher": float((np.asarray(teacher(test_x)).argmax(1) == test_y).mean())}
    for name, alpha in (("alone", 1.0), ("distilled", config["alpha"])):
        reset_keras(seed)
        student = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                                    keras.layers.Dense(10)], name="student")
        model = lab.compression.Distiller(student, teacher, temperature=config["temperature"],
                                          alpha=alpha)
        model.compile(optimizer=built_adam(1e-2, student))
        model.fit(tf.data.Dataset.from_tensors((x[index], y[index])).repeat(),
                  steps_per_epoch=config["steps"], epochs=1, verbose=0)
        # Distiller.call is the student's logits (given code).
        out[name] = float((np.asarray(student(test_x)).argmax(1) == test_y).mean())
    return out


@check(points=3, timeout=90, task="`Distiller.train_step`, `distillation_loss`",
       hint="the whole distillation: train_step and the soft loss together")
def distillation_beats_training_alone(lab, rng):
    """A teacher trained by the check; the same small student trained on 3 labelled digits per
    class alone (alpha 1) and distilled (T 4, alpha 0.1), at seed 0 and the budget below: the
    distilled student's test accuracy beats the lone one's by 4 points and comes within 5
    points of the reference's."""
    return distillation_training(lab, rng, DISTILL_TRAIN)


@distillation_beats_training_alone.verdict
def _(student, reference):
    expect_close(student["teacher"], reference["teacher"], "the checks' teacher's accuracy",
                 rtol=0, atol=0.02)
    expect_at_least(student["alone"], reference["alone"] - DISTILL_MARGIN,
                    "the student trained alone (alpha 1)'s test accuracy (the reference "
                    f"reaches {reference['alone']:.3f} at the same seed and budget: check the "
                    "hard loss)")
    expect_at_least(student["distilled"], student["alone"] + DISTILL_GAIN,
                    f"the distilled student's test accuracy (your lone student reaches "
                    f"{student['alone']:.3f}; distillation must beat it by "
                    f"{100 * DISTILL_GAIN:.0f} points: check the temperature and T^2 in "
                    "distillation_loss and the teacher's logits in train_step)")
    expect_at_least(student["distilled"], reference["distilled"] - DISTILL_MARGIN,
                    f"the distilled student's test accuracy (the reference reaches "
                    f"{reference['distilled']:.3f} at the same seed and budget)")
