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
# # Lab 14b companion: a VQ-VAE on the digits, and a PixelCNN prior over its codes
#
# This notebook trains the VQ-VAE of `vq.py` on the 8x8 digits (with the EMA codebook, and
# with the codebook loss), shows its reconstructions and how often each code is used, then
# fits the prior of `prior.py` to the code grids of the training digits and decodes grids
# drawn from it. Every figure is written as a PNG under `outputs/lab14b_vqvae/`, with
# TensorBoard logs next to them (`tensorboard --logdir outputs/lab14b_vqvae`).
# `DLKIT_QUICK=1` shrinks every budget so the whole file runs in seconds.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.data import load_digits
from dlkit.plots import save_figure, save_image_grid, save_loss_curves
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before the graded modules import it
tf = backend.tensorflow()

import prior  # noqa: E402  (the graded modules, next to this file)
import vq  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
out = run_dir("lab14b_vqvae", "quick" if QUICK else "full")
x_train, _ = load_digits("train")
x_test, _ = load_digits("test")

# %% [markdown]
# ## The VQ-VAE
#
# 32 codes of 8 numbers on a 4x4 grid: an image becomes 16 integers, at most
# 16 log2 32 = 80 bits. Two ways to train the codebook: the codebook loss (gradients), and
# the EMA of the vectors each code is chosen for. Both start from codes drawn among the
# encoder's first outputs (`initialize`). The test MSE and the perplexity of the test codes
# are measured by hand: the model has no test_step.

# %%
NUM_CODES = 32
epochs = 1 if QUICK else 80          # 21 steps of 64 per epoch
x_fit = x_train[:640] if QUICK else x_train


def test_metrics(model):
    reconstructions = np.asarray(model(x_test))
    codes = np.asarray(model.encode_codes(x_test))
    return (float(np.mean((reconstructions - x_test) ** 2)),
            float(vq.perplexity(codes, NUM_CODES)))


models, histories = {}, {}
variants = [("ema", 0.95)] if QUICK else [("ema", 0.95), ("codebook_loss", None)]
for name, decay in variants:
    reset_keras(0)
    model = vq.VQVAE((8, 8, 1), num_codes=NUM_CODES, code_dim=8, filters=8 if QUICK else 32,
                     ema_decay=decay)
    model.initialize(x_train[:512])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), steps_per_execution=10)
    model.optimizer.build(model.trainable_variables)  # avoids tracing train_step twice
    histories[name] = model.fit(x_fit, batch_size=64, epochs=epochs, verbose=0,
                                callbacks=tensorboard_callbacks(out / f"tb_vq_{name}"))
    models[name] = model
    mse, usage = test_metrics(model)
    print(f"VQ-VAE ({name}): test MSE {mse:.4f}, code perplexity {usage:.1f} of {NUM_CODES}")
print(f"the mean training image's test MSE: {np.mean((x_test - x_train.mean(0)) ** 2):.4f}")
save_loss_curves({f"{name} {key}": values for name, history in histories.items()
                  for key, values in history.history.items()
                  if key in ("reconstruction", "perplexity")},
                 out / "training_curves.png", title="VQ-VAE training (per epoch)", logy=True)

vqvae = models["ema"]
shown = x_test[:16]
save_image_grid(np.concatenate([shown, np.clip(np.asarray(vqvae(shown)), 0, 1)]),
                out / "reconstructions.png", ncols=16,
                title="test digits (top) and their reconstructions from 16 codes (bottom)")

# %% [markdown]
# ## How the codes are used
#
# A code that no vector chooses is wasted; the perplexity counts the codes in effective use.
# Each code decoded alone (a grid filled with it) shows what it stands for.

# %%
codes_train = np.asarray(vqvae.encode_codes(x_train))
codes_test = np.asarray(vqvae.encode_codes(x_test))
counts = np.bincount(codes_test.ravel(), minlength=NUM_CODES)
figure, axis = plt.subplots(figsize=(7, 3))
axis.bar(np.arange(NUM_CODES), counts / counts.sum())
axis.set(xlabel="code", ylabel="share of the test grid positions",
         title=f"code usage, perplexity {float(vq.perplexity(codes_test, NUM_CODES)):.1f}")
save_figure(figure, out / "code_usage.png")
filled = np.repeat(np.arange(NUM_CODES), 16).reshape(NUM_CODES, 4, 4)
save_image_grid(np.clip(vqvae.decode_codes(filled).numpy(), 0, 1), out / "codes_alone.png",
                title="each code decoded over the whole grid")

# %% [markdown]
# ## The prior over the code grids
#
# The prior is trained on the code grids of the training digits and scored on those of the
# test digits, in bits per code: log2 32 = 5 for a uniform prior.

# %%
reset_keras(0)
code_prior = prior.CodePrior(NUM_CODES, vqvae.grid_shape, embedding_dim=8,
                             filters=8 if QUICK else 32, num_layers=1 if QUICK else 3)
prior_epochs = 1 if QUICK else 80
code_prior.compile(optimizer=keras.optimizers.Adam(3e-3), steps_per_execution=10)
code_prior.optimizer.build(code_prior.trainable_variables)
prior_history = code_prior.fit(codes_train[:640] if QUICK else codes_train, batch_size=64,
                               epochs=prior_epochs, verbose=0,
                               validation_data=(codes_test,), validation_batch_size=len(codes_test),
                               callbacks=tensorboard_callbacks(out / "tb_prior"))
print(f"prior: test {prior_history.history['val_bits_per_code'][-1]:.3f} bits per code "
      f"(uniform: {np.log2(NUM_CODES):.3f})")
save_loss_curves({key: values for key, values in prior_history.history.items()
                  if key.endswith("bits_per_code")}, out / "prior_bits_per_code.png",
                 title="the prior's bits per code")

# %% [markdown]
# ## Sampling
#
# Grids drawn from the prior, one position at a time, then decoded; against grids whose
# codes are drawn independently with the test frequencies (what the decoder makes of codes
# that ignore each other).

# %%
n = 16 if QUICK else 48
uniform = np.random.default_rng(1).random((n, *vqvae.grid_shape))
samples = prior.sample_images(vqvae, tf.function(code_prior), uniform)
independent = np.random.default_rng(2).choice(NUM_CODES, p=counts / counts.sum(),
                                              size=(n, *vqvae.grid_shape))
save_image_grid(np.clip(samples, 0, 1), out / "prior_samples.png", ncols=16,
                title="decoded samples of the prior")
save_image_grid(np.clip(vqvae.decode_codes(independent).numpy(), 0, 1),
                out / "independent_codes.png", ncols=16,
                title="decoded grids of independent codes")
