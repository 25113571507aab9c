"""Helpers of lab04's adversarial-training checks (public and hidden): train the lab's MLP
standardly and adversarially, measure its robustness, judge it against the reference's.
Numpy only at module level; it ships to students with the public checks and holds no
attack of its own.
"""
import contextlib

import numpy as np

from autograder.api import CheckFailed
from autograder.checks.lab04_regularization.probes import accuracy, expect_at_least
from autograder.verdicts import expect_true

ADVERSARIAL_TRAINING = {"hidden_units": (64,), "epsilon": 0.15, "step_size": 0.06, "steps": 3,
                        "learning_rate": 1e-2, "batch_size": 64, "epochs": 6}
# Robustness is measured with YOUR attacks at the training epsilon: fgsm, and pgd from x in
# MEASURING_PGD_STEPS steps of epsilon / 4 (the reference with its own, the same way); a
# hidden check measures it again with attacks the student did not write. The reference lands
# at 56-61 % under FGSM (PGD 53-58 %, clean 92-95 %) over 9 training seeds, standard training
# at 17-22 %.
MEASURING_PGD_STEPS = 10
ROBUST_MARGIN = 0.1
CLEAN_MARGIN = 0.06


@contextlib.contextmanager
def train_step_returns_logs():
    """Inside fit, a train_step that returns None (a `pass` left in it) fails deep in
    TensorFlow with an error about an 'OptionalFromValue' op: say what it means instead."""
    try:
        yield
    except ValueError as error:
        if "OptionalFromValue" not in str(error):
            raise
        raise ValueError("AdversarialTraining.train_step returned None (a `pass` left in it, "
                         "or a missing `return`?): it must return the logs, "
                         "self.trackers.results()") from None


def training_data(budget):
    """The training digits, cut to whole batches: a last, smaller batch would trace
    train_step a second time."""
    from dlkit.data import load_digits
    x_train, y_train = load_digits("train", flatten=True)
    whole = len(x_train) // budget["batch_size"] * budget["batch_size"]
    return x_train[:whole], y_train[:whole]


def built_adam(budget, classifier):
    """Adam with its slots built: created inside fit's first trace, they trace it again."""
    import keras
    optimizer = keras.optimizers.Adam(budget["learning_rate"])
    optimizer.build(classifier.trainable_variables)
    return optimizer


def adversarial_trainer(lab, budget):
    """The lab's AdversarialTraining of a fresh lab MLP, compiled with Adam."""
    classifier = lab.adversarial.make_mlp(hidden_units=budget["hidden_units"])
    model = lab.adversarial.AdversarialTraining(
        classifier, epsilon=budget["epsilon"], step_size=budget["step_size"],
        steps=budget["steps"])
    model.compile(built_adam(budget, classifier), steps_per_execution=8)
    return model


def side_by_side(adversarial_model, standard, optimizer):
    """One model whose train_step is the lab's adversarial train_step, then a standard step
    of another classifier on the same clean batch: both train in one fit (one trace, one
    input pipeline) instead of two. Its logs are the lab's."""
    import keras
    import tensorflow as tf

    class SideBySide(keras.Model):
        def __init__(self):
            super().__init__()
            self.adversarial_model, self.standard = adversarial_model, standard
            self.standard_optimizer = optimizer

        def train_step(self, data):
            logs = self.adversarial_model.train_step(data)
            x, y = data
            variables = self.standard.trainable_variables
            with tf.GradientTape() as tape:
                loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(
                    y, self.standard(x, training=True), from_logits=True))
            self.standard_optimizer.apply(tape.gradient(loss, variables), variables)
            return logs

    model = SideBySide()
    model.compile(steps_per_execution=8)
    return model


def train_classifiers(lab, budget, kinds):
    """The lab's MLP after `budget` of adversarial training on the digits and, when `kinds`
    asks for it, the same MLP after standard training (nothing the student writes: the same
    for both) on the same batches, in the same fit."""
    x_train, y_train = training_data(budget)
    model = adversarial_trainer(lab, budget)
    classifiers = {"adversarial": model.classifier}
    if "standard" in kinds:
        standard = lab.adversarial.make_mlp(hidden_units=budget["hidden_units"])
        classifiers["standard"] = standard
        model = side_by_side(model, standard, built_adam(budget, standard))
    with train_step_returns_logs():
        model.fit(x_train, y_train, batch_size=budget["batch_size"], epochs=budget["epochs"],
                  shuffle=True, verbose=0)
    return {kind: classifiers[kind] for kind in kinds}


# The standard classifier is measured under FGSM only: PGD on it adds nothing a verdict reads.
MEASURED_ON = {"standard": ("fgsm",), "adversarial": ("fgsm", "pgd")}


def robustness_probe(lab, budget, attacks, kinds=("standard", "adversarial")):
    """Train each kind of classifier; its clean test accuracy and its test accuracy under
    each of `attacks` (name -> attack(classifier, x, y, epsilon)) at the budget's epsilon
    (the standard one under FGSM only)."""
    from dlkit.data import load_digits
    x_test, y_test = load_digits("test", flatten=True)
    # All training first: a missing train_step is reported before a missing attack.
    classifiers = train_classifiers(lab, budget, kinds)
    results = {}
    for kind, classifier in classifiers.items():
        results[f"{kind}_clean"] = accuracy(classifier, x_test, y_test)
        for name in MEASURED_ON[kind]:
            x_adv = np.asarray(attacks[name](classifier, x_test, y_test, budget["epsilon"]),
                               "float32")
            if x_adv.shape != x_test.shape:
                raise ValueError(f"{name} returned adversarial test digits of shape "
                                 f"{x_adv.shape} for inputs of shape {x_test.shape} (this "
                                 f"check measures robustness with your {name}: see its check)")
            results[f"{kind}_{name}"] = accuracy(classifier, x_adv, y_test)
    return results


def lab_attacks(lab):
    """The lab's own fgsm and pgd (from x, MEASURING_PGD_STEPS steps of epsilon / 4)."""
    def pgd(classifier, x, y, epsilon):
        return lab.adversarial.pgd(classifier, x, y, epsilon, epsilon / 4, MEASURING_PGD_STEPS)
    return {"fgsm": lab.adversarial.fgsm, "pgd": pgd}


def robust_gain(output):
    """How much adversarial training raises FGSM accuracy over standard training."""
    return float(output["adversarial_fgsm"] - output["standard_fgsm"])


def judge_adversarial_training(student, reference, epsilon, measured_with):
    """Robustness relative to the reference's; `measured_with` (which attacks measured it)
    ends every message."""
    summary = (f"clean / FGSM / PGD accuracy at epsilon {epsilon}: "
               + (f"standard training {student['standard_clean']:.1%} / "
                  f"{student['standard_fgsm']:.1%} / -, "
                  if "standard_clean" in student else "")
               + f"your adversarial training {student['adversarial_clean']:.1%} / "
               f"{student['adversarial_fgsm']:.1%} / {student['adversarial_pgd']:.1%}; the "
               f"reference's adversarial training {reference['adversarial_clean']:.1%} / "
               f"{reference['adversarial_fgsm']:.1%} / {reference['adversarial_pgd']:.1%}")
    try:
        if "standard_fgsm" in student:
            expect_true(robust_gain(student) >= 0.5 * robust_gain(reference),
                        f"adversarial training barely improves robustness ({summary}). Does "
                        "train_step train on self.attack(x, y), and does pgd climb the loss?")
        for attack in ("fgsm", "pgd"):
            expect_at_least(student[f"adversarial_{attack}"],
                            reference[f"adversarial_{attack}"] - ROBUST_MARGIN,
                            f"the {attack.upper()} accuracy after adversarial training "
                            f"({summary})")
        expect_at_least(student["adversarial_clean"],
                        reference["adversarial_clean"] - CLEAN_MARGIN,
                        f"the clean test accuracy after adversarial training ({summary})")
    except CheckFailed as failure:
        message = str(failure).rstrip()
        end = " " if message.endswith((".", "?")) else ". "
        raise CheckFailed(f"{message}{end}{measured_with}") from None
