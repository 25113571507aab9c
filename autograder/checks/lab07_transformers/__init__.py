"""Checks of lab07_transformers (attention, a mini-GPT and a ViT): the graded module is
transformer.py.

public.py: attention and its masks against the reference; multi-head attention against
keras.layers.MultiHeadAttention with copied weights; positional encodings (values and
properties); the pre-norm block's wiring; a proof that the mini-GPT is causal; its loss,
decoding and training on a toy language; the ViT's patches, class token and training on
procedural shapes; .keras round trips.
readiness.py: the mini-GPT's train_step on a GPU runner (XLA, mixed precision, retracing).
hidden.py: the same maths on fresh random shapes and configurations.
"""
MODULES = ("transformer",)
