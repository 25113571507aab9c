"""Hidden checks of lab04_regularization: fresh shapes, hyperparameters, scripts and data
ranges; references from the solution. Adversarial training is measured here with the
checks' own FGSM and PGD, not the student's (never shipped: they are the lab's answers)."""
import numpy as np

from autograder.api import check
from autograder.checks.lab04_regularization.probes import (
    adamw_probe,
    attack_result,
    early_stopping_probe,
    judge_adamw,
    judge_attack,
    judge_early_stopping,
    judge_shift,
    other_range_problem,
)
from autograder.checks.lab04_regularization.probes_robustness import (
    ADVERSARIAL_TRAINING,
    judge_adversarial_training,
    robustness_probe,
)
from autograder.verdicts import expect_close, expect_true


@check(points=1, hint="l2_penalty must handle any list of weights and any coefficient",
       uses="weight_decay")
def l2_penalty_other_weights(lab, rng):
    shapes = [tuple(int(v) for v in rng.integers(1, 6, size=rng.integers(1, 4)))
              for _ in range(int(rng.integers(1, 5)))]
    weights = [rng.normal(size=s).astype("float32") for s in shapes]
    return {"penalty": lab.weight_decay.l2_penalty(weights, float(rng.uniform(0.01, 2.0)))}


@l2_penalty_other_weights.verdict
def _(student, reference):
    expect_close(student["penalty"], reference["penalty"], "l2_penalty on other weights")


@check(points=1, hint="AdamW must match keras.optimizers.AdamW for any learning rate and decay",
       uses="weight_decay")
def adamw_other_hyperparameters(lab, rng):
    hyper = {"lr": float(rng.uniform(0.005, 0.1)), "decay": float(rng.uniform(0.05, 1.0))}
    return adamw_probe(lab, rng, ((2, 3, 2), (4,), (1,)), 8, hyper)


@adamw_other_hyperparameters.verdict
def _(student, reference):
    h = reference["hyper"]
    judge_adamw(student, reference, f"AdamW(learning_rate={h['lr']:.4g}, decay={h['decay']:.4g})")


@check(points=1, reference=False, uses="noise_layers",
       hint="InvertedDropout must work for any rate and input shape (e.g. images)")
def dropout_other_rate_and_shape(lab, rng):
    rate = float(rng.uniform(0.1, 0.9))
    x = rng.uniform(0.5, 1.5, size=(50, 8, 8, 4)).astype("float32")
    return {"rate": rate, "x": x,
            "out": lab.noise_layers.InvertedDropout(rate, seed=21)(x, training=True)}


@dropout_other_rate_and_shape.verdict
def _(student, _reference):
    rate, x = student["rate"], np.asarray(student["x"], dtype=np.float64)
    out = np.asarray(student["out"], dtype=np.float64)
    expect_true(out.shape == x.shape, f"InvertedDropout({rate:.3f}) on (50, 8, 8, 4) returned "
                f"shape {out.shape}")
    zeroed = out == 0
    expect_true(abs(zeroed.mean() - rate) <= 0.015,
                f"InvertedDropout({rate:.3f}) zeroes {zeroed.mean():.1%} of the entries")
    expect_true(np.allclose(out[~zeroed] / x[~zeroed], 1.0 / (1.0 - rate), rtol=1e-5),
                f"InvertedDropout({rate:.3f}) must scale the kept entries by 1 / (1 - rate)")


@check(points=1, hint="shift_images must work for any image size, channel count and offset",
       uses="augmentation")
def shift_images_other_shapes(lab, rng):
    n, h, w, c = (int(rng.integers(2, 7)), int(rng.integers(3, 10)), int(rng.integers(3, 10)),
                  int(rng.integers(1, 4)))
    images = rng.normal(size=(n, h, w, c)).astype("float32")
    shifts = np.stack([rng.integers(-h + 1, h, size=n), rng.integers(-w + 1, w, size=n)],
                      axis=1).astype("int32")
    return {"images": images, "shifts": shifts,
            "out": lab.augmentation.shift_images(images, shifts)}


@shift_images_other_shapes.verdict
def _(student, reference):
    judge_shift(student, reference, f"shift_images on images {reference['images'].shape}")


OTHER_SCRIPTS = [
    ([2.0, 1.5, 1.49, 1.2, 1.3, 1.1, 1.25, 1.3, 1.35], 2, 0.02, True),
    ([1.0, 1.0, 1.0, 1.0, 0.9, 0.9], 2, 0.0, True),
    ([3.0, 2.0, 2.5, 1.0, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 0.5], 4, 0.0, True),
    ([1.0, 1.2, 1.1, 1.3], 0, 0.0, False),
]


@check(points=1, hint="patience, min_delta and restore_best_weights as in "
                      "keras.callbacks.EarlyStopping", uses="early_stopping")
def early_stopping_other_scripts(lab, rng):
    return early_stopping_probe(lab, OTHER_SCRIPTS)


@early_stopping_other_scripts.verdict
def _(student, reference):
    judge_early_stopping(student, reference, OTHER_SCRIPTS)


@check(points=1, uses="adversarial",
       hint="fgsm and pgd must respect clip_min and clip_max (here [-1, 1]) and any epsilon")
def attacks_other_range(lab, rng):
    classifier, x, y = other_range_problem(rng)
    epsilon = float(rng.uniform(0.05, 0.3))
    fgsm_x = lab.adversarial.fgsm(classifier, x, y, epsilon, clip_min=-1.0, clip_max=1.0)
    pgd_x = lab.adversarial.pgd(classifier, x, y, epsilon, epsilon / 3, 5, clip_min=-1.0,
                                clip_max=1.0)
    return {"epsilon": epsilon, "fgsm": attack_result(classifier, x, y, fgsm_x),
            "pgd": attack_result(classifier, x, y, pgd_x)}


@attacks_other_range.verdict
def _(student, reference):
    epsilon = reference["epsilon"]
    for name in ("fgsm", "pgd"):
        judge_attack(student[name], reference[name], f"{name}(..., epsilon={epsilon:.3f}, "
                     "clip_min=-1, clip_max=1)", epsilon, name, clip=(-1.0, 1.0))


def checks_fgsm(classifier, x, y, epsilon):
    """The checks' own FGSM on [0, 1] data, independent of the lab's."""
    import keras
    import tensorflow as tf
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = keras.ops.cast(classifier(x, training=False), "float32")
        loss = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(y, logits,
                                                                          from_logits=True))
    return tf.clip_by_value(x + epsilon * tf.sign(tape.gradient(loss, x)), 0.0, 1.0)


def checks_pgd(classifier, x, y, epsilon, steps=10):
    """The checks' own PGD: steps of epsilon / 4 from x, projected and clipped after each."""
    x_adv = x
    for _ in range(steps):
        step = checks_fgsm(classifier, x_adv, y, epsilon / 4)
        x_adv = np.clip(np.clip(step, x - epsilon, x + epsilon), 0.0, 1.0)
    return x_adv


# A shorter run than the public check's (only the adversarial model), with a fresh seed and
# batch size; what the student wrote is judged by attacks the student did not write.
SHORT_ADVERSARIAL_TRAINING = {**ADVERSARIAL_TRAINING, "epochs": 4, "batch_size": 96}


@check(points=2, timeout=30, uses="adversarial",
       hint="AdversarialTraining must make the classifier robust to any attack, not only to "
            "your own fgsm and pgd")
def adversarial_training_robust_to_the_checks_attacks(lab, rng):
    return robustness_probe(lab, SHORT_ADVERSARIAL_TRAINING,
                            {"fgsm": checks_fgsm, "pgd": checks_pgd}, kinds=("adversarial",))


@adversarial_training_robust_to_the_checks_attacks.verdict
def _(student, reference):
    judge_adversarial_training(
        student, reference, SHORT_ADVERSARIAL_TRAINING["epsilon"],
        "Robustness here is measured with the checks' own FGSM and PGD (10 steps of "
        "epsilon / 4), the same for you and the reference.")
