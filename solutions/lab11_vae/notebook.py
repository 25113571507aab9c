# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lab 11 companion: a variational autoencoder on 8x8 digits
#
# This notebook trains the VAE of `vae.py` and looks at what it learned: reconstructions,
# samples from the prior, the 2-D latent space coloured by digit, a latent traversal, and
# the held-out negative ELBO in nats. Every figure is written as a PNG under
# `outputs/lab11_vae/`; the TensorBoard logs go next to them
# (`tensorboard --logdir outputs/lab11_vae`).
#
# Run it as a script (`python notebook.py`) or open it as a notebook with jupytext.
# `DLKIT_QUICK=1` shrinks every budget so the whole file runs in seconds.

# %%
import math
import os

import numpy as np

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.data import load_digits
from dlkit.plots import save_image_grid, save_loss_curves, save_scatter_2d
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before vae.py imports it

import vae  # noqa: E402  (the graded module, next to this file)

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)

# %% [markdown]
# ## The data: binarised digits
#
# The 8x8 digits have 17 grey levels. We threshold them at 0.5 so that every pixel really is
# a Bernoulli variable: then -log p(x|z) is a log-probability, and the negative ELBO is an
# upper bound on -log p(x) in nats (with grey levels it would only be a cross-entropy).

# %%
x_train, y_train = load_digits("train", flatten=True, binarize=True)
x_test, y_test = load_digits("test", flatten=True, binarize=True)
print("train", x_train.shape, "test", x_test.shape, "pixels on:", round(float(x_train.mean()), 3))

out = run_dir("lab11_vae", "quick" if QUICK else "full")
save_image_grid(x_test[:32].reshape(-1, 8, 8), out / "data.png", title="binarised test digits")


def images(x):
    """(N, 64) -> (N, 8, 8, 1) for the plots and TensorBoard."""
    return np.asarray(x).reshape(-1, 8, 8, 1)


# %% [markdown]
# `loss_terms(x, epsilon)` gives the negative ELBO for given noise; averaging it over many
# noise draws gives a sharp estimate of the held-out negative ELBO (`evaluate` uses one).

# %%
def heldout_negative_elbo(model, x, draws=16, seed=0):
    """Mean over `draws` noise draws of the negative ELBO of x (beta = 1), in nats."""
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(draws):
        epsilon = rng.normal(size=(len(x), model.latent_dim)).astype("float32")
        _, reconstruction, kl = model.loss_terms(x, epsilon)
        total += float(reconstruction + kl)
    return total / draws


# %% [markdown]
# ## A VAE with a 2-D latent space
#
# Two latent dimensions are too few for a good likelihood, but they can be drawn.

# %%
model = vae.VAE(input_dim=64, latent_dim=2, hidden_units=(128,))
model.compile(optimizer=keras.optimizers.Adam(3e-3))
history = model.fit(
    x_train, validation_data=(x_test,), batch_size=64, epochs=2 if QUICK else 80, verbose=0,
    callbacks=tensorboard_callbacks(out / "tb_latent2", every_n_epochs=1 if QUICK else 10,
                                    sample_fn=lambda: images(model.sample(16, seed=0))))
save_loss_curves(history, out / "loss_latent2.png", title="2-D VAE: negative ELBO and its terms")
print(f"latent_dim=2: test negative ELBO {heldout_negative_elbo(model, x_test):.2f} nats")

# %% [markdown]
# Reconstructions decode the posterior mean (top: data, bottom: E[x|z]); samples decode
# z ~ N(0, I).

# %%
originals = x_test[:16]
save_image_grid(images(np.concatenate([originals, model.reconstruct(originals)])),
                out / "reconstructions.png", ncols=16, title="data (top), reconstructions")
save_image_grid(images(model.sample(32, seed=1)), out / "samples_latent2.png",
                title="samples from the prior")

# %% [markdown]
# The posterior means of the test digits, one colour per class. Nothing told the model the
# labels, yet the classes form regions: the ELBO rewards putting similar digits close.

# %%
means, _ = model.encoder(x_test)
means = np.asarray(means)
save_scatter_2d({str(d): means[y_test == d] for d in range(10)}, out / "latent_space.png",
                title="posterior means of test digits")

# A traversal: decode a grid of latent points over the bulk of the prior (its 5%-95% quantiles).
grid = np.linspace(-1.64, 1.64, 10, dtype="float32")
z_grid = np.array([[a, b] for b in grid[::-1] for a in grid], dtype="float32")
save_image_grid(images(model.output_mean(model.decoder(z_grid))), out / "latent_traversal.png",
                ncols=10, title="decoder over a grid of z")

# %% [markdown]
# ## The held-out negative ELBO, in nats
#
# The model below is the autograder's `train_step_trains` model (latent_dim=8,
# hidden_units=(64,), Adam 3e-3, batches of 64), trained for the check's 10 epochs and then
# on to the notebook's full budget.

# %%
reset_keras(0)
model8 = vae.VAE(input_dim=64, latent_dim=8, hidden_units=(64,))
model8.compile(optimizer=keras.optimizers.Adam(3e-3))
curves, done = {}, 0
for epochs in [1, 2] if QUICK else [10, 150]:
    history8 = model8.fit(x_train, validation_data=(x_test,), batch_size=64,
                          initial_epoch=done, epochs=epochs, verbose=0)
    for name, values in history8.history.items():
        curves.setdefault(name, []).extend(values)
    done = epochs
    print(f"latent_dim=8 after {epochs:3d} epochs: "
          f"test negative ELBO {heldout_negative_elbo(model8, x_test):.2f} nats")
save_loss_curves(curves, out / "loss_latent8.png", title="latent_dim=8")
save_image_grid(images(model8.sample(32, seed=1)), out / "samples_latent8.png",
                title="samples, latent_dim=8")

# %% [markdown]
# The `.keras` round trip: the reloaded model gives the same outputs.

# %%
model8.save(out / "vae_latent8.keras")
reloaded = keras.saving.load_model(out / "vae_latent8.keras")
print("max difference after reload:",
      float(np.max(np.abs(np.asarray(reloaded(x_test)) - np.asarray(model8(x_test))))))

# %% [markdown]
# ## A Gaussian likelihood on the grey levels
#
# For real-valued pixels, p(x|z) = N(x | decoder(z), sigma^2 I) with a fixed sigma (here
# 0.2). Its negative ELBO is in nats of a *density*, so it cannot be compared with the
# Bernoulli numbers above. Try other sigmas: a small sigma weights reconstruction over KL.

# %%
reset_keras(0)
x_grey, _ = load_digits("train", flatten=True)
gaussian = vae.VAE(input_dim=64, latent_dim=8, hidden_units=(64,), likelihood="gaussian",
                   observation_log_var=2 * math.log(0.2))
gaussian.compile(optimizer=keras.optimizers.Adam(3e-3))
gaussian.fit(x_grey, batch_size=64, epochs=2 if QUICK else 60, verbose=0)
save_image_grid(images(np.clip(gaussian.sample(32, seed=1), 0, 1)), out / "samples_gaussian.png",
                title="Gaussian likelihood, grey levels: decoder means")
print("written:", sorted(p.name for p in out.glob("*.png")))
