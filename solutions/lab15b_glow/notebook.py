# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lab 15b companion: Glow on digits, IAF against MAF, reverse-KL fitting
#
# This notebook trains the Glow of `glow.py` on the dequantised 8x8 digits (samples, the
# bits-per-dimension curve), counts the conditioner calls of the IAF and the MAF of `iaf.py`
# as D grows, and fits IAF stacks to the banana and two-moons energies by reverse KL. Every
# figure is written as a PNG under `outputs/lab15b_glow/`, with TensorBoard logs next to them
# (`tensorboard --logdir outputs/lab15b_glow`). `DLKIT_QUICK=1` shrinks every budget so the
# whole file runs in seconds.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.data import load_digits
from dlkit.plots import save_figure, save_image_grid
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before the graded modules import it
tf = backend.tensorflow()

import glow  # noqa: E402  (the graded modules, next to this file)
import iaf  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
out = run_dir("lab15b_glow", "quick" if QUICK else "full")

# %% [markdown]
# ## Glow on the digits
#
# 17 levels per pixel, dequantised as y = (x + u) / 17. Two levels of flow steps: the first
# factors out half of its 4x4x4 squeezed channels, the second models the rest at 2x2x8. The
# test bits per dimension are measured after every epoch, next to two baselines written in
# numpy: independent per-pixel categorical models, and a full-covariance Gaussian.

# %%
x_train, _ = load_digits("train")
x_test, _ = load_digits("test")
y_train = glow.dequantize(glow.digit_levels(x_train), glow.DIGIT_LEVELS, seed=1).numpy()
y_test = glow.dequantize(glow.digit_levels(x_test), glow.DIGIT_LEVELS, seed=2).numpy()

model = glow.Glow((8, 8, 1), levels=1 if QUICK else 2, steps=1 if QUICK else 4, hidden_channels=4 if QUICK else 64)
model.initialize(y_train[:512])
epochs, steps_per_epoch = (1, 2) if QUICK else (40, 50)
if QUICK:
    y_test = y_test[:64]
schedule = keras.optimizers.schedules.CosineDecay(3e-3, epochs * steps_per_epoch)
model.compile(optimizer=keras.optimizers.Adam(schedule), steps_per_execution=1 if QUICK else 10)
model.optimizer.build(model.trainable_variables)  # avoids tracing train_step twice
rng = np.random.default_rng(0)
batches = y_train[rng.integers(0, len(y_train), size=epochs * steps_per_epoch * 64)]
# One epoch = steps_per_epoch batches of 64; the validation loss is the test NLL in nats.
# TensorBoard logs under out/tb_glow (`tensorboard --logdir outputs/lab15b_glow`).
history = model.fit(batches, batch_size=64, epochs=epochs, steps_per_epoch=steps_per_epoch,
                    shuffle=False, verbose=0,
                    validation_data=(y_test,), validation_batch_size=len(y_test),
                    callbacks=tensorboard_callbacks(out / "tb_glow"))
curve = [(nll + 64 * np.log(glow.DIGIT_LEVELS)) / (64 * np.log(2.0))
         for nll in history.history["val_loss"]]
print(f"Glow test bits/dim after {epochs} epochs: {curve[-1]:.3f}")

levels_train = np.floor(y_train.reshape(len(y_train), -1) * 17).astype(int)
levels_test = np.floor(y_test.reshape(len(y_test), -1) * 17).astype(int)
counts = np.stack([(levels_train == k).sum(0) for k in range(17)], 1) + 1.0
p = counts / counts.sum(1, keepdims=True)
categorical = float(-np.mean(np.log2(p[np.arange(64)[None, :], levels_test])))
flat = y_train.reshape(len(y_train), -1).astype(np.float64)
mean, cov = flat.mean(0), np.cov(flat.T) + 1e-4 * np.eye(64)
centred = y_test.reshape(len(y_test), -1) - mean
log_p = -0.5 * (np.einsum("ni,ij,nj->n", centred, np.linalg.inv(cov), centred)
                + np.linalg.slogdet(2 * np.pi * cov)[1])
gaussian = float(np.mean(-log_p / (64 * np.log(2)) + np.log2(17)))
print(f"baselines: per-pixel categorical {categorical:.3f}, full Gaussian {gaussian:.3f}, "
      f"uniform {np.log2(17):.3f} bits/dim")

figure, axis = plt.subplots(figsize=(6, 4))
axis.plot(np.arange(1, epochs + 1), curve, label="Glow (test)")
for value, name in ((categorical, "per-pixel categorical"), (gaussian, "full Gaussian")):
    axis.axhline(value, linestyle="--", color="gray")
    axis.text(1, value, name, va="bottom")
axis.set(xlabel="epoch", ylabel="bits per dimension", title="Glow on the 8x8 digits")
axis.legend()
save_figure(figure, out / "glow_bits_per_dim.png")
samples = np.clip(model.sample(32, temperature=0.7, seed=0).numpy(), 0, 1)
save_image_grid(samples[..., 0], out / "glow_samples.png", ncols=8)

# %% [markdown]
# ## IAF against MAF: counted conditioner calls
#
# The cost of one pass, counted: the IAF samples in one call and evaluates a density in D;
# the MAF (the same layer turned around) the opposite.

# %%
dims = [2, 4] if QUICK else [2, 4, 8, 16, 32, 64]
costs = {}
for name in ("InverseAutoregressiveFlow", "MaskedAutoregressiveFlow"):
    for dim in dims:
        layer = getattr(iaf, name)(dim, hidden_units=(2 * dim,))
        layer.build((None, dim))
        v = np.random.default_rng(dim).normal(size=(4, dim)).astype("float32")
        costs[(name, dim)] = (iaf.conditioner_calls(layer, "inverse", v),
                              iaf.conditioner_calls(layer, "forward", v))
figure, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
for axis, (index, what) in zip(axes, ((0, "sampling (inverse)"), (1, "density (forward)"))):
    for name, label in (("InverseAutoregressiveFlow", "IAF"), ("MaskedAutoregressiveFlow", "MAF")):
        axis.plot(dims, [costs[(name, d)][index] for d in dims], "o-", label=label)
    axis.set(xlabel="D", title=what, xscale="log", yscale="log")
axes[0].set_ylabel("conditioner calls")
axes[0].legend()
save_figure(figure, out / "iaf_maf_costs.png")

# %% [markdown]
# ## Reverse KL: fitting a flow to an energy
#
# No data: the flow's own samples, x = inverse(z), and the unnormalised log-density of the
# target. The banana has one mode and is covered; the two-moons energy has two, and reverse
# KL (mode-seeking) may favour one.

# %%
for target in ("banana",) if QUICK else ("banana", "two_moons"):  # quick: one fit
    reset_keras(0)
    flow = iaf.ReverseKLFlow(target, num_layers=1 if QUICK else 8, hidden_units=(32, 32))
    steps = 2 if QUICK else 3000
    flow.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3,
                                                                                       steps)),
                 steps_per_execution=1 if QUICK else 25)
    flow.fit(np.zeros((steps * 256, 2), "float32"), batch_size=256, verbose=0,
             callbacks=tensorboard_callbacks(out / f"tb_reverse_kl_{target}"))
    z = np.random.default_rng(1).normal(size=(256 if QUICK else 4096, 2)).astype("float32")
    log_z = float(iaf.estimate_log_normalizer(flow, flow.log_target, z))
    ticks = np.linspace(-5, 5, 51 if QUICK else 201)
    gx, gy = np.meshgrid(ticks, ticks)
    grid = np.stack([gx.ravel(), gy.ravel()], 1).astype("float32")
    energy = flow.log_target(grid).numpy().reshape(gx.shape)
    samples = flow.sample(200 if QUICK else 2000, seed=0).numpy()
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.contour(gx, gy, np.exp(energy), levels=8, cmap="viridis")
    axis.scatter(samples[:, 0], samples[:, 1], s=2, color="crimson", alpha=0.4)
    axis.set(xlim=(-5, 5), ylim=(-5, 5), title=f"{target}: q's samples, log Z ≈ {log_z:.3f}")
    save_figure(figure, out / f"reverse_kl_{target}.png")
    print(f"{target}: estimated log Z = {log_z:.3f}")
