"""The issue's requirement for lab01: the reference MLP reaches at least 95% test accuracy on
the digits within the budget of the training checks. Grades nothing: it runs the solution's
training probes in a worker, with the seeds the public checks use, and reads the numbers."""
from __future__ import annotations

from autograder import SOLUTIONS
from autograder.api import load_lab
from autograder.grading import PUBLIC_SEED, Session, check_seed
from autograder.sandbox import Limits

LAB = "lab01_mlp_backprop"
TRAINING_CHECKS = ("mlp_manual_training", "keras_mlp_training")
REQUIRED_ACCURACY = 0.95


def test_reference_mlps_reach_95_percent_on_digits_within_the_check_budget():
    spec = load_lab(LAB)
    session = Session(spec, SOLUTIONS / LAB, Limits())
    try:
        session.start()
        accuracies = {}
        for chk in spec.checks:
            if chk.name in TRAINING_CHECKS:
                output = session.probe(chk, check_seed(PUBLIC_SEED, LAB, chk.name))
                accuracies[chk.name] = output["test_accuracy"]
    finally:
        session.close()
    assert set(accuracies) == set(TRAINING_CHECKS)
    for name, accuracy in accuracies.items():
        assert accuracy >= REQUIRED_ACCURACY, f"{name}: reference test accuracy {accuracy:.3f}"
