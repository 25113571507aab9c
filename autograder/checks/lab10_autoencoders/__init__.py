"""Checks of lab10_autoencoders (PCA and autoencoders on 8x8 digits).

Graded modules: pca.py (PCA by the SVD, principal angles, in numpy) and autoencoders.py
(linear, MLP, convolutional and denoising autoencoders in Keras, latent interpolation).
probes.py: what the checks share (budgets, numpy measures, stand-ins, layer tables).
public.py: the PCA maths against the reference, with known slips named.
public_autoencoders.py: each model's layers (class, output shape, activation), its outputs
for given random weights against the reference's, its .keras round trip, and one relative
training check per model, judged by numbers computed here (principal angles, test MSE).
public_denoising.py: corrupt, the denoising loss and train_step (step by step on a stand-in
loss, and by training) on the checks' own autoencoder, and the interpolation.
public_regularized.py, public_regularized_anomaly.py: regularized.py (sparse and contractive
autoencoders, anomaly detection), against independent references (numpy, a closed-form
Jacobian, scikit-learn's AUROC) and the checks' own encoder and decoder stacks
(probes_regularized.py).
hidden.py, hidden_regularized.py: the same on fresh shapes, plus an invariant of PCA and
another code size.
"""
MODULES = ("pca", "autoencoders", "regularized")
