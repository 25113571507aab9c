"""GPU-readiness checks of lab04_regularization: they run on a CPU too (see
autograder/readiness.py). They judge the student's AdversarialTraining: the PGD attack and
the loss inside its train_step, and the loss scaling."""
import functools

from autograder import readiness
from autograder.check_helpers import largest_change, snapshot
from autograder.checks.lab04_regularization.probes_robustness import train_step_returns_logs
from autograder.verdicts import expect_true


def _build(lab):
    return lambda: lab.adversarial.AdversarialTraining(
        lab.adversarial.make_mlp(hidden_units=(16,)), epsilon=0.1, step_size=0.1, steps=1)


def _digits_like(rng, n=64):
    """(x, y): random pixels in [0, 1] and labels, for a supervised model."""
    return rng.random((n, 64)).astype("float32"), rng.integers(0, 10, size=n).astype("int32")


(adversarial_trains_with_xla, adversarial_trains_in_mixed_precision,
 adversarial_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "adversarial", build=_build, data=_digits_like, uses="adversarial",
    task="`AdversarialTraining.train_step`",
    trace_hint="draw the random start with tf.shape(x), not x.shape: the last batch is smaller")


# A train_step that trains nothing never retraces either: the trace check also asks that
# the five batches moved the weights, so an empty train_step earns no point here.
def _traces_and_training(lab, rng):
    made = []

    def build():
        model = _build(lab)()
        made.append((model, snapshot(model.trainable_variables)))
        return model
    result = readiness.traces_over_batch_sizes(build, readiness.compile_with_adam,
                                               _digits_like(rng))
    model, before = made[-1]
    result["weights_moved"] = largest_change(before, model.trainable_variables)
    return result


def _judge_traces_and_training(student, _reference):
    expect_true(student["weights_moved"] > 0, f"fit over {len(student['sizes'])} batches left "
                "every weight of the classifier where it was: train_step must take an "
                "optimizer step on each batch")
    readiness.judge_traces(student)


_traces_and_training.__doc__ = ("GPU readiness: `fit` over five batch sizes trains the "
                                "classifier and traces `train_step` at most twice.")
adversarial_train_step_traces_at_most_twice.probe = _traces_and_training
adversarial_train_step_traces_at_most_twice.verdict(_judge_traces_and_training)


def _explained(probe):
    @functools.wraps(probe)
    def run(lab, rng):
        with train_step_returns_logs():
            return probe(lab, rng)
    return run


adversarial_trains_with_xla.probe = _explained(adversarial_trains_with_xla.probe)
adversarial_trains_in_mixed_precision.probe = _explained(adversarial_trains_in_mixed_precision.probe)
adversarial_train_step_traces_at_most_twice.probe = _explained(
    adversarial_train_step_traces_at_most_twice.probe)
