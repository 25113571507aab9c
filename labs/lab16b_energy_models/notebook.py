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
# # Lab 16b companion: Hopfield networks, RBMs, an EBM trained with Langevin samples
#
# This notebook uses every module of the lab:
#
# 1. a Hopfield network stores four digit prototypes and recalls them from corrupted
#    copies; the energy along asynchronous and synchronous dynamics; the capacity curve
#    against the ~0.14 N rule;
# 2. an RBM trained on the binarised digits by CD-1 and by persistent CD, its exact test
#    log-likelihood after every epoch, its filters and its Gibbs samples;
# 3. an energy-based model of 2-D blobs trained with short Langevin chains from a replay
#    buffer: its energy landscape and fresh Langevin samples.
#
# Every figure is written as a PNG under `outputs/lab16b_energy_models/`, with TensorBoard
# logs next to them (`tensorboard --logdir outputs/lab16b_energy_models`). `DLKIT_QUICK=1`
# shrinks every budget so the whole file runs in seconds.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.data import load_digits, sample_toy2d
from dlkit.plots import save_density_2d, save_figure, save_image_grid
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before the graded modules import it
tf = backend.tensorflow()

import ebm  # noqa: E402  (the graded modules, next to this file)
import hopfield  # noqa: E402
import rbm  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
out = run_dir("lab16b_energy_models", "quick" if QUICK else "full")

# %% [markdown]
# ## 1. A Hopfield network remembers digits
#
# Each prototype is a digit class's mean image, +1 where it is brighter than the mean of all
# ten classes and -1 elsewhere (taking away the shared background makes the patterns less
# alike: the Hebbian rule stores nearly orthogonal patterns best). Four of them are stored
# in 64 units; each is corrupted (20 % of its pixels flipped) and recalled.

# %%
x_all, y_all = load_digits("all", flatten=True)
overall = np.stack([x_all[y_all == d].mean(0) for d in range(10)]).mean(0)
prototypes = np.array([np.where(x_all[y_all == d].mean(0) >= overall, 1.0, -1.0)
                       for d in (0, 1, 4, 7)])
weights = hopfield.hebbian_weights(prototypes)
rng = np.random.default_rng(0)
corrupted = hopfield.corrupt(prototypes, 0.2, rng)
recalled = hopfield.recall(weights, corrupted, seed=0)
print("overlaps after recall:", np.round(hopfield.overlap(recalled, prototypes), 3))
rows = np.concatenate([prototypes, corrupted, recalled]).reshape(-1, 8, 8)
save_image_grid(rows, out / "hopfield_recall.png", ncols=4, cmap="coolwarm", vmin=-1, vmax=1,
                title="stored / corrupted (20 %) / recalled")

# Six prototypes are too many for these correlated patterns: recall lands in mixtures.
crowded = np.array([np.where(x_all[y_all == d].mean(0) >= overall, 1.0, -1.0)
                    for d in (0, 1, 2, 3, 4, 7)])
crowded_weights = hopfield.hebbian_weights(crowded)
crowded_recall = hopfield.recall(crowded_weights, hopfield.corrupt(crowded, 0.2, rng), seed=0)
print("six prototypes, overlaps after recall:",
      np.round(hopfield.overlap(crowded_recall, crowded), 3))
save_image_grid(np.concatenate([crowded, crowded_recall]).reshape(-1, 8, 8),
                out / "hopfield_crowded.png", ncols=6, cmap="coolwarm", vmin=-1, vmax=1,
                title="six stored / recalled")

# %% [markdown]
# ### The energy along the two dynamics
#
# Asynchronous updates (one unit at a time) never raise E(s) = -1/2 s W s and end at a fixed
# point; synchronous updates (all units at once) need not: on a loaded network they often
# fall into a 2-cycle.

# %%
units = 100
patterns = hopfield.random_patterns(25, units, rng)
loaded = hopfield.hebbian_weights(patterns)
start = hopfield.corrupt(patterns[:1], 0.3, rng)
sweeps = 3 if QUICK else 12
asynchronous, synchronous = [start], [start]
for _ in range(sweeps):
    asynchronous.append(hopfield.asynchronous_update(loaded, asynchronous[-1],
                                                     rng.permutation(units)))
    synchronous.append(hopfield.synchronous_update(loaded, synchronous[-1]))
figure, axis = plt.subplots(figsize=(6, 4))
for states, name in ((asynchronous, "asynchronous sweeps"), (synchronous, "synchronous updates")):
    axis.plot([float(hopfield.energy(loaded, s)[0]) for s in states], "o-", label=name)
axis.set(xlabel="sweep", ylabel="energy", title="100 units, 25 patterns (load 0.25)")
axis.legend()
save_figure(figure, out / "hopfield_energy.png")

# %% [markdown]
# ### Capacity
#
# P random patterns in N = 100 units, for loads P / N from 0.02 to 0.3: the share of
# patterns that are fixed points, and the share recalled (overlap of at least 0.95) from
# 10 % corruption. Both fall around 0.14 N, where the crosstalk of the other patterns
# overwhelms a pattern's own field (Amit, Gutfreund & Sompolinsky: 0.138 N as N grows).

# %%
loads = np.linspace(0.04, 0.3, 4 if QUICK else 14)
curve = hopfield.capacity_curve(40 if QUICK else 100, loads, 2 if QUICK else 10, seed=0)
figure, axis = plt.subplots(figsize=(6, 4))
axis.plot(loads, curve["stable"], "o-", label="stable")
axis.plot(loads, curve["recalled"], "s-", label="recalled from 10 % noise")
axis.axvline(0.138, color="gray", linestyle="--")
axis.text(0.14, 0.5, "0.138 N")
axis.set(xlabel="load P / N", ylabel="share of patterns", title="Hopfield capacity, N = 100")
axis.legend()
save_figure(figure, out / "hopfield_capacity.png")
print("capacity curve (load: stable, recalled):", {f"{a:.2f}": (round(float(s), 2), round(float(r), 2))
                          for a, s, r in zip(loads, curve["stable"], curve["recalled"])})

# %% [markdown]
# ## 2. A restricted Boltzmann machine on the binarised digits
#
# 64 visible units, 16 hidden ones: few enough that log Z is exact (a sum over 2^16 hidden
# vectors), so the test log-likelihood is measured, not estimated. CD-1 starts each
# negative chain at the batch; persistent CD keeps 64 chains going from step to step.
# 15 epochs of 100 steps of 64 digits each.

# %%
x_train, _ = load_digits("train", flatten=True, binarize=True)
x_test, _ = load_digits("test", flatten=True, binarize=True)
epochs, steps_per_epoch = (1, 5) if QUICK else (15, 100)


class ExactLogLikelihood(keras.callbacks.Callback):
    """The exact mean test log-likelihood after every epoch, into the logs (TensorBoard)."""

    def on_epoch_end(self, epoch, logs=None):
        logs["test_log_likelihood"] = float(np.mean(self.model.log_likelihood(x_test)))


curves, models = {}, {}
# Plain SGD, each at its best rate: persistent chains must keep up with the weights, so
# persistent CD wants smaller steps (at 0.5 it reaches only about -23 nats).
for name, options, rate in (("CD-1", {"k": 1}, 0.5),
                            ("persistent CD-1", {"k": 1, "persistent": True}, 0.2)):
    reset_keras(0)
    model = rbm.RBM(64, 16, **options)
    # Quick mode runs its few steps eagerly: tracing them would cost more than they do.
    model.compile(optimizer=keras.optimizers.SGD(rate), run_eagerly=QUICK,
                  steps_per_execution=1 if QUICK else 25)
    batches = x_train[rng.integers(0, len(x_train), size=epochs * steps_per_epoch * 64)]
    tag = name.replace(" ", "_").replace("-", "")
    history = model.fit(batches, batch_size=64, epochs=epochs, shuffle=False, verbose=0,
                        callbacks=[ExactLogLikelihood()]
                        + tensorboard_callbacks(out / f"tb_rbm_{tag}"))
    curves[name], models[name] = history.history["test_log_likelihood"], model
    print(f"{name}: exact test log-likelihood {curves[name][-1]:.2f} nats")
p = (x_train.sum(0) + 1) / (len(x_train) + 2)
independent = float(np.mean(x_test @ np.log(p) + (1 - x_test) @ np.log(1 - p)))
print(f"independent pixels: {independent:.2f} nats")

figure, axis = plt.subplots(figsize=(6, 4))
for name, values in curves.items():
    axis.plot(np.arange(1, epochs + 1), values, "o-", label=name)
axis.axhline(independent, color="gray", linestyle="--")
axis.text(1, independent, "independent pixels", va="bottom")
axis.set(xlabel=f"epoch ({steps_per_epoch} steps of 64)", ylabel="exact test log-likelihood "
         "(nats)", title="RBM, 16 hidden units")
axis.legend()
save_figure(figure, out / "rbm_log_likelihood.png")

model = models["CD-1"]
filters = np.asarray(model.kernel.numpy()).T.reshape(-1, 8, 8)
limit = float(np.abs(filters).max())
save_image_grid(filters, out / "rbm_filters.png", ncols=8, cmap="RdBu_r", vmin=-limit,
                vmax=limit, title="filters: each hidden unit's weights")
chains = model.gibbs_chain(rng.integers(0, 2, size=(32, 64)).astype("float32"),
                           10 if QUICK else 1000)
means = model.visible_probabilities(model.sample(model.hidden_probabilities(chains)))
save_image_grid(np.asarray(means).reshape(-1, 8, 8), out / "rbm_samples.png", ncols=8,
                title="Gibbs chains after 1000 steps: p(v | h)")

model.save(out / "rbm.keras")
reloaded = keras.saving.load_model(out / "rbm.keras")
print("reloaded RBM, same free energies:",
      np.allclose(reloaded.free_energy(x_test[:8]), model.free_energy(x_test[:8])))

# %% [markdown]
# ## 3. An energy-based model of 2-D blobs
#
# Each training step runs 5 Langevin steps from the replay buffer (5 % fresh uniform noise)
# and pushes the data's energy down and the samples' up. exp(-E) is normalised on a grid to
# measure the held-out log-likelihood and to draw the density; fresh chains from uniform
# noise show what the model samples.

# %%
reset_keras(0)
train = sample_toy2d("blobs", 2000, seed=1)
test = sample_toy2d("blobs", 1000, seed=2)
steps = 10 if QUICK else 1500
energy_model = ebm.EBM((32, 32), langevin_steps=5, step_size=0.1, alpha=0.1)
energy_model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=QUICK,
                     steps_per_execution=1 if QUICK else 25)
history = energy_model.fit(train[rng.integers(0, len(train), size=steps * 128)], batch_size=128,
                           shuffle=False, verbose=0,
                           callbacks=tensorboard_callbacks(out / "tb_ebm"))
ticks = np.linspace(-4, 4, 161)
grid = np.stack(np.meshgrid(ticks, ticks), -1).reshape(-1, 2).astype("float32")
energies = np.asarray(energy_model.energy(grid), dtype=np.float64)
log_z = float(np.log(np.sum(np.exp(-(energies - energies.min())))) - energies.min()
              + 2 * np.log(ticks[1] - ticks[0]))
held_out = float(np.mean(-np.asarray(energy_model.energy(test))) - log_z)
print(f"EBM held-out log-likelihood: {held_out:.3f} nats")
starts = np.random.default_rng(1).uniform(-4, 4, size=(500, 2)).astype("float32")
samples = ebm.langevin_sample(energy_model.energy, starts, 20 if QUICK else 300, 0.05,
                              keras.random.SeedGenerator(1), clip=4.0)
save_density_2d(lambda p: -np.asarray(energy_model.energy(p)), out / "ebm_density.png",
                samples=np.asarray(samples), title="exp(-E) and 300-step Langevin samples")
save_density_2d(lambda p: -np.asarray(energy_model.energy(p)) / 8.0, out / "ebm_landscape.png",
                title="the energy landscape (flattened: exp(-E / 8))")

energy_model.save(out / "ebm.keras")
reloaded = keras.saving.load_model(out / "ebm.keras")
print("reloaded EBM, same energies:",
      np.allclose(reloaded.energy(test[:8]), energy_model.energy(test[:8])))
