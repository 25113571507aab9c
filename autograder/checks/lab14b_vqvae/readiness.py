"""GPU-readiness checks of lab14b_vqvae: they run on a CPU too (see autograder/readiness.py).
A small VQ-VAE with an EMA codebook (its step assigns the codebook too) and a small prior:
the student's train_steps under XLA and float16, and their retracing."""
import numpy as np

from autograder import readiness


def _vqvae(lab):
    return lambda: lab.vq.VQVAE((8, 8, 1), num_codes=8, code_dim=3, filters=4, ema_decay=0.9)


def _images(rng):
    return rng.uniform(size=(64, 8, 8, 1)).astype("float32")


def _prior(lab):
    return lambda: lab.prior.CodePrior(8, (4, 4), embedding_dim=4, filters=4, num_layers=1)


def _codes(rng):
    return rng.integers(0, 8, size=(64, 4, 4)).astype(np.int32)


def _compile(model, jit_compile="auto"):
    """Adam at 1e-3, its slots built before fit: an optimizer building them in the first
    step makes TensorFlow trace (and XLA compile) train_step twice."""
    readiness.compile_with_adam(model, jit_compile=jit_compile)
    model.optimizer.build(model.trainable_variables)


(vqvae_trains_with_xla, vqvae_trains_in_mixed_precision,
 vqvae_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "vqvae", build=_vqvae, data=_images, uses="vq", compile_model=_compile,
    task="`VQVAE.train_step` (and the quantiser)",
    scale_hint="scaled = self.optimizer.scale_loss(loss) inside the tape; quantise and take "
               "the losses in float32 (cast the encoder's output)")

(code_prior_trains_with_xla, code_prior_trains_in_mixed_precision,
 code_prior_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "code_prior", build=_prior, data=_codes, uses="prior", compile_model=_compile,
    task="`CodePrior.train_step` (and the masked convolutions)",
    scale_hint="scaled = self.optimizer.scale_loss(loss) inside the tape; cast the logits to "
               "float32 before code_nll; the mask in the kernel's dtype")
