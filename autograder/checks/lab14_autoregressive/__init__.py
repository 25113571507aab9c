"""Checks of lab14_autoregressive: likelihoods in bits per dimension (likelihood.py), MADE
(made.py), PixelCNN (pixelcnn.py), WaveNet-style causal convolutions (wavenet.py) and
sequential sampling (sampling.py).

public.py (likelihoods, MADE), public_pixelcnn.py, public_wavenet.py (WaveNet, sampling):
the maths against the reference on random inputs (the layers also with their activation, and
against the usual slips); each model's call against its own layers wired as its docstring
says; the autoregressive property of every model measured with gradients (an output must not
depend on its own input or later ones, and must depend on the ones just before it); one
relative training check each for MADE and PixelCNN on binarised digits; the .keras round
trips; the draws on extreme logits; the sampler against a dummy model whose conditionals are
known.
public_y_nade.py (NADE), public_z_gated.py and public_z_gated_model.py (the gated and the
class-conditional PixelCNN, its call and label on stand-in gated layers; the
prefixes order the handout's table): NADE's logits against an O(D^2 H) brute force, its
autoregressive property by perturbation, normalisation by enumeration, its sampler replayed;
the gated PixelCNN's receptive field by gradients against the geometry and a plain masked
stack built from Keras layers, a gated layer on stand-ins, the label's role, class sampling,
training of the conditional model relative to the reference (its true labels against wrong
ones).
probes.py: the helpers those files share.
hidden.py: the same on fresh sizes, orders, kernels and dilations, a categorical sampler
check, and a MADE with a random order trained against the reference; hidden_nade_gated.py: NADE
and the gated PixelCNN on fresh sizes and a kernel of 5.
"""
MODULES = ("likelihood", "made", "pixelcnn", "wavenet", "sampling", "nade", "gated_pixelcnn")
