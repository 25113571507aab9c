"""Checks of lab07_transformers (attention, a mini-GPT and a ViT): the graded module is
transformer.py.

public.py: attention and its masks against the reference (also on float16 inputs);
multi-head attention against keras.layers.MultiHeadAttention with copied weights, under
(N, T, S) and (T, S) masks; positional encodings (values and properties).
public_gpt.py: the pre-norm block with a stand-in attention sublayer (a masked mean, not
attention); a proof that the mini-GPT is causal; embed and decode with stand-in blocks and a
library causal mask; next_token_loss and generate on a model whose logits follow a fixed rule
(generate with a library sampler); train_step step by step on a small model with a stand-in
loss; the whole model's training on a toy language. Each against the reference's unit on the
same stand-ins and weights.
public_vit.py: the ViT's patches, class token, call (with stand-in blocks) and training on
procedural shapes; .keras round trips.
probes.py and standins.py: the helpers and the stand-in components those files share.
readiness.py: the mini-GPT's train_step on a GPU runner (XLA, mixed precision, retracing).
hidden.py: the same maths on fresh random shapes and configurations.
"""
MODULES = ("transformer",)
