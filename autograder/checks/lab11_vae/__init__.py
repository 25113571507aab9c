"""Checks of lab11_vae (variational autoencoders on 8x8 digits): the graded modules are vae.py,
ppca.py (probabilistic PCA) and estimators.py (the gradient estimators).

probes.py: what the checks share, among it the checks' own maths and networks that the
model-level checks put in place of the student's (so one slip costs one task's points).
public.py: the ELBO maths and the two networks against the reference on random inputs.
public_model.py: the VAE (loss wiring, train_step step by step and by training, test_step,
call and sample, .keras round trip); public_model_beta.py: the β-VAE;
public_model_extensions.py: the importance-weighted bound and the conditional VAE.
public_ppca.py: PPCA against scikit-learn's PCA, scipy's multivariate normal and Gaussian
conditioning; public_score_function.py: the two gradient estimators, the per-draw estimates against numpy formulas, their
unbiasedness against a closed-form gradient, the surrogate by a tape, their variances.
hidden_extensions.py: both on fresh shapes, parameters and functions.
hidden.py: the same on fresh shapes, seeds and model sizes, and the whole VAE trained.
"""
MODULES = ("vae", "ppca", "estimators")
