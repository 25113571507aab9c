"""Checks of lab04_regularization: weight decay, noise layers, augmentation, early stopping,
adversarial examples and adversarial training.

Graded modules: weight_decay.py (l2_penalty, AdamW), noise_layers.py (InvertedDropout,
GaussianNoise), augmentation.py (shift_images, RandomShift), early_stopping.py
(EarlyStopping) and adversarial.py (input_gradient, fgsm, project_linf, pgd,
AdversarialTraining).

public.py: AdamW step by step against keras.optimizers.AdamW; L2-in-the-loss against
decoupled decay under SGD and Adam; the statistics and modes of the noise layers.
public_augmentation.py: shifts against the reference, the random layer's invariants.
public_early_stopping.py: early stopping on scripted validation losses against
keras.callbacks.EarlyStopping, and inside fit.
public_robustness.py: the attacks on fixed classifiers, on [0, 1] and [-1, 1] data (against
the reference, inside the epsilon-ball and the data range, raising the loss); the
adversarial train_step on its own (fixed examples, a classifier with a training-only layer);
one relative training check of robustness, measured with the student's own fgsm and pgd
(the public files ship to students: they hold no attack).
probes.py: the helpers these share.
readiness.py: AdversarialTraining compiles with XLA, trains in mixed precision, trains and
does not retrace.
hidden.py: the same on fresh shapes, hyperparameters, scripts and data ranges, and a short
adversarial training measured with the checks' own FGSM and PGD.
"""
MODULES = ("weight_decay", "noise_layers", "augmentation", "early_stopping", "adversarial")
