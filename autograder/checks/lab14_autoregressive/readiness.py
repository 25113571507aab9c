"""GPU-readiness checks of lab14_autoregressive: they run on a CPU too (see
autograder/readiness.py). The train_step is the given one of likelihood.py; these checks
judge the student's MADE (degrees, masks, MaskedDense) under XLA and float16."""
from autograder import readiness


def _build(lab):
    return lambda: lab.made.MADE(16, (32,))


def _binary(rng, n=64):
    return (rng.random((n, 16)) < 0.5).astype("float32")


made_trains_with_xla, made_trains_in_mixed_precision, made_train_step_traces_at_most_twice = \
    readiness.checks_for(__name__, "made", build=_build, data=_binary,
                         uses=("likelihood", "made"), task="`made.MADE` (its layers)",
                         scale_hint="compute the logits' loss in float32: cast the masked "
                                    "layers' outputs, keep the masks in the layer's dtype")
