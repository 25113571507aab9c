"""Checks of lab03_optimization: optimizers, schedules, conditioning, initialisation, batch norm.

Graded modules: optimizers.py (MomentumSGD, AdaGrad, RMSProp, Adam, WarmupCosineDecay),
conditioning.py (Hessians, condition numbers, step-size rules, standardize),
initialization.py (fans, Glorot/He standard deviations, ScaledNormal) and batchnorm.py
(BatchNorm).

public.py: each optimizer step by step against Keras's own on the same gradients; the
schedule's values; momentum against gradient descent on an ill-conditioned quadratic;
activation variances through depth; BatchNorm against keras.layers.BatchNormalization in
both modes; one short digits training with the student's Adam.
hidden.py: the same on fresh shapes, hyperparameters and condition numbers, BatchNorm on
feature maps (with its input gradient), and the schedule against Keras's CosineDecay.
"""
MODULES = ("optimizers", "conditioning", "initialization", "batchnorm")
