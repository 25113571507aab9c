"""Checks of lab23_nngp_ntk (infinitely wide networks as kernels): the graded module is
kernels.py (the arc-cosine expectations, the NNGP and NTK recursions, GP regression, the
NTK-parameterised MLP, the empirical NTK, full-batch training, the NTK's drift and kernel
gradient flow).

probes.py: the references the checks compute on their own: random wide networks in numpy
(their output covariance and their NTK by hand-written backpropagation), a loop of
per-example gradients, a check-built Keras MLP, Gauss-Hermite quadrature.
public.py: the kernels and GP regression. public_networks.py: the layer, the MLP, the
empirical NTK, training, the NTK's drift and gradient flow.
hidden.py: the same on fresh depths, variances and sizes, and the student's whole pipeline
(their MLP's empirical NTK against their analytic NTK; their training against their flow).
"""
MODULES = ("kernels",)
