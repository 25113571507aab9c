"""Checks of lab19_deep_clustering (DEC and IDEC on the digits): the graded module is dec.py
(the autoencoder, Student-t soft assignments, the target distribution, the KL loss, the DEC
and IDEC models, cluster accuracy and NMI).

probes.py: the helpers the checks share, the checks' own stand-ins and the training probe.
public.py: the autoencoder, the formulas and the metrics, against the reference, brute
force, scipy and scikit-learn.
public_model.py: DEC.initialize, update_targets, train_step and IDEC.compute_losses on the
checks' own components; one relative training check (DEC and IDEC on the digits).
readiness.py: XLA, mixed precision and retracing of the student's DEC train_step.
hidden.py: the same on fresh shapes, alphas and labelings.
"""
MODULES = ("dec",)
