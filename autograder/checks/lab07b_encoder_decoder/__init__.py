"""Checks of lab07b_encoder_decoder: the encoder-decoder transformer, BERT-style pretraining
and key/value caching; the graded module is encoder_decoder.py.

probes.py: the check's own number language, multi-head attention against
keras.layers.MultiHeadAttention with copied weights, the stand-in attention sublayers and
rule decoder, the perturbation proofs (padding, causality) and the attention counter.
public.py: attention, the post-norm blocks, the encoder-decoder, greedy decoding, caching.
public_bert.py: masking statistics, the masked-LM loss against numpy, pooling, and the two
training checks (translation; pretraining against training from scratch).
hidden.py: the same on fresh sizes and seeds.
gpu.py: the translator on longer numbers.
"""
MODULES = ("encoder_decoder",)
