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
# # Lab 18 companion: few-shot learning on glyphs
#
# This notebook trains the few-shot learners of `fewshot.py` and `maml.py`: a Siamese
# network with the contrastive loss, a prototypical network and a matching network, all on
# episodes of the *training* glyph classes, and measures them on episodes of the 16
# *held-out* classes, which they never saw. Then MAML, first-order MAML and Reptile learn to
# fit sinusoids from 5 points. Every figure is written as a PNG under
# `outputs/lab18_few_shot/`, the TensorBoard logs next to them. `DLKIT_QUICK=1` shrinks
# every budget so the whole file runs in seconds.

# %%
import os
import time

import numpy as np

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.data import glyph_classes, make_glyphs, sinusoid_tasks
from dlkit.plots import save_figure, save_image_grid, save_loss_curves
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before the graded modules import it
tf = backend.tensorflow()

import fewshot  # noqa: E402  (the graded modules, next to this file)
import maml  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
out = run_dir("lab18_few_shot", "quick" if QUICK else "full")
import matplotlib.pyplot as plt  # noqa: E402

# %% [markdown]
# ## The glyphs
#
# 64 classes, each a template of 2 to 4 strokes; every sample is a jittered rendering. The
# first 48 classes are for training, the last 16 are held out.

# %%
train = make_glyphs(20, split="train", seed=0)
test = make_glyphs(20, split="test", seed=1)
train_classes, test_classes = glyph_classes("train"), glyph_classes("test")
first = [np.flatnonzero(test["labels"] == c)[:6] for c in test_classes[:6]]
save_image_grid(test["images"][np.concatenate(first)], out / "held_out_glyphs.png", ncols=6)
print(train["images"].shape, test["images"].shape)

# %% [markdown]
# ## An episode
#
# 5-way 1-shot from the held-out classes: the top row is the support set (one example per
# class, labelled 0..4), the rows below are queries of the same five classes.

# %%
rng = np.random.default_rng(0)
s_idx, s_y, q_idx, q_y = fewshot.sample_episode(test["labels"], test_classes, 5, 1, 3, rng)
order = np.argsort(q_y, kind="stable").reshape(5, 3).T.ravel()
save_image_grid(np.concatenate([test["images"][s_idx], test["images"][q_idx][order]]),
                out / "episode.png", ncols=5)
print("support labels", s_y, "query labels", q_y)


# %%
def accuracy_on_unseen(predict, k_shot, episodes=20 if QUICK else 200, seed=7):
    """Mean 5-way accuracy of predict(support_x, support_y, query_x) -> (E, Q) labels."""
    x, y = fewshot.episode_batch(test["images"], test["labels"], test_classes, episodes, 5,
                                 k_shot, 5, seed=seed)
    return float((predict(*x) == y).mean())


results = {}
episodes = 40 if QUICK else 2000

# %% [markdown]
# ## Siamese network
#
# Pairs of training images, half of them of the same class, and the contrastive loss
# (margin 1). At test time a query takes the label of the support example nearest to it.

# %%
reset_keras(0)
pair_rng = np.random.default_rng(1)
n_pairs = 512 if QUICK else 20000
first = pair_rng.integers(len(train["labels"]), size=n_pairs)
same = pair_rng.integers(0, 2, size=n_pairs)
second = np.array([pair_rng.choice(np.flatnonzero((train["labels"] == train["labels"][i]) == s))
                   for i, s in zip(first, same)])
siamese = fewshot.SiameseNetwork(fewshot.glyph_encoder())
siamese.compile(keras.optimizers.Adam(1e-3),
                loss=lambda y, d: fewshot.contrastive_loss(d, y, margin=1.0))
siamese.optimizer.build(siamese.trainable_variables)  # avoids tracing train_step twice
start = time.time()
history = siamese.fit((train["images"][first], train["images"][second]), same.astype("float32"),
                      batch_size=64, epochs=1 if QUICK else 5, verbose=0,
                      callbacks=tensorboard_callbacks(out / "tb_siamese"))
print(f"Siamese: {time.time() - start:.0f} s")
save_loss_curves(history, out / "siamese_loss.png", title="contrastive loss")


def siamese_predict(support_x, support_y, query_x):
    def embed(x):
        flat = np.asarray(siamese.encoder(x.reshape((-1,) + x.shape[2:])))
        return flat.reshape(x.shape[0], x.shape[1], -1)
    support, query = embed(support_x), embed(query_x)
    distance = ((query[:, :, None] - support[:, None]) ** 2).sum(-1)
    return np.take_along_axis(support_y[:, None, :], distance.argmin(-1)[..., None], -1)[..., 0]


for k in (1, 5):
    results[("siamese", k)] = accuracy_on_unseen(siamese_predict, k)

# %% [markdown]
# ## Prototypical and matching networks
#
# Both train on batches of 5-way 5-shot episodes of the training classes with the same
# encoder, and differ only in the head.

# %%
for head in ("prototypical", "matching"):
    reset_keras(0)
    x, y = fewshot.episode_batch(train["images"], train["labels"], train_classes, episodes, 5, 5,
                                 5, seed=0)
    model = fewshot.EpisodicClassifier(fewshot.glyph_encoder(), 5, head)
    model.compile(keras.optimizers.Adam(1e-3))
    start = time.time()
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0,
                        callbacks=tensorboard_callbacks(out / f"tb_{head}"))
    print(f"{head}: {time.time() - start:.0f} s")
    save_loss_curves(history, out / f"{head}_loss.png", title=head)
    for k in (1, 5):
        results[(head, k)] = accuracy_on_unseen(
            lambda sx, sy, qx: np.asarray(model((sx, sy, qx))).argmax(-1), k)

for (name, k), value in results.items():
    print(f"{name:>13} 5-way {k}-shot on unseen classes: {value:.3f} (chance 0.2)")

# %% [markdown]
# ## MAML, first-order MAML and Reptile on sinusoids
#
# Each task is y = A sin(x - phase); the learner sees 5 points, takes one gradient step
# (MAML) and must then fit the whole curve. A network trained on all tasks at once learns
# their average, which is 0.

# %%
steps = 5 if QUICK else 800  # each meta-step adapts to 8 tasks, eagerly


def sample_tasks(step, count=8):
    data = sinusoid_tasks(count, 15, seed=1000 + step)
    return [(data["x"][t, :5], data["y"][t, :5], data["x"][t, 5:], data["y"][t, 5:])
            for t in range(count)]


curves, learned = {}, {}
for method in ("maml", "fomaml", "reptile"):
    params = maml.mlp_params((1, 40, 40, 1), seed=0)
    start = time.time()
    curves[method] = maml.meta_train(params, sample_tasks, steps, method=method, inner_lr=0.01,
                                     meta_lr=1e-3, epsilon=0.1, inner_steps=1 if method !=
                                     "reptile" else 5)
    print(f"{method}: {time.time() - start:.0f} s")
    learned[method] = params


def adapted_error(params, tasks, steps=1, lr=0.01):
    errors = []
    for sx, sy, qx, qy in tasks:
        fast = maml.inner_adapt(maml.mlp_forward, maml.mse, params, sx, sy, lr, steps)
        errors.append(float(maml.mse(maml.mlp_forward(fast, qx), qy)))
    return float(np.mean(errors))


held_out = sample_tasks(10**6, count=10 if QUICK else 50)
for method, params in learned.items():
    print(f"{method}: query MSE after 1 step on 5 points {adapted_error(params, held_out):.3f}")
print(f"untrained: {adapted_error(maml.mlp_params((1, 40, 40, 1), seed=0), held_out):.3f}")

figure, axis = plt.subplots(figsize=(6, 3.5))
for method, values in curves.items():
    axis.plot(np.convolve(values, np.ones(10) / 10, mode="valid"), label=method)
axis.set_xlabel("meta-step")
axis.set_ylabel("query MSE after adaptation")
axis.legend()
save_figure(figure, out / "meta_training.png", dpi=100)
plt.close(figure)

# %%
grid = np.linspace(-5, 5, 100, dtype="float32")[:, None]
sx, sy, _, _ = held_out[0]
data = sinusoid_tasks(50, 15, seed=1000 + 10**6)
figure, axis = plt.subplots(figsize=(6, 3.5))
axis.plot(grid, data["amplitude"][0] * np.sin(grid - data["phase"][0]), "k", label="task")
axis.plot(sx, sy, "ko")
for method, params in learned.items():
    fast = maml.inner_adapt(maml.mlp_forward, maml.mse, params, sx, sy, 0.01, 1)
    axis.plot(grid, np.asarray(maml.mlp_forward(fast, grid)), label=f"{method}, 1 step")
axis.legend()
save_figure(figure, out / "sinusoid_fits.png", dpi=100)
plt.close(figure)
