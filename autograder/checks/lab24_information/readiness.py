"""GPU-readiness checks of lab24_information: they run on a CPU too (see
autograder/readiness.py). A small InfoNCEEstimator: the student's bound and train_step
under XLA and float16."""
from autograder import readiness


def _build(lab):
    return lambda: lab.information.InfoNCEEstimator(2, hidden_units=(16,), embed_dim=8)


def _pairs(rng, n: int = 64):
    x = rng.normal(size=(n, 2)).astype("float32")
    return x, (0.8 * x + 0.6 * rng.normal(size=(n, 2))).astype("float32")


(infonce_trains_with_xla, infonce_trains_in_mixed_precision,
 infonce_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "infonce", build=_build, data=_pairs, uses=("information",),
    task="`InfoNCEEstimator.train_step`",
    scale_hint="scaled = self.optimizer.scale_loss(loss) inside the tape, the bound in float32",
    trace_hint="use tf.shape(scores)[0] for N in infonce_bound, not scores.shape[0]")
