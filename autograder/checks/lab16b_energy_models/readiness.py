"""GPU-readiness checks of lab16b_energy_models: they run on a CPU too (see
autograder/readiness.py). A small RBM (CD-1) and a small EBM (2 Langevin steps): the
student's train_steps under XLA and float16, and their retracing."""
from autograder import readiness


def _rbm(lab):
    return lambda: lab.rbm.RBM(6, 4, k=1)


def _bits(rng):
    return rng.integers(0, 2, size=(64, 6)).astype("float32")


def _ebm(lab):
    return lambda: lab.ebm.EBM((8,), langevin_steps=2, step_size=0.05, buffer_size=64)


(rbm_trains_with_xla, rbm_trains_in_mixed_precision,
 rbm_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "rbm", build=_rbm, data=_bits, uses="rbm", task="`RBM.train_step`",
    scale_hint="scaled = self.optimizer.scale_loss(loss) inside the tape; the free energies "
               "in float32")

(ebm_trains_with_xla, ebm_trains_in_mixed_precision,
 ebm_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "ebm", build=_ebm, data=readiness.gaussian_points, uses="ebm",
    task="`EBM.train_step`",
    scale_hint="scaled = self.optimizer.scale_loss(loss) inside the tape; the energies in "
               "float32",
    trace_hint="replay_starts(tf.shape(x)[0]), not x.shape[0]: the last batch is smaller")
