"""GPU-readiness checks of lab15_flows: they run on a CPU too (see autograder/readiness.py).
A small RealNVP: the student's couplings, log-determinants and NLL train_step under XLA and
float16."""
from autograder import readiness


def _build(lab):
    return lambda: lab.flows.RealNVP(2, num_couplings=2, hidden_units=(16,))


(realnvp_trains_with_xla, realnvp_trains_in_mixed_precision,
 realnvp_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "realnvp", build=_build, data=readiness.gaussian_points,
    uses=("made", "flows"), task="`FlowModel.train_step`",
    scale_hint="scaled = self.optimizer.scale_loss(nll) inside the tape; the log-density and "
               "log-determinants in float32")
