"""Checks of lab06b_attention: the copy, add and count tasks (tasks.py), bidirectional and
stacked encoders (encoders.py), additive attention in a seq2seq model (attention.py) and
beam search (beam.py).

probes.py: the task generators' invariants and the encoders against Keras's Bidirectional;
probes_attention.py: attention against an independent numpy computation (with the known
slips it names, and on float16 inputs with large scores), the training probe;
probes_beam.py: beam search against exhaustive search on a check-defined decoder (brute
force with itertools.product), against greedy decoding, and on decoders with exact ties
against an enumeration ordered by the handout's tie rule.
public.py: tasks, encoders, the mask, attention, and the training check (the attention
model against the reference's at the same seed).
public_beam.py: beam search.
hidden.py: the same on fresh sizes, float16 inputs, other vocabularies, lengths and widths.
gpu.py: the attention seq2seq reversing long sequences.
"""
MODULES = ("tasks", "encoders", "attention", "beam")
