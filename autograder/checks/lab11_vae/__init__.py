"""Checks of lab11_vae (variational autoencoders on 8x8 digits): the graded module is vae.py.

public.py: the ELBO maths against the reference, the Keras layers and model (shapes, loss
wiring, train_step/test_step, sampling, .keras round trip) and one relative training check.
hidden.py: the same on fresh shapes, seeds and model sizes.
"""
MODULES = ("vae",)
