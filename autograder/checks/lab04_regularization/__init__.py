"""Checks of lab04_regularization: weight decay, noise layers, augmentation, early stopping,
adversarial examples and adversarial training.

Graded modules: weight_decay.py (l2_penalty, AdamW), noise_layers.py (InvertedDropout,
GaussianNoise), augmentation.py (shift_images, RandomShift), early_stopping.py
(EarlyStopping) and adversarial.py (input_gradient, fgsm, project_linf, pgd,
AdversarialTraining).

public.py: AdamW step by step against keras.optimizers.AdamW; L2-in-the-loss against
decoupled decay under SGD and Adam; the statistics and modes of the noise layers; shifts
against the reference and the random layer's invariants; early stopping on scripted
validation losses against keras.callbacks.EarlyStopping; the attacks on a fixed classifier
(against the reference, inside the epsilon-ball and the data range, raising the loss); the
adversarial train_step's wiring, and one relative training check of robustness, measured
with the student's own fgsm and pgd (public.py ships to students: it holds no attack).
readiness.py: AdversarialTraining compiles with XLA, trains in mixed precision, and does
not retrace.
hidden.py: the same on fresh shapes, hyperparameters, scripts and data ranges, and a short
adversarial training measured with the checks' own FGSM and PGD.
"""
MODULES = ("weight_decay", "noise_layers", "augmentation", "early_stopping", "adversarial")
