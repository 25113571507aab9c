"""Checks of lab14_autoregressive: likelihoods in bits per dimension (likelihood.py), MADE
(made.py), PixelCNN (pixelcnn.py), WaveNet-style causal convolutions (wavenet.py) and
sequential sampling (sampling.py).

public.py: the maths against the reference on random inputs; the autoregressive property of
every model measured with gradients (an output must not depend on its own input or later
ones, and must depend on the ones just before it); one relative training check each for
MADE and PixelCNN on binarised digits; the .keras round trips; the sampler against a dummy
model whose conditionals are known.
hidden.py: the same on fresh sizes, orders, kernels and dilations, a categorical sampler
check, and a MADE with a random order trained against the reference.
"""
MODULES = ("likelihood", "made", "pixelcnn", "wavenet", "sampling")
