"""Checks of lab20_transfer_learning (transfer learning and domain adaptation on the 8x8
digits): the graded module is transfer.py (feature extraction and fine-tuning, the gradient
reversal layer, the Gaussian-kernel MMD, DANN's train_step).

probes.py: the helpers the checks share, and the checks' own stand-ins for the gradient
reversal and the MMD inside DANN.train_step (of known, different behaviour).
public.py: the transfer model (which weights move, batch norm statistics), the learning rate,
gradient reversal against tf.GradientTape, the kernel and MMD against scipy.
public_dann.py: DANN.train_step on the stand-ins against the reference, and one relative
training check (DANN against source-only on the textured target domain).
readiness.py: XLA, mixed precision and retracing of the student's DANN.
hidden.py: the same on fresh shapes, and DANN.train_step with the student's own reversal and
MMD against the solution.
"""
MODULES = ("transfer",)
