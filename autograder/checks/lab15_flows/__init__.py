"""Checks of lab15_flows (normalizing flows on 2-D toy densities): the graded modules are
made.py (MADE for flows: degrees, masks, masked layers) and flows.py (change of variables,
affine couplings, actnorm, MAF, the flow model, TFP bijectors).

public.py: the maths against the reference on fixed weights; invariants that need no
reference (inverse(forward(x)) == x, log-determinants against autodiff Jacobians, MADE's
autoregressive property, actnorm's normalised output); sampling, TFP, evaluate, the .keras
round trip; one relative training check (RealNVP on two moons).
hidden.py: the same on fresh shapes and sizes, the density integrating to one, and a MAF
training check.
"""
MODULES = ("made", "flows")
