"""Public checks of lab04_regularization, part 4: adversarial examples and adversarial
training (adversarial.py).

The attacks target classifiers whose weights the probe fixes, on the digits in [0, 1] and
on data in [-1, 1]; they are compared with the reference and judged on the ball, the range
and the loss they add. The train_step is judged on its own, with the attack replaced by
fixed examples and a classifier whose dropout-like layer acts in training only. This file
ships to students, so it holds no attack of its own: the training check measures robustness
with the student's fgsm and pgd (the reference with the reference's); a hidden check
measures it again with attacks of its own.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.checks.lab04_regularization.probes import (
    accuracy,
    attack_data,
    attack_result,
    judge_attack,
    mean_loss,
    other_range_problem,
    probe_classifier,
)
from autograder.checks.lab04_regularization.probes_robustness import (
    ADVERSARIAL_TRAINING,
    MEASURING_PGD_STEPS,
    judge_adversarial_training,
    lab_attacks,
    robustness_probe,
)
from autograder.verdicts import expect_close, expect_true

# ---------------------------------------------------------------------------------------------
# 5. Adversarial examples
# ---------------------------------------------------------------------------------------------


@check(points=1, uses="adversarial", task="`input_gradient` (adversarial.py)",
       hint="tape.watch(x) (x is a tensor, not a variable), loss = sum of per_example_loss, "
            "return tape.gradient(loss, x)")
def input_gradient(lab, rng):
    """The gradient of a fixed classifier's summed cross-entropy with respect to 20 test
    digits."""
    classifier = probe_classifier(rng)
    x, y = attack_data(20)
    return {"grad": lab.adversarial.input_gradient(classifier, x, y)}


@input_gradient.verdict
def _(student, reference):
    expect_close(student["grad"], reference["grad"], "input_gradient(classifier, x (20, 64), y) "
                 "(the gradient of the SUMMED cross-entropy)", atol=1e-5)


FGSM_EPSILON = 0.1
OTHER_RANGE_EPSILON = 0.2


@check(points=2, uses="adversarial", task="`fgsm`",
       hint="x_adv = clip(x + epsilon * sign(input_gradient), clip_min, clip_max): the sign, "
            "not the raw gradient, a plus (the attack climbs the loss), and the clip_min and "
            "clip_max it is given")
def fgsm(lab, rng):
    """Epsilon 0.1 on 40 test digits, and 0.2 on data in [-1, 1] with clip_min=-1: inside
    the ball and the range, the loss raised by at least 90 % of the reference's rise, the
    reference's examples."""
    classifier = probe_classifier(rng)
    x, y = attack_data()
    out = {"digits": attack_result(classifier, x, y,
                                   lab.adversarial.fgsm(classifier, x, y, FGSM_EPSILON))}
    classifier, x, y = other_range_problem(rng)
    out["other_range"] = attack_result(classifier, x, y, lab.adversarial.fgsm(
        classifier, x, y, OTHER_RANGE_EPSILON, clip_min=-1.0, clip_max=1.0))
    return out


@fgsm.verdict
def _(student, reference):
    judge_attack(student["digits"], reference["digits"],
                 f"fgsm(classifier, x, y, epsilon={FGSM_EPSILON})", FGSM_EPSILON, "fgsm")
    judge_attack(student["other_range"], reference["other_range"],
                 f"fgsm(classifier, x, y, epsilon={OTHER_RANGE_EPSILON}, clip_min=-1, "
                 "clip_max=1)", OTHER_RANGE_EPSILON, "fgsm", clip=(-1.0, 1.0))


@check(points=1, uses="adversarial", task="`project_linf`",
       hint="project_linf: clip x_adv coordinate-wise to [x - epsilon, x + epsilon]")
def project_linf(lab, rng):
    """The projection of random points onto an L-infinity ball, against the reference."""
    x = rng.uniform(size=(10, 12)).astype("float32")
    x_adv = (x + rng.normal(scale=0.3, size=x.shape)).astype("float32")
    return {"projected": lab.adversarial.project_linf(x_adv, x, 0.2)}


@project_linf.verdict
def _(student, reference):
    expect_close(student["projected"], reference["projected"],
                 "project_linf(x_adv, x, epsilon=0.2)")


PGD = {"epsilon": 0.1, "step_size": 0.03, "steps": 6}


def pgd_call(lab, classifier, x, y, budget, **options):
    return lab.adversarial.pgd(classifier, x, y, budget["epsilon"], budget["step_size"],
                               budget["steps"], **options)


@check(points=2, uses="adversarial", task="`pgd`",
       hint="steps times: x_adv + step_size * sign(input_gradient at x_adv), then project_linf "
            "onto the ball around the ORIGINAL x, then clip to [clip_min, clip_max]")
def pgd(lab, rng):
    """Epsilon 0.1, step 0.03, 6 steps on 40 test digits, and on data in [-1, 1] with
    clip_min=-1: inside the ball and the range, the loss raised by at least 90 % of the
    reference's rise, the reference's examples."""
    classifier = probe_classifier(rng)
    x, y = attack_data()
    out = {"digits": attack_result(classifier, x, y, pgd_call(lab, classifier, x, y, PGD))}
    classifier, x, y = other_range_problem(rng)
    out["other_range"] = attack_result(classifier, x, y, pgd_call(
        lab, classifier, x, y, PGD, clip_min=-1.0, clip_max=1.0))
    return out


@pgd.verdict
def _(student, reference):
    for key, clip, options in (("digits", (0.0, 1.0), ""),
                               ("other_range", (-1.0, 1.0), ", clip_min=-1, clip_max=1")):
        judge_attack(student[key], reference[key], "pgd(classifier, x, y, epsilon=0.1, "
                     f"step_size=0.03, steps=6{options})", PGD["epsilon"], "pgd", clip=clip)


@check(points=1, uses="adversarial", task="`pgd` with `random_start`",
       hint="with random_start the given code starts from a random point of the ball; the "
            "loop must still project onto the ball around x and climb the loss")
def pgd_random_start(lab, rng):
    """From a random start: inside the ball and the range, the loss raised by at least 80 %
    of the reference's rise, the same examples for the same seed."""
    classifier = probe_classifier(rng)
    x, y = attack_data()
    result = attack_result(classifier, x, y,
                           pgd_call(lab, classifier, x, y, PGD, random_start=True, seed=5))
    result["again"] = pgd_call(lab, classifier, x, y, PGD, random_start=True, seed=5)
    return result


@pgd_random_start.verdict
def _(student, reference):
    what = "pgd(..., epsilon=0.1, step_size=0.03, steps=6, random_start=True, seed=5)"
    judge_attack(student, reference, what, PGD["epsilon"], "pgd", exact=False, share=0.8)
    expect_close(student["again"], student["x_adv"], f"{what} called twice (the same seed)",
                 atol=1e-6)


# ---------------------------------------------------------------------------------------------
# 6. Adversarial training
# ---------------------------------------------------------------------------------------------

def examples_it_gets_wrong(classifier, x, labels):
    """Stand-ins for the attack's examples: for each input, another input of the batch that
    the classifier labels differently (the batch rolled where none is), so the accuracy on
    them is far from the accuracy on the clean batch."""
    predicted = np.argmax(np.asarray(classifier(x)), axis=-1)
    pick = [next((j for j in np.roll(np.arange(len(x)), -i - 1)
                  if predicted[j] != labels[i]), (i + 1) % len(x)) for i in range(len(x))]
    return x[pick]


@check(points=2, uses="adversarial", task="`AdversarialTraining.train_step`",
       hint="train_step: x_adv = self.attack(x, y); in the tape the classifier on x_adv with "
            "training=True, mean cross-entropy (float32); gradients of the classifier's "
            "variables; optimizer.apply; the loss and the accuracy of those same logits to "
            "self.trackers")
def adversarial_train_step(lab, rng):
    """With the attack replaced by fixed examples and a classifier whose dropout-like layer
    acts only in training: one `train_step` with SGD equals one gradient step on the mean
    cross-entropy of those examples in training mode, and logs that loss and its accuracy."""
    import keras
    import tensorflow as tf
    x, _ = attack_data(32)
    classifier = probe_classifier(rng, dropout=True)
    y = np.argmax(np.asarray(classifier(x)), axis=-1).astype("int32")   # all right on x
    x_adv = examples_it_gets_wrong(classifier, x, y)
    model = lab.adversarial.AdversarialTraining(classifier, epsilon=0.1)
    # The attack is replaced by fixed examples, so the step is checked on its own.
    model.attack = lambda inputs, labels: tf.constant(x_adv)
    model.compile(keras.optimizers.SGD(0.5))
    before = {f"{name}_{mode}": (mean_loss(classifier, data, y, training=training),
                                 accuracy(classifier, data, y, training=training))
              for name, data in (("adversarial", x_adv), ("clean", x))
              for mode, training in (("training", True), ("inference", False))}
    logs = model.train_on_batch(x, y, return_dict=True)
    return {"after": [w.numpy() for w in classifier.trainable_weights], "logged": sorted(logs),
            "logged_loss": float(logs.get("loss", np.nan)),
            "logged_accuracy": float(logs.get("accuracy", np.nan)), "before": before,
            "batch_size": len(x),
            "clean_accuracy_after": accuracy(classifier, x, y)}


def judge_logged(student, index, name):
    """The logged loss (index 0) or accuracy (index 1) against its value on the examples in
    training mode, naming the batch or the mode it was taken from instead."""
    logged = student[f"logged_{name}"]
    values = {key: value[index] for key, value in student["before"].items()}
    values["clean_after"] = student["clean_accuracy_after"] if index else np.nan
    wanted = values.pop("adversarial_training")
    if abs(logged - wanted) <= 1e-4 * max(1.0, abs(logged)):
        return
    slips = {"adversarial_inference": "the classifier at inference on the examples: call it "
                                      "with training=True in train_step, so its dropout and "
                                      "batch norm train",
             "clean_training": "the CLEAN batch: train on and log x_adv = self.attack(x, y)",
             "clean_inference": "the CLEAN batch, at inference: log what the step trained on, "
                                "the logits of x_adv = self.attack(x, y)",
             "clean_after": "the CLEAN batch after the step: log the logits the step trained "
                            "on, those of x_adv = self.attack(x, y)"}
    named = [slips[key] for key, value in values.items()
             if abs(logged - value) <= 1e-4 * max(1.0, abs(logged))
             and abs(value - wanted) > 1e-3]
    if index == 0 and abs(logged - student["batch_size"] * wanted) <= 1e-3 * abs(logged):
        named.append(f"the SUM over the batch of {student['batch_size']}: the loss is the "
                     "MEAN cross-entropy (its gradient must not grow with the batch size)")
    raise CheckFailed(f"train_step logged {name} = {logged:.5g}; on the examples self.attack "
                      f"returned, in training mode, the {name} is {wanted:.5g}"
                      + (f" (what you logged is that of {named[0]})" if named else ""))


@adversarial_train_step.verdict
def _(student, reference):
    expect_true(student["logged"] != [], "train_step returned no logs (a `pass` left in it, or "
                "a missing `return`?): it must return self.trackers.results()")
    expect_true(student["logged"] == ["accuracy", "loss"],
                f"train_step returned {student['logged']}; it must report 'loss' and 'accuracy'")
    judge_logged(student, 0, "loss")
    judge_logged(student, 1, "accuracy")
    for index, (got, want) in enumerate(zip(student["after"], reference["after"])):
        expect_close(got, want, f"classifier weight {index} after one train_step with SGD(0.5) "
                     "(against the reference's: one gradient step on the mean cross-entropy of "
                     "the classifier in training mode at self.attack(x, y))", rtol=1e-3,
                     atol=1e-5)


@check(points=4, timeout=40, uses="adversarial", task="the whole of adversarial.py",
       hint="AdversarialTraining.train_step must train the classifier on PGD examples of each "
            "batch: robust accuracy (measured with your fgsm and pgd) must rise well above "
            "standard training's")
def adversarial_training_improves_robustness(lab, rng):
    """Standard and adversarial training of the same MLP, attacked with your own `fgsm` and
    `pgd`: the gain in FGSM accuracy at least half the reference's, FGSM and PGD accuracy at
    most 10 points and clean accuracy at most 6 points below the reference's."""
    return robustness_probe(lab, ADVERSARIAL_TRAINING, lab_attacks(lab))


@adversarial_training_improves_robustness.verdict
def _(student, reference):
    judge_adversarial_training(
        student, reference, ADVERSARIAL_TRAINING["epsilon"],
        "Robustness here is measured with YOUR attacks, fgsm(classifier, x, y, epsilon) and "
        f"pgd(classifier, x, y, epsilon, epsilon / 4, {MEASURING_PGD_STEPS}), the reference's "
        "with its own: a broken attack shows up here too, so make the checks input_gradient, "
        "fgsm, project_linf and pgd pass first.")
