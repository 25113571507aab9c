"""Checks of lab10_autoencoders (PCA and autoencoders on 8x8 digits).

Graded modules: pca.py (PCA by the SVD, principal angles, in numpy) and autoencoders.py
(linear, MLP, convolutional and denoising autoencoders in Keras, latent interpolation).
public.py: the PCA maths against the reference on random data; each model's layers,
shapes and .keras round trip; one relative training check per model family, judged by
numbers computed here (principal angles to the PCA subspace, test MSE), never by weights.
hidden.py: the same on fresh shapes, plus an invariant of PCA and another code size.
"""
MODULES = ("pca", "autoencoders")
