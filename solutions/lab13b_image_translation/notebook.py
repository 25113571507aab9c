# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lab 13b companion: shapes to paintings, with pairs (Pix2Pix) and without (CycleGAN)
#
# This notebook trains the Pix2Pix of `pix2pix.py` on paired sketches and paintings, shows
# the window one PatchGAN logit sees, and trains the CycleGAN of `cyclegan.py` on unpaired
# silhouettes and paintings. Every figure is written as a PNG under `outputs/lab13b_image_translation/`, with
# TensorBoard logs next to them (`tensorboard --logdir outputs/lab13b_image_translation`).
# `DLKIT_QUICK=1` shrinks every budget so the whole file runs in seconds.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.data import arrays_dataset, make_translation_pairs, make_unpaired_translation
from dlkit.plots import save_figure, save_image_grid, save_loss_curves
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before the graded modules import it
tf = backend.tensorflow()

import cyclegan  # noqa: E402  (the graded modules, next to this file)
import pix2pix  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
out = run_dir("lab13b_image_translation", "quick" if QUICK else "full")
SHAPE = (16, 16, 3)

# %% [markdown]
# ## The data
#
# Top rows: sketches (the shapes' outlines) and the paintings of the same shapes, the pairs
# Pix2Pix learns from. Bottom rows: silhouettes and paintings of unrelated shapes, the two
# piles CycleGAN learns from.

# %%
pairs = make_translation_pairs(256 if QUICK else 4000, seed=0)
unpaired = make_unpaired_translation(256 if QUICK else 4000, seed=1)
test = make_translation_pairs(64 if QUICK else 500, seed=2)
save_image_grid(np.concatenate([pairs["sketches"][:8], pairs["paintings"][:8],
                                unpaired["silhouettes"][:8], unpaired["paintings"][:8]]),
                out / "data.png", ncols=8, title="paired (top), unpaired (bottom)")


def test_l1(generator, source="sketches"):
    """Mean |G(source) - painting| over held-out shapes: 0 is a perfect translation."""
    return float(np.mean(np.abs(np.asarray(generator(test[source])) - test["paintings"])))


for source in ("sketches", "silhouettes"):
    print(f"test L1 of the {source} themselves: "
          f"{np.mean(np.abs(test[source] - test['paintings'])):.3f}")


def adam():
    return keras.optimizers.Adam(2e-3, beta_1=0.5)


# %% [markdown]
# ## Pix2Pix
#
# Your U-Net against your PatchGAN conditioned on the sketch, λ = 100. One epoch is 100 steps
# of 32 pairs; the test L1 is measured after each epoch.

# %%
epochs, steps = (1, 2) if QUICK else (20, 100)
generator = pix2pix.unet_generator(SHAPE)
model = pix2pix.Pix2Pix(generator, pix2pix.patch_discriminator(SHAPE, source_shape=SHAPE))
model.compile(g_optimizer=adam(), d_optimizer=adam(), steps_per_execution=1 if QUICK else 50,
              run_eagerly=QUICK)  # quick: two steps cost less than tracing them
curve = []
track = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: curve.append(
    test_l1(generator)))
history = model.fit(arrays_dataset((pairs["sketches"], pairs["paintings"]), batch_size=32,
                                   repeat=True), epochs=epochs, steps_per_epoch=steps, verbose=0,
                    callbacks=[track, *tensorboard_callbacks(out / "tb_pix2pix")])
print(f"Pix2Pix test L1 after {epochs * steps} steps: {curve[-1]:.3f}")
save_loss_curves({**history.history, "test_l1": curve}, out / "pix2pix_losses.png",
                 title="Pix2Pix", logy=True)
translated = np.asarray(generator(test["sketches"][:8]))
save_image_grid(np.concatenate([test["sketches"][:8], translated, test["paintings"][:8]]),
                out / "pix2pix_translations.png", ncols=8,
                title="sketch / Pix2Pix's painting / the true painting")

# %% [markdown]
# ## What one PatchGAN logit sees
#
# The gradient of one patch logit of a fresh PatchGAN with respect to the painting it judges:
# non-zero exactly on its receptive field, `receptive_field([4, 4, 1], [2, 2, 1])` pixels
# across.

# %%
size, jump = pix2pix.receptive_field([4, 4, 1], [2, 2, 1])
critic = pix2pix.patch_discriminator(SHAPE, source_shape=SHAPE)
source, image = (tf.constant(test[k][:1]) for k in ("sketches", "paintings"))
with tf.GradientTape() as tape:
    tape.watch(image)
    logit = critic([source, image])[0, 1, 2, 0]
seen = np.abs(tape.gradient(logit, image).numpy()[0]).sum(-1)
figure, axes = plt.subplots(1, 2, figsize=(6, 3))
axes[0].imshow(test["paintings"][0])
axes[0].set_title("painting")
axes[1].imshow(seen > 0, cmap="gray")
axes[1].set_title(f"seen by patch (1, 2): {size}x{size}")
for axis in axes:
    axis.set_axis_off()
save_figure(figure, out / "patch_window.png")
print(f"receptive field {size} pixels, patches {jump} pixels apart")

# %% [markdown]
# ## CycleGAN
#
# Two U-Nets (G: silhouette -> painting, F: painting -> silhouette) and two unconditioned
# PatchGANs, trained on the unpaired piles. No pair is ever shown, yet G's translations are
# compared with the true paintings of the held-out silhouettes. The grid shows, per column,
# a silhouette x, G(x), F(G(x)), then a painting y, F(y), G(F(y)).
#
# Why silhouettes, not sketches? A sketch is mostly blank paper: F can nearly satisfy the
# cycle loss by drawing blank paper, and the thin lines it would have to keep cost little.
# Try `unpaired["sketches"]` below and look at F(G(x)).

# %%
reset_keras(1)
epochs, steps = (1, 2) if QUICK else (20, 150)
networks = [pix2pix.unet_generator(SHAPE), pix2pix.unet_generator(SHAPE),
            pix2pix.patch_discriminator(SHAPE), pix2pix.patch_discriminator(SHAPE)]
model = cyclegan.CycleGAN(*networks, seed=0)
model.compile(g_optimizer=adam(), d_optimizer=adam(), steps_per_execution=1 if QUICK else 50,
              run_eagerly=QUICK)  # quick: two steps cost less than tracing them
curve = []
track = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: curve.append(
    test_l1(model.generator_g, "silhouettes")))
history = model.fit(arrays_dataset((unpaired["silhouettes"], unpaired["paintings"]), batch_size=16,
                                   repeat=True), epochs=epochs, steps_per_epoch=steps, verbose=0,
                    callbacks=[track, *tensorboard_callbacks(out / "tb_cyclegan")])
print(f"CycleGAN test L1 after {epochs * steps} steps: {curve[-1]:.3f}; the history holds "
      f"{int(model.history_y.count.numpy())} fakes of each domain")
save_loss_curves({**history.history, "test_l1": curve}, out / "cyclegan_losses.png",
                 title="CycleGAN", logy=True)
x, y = test["silhouettes"][:8], test["paintings"][:8]
g_x = np.asarray(model.generator_g(x))
f_y = np.asarray(model.generator_f(y))
save_image_grid(np.concatenate([x, g_x, np.asarray(model.generator_f(g_x)),
                                y, f_y, np.asarray(model.generator_g(f_y))]),
                out / "cyclegan_translations.png", ncols=8,
                title="x, G(x), F(G(x)); y, F(y), G(F(y))")

# %% [markdown]
# ## Saving and loading
#
# Both models save as `.keras` with their networks, settings, optimizers and (CycleGAN) the
# image histories, and load back computing the same translations.

# %%
model.save(out / "cyclegan.keras")
loaded = keras.models.load_model(out / "cyclegan.keras")
print("reloaded CycleGAN, same translations:",
      np.allclose(np.asarray(loaded(x)), g_x, atol=1e-6))
