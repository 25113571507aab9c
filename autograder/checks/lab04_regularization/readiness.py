"""GPU-readiness checks of lab04_regularization: they run on a CPU too (see
autograder/readiness.py). They judge the student's AdversarialTraining: the PGD attack and
the loss inside its train_step, and the loss scaling."""
from autograder import readiness


def _build(lab):
    return lambda: lab.adversarial.AdversarialTraining(
        lab.adversarial.make_mlp(hidden_units=(16,)), epsilon=0.1, step_size=0.1, steps=1)


def _digits_like(rng, n=64):
    """(x, y): random pixels in [0, 1] and labels, for a supervised model."""
    return rng.random((n, 64)).astype("float32"), rng.integers(0, 10, size=n).astype("int32")


(adversarial_trains_with_xla, adversarial_trains_in_mixed_precision,
 adversarial_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "adversarial", build=_build, data=_digits_like, uses="adversarial",
    trace_hint="draw the random start with tf.shape(x), not x.shape: the last batch is smaller")
