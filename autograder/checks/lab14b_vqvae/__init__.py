"""Checks of lab14b_vqvae: the VQ-VAE (vq.py) and a PixelCNN prior over its codes (prior.py).

probes.py: the helpers the checks share (numpy references, the stand-ins, the training data
and baselines, the training probes).
public_vq.py: nearest-code quantisation against a numpy brute force (ties included), the
codebook lookup, the straight-through gradient, the codebook and commitment losses with
their stop-gradients, EMA updates against a numpy loop, perplexity against scipy,
VQVAE.train_step on stand-ins, decode_codes, one relative training check.
public_prior.py: the masked convolution pasted from lab 14, the prior's causality on
stand-in layers, the code likelihood against scipy, sampling replayed on a stand-in prior,
one relative training check, the .keras round trips.
readiness.py: XLA, mixed precision and retracing of VQVAE and CodePrior.
hidden.py: the same ideas on fresh shapes and seeds.
gpu.py: the VQ-VAE on MNIST; the prior on MNIST code grids.
"""
MODULES = ("vq", "prior")
