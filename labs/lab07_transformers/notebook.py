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
# # Lab 7 companion: attention, a mini-GPT and a Vision Transformer
#
# This notebook uses the pieces of `transformer.py`: it draws attention weights under the
# causal and padding masks and the sinusoidal positional encodings, trains the mini-GPT on
# a toy language of repeated motifs (and watches where its heads look), decodes greedily and
# with temperatures, then trains a small Vision Transformer on procedural shapes. Figures go
# to `outputs/lab07_transformers/`, TensorBoard logs next to them
# (`tensorboard --logdir outputs/lab07_transformers`).
#
# Run it as a script (`python notebook.py`) or open it with jupytext. `DLKIT_QUICK=1`
# shrinks every budget so the whole file runs in seconds.

# %%
import os

import numpy as np

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.data import SHAPE_CLASSES, make_shapes
from dlkit.plots import save_image_grid, save_loss_curves
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before transformer.py imports it

import transformer  # noqa: E402  (the graded module, next to this file)

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
out = run_dir("lab07_transformers", "quick" if QUICK else "full")

# %% [markdown]
# ## Attention weights under masks
#
# Eight positions attend to each other with random queries and keys. Without a mask every
# row is a full distribution; the causal mask keeps the lower triangle (t sees s <= t); a
# padding mask hides the last three keys from every query. Masked weights are exactly 0 and
# every row still sums to 1, because the mask acts on the scores, before the softmax.

# %%
rng = np.random.default_rng(0)
q, k, v = (rng.normal(size=(1, 8, 4)).astype("float32") for _ in range(3))
tokens = np.array([[5, 3, 2, 7, 1, 0, 0, 0]])
masks = {"none": None, "causal": transformer.causal_mask(8),
         "padding": transformer.padding_mask(tokens)}
pictures = []
for name, mask in masks.items():
    _, weights = transformer.scaled_dot_product_attention(q, k, v, mask)
    weights = np.asarray(weights)[0]
    print(f"{name:8s} row sums {np.round(weights.sum(-1), 4)}")
    pictures.append(weights / weights.max())
save_image_grid(np.stack(pictures), out / "attention_masks.png", ncols=3,
                titles=list(masks), title="attention weights (rows: queries, columns: keys)")

# %% [markdown]
# ## Sinusoidal positional encodings
#
# Row t is the encoding of position t: low columns oscillate fast, high columns slowly. The
# dot product of two encodings depends only on their distance, which the second picture
# shows as bands parallel to the diagonal.

# %%
pe = np.asarray(transformer.sinusoidal_positional_encoding(64, 32))
similarity = pe @ pe.T
save_image_grid((pe[None] + 1) / 2, out / "positional_encodings.png",
                title="PE: 64 positions (rows) x 32 features")
save_image_grid(((similarity - similarity.min()) / np.ptp(similarity))[None],
                out / "positional_similarity.png", title="PE[t] . PE[s]")

# %% [markdown]
# ## A toy language for the mini-GPT
#
# Each sequence repeats a random motif of 2, 3 or 4 tokens: `5 2 7 5 2 7 5 2 ...`. Once a
# period has gone by, each next token is the one `period` places back, so the model can
# only predict it by attending to the right earlier position: a job for attention, not for
# a bigram table. The first tokens of each sequence are random, so the best possible loss
# is not 0 (about 0.35 nats per token for these lengths).

# %%
def toy_language(n, length, vocab_size, seed, periods=(2, 3, 4)):
    """n sequences of `length` tokens: a random motif (ids 1 .. vocab_size - 1) repeated."""
    draw = np.random.default_rng(seed)
    period = draw.choice(periods, size=n)
    motif = draw.integers(1, vocab_size, size=(n, max(periods)))
    positions = np.arange(length)
    return motif[np.arange(n)[:, None], positions[None, :] % period[:, None]].astype("int32")


VOCAB, LENGTH = 8, 12
train = toy_language(128 if QUICK else 12800, LENGTH + 1, VOCAB, seed=1)
test = toy_language(512, LENGTH + 1, VOCAB, seed=2)
print(test[:3])

# %% [markdown]
# ## Training the mini-GPT
#
# `fit` runs the model's own `train_step`: the next-token loss of `sequences[:, 1:]` from
# `sequences[:, :-1]`. The autograder's training check uses this model for 100 steps.

# %%
reset_keras(0)
gpt = transformer.MiniGPT(VOCAB, LENGTH, d_model=32, num_heads=2,
                          num_layers=1 if QUICK else 2, mlp_dim=64)
# A smoke run takes one step per execution: a multi-step loop traces train_step twice.
gpt.compile(optimizer=keras.optimizers.Adam(3e-3), steps_per_execution=1 if QUICK else 20)
history = gpt.fit(train, validation_data=None if QUICK else (test,), batch_size=32,
                  epochs=1 if QUICK else 10, verbose=0,
                  callbacks=tensorboard_callbacks(out / "tb_gpt"))
save_loss_curves(history, out / "gpt_loss.png", title="mini-GPT: next-token loss (nats)")
loss, accuracy = (float(v) for v in gpt.next_token_loss(test))
print(f"held-out next-token loss {loss:.3f} nats, accuracy {accuracy:.1%}")

# %% [markdown]
# Where does each head look? The attention weights of the first block on one test sequence
# (the given layers let us call its sublayers one by one). On a motif of period p, a head
# that predicts well puts its weight p - 1 positions back (the token that comes next).

# %%
sequence = test[:1, :-1]
hidden = gpt.embed(sequence)
block = gpt.blocks[0]
normed = block.norm1(hidden)
_, weights = block.attention(normed, normed, attention_mask=transformer.causal_mask(LENGTH),
                             return_attention_scores=True)
weights = np.asarray(weights)[0]
print("sequence:", sequence[0])
save_image_grid(weights / weights.max(axis=(1, 2), keepdims=True), out / "gpt_attention.png",
                ncols=len(weights), titles=[f"head {h}" for h in range(len(weights))],
                title="block 0 attention on one test sequence")

# %% [markdown]
# ## Decoding: greedy and sampled
#
# Greedy decoding continues a prompt with the most likely token; sampling draws from
# softmax(logits / T). A low temperature sharpens the distribution towards greedy, a high
# one flattens it towards uniform (and breaks the pattern).

# %%
prompt, new_tokens = test[:4, :5], 4 if QUICK else 10
print("prompt:\n", prompt)
print("greedy:\n", np.asarray(gpt.generate(prompt, new_tokens))[:, 5:])
for temperature in (0.5, 1.5):
    sampled = np.asarray(gpt.generate(prompt, new_tokens, temperature=temperature, seed=0))
    print(f"T = {temperature}:\n", sampled[:, 5:])

gpt.save(out / "mini_gpt.keras")
reloaded = keras.saving.load_model(out / "mini_gpt.keras")
print("reloaded, largest logit difference:",
      float(np.abs(np.asarray(reloaded(sequence)) - np.asarray(gpt(sequence))).max()))

# %% [markdown]
# ## A Vision Transformer on shapes
#
# 16x16 images of circles, squares and triangles are cut into 4x4 patches (16 tokens), a
# class token is prepended, and the class token's output is classified. Without the
# convolutions' built-in locality, a ViT learns slowly from little data: compare with the
# CNN of lab 5.

# %%
reset_keras(0)
shape_options = {"min_scale": 0.5, "max_scale": 0.9}
shapes_train = make_shapes(200 if QUICK else 4000, size=16, seed=1, **shape_options)
shapes_test = make_shapes(500, size=16, seed=2, **shape_options)
vit = transformer.VisionTransformer(16, 4, 3, d_model=32, num_heads=2,
                                    num_layers=1 if QUICK else 2, mlp_dim=64)
vit.compile(optimizer=keras.optimizers.Adam(3e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"], steps_per_execution=1 if QUICK else 20)
vit_history = vit.fit(shapes_train["images"], shapes_train["labels"], batch_size=50,
                      epochs=1 if QUICK else 30, verbose=0,
                      validation_data=None if QUICK else (shapes_test["images"],
                                                          shapes_test["labels"]))
save_loss_curves(vit_history, out / "vit_loss.png", title="ViT on shapes")
predicted = np.asarray(vit(shapes_test["images"])).argmax(axis=-1)
print(f"ViT held-out accuracy {np.mean(predicted == shapes_test['labels']):.1%}")

save_image_grid(shapes_test["images"][:16], out / "vit_predictions.png",
                titles=[SHAPE_CLASSES[i] for i in predicted[:16]], title="ViT predictions")
vit.save(out / "vit.keras")
print("written:", sorted(p.name for p in out.glob("*.png")))
