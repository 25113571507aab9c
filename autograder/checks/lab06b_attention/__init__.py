"""Checks of lab06b_attention: the copy, add and count tasks (tasks.py), bidirectional and
stacked encoders (encoders.py), additive attention in a seq2seq model (attention.py) and
beam search (beam.py).

probes.py: the task generators' invariants and the encoders against Keras's Bidirectional;
probes_attention.py: attention against an independent numpy computation (with the known
slips it names), the training probe, and beam search against exhaustive search on a
check-defined decoder (brute force with itertools.product) and against greedy decoding.
public.py: tasks, encoders, the mask, attention, and the training check (the attention
model against the same model without attention, both at the reference's seed).
public_beam.py: beam search.
hidden.py: the same on fresh sizes, float16 inputs, other vocabularies, lengths and widths.
gpu.py: the attention seq2seq reversing long sequences.
"""
MODULES = ("tasks", "encoders", "attention", "beam")
