"""GPU-readiness checks of lab15b_glow: they run on a CPU too (see autograder/readiness.py).
A small Glow on 4x4 images and a small ReverseKLFlow: the student's train_steps under XLA
and float16, and their retracing."""
import numpy as np

from autograder import readiness


def _glow(lab):
    return lambda: lab.glow.Glow((4, 4, 1), levels=1, steps=1, hidden_channels=4)


def _images(rng):
    return rng.uniform(size=(64, 4, 4, 1)).astype("float32")


def _reverse_kl(lab):
    return lambda: lab.iaf.ReverseKLFlow("banana", num_layers=1, hidden_units=(8,))


def _rows(rng):
    return np.zeros((64, 2), "float32")


def _compile(model, jit_compile="auto"):
    """Adam at 1e-3, its slots built before fit: an optimizer building them in the first
    step makes TensorFlow trace (and XLA compile) train_step twice."""
    readiness.compile_with_adam(model, jit_compile=jit_compile)
    model.optimizer.build(model.trainable_variables)


(glow_trains_with_xla, glow_trains_in_mixed_precision,
 glow_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "glow", build=_glow, data=_images, uses="glow", compile_model=_compile,
    task="`Glow.train_step`",
    scale_hint="scaled = self.optimizer.scale_loss(nll) inside the tape; the flow in float32")

(reverse_kl_trains_with_xla, reverse_kl_trains_in_mixed_precision,
 reverse_kl_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "reverse_kl", build=_reverse_kl, data=_rows, uses="iaf", compile_model=_compile,
    task="`ReverseKLFlow.train_step`",
    scale_hint="scaled = self.optimizer.scale_loss(loss) inside the tape",
    trace_hint="draw z with tf.shape(x)[0] rows (a tensor), not a Python int of the batch size")
