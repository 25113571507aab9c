"""Checks of lab15b_glow: Glow on 8x8 digits (glow.py), the inverse autoregressive flow and
reverse-KL fitting (iaf.py).

probes.py: the helpers the checks share (autodiff log-determinants on tiny inputs, the
stand-in flows of the reverse-KL checks, the numpy baselines).
public_glow.py: squeeze, ActNorm, the LU 1x1 convolution, the coupling, dequantisation and
bits per dimension, the multi-scale model and one relative training check.
public_iaf.py: the IAF against TFP, its conditioner calls, the reverse-KL loss and log Z
estimate on stand-in flows, one relative training check.
readiness.py: XLA, mixed precision and retracing of Glow and ReverseKLFlow.
hidden.py: the same on fresh shapes and seeds.
gpu.py: Glow on MNIST; the reverse-KL fit at scale.
"""
MODULES = ("glow", "iaf")
