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
# # Lab 7b companion: an encoder-decoder transformer, BERT pretraining, a key/value cache
#
# This notebook runs the lab end to end: your encoder-decoder trained to write numbers in
# digits, greedy decoding with and without your cache (timed), the cross-attention weights
# of the trained model, and your masked-language-model pretraining against training from
# scratch. Figures go to `outputs/lab07b_encoder_decoder/` as PNGs, TensorBoard logs next to
# them. `DLKIT_QUICK=1` shrinks every budget so the whole file runs in seconds.

# %%
import os
import time

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.plots import save_figure, save_loss_curves
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before the graded module imports it

import encoder_decoder as ed  # noqa: E402  (the graded module, next to this file)

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
rng = np.random.default_rng(0)
out = run_dir("lab07b_encoder_decoder", "quick" if QUICK else "full")

# %% [markdown]
# ## 1. The data
#
# Numbers in words, their digits, and the decoder's teacher-forcing inputs.

# %%
sources, targets = ed.make_translation_pairs(5, np.random.default_rng(1))
for source, target, given in zip(sources, targets, ed.teacher_forcing_inputs(targets)):
    words = [ed.WORDS[i - ed.FIRST_WORD] for i in source if i != ed.PAD]
    print(f"{' '.join(words):32s} -> target {target.tolist()}, decoder input {given.tolist()}")

# %% [markdown]
# ## 2. Training the translator
#
# Teacher forcing: one forward pass predicts every target token from the true tokens before
# it. The loss ignores PAD targets.

# %%
STEPS, EPOCHS = (4, 1) if QUICK else (1500, 10)
train_sources, train_targets = ed.make_translation_pairs(64 * STEPS, rng)
test_sources, test_targets = ed.make_translation_pairs(100 if QUICK else 500,
                                                      np.random.default_rng(99))
source_length, target_length = train_sources.shape[1], train_targets.shape[1]
reset_keras(0)
model = ed.Transformer(source_length, target_length, d_model=32, num_heads=2,
                       num_layers=1 if QUICK else 2, mlp_dim=64)
model.compile(optimizer=keras.optimizers.Adam(5e-3),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                              ignore_class=ed.PAD),
              run_eagerly=QUICK)   # a few quick steps cost less than tracing the step
history = model.fit((train_sources, ed.teacher_forcing_inputs(train_targets)), train_targets,
                    batch_size=64, epochs=EPOCHS, steps_per_epoch=STEPS // EPOCHS, verbose=0,
                    callbacks=tensorboard_callbacks(out / "tensorboard_translation"))
save_loss_curves({"translation": history.history["loss"]}, out / "translation_loss.png",
                 title="teacher-forced cross-entropy")
decoded = model.greedy_decode(test_sources, target_length)
print(f"greedy decoding: {np.mean(np.all(decoded == test_targets, axis=1)):.1%} of held-out "
      "numbers exactly right")

# %% [markdown]
# ## 3. Greedy decoding with and without the cache
#
# Both must give the same tokens. The cache saves recomputing the past at every step; at
# these tiny sizes Python's per-step overhead hides much of the saving, so the timing uses
# longer outputs (the decoder runs on past EOS) and the median of 5 runs. (DLKIT_QUICK=1
# times the trained model once, on its own output length: a smoke test, not a timing.)

# %%
cached = model.greedy_decode_cached(test_sources, target_length)
print("same tokens with the cache:", bool(np.array_equal(cached, decoded)))
LONG = target_length if QUICK else 64
timing_model = model if QUICK else ed.Transformer(source_length, LONG, d_model=32,
                                                  num_heads=2, num_layers=2, mlp_dim=64)
sources_to_time = test_sources[:8 if QUICK else 32]


def median_seconds(decode, repeats=1 if QUICK else 5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        decode(sources_to_time, LONG)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


uncached_s = median_seconds(timing_model.greedy_decode)
cached_s = median_seconds(timing_model.greedy_decode_cached)
print(f"{LONG} tokens for {len(sources_to_time)} sources: {uncached_s:.3f} s without the cache, {cached_s:.3f} s "
      f"with it ({uncached_s / cached_s:.1f} times faster)")

# %% [markdown]
# ## 4. The cross-attention weights
#
# Row t: how much decoder position t reads each source word, in the last decoder block
# (the heads averaged). "hundred" writes no digit, and a digit no word says (the 0 of
# "three hundred five") must be read from the words around it.

# %%
examples = ed.numbers_to_pairs([342, 305, 17, 990], source_length, target_length)[0]
example_targets = model.greedy_decode(examples, target_length)
memory, source_mask = model.encode(examples)
hidden = model.embed_target(ed.teacher_forcing_inputs(example_targets))
for block in model.decoder_blocks[:-1]:
    hidden = block(hidden, memory, source_mask)
last = model.decoder_blocks[-1]
hidden = last.norm1(hidden + last.self_attention(
    hidden, hidden, attention_mask=ed.causal_mask(target_length)))
_, weights = last.cross_attention(hidden, memory, attention_mask=source_mask,
                                  return_weights=True)
weights = np.asarray(weights).mean(axis=1)
figure = Figure(figsize=(12, 3.4))
FigureCanvasAgg(figure)
for i, (source, target) in enumerate(zip(examples, example_targets)):
    axis = figure.add_subplot(1, 4, i + 1)
    axis.imshow(weights[i], cmap="viridis", vmin=0, vmax=1)
    axis.set_xticks(range(source_length), [ed.WORDS[w - ed.FIRST_WORD] if w != ed.PAD
                                           else "·" for w in source], rotation=60)
    axis.set_yticks(range(target_length), [str(t - ed.FIRST_DIGIT) if t >= ed.FIRST_DIGIT
                                           else {ed.EOS: "EOS", ed.PAD: "·"}[t]
                                           for t in target])
    axis.set_ylabel("output")
figure.suptitle("cross-attention weights (decoder output x source word)")
figure.tight_layout()
save_figure(figure, out / "cross_attention.png", dpi=100)

# %% [markdown]
# ## 5. BERT: masked-language-model pretraining, then fine-tuning
#
# Pretrain the encoder on unlabelled sentences (your masking and loss), then fine-tune a
# classifier on few labels of the grammaticality task, against the same classifier trained
# from scratch on the same labels.

# %%
PRETRAIN = 4 if QUICK else 1000
LABELS, FINE_TUNE_EPOCHS = 96, 1 if QUICK else 10
sentences, _ = ed.make_translation_pairs(64 * PRETRAIN, rng)
inputs, labels = ed.mask_tokens(sentences, rng)
print("one masked sentence:", sentences[0].tolist(), "->", inputs[0].tolist(),
      "labels", labels[0].tolist())
reset_keras(0)
pretrained = ed.MaskedLanguageModel(source_length)
pretrained.compile(optimizer=keras.optimizers.Adam(5e-3), loss=ed.masked_lm_loss,
                   run_eagerly=QUICK)
mlm_history = pretrained.fit(inputs, labels, batch_size=64, epochs=EPOCHS,
                             steps_per_epoch=PRETRAIN // EPOCHS, verbose=0,
                             callbacks=tensorboard_callbacks(out / "tensorboard_mlm"))
x, y = ed.make_grammaticality_task(LABELS, rng)
x_test, y_test = ed.make_grammaticality_task(100 if QUICK else 1000, np.random.default_rng(7))
curves = {"masked-LM pretraining": mlm_history.history["loss"]}
for name in ("fine-tuned", "from scratch"):
    reset_keras(0)
    classifier = ed.SentenceClassifier(source_length)
    if name == "fine-tuned":
        ed.transfer_encoder(pretrained, classifier)
    classifier.compile(optimizer=keras.optimizers.Adam(5e-3),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       run_eagerly=QUICK)
    fitted = classifier.fit(x, y, batch_size=32, epochs=FINE_TUNE_EPOCHS, verbose=0)
    curves[name] = fitted.history["loss"]
    accuracy = np.mean(np.argmax(classifier(x_test), axis=-1) == y_test)
    print(f"{name:13s}: {accuracy:.1%} of held-out sentences classified right")
save_loss_curves(curves, out / "bert_loss.png", title="pretraining and fine-tuning")
