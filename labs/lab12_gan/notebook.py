# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lab 12 — Generative adversarial networks
#
# This notebook uses your `gan_losses.py`, `gan_networks.py` and `gan_model.py`:
#
# 1. the two generator losses, side by side: where does each one give G a gradient?
# 2. a 2-D GAN (MLP generator and discriminator) on the "moons" toy set;
# 3. a DCGAN (transposed convolutions) on the 8x8 handwritten digits;
# 4. saving and reloading the GAN as a `.keras` file.
#
# Plots go to `outputs/lab12_gan/<run>/`. Set `DLKIT_QUICK=1` for a smoke run.

# %%
import os

import numpy as np

from dlkit.backend import keras, reset_keras, tensorflow
from dlkit.data import digits_dataset, sample_toy2d, toy2d_dataset
from dlkit.plots import save_image_grid, save_loss_curves, save_scatter_2d
from dlkit.training import run_dir, tensorboard_callbacks

tf = tensorflow()
keras = keras()

import gan_losses  # noqa: E402  (after the quiet TensorFlow import)
from gan_model import GAN  # noqa: E402
from gan_networks import (make_dcgan_discriminator, make_dcgan_generator,  # noqa: E402
                          make_mlp_discriminator, make_mlp_generator)

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)

# %% [markdown]
# ## 1. Minimax vs non-saturating: the gradient G receives
#
# Early in training D rejects the fakes easily: its logit l on them is very negative.
# The minimax loss log(1 - sigmoid(l)) is flat there, so G learns nothing; the
# non-saturating loss -log sigmoid(l) is steepest there.

# %%
logits = tf.constant(np.linspace(-8, 8, 9, dtype=np.float32)[:, None])
print(f"{'logit':>6} {'D(G(z))':>8} {'minimax grad':>13} {'non-sat grad':>13}")
grads = {}
for loss_fn in (gan_losses.minimax_generator_loss, gan_losses.non_saturating_generator_loss):
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = loss_fn(logits)
    grads[loss_fn.__name__] = len(logits) * tape.gradient(loss, logits).numpy()[:, 0]
for i, l in enumerate(logits.numpy()[:, 0]):
    print(f"{l:6.1f} {1 / (1 + np.exp(-l)):8.4f} {grads['minimax_generator_loss'][i]:13.4f} "
          f"{grads['non_saturating_generator_loss'][i]:13.4f}")

# %% [markdown]
# ## 2. A 2-D GAN on "moons"
#
# The energy distance 2E|X-Y| - E|X-X'| - E|Y-Y'| between generated samples X and held-out
# data Y is 0 exactly when the two distributions agree; the autograder uses it too.

# %%
def energy_distance(x, y):
    def mean_distance(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).mean()
    return 2 * mean_distance(x, y) - mean_distance(x, x) - mean_distance(y, y)


toy_dir = run_dir("lab12_gan", "moons")
toy_steps = 200 if QUICK else 3000
reset_keras(0)
toy_gan = GAN(make_mlp_generator(latent_dim=2), make_mlp_discriminator(), latent_dim=2)
toy_gan.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                steps_per_execution=20)
heldout = sample_toy2d("moons", 1000, seed=1)
start = energy_distance(toy_gan.generate(1000).numpy(), heldout)
print("energy distance at initialisation:", start)
history = toy_gan.fit(toy2d_dataset("moons", 4096, batch_size=128, repeat=True),
                      epochs=10, steps_per_epoch=toy_steps // 10, verbose=0,
                      callbacks=tensorboard_callbacks(toy_dir / "logs"))
samples = toy_gan.generate(1000).numpy()
print("energy distance after training:  ", energy_distance(samples, heldout))
save_scatter_2d({"data": heldout, "generated": samples}, toy_dir / "samples.png",
                title=f"2-D GAN after {toy_steps} steps", limits=(-4, 4, -4, 4))
save_loss_curves(history, toy_dir / "losses.png", title="moons: D and G losses")

# %% [markdown]
# At equilibrium D cannot tell real from fake: D(x) = 1/2 everywhere, so d_loss tends to
# 2 log 2 = 1.386 and the non-saturating g_loss to log 2 = 0.693. Losses that stay near
# those values do not mean "nothing happens": look at the samples.
#
# ## 3. A DCGAN on the 8x8 digits

# %%
digits_dir = run_dir("lab12_gan", "dcgan_digits")
latent_dim = 16
reset_keras(0)
dcgan = GAN(make_dcgan_generator(latent_dim=latent_dim, image_shape=(8, 8, 1)),
            make_dcgan_discriminator(image_shape=(8, 8, 1)), latent_dim=latent_dim)
dcgan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
              g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
fixed_z = keras.random.normal((32, latent_dim), seed=0)
digits = digits_dataset("train", batch_size=32, with_labels=False)
history = dcgan.fit(digits, epochs=1 if QUICK else 40, verbose=0,
                    callbacks=tensorboard_callbacks(
                        digits_dir / "logs", sample_fn=lambda: dcgan(fixed_z).numpy(),
                        every_n_epochs=5))
save_image_grid(dcgan(fixed_z).numpy(), digits_dir / "samples.png", title="DCGAN samples")
save_loss_curves(history, digits_dir / "losses.png", title="DCGAN on digits: D and G losses")

# %% [markdown]
# ## 4. Save and reload
#
# `get_config` / `from_config` let `keras.models.load_model` rebuild the GAN with both
# networks; the optimizers come back too, so training can resume.

# %%
path = digits_dir / "dcgan.keras"
dcgan.save(path)
reloaded = keras.models.load_model(path)
difference = np.abs(reloaded(fixed_z).numpy() - dcgan(fixed_z).numpy()).max()
print(f"reloaded from {path.name}: largest difference in the samples {difference:.2g}")
reloaded.generator.save(digits_dir / "generator.keras")  # the generator alone, for sampling
