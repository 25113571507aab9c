"""Checks of lab06_rnn: recurrent cells (cells.py), backpropagation through time and gradient
clipping (bptt.py), a seq2seq encoder-decoder with teacher forcing (seq2seq.py) and a
character-level language model with temperature sampling (char_lm.py).

probes.py: the stand-ins for graded functions that other graded functions call (so that
each is judged on its own; none is the lab's code: see its docstring), and the cell and
BPTT probes; probes_sequences.py: the seq2seq and language-model probes and verdicts, and
generate's stand-in softmax and sampler.
public.py: each cell against Keras's own with copied weights, one step and whole sequences
through keras.layers.RNN, and a .keras round trip; unrolling against keras.layers.RNN,
gradient norms through time on a stand-in unroll of known gradients, the global norm and
clipping against TensorFlow.
public_seq2seq.py: the teacher-forcing shift (also inside a tf.function), one traced
train_step (on a stand-in shift_right) and greedy decoding against the reference, and a
relative training check (held-out reversal token accuracy, on a stand-in shift_right).
public_text.py: windows, temperature softmax, inverse-CDF sampling (ties included) and
generation with fixed uniforms, and a relative training check (validation bits per
character).
readiness.py: the Seq2Seq train_step under XLA, mixed precision and varying batch sizes.
hidden.py: the same on fresh sizes, temperatures, strides and start tokens, and an LSTM's
gradient norms through time.
"""
MODULES = ("cells", "bptt", "seq2seq", "char_lm")
