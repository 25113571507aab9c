"""GPU-readiness checks of lab19_deep_clustering: they run on a CPU too (see
autograder/readiness.py). The student's DEC (its formulas and train_step) on a small dense
encoder, fitted on (x, index) pairs; the stored data, targets and centres are set as
DEC.initialize's given lines do, with fixed centres instead of k-means."""
import numpy as np

from autograder import readiness
from autograder.checks.lab19_deep_clustering.probes import prepared

POINTS = 64


def _points():
    rng = np.random.default_rng(19)
    return rng.normal(size=(POINTS, 6)).astype("float32"), rng.normal(size=(4, 3))


def _build(lab):
    def build():
        import keras
        keras.utils.set_random_seed(19)
        encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, "relu"),
                                    keras.layers.Dense(3)])
        x, centres = _points()
        return prepared(lab.dec.DEC(encoder, 4, update_interval=3), x, centres)
    return build


def _data(rng):
    return _points()[0], np.arange(POINTS, dtype="int32")


(dec_trains_with_xla, dec_trains_in_mixed_precision,
 dec_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "dec", build=_build, data=_data, uses="dec", task="`DEC.train_step`",
    scale_hint="scaled = self.optimizer.scale_loss(losses['loss']) inside the tape; q, p and "
               "the KL in float32 (cast the codes)",
    trace_hint="refresh the targets with tf.cond on a tensor condition, not a Python `if`; "
               "no Python numbers that change per step")
