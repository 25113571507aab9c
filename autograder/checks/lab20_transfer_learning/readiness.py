"""GPU-readiness checks of lab20_transfer_learning: they run on a CPU too (see
autograder/readiness.py). A small DANN with the MMD term on: the student's reversal, MMD and
train_step under XLA and float16."""
from autograder import readiness
from autograder.checks.lab20_transfer_learning.probes import dann_pairs


def _build(lab):
    return lambda: lab.transfer.DANN(10, filters=(4,), hidden=4, mmd_weight=0.5)


(dann_trains_with_xla, dann_trains_in_mixed_precision,
 dann_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "dann", build=_build, data=lambda rng: dann_pairs(rng, 64),
    uses=("transfer",), task="`DANN.train_step`",
    scale_hint="under mixed_float16 the features and gradients are float16: cast the "
               "float32 values mixed with them; differentiate what scale_loss returned",
    trace_hint="use tf.shape(source)[0] for the batch size, not source.shape[0]")
