# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lab 6b companion: attention over a bidirectional encoder, and beam search
#
# This notebook runs the pieces of the lab end to end: your task generators, your
# bidirectional encoder next to Keras's, a seq2seq model with your additive attention
# trained to reverse digit sequences (against the same model without attention), a picture
# of its attention weights, and your beam search decoding it. Figures go to
# `outputs/lab06b_attention/` as PNGs, TensorBoard logs next to them.
#
# Run it as a script (`python notebook.py`) or open it as a notebook with jupytext.
# `DLKIT_QUICK=1` shrinks every budget so the whole file runs in seconds.

# %%
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.plots import save_figure, save_loss_curves
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before the graded modules import it

import attention  # noqa: E402  (the graded modules, next to this file)
import beam  # noqa: E402
import encoders  # noqa: E402
import tasks  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
rng = np.random.default_rng(0)
out = run_dir("lab06b_attention", "quick" if QUICK else "full")

# %% [markdown]
# ## 1. The tasks
#
# One example of each; the same seed always gives the same examples.

# %%
for name, (sources, targets) in {
        "copy": tasks.make_copy_task(2, 6, np.random.default_rng(1)),
        "reversal": tasks.make_copy_task(2, 6, np.random.default_rng(1), reverse=True),
        "add": tasks.make_add_task(2, 3, np.random.default_rng(1)),
        "count": tasks.make_count_task(2, 10, np.random.default_rng(1))}.items():
    for source, target in zip(sources, targets):
        print(f"{name:9s} {source} -> {target}")

# %% [markdown]
# ## 2. Your bidirectional combination against Keras's
#
# The same weights in both: the largest difference should be at the level of float32
# rounding.

# %%
x = rng.normal(size=(4, 7, 3)).astype("float32")
keras_bi = keras.layers.Bidirectional(keras.layers.GRU(5, return_sequences=True,
                                                       return_state=True))
expected = keras_bi(x)
forward, backward = (keras.layers.GRU(5, return_sequences=True, return_state=True)
                     for _ in range(2))
forward(x), backward(x)
forward.set_weights(keras_bi.forward_layer.get_weights())
backward.set_weights(keras_bi.backward_layer.get_weights())
outputs, state = encoders.bidirectional(forward, backward, x)
print("outputs: max |difference| =", float(np.max(np.abs(np.asarray(outputs) - expected[0]))))
stacked_outputs, states = encoders.StackedBiEncoder(5, num_layers=3)(x)
print("stacked encoder:", stacked_outputs.shape, [tuple(s.shape) for s in states])

# %% [markdown]
# ## 3. Reversal with and without attention
#
# Both models read the source with a bidirectional GRU. Without attention the decoder knows
# the source only through its initial state; with attention it reads the encoder's outputs
# at every step. Sources are 3/4 to all of LENGTH digits, padded with PAD; targets end with
# END. The accuracy is that of greedy decoding on held-out sequences.

# %%
LENGTH = 8 if QUICK else 12


def padded_reversal(n, length):
    lengths = rng.integers(3 * length // 4, length + 1, size=n)
    sources = np.full((n, length), attention.PAD, "int32")
    targets = np.full((n, length + 1), attention.PAD, "int32")
    for row, size in enumerate(lengths):
        digits, _ = tasks.make_copy_task(1, int(size), rng)
        sources[row, :size] = digits[0]
        targets[row, :size] = digits[0][::-1]
        targets[row, size] = attention.END
    return sources, targets


sources, targets = padded_reversal(128 if QUICK else 8192, LENGTH)
test_sources, test_targets = padded_reversal(200, LENGTH)


def train(use_attention, epochs):
    reset_keras(0)
    model = attention.AttentionSeq2Seq(units=32 if QUICK else 64,
                                       attention_units=32 if QUICK else 64,
                                       use_attention=use_attention)
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=16,
                  run_eagerly=QUICK)   # 2 quick steps cost less than tracing the step
    name = "attention" if use_attention else "no_attention"
    history = model.fit((sources, attention.teacher_forcing_inputs(targets)), targets,
                        batch_size=64, epochs=epochs, verbose=0,
                        callbacks=tensorboard_callbacks(out / f"tensorboard_{name}"))
    decoded = model.greedy_decode(test_sources, LENGTH + 1)
    real = test_targets != attention.PAD
    accuracy = float(((decoded == test_targets) & real).sum() / real.sum())
    print(f"{name:13s} greedy decoding: {accuracy:.1%} of held-out tokens right")
    return model, history


model, history = train(True, epochs=1 if QUICK else 15)
histories = {"attention": history.history["loss"]}
if not QUICK:
    _, history = train(False, epochs=15)
    histories["no attention"] = history.history["loss"]
save_loss_curves(histories, out / "reversal_loss.png", title="reversal: training loss")

# %% [markdown]
# ## 4. The attention weights
#
# Row t: how much decoder step t reads each source position. On reversal, step t needs
# position length − 1 − t: the weights form an anti-diagonal, and the padded positions
# (masked) get none.

# %%
weights = model.attention_weights(test_sources[:4],
                                  attention.teacher_forcing_inputs(test_targets[:4]))
figure = Figure(figsize=(12, 3.4))
FigureCanvasAgg(figure)
for i in range(4):
    axis = figure.add_subplot(1, 4, i + 1)
    axis.imshow(weights[i], cmap="viridis", vmin=0, vmax=1)
    axis.set_xticks(range(LENGTH), [str(t) if t != attention.PAD else "·"
                                    for t in test_sources[i]])
    axis.set_xlabel("source")
    axis.set_ylabel("decoder step")
figure.suptitle("additive attention weights on reversal")
figure.tight_layout()
save_figure(figure, out / "attention_weights.png", dpi=100)
steps = np.arange(LENGTH)
print("mean weight on the mirrored position:",
      float(np.mean(weights[:, steps, LENGTH - 1 - steps])))

# %% [markdown]
# ## 5. Beam search
#
# Your beam search on the trained model, one source at a time, against greedy decoding
# (beam width 1). The score is the log-probability of the decoded sequence.

# %%
for source in test_sources[:2 if QUICK else 5]:
    step, initial = model.step_function(source[None])
    for width in (1, 3):
        tokens, score = beam.beam_search(step, initial, attention.START, attention.END, width,
                                         LENGTH + 1)
        print(f"width {width}: {source} -> {tokens} (log p = {score:.3f})")

# %% [markdown]
# ## 6. Addition
#
# The add task is harder for a seq2seq model: each output digit depends on two source
# digits and a carry. With attention the model can look at the digits it needs.

# %%
if not QUICK:
    add_sources, add_targets = tasks.make_add_task(20000, 3, rng)
    test_add_sources, test_add_targets = tasks.make_add_task(500, 3, rng)
    reset_keras(0)
    adder = attention.AttentionSeq2Seq(units=64, attention_units=64)
    adder.compile(optimizer=keras.optimizers.Adam(0.005),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=16)
    adder.fit((add_sources, attention.teacher_forcing_inputs(add_targets)), add_targets,
              batch_size=64, epochs=20, verbose=0)
    decoded = adder.greedy_decode(test_add_sources, 4)
    print(f"addition: {np.mean(np.all(decoded == test_add_targets, axis=1)):.1%} of held-out "
          "sums right")
