# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lab 6 companion: recurrent networks
#
# This notebook runs the pieces of the lab end to end: your three cells next to Keras's,
# gradient norms through time (vanishing for a small tanh RNN, kept alive by an LSTM), a
# GRU encoder-decoder that learns to reverse digit sequences with teacher forcing, and a
# character-level language model of the shipped story, sampled at several temperatures with
# your own LSTM cell inside `keras.layers.RNN`. Figures go to `outputs/lab06_rnn/` as PNGs,
# TensorBoard logs next to them (`tensorboard --logdir outputs/lab06_rnn`).
#
# Run it as a script (`python notebook.py`) or open it as a notebook with jupytext.
# `DLKIT_QUICK=1` shrinks every budget so the whole file runs in seconds.

# %%
import os

import numpy as np

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.plots import save_loss_curves
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before the graded modules import it

import bptt  # noqa: E402  (the graded modules, next to this file)
import cells  # noqa: E402
import char_lm  # noqa: E402
import seq2seq  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
rng = np.random.default_rng(0)
out = run_dir("lab06_rnn", "quick" if QUICK else "full")

# %% [markdown]
# ## 1. Your cells against Keras's
#
# The same weights in both: the largest difference over a whole sequence should be at the
# level of float32 rounding (about 1e-7).

# %%
x = rng.normal(size=(4, 10, 3)).astype("float32")
for mine, theirs in [(cells.VanillaRNNCell(8), keras.layers.SimpleRNNCell(8)),
                     (cells.LSTMCell(8), keras.layers.LSTMCell(8)),
                     (cells.GRUCell(8), keras.layers.GRUCell(8))]:
    reference = keras.layers.RNN(theirs, return_sequences=True)
    expected = reference(x)
    ours = keras.layers.RNN(mine, return_sequences=True)
    ours.build(x.shape)
    mine.set_weights(theirs.get_weights())
    gap = float(np.max(np.abs(np.asarray(ours(x)) - np.asarray(expected))))
    print(f"{type(mine).__name__:15s} max |difference| = {gap:.2e}")

# %% [markdown]
# ## 2. Gradients through time
#
# The norm of dL/dh_t for L = sum(h_T), for t = 0..T-1. A tanh RNN multiplies the gradient
# by its recurrent Jacobian at every step back: with small recurrent weights it shrinks
# geometrically; with large ones it can grow. The LSTM's additive memory path
# c_t = f * c_{t-1} + ... lets it travel further when the forget gate is open.

# %%
def norms_through_time(cell, scale, length=30, units=16):
    cell.build((None, 3))
    kernel, recurrent = cell.weights[0], cell.weights[1]
    kernel.assign(rng.normal(scale=0.5, size=kernel.shape).astype("float32"))
    recurrent.assign(rng.normal(scale=scale / np.sqrt(units), size=recurrent.shape)
                     .astype("float32"))
    states = [np.zeros((8, units), "float32") for _ in range(np.size(cell.state_size))]
    inputs = rng.normal(size=(8, length, 3)).astype("float32")
    return np.asarray(bptt.state_gradient_norms(cell, inputs, states))


curves = {"tanh RNN, recurrent scale 0.5": norms_through_time(keras.layers.SimpleRNNCell(16), 0.5),
          "tanh RNN, recurrent scale 2.0": norms_through_time(keras.layers.SimpleRNNCell(16), 2.0),
          "LSTM (forget bias 1), scale 1.0": norms_through_time(keras.layers.LSTMCell(16), 1.0)}
for name, norms in curves.items():
    print(f"{name:34s} |dL/dh_0| / |dL/dh_T| = {norms[0] / norms[-1]:.2e}")
# Plotted against the step t (the x axis says "epoch": it is the time step here).
save_loss_curves(curves, out / "gradient_norms_through_time.png",
                 title="|dL/dh_t| for L = sum(h_T)", logy=True)

# %% [markdown]
# Clipping by the global norm rescales all gradients by one factor, so the update keeps its
# direction; Keras optimizers do it with `global_clipnorm=`.

# %%
gradients = [rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(4,)).astype("float32")]
clipped, norm = bptt.clip_by_global_norm(gradients, 1.0)
print(f"global norm {float(norm):.3f} -> {float(bptt.global_norm(clipped)):.3f}")

# %% [markdown]
# ## 3. Sequence to sequence: reversing digits
#
# The decoder trains with teacher forcing (it reads the true previous digit) and is tested
# with greedy decoding (it reads its own previous guess), on sequences it never saw.

# %%
LENGTH = 4
sources, targets = seq2seq.make_reverse_task(512 if QUICK else 8192, LENGTH, rng)
test_sources, test_targets = seq2seq.make_reverse_task(500, LENGTH, rng)
print("source", sources[0], "-> target", targets[0], "-> decoder reads",
      np.asarray(seq2seq.shift_right(targets[:1], seq2seq.START_TOKEN))[0])

reset_keras(0)
model = seq2seq.Seq2Seq(embed_dim=16, units=64)
# A smoke run takes one step per execution: a multi-step loop traces train_step twice.
model.compile(optimizer=keras.optimizers.Adam(0.02 if QUICK else 0.01),
              steps_per_execution=1 if QUICK else 32)
# (Validation is left out in quick mode: tracing evaluate() costs as much as a few epochs.)
history = model.fit(sources, targets, batch_size=64, epochs=1 if QUICK else 15,
                    validation_data=None if QUICK else (test_sources, test_targets), verbose=0,
                    callbacks=tensorboard_callbacks(out / "tensorboard_seq2seq"))
save_loss_curves(history, out / "seq2seq_loss.png", title="seq2seq: reversal (teacher forcing)")

predicted = np.asarray(model.greedy_decode(test_sources, LENGTH))
tokens, whole = seq2seq.sequence_accuracy(predicted, test_targets)
print(f"held-out greedy decoding: {tokens:.1%} of digits, {whole:.1%} of whole sequences right")
for source, guess in zip(test_sources[:5], predicted[:5]):
    print(source, "->", guess)

# %%
path = out / "seq2seq.keras"
model.save(path)
reloaded = keras.saving.load_model(path)
same = np.array_equal(np.asarray(reloaded.greedy_decode(test_sources[:50], LENGTH)),
                      predicted[:50])
print("reloaded from .keras, decodes the same:", same)

# %% [markdown]
# ## 4. A character-level language model
#
# The graded `CharLanguageModel` uses Keras's GRU. Here we build the same kind of model with
# YOUR LSTM cell inside `keras.layers.RNN` and train it on 90 % of the story, measuring the
# cross-entropy on the last 10 % in bits per character (uniform guessing over the 46
# characters would cost log2(46) = 5.5 bits).

# %%
text = char_lm.load_corpus()
vocabulary = char_lm.Vocabulary(text)
ids = vocabulary.encode(text)
split = int(0.9 * len(ids))
inputs, next_chars = char_lm.next_char_examples(ids[:split], 32, stride=4)
valid_inputs, valid_next = char_lm.next_char_examples(ids[split:], 32)
if QUICK:  # a smoke run: eight batches of windows
    inputs, next_chars = inputs[:256], next_chars[:256]
    valid_inputs, valid_next = valid_inputs[:256], valid_next[:256]
print(len(vocabulary), "characters;", len(inputs), "training windows")

reset_keras(0)
language_model = keras.Sequential([
    keras.Input((None,), dtype="int32"),
    keras.layers.Embedding(len(vocabulary), 16),
    keras.layers.RNN(cells.LSTMCell(32 if QUICK else 128), return_sequences=True),
    keras.layers.Dense(len(vocabulary))])
language_model.compile(optimizer=keras.optimizers.Adam(0.01),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       steps_per_execution=1 if QUICK else 16)
language_model.optimizer.build(language_model.trainable_variables)
history = language_model.fit(inputs, next_chars, batch_size=32, epochs=1 if QUICK else 30,
                             validation_data=None if QUICK else (valid_inputs, valid_next),
                             verbose=0,
                             callbacks=tensorboard_callbacks(out / "tensorboard_char_lm"))
bits = {name: [char_lm.bits_per_character(v) for v in values]
        for name, values in history.history.items()}
save_loss_curves(bits, out / "char_lm_bits_per_character.png",
                 title="character LM (your LSTMCell): bits per character")
valid_nats = float(np.mean(keras.losses.sparse_categorical_crossentropy(
    valid_next, language_model(valid_inputs), from_logits=True)))
print(f"validation: {char_lm.bits_per_character(valid_nats):.2f} bits per character")

# %% [markdown]
# Sampling needs a model that carries its state from one character to the next: the graded
# `CharLanguageModel` (Keras's GRU) has a `step` method for that. We train it on the same
# windows, then let `generate` continue a prompt at several temperatures: low temperatures
# repeat the most common words, high ones invent spellings.

# %%
reset_keras(0)
gru_model = char_lm.CharLanguageModel(len(vocabulary), units=32 if QUICK else 128)
gru_model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=1 if QUICK else 16)
gru_model.fit(inputs, next_chars, batch_size=32, epochs=1 if QUICK else 30, verbose=0)
valid_nats = float(np.mean(keras.losses.sparse_categorical_crossentropy(
    valid_next, gru_model(valid_inputs), from_logits=True)))
print(f"GRU model, validation: {char_lm.bits_per_character(valid_nats):.2f} bits per character")
prompt = vocabulary.encode("The keeper ")[None]
for temperature in (1.5,) if QUICK else (0.3, 0.7, 1.0, 1.5):
    uniforms = np.random.default_rng(1).random((1, 10 if QUICK else 300))
    sampled = char_lm.generate(gru_model, prompt, uniforms.shape[1], temperature, uniforms)
    print(f"--- temperature {temperature}\nThe keeper {vocabulary.decode(sampled)}")
