"""Checks of lab03_optimization: optimizers, schedules, conditioning, initialisation, batch norm.

Graded modules: optimizers.py (MomentumSGD, AdaGrad, RMSProp, Adam, WarmupCosineDecay),
conditioning.py (Hessians, condition numbers, step-size rules, standardize),
initialization.py (fans, Glorot/He standard deviations, ScaledNormal) and batchnorm.py
(BatchNorm).

public.py: each optimizer step by step against Keras's own on the same gradients; the
schedule's values; one short digits training with the student's Adam.
public_conditioning.py: Hessians and condition numbers (np.inf without a minimum), step-size
rules, momentum against gradient descent on an ill-conditioned quadratic, standardize.
public_initialization.py: fans and stds, ScaledNormal's samples, activation variances
through depth.
public_normalization.py: BatchNorm against keras.layers.BatchNormalization in both modes,
on (N, C) inputs and feature maps, with its gradients.
probes.py: the helpers these share (trajectories and their slips, quadratics, twin
BatchNorm layers...).
hidden.py: the same on fresh shapes, hyperparameters and condition numbers, BatchNorm on
feature maps (with its input gradient), and the schedule against Keras's CosineDecay.
"""
MODULES = ("optimizers", "conditioning", "initialization", "batchnorm")
