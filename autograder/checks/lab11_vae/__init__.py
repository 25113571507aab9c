"""Checks of lab11_vae (variational autoencoders on 8x8 digits): the graded module is vae.py.

probes.py: what the checks share, among it the checks' own maths and networks that the
model-level checks put in place of the student's (so one slip costs one task's points).
public.py: the ELBO maths and the two networks against the reference on random inputs.
public_model.py: the VAE (loss wiring, train_step step by step and by training, test_step,
call and sample, .keras round trip); public_model_beta.py: the β-VAE;
public_model_extensions.py: the importance-weighted bound and the conditional VAE.
hidden.py: the same on fresh shapes, seeds and model sizes, and the whole VAE trained.
"""
MODULES = ("vae", "ppca", "estimators")
