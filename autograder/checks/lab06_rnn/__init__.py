"""Checks of lab06_rnn: recurrent cells (cells.py), backpropagation through time and gradient
clipping (bptt.py), a seq2seq encoder-decoder with teacher forcing (seq2seq.py) and a
character-level language model with temperature sampling (char_lm.py).

public.py: each cell against Keras's own with copied weights, one step and whole sequences
through keras.layers.RNN, and a .keras round trip; unrolling, gradient norms through time
(vanishing for a small tanh RNN) and clipping against TensorFlow; the teacher-forcing shift,
one train_step and greedy decoding against the reference, and one relative training check
per model (held-out reversal token accuracy, validation bits per character); temperature
softmax, inverse-CDF sampling and generation with fixed uniforms.
readiness.py: the Seq2Seq train_step under XLA, mixed precision and varying batch sizes.
hidden.py: the same on fresh sizes, temperatures, strides and start tokens, and an LSTM's
gradient norms through time.
"""
MODULES = ("cells", "bptt", "seq2seq", "char_lm")
