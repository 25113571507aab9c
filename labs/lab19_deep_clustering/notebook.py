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
# # Lab 19 companion: deep clustering of the digits
#
# This notebook pretrains the autoencoder of `dec.py`, clusters the digits with k-means on
# the pixels and on the codes, then fine-tunes with DEC and IDEC, and scores each with the
# cluster accuracy (Hungarian matching) and the NMI. Every figure is written as a PNG under
# `outputs/lab19_deep_clustering/`. `DLKIT_QUICK=1` shrinks every budget so the whole file
# runs in seconds.

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dlkit import backend  # noqa: E402
from dlkit.backend import reset_keras  # noqa: E402
from dlkit.data import load_digits  # noqa: E402
from dlkit.plots import save_figure, save_image_grid, save_loss_curves  # noqa: E402
from dlkit.training import run_dir, tensorboard_callbacks  # noqa: E402

keras = backend.keras()  # the quiet TensorFlow import, before dec.py imports it

import dec  # noqa: E402  (the graded module, next to this file)

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
out = run_dir("lab19_deep_clustering", "quick" if QUICK else "full")
K = 10
N_INIT = 2 if QUICK else 10  # k-means restarts

# %% [markdown]
# ## The data and a first baseline: k-means on the pixels

# %%
from sklearn.cluster import KMeans  # noqa: E402

x, y = load_digits("train", flatten=True)
if QUICK:
    x, y = x[:300], y[:300]
results = {}


def score(name, clusters):
    results[name] = (dec.cluster_accuracy(y, clusters), dec.normalized_mutual_info(y, clusters))
    print(f"{name:28s} accuracy {results[name][0]:.3f}   NMI {results[name][1]:.3f}")


score("k-means on pixels", KMeans(K, n_init=N_INIT, random_state=0).fit_predict(x))

# %% [markdown]
# ## Pretraining the autoencoder

# %%
encoder, decoder, autoencoder = dec.build_autoencoder(64, (128, 64), 10)
history = dec.pretrain_autoencoder(autoencoder, x, epochs=2 if QUICK else 60, batch_size=64,
                                   learning_rate=3e-3)
# pretrain_autoencoder compiled the model: one more short fit with TensorBoard logging.
autoencoder.fit(x, x, batch_size=64, epochs=1, verbose=0,
                callbacks=tensorboard_callbacks(out / "tb_autoencoder"))
save_loss_curves(history, out / "pretraining.png", title="autoencoder: reconstruction MSE")
sample = x[:16]
save_image_grid(np.concatenate([sample, np.asarray(autoencoder(sample))]).reshape(-1, 8, 8),
                out / "reconstructions.png", ncols=16, title="digits (top), reconstructions")
codes = np.asarray(encoder(x))
score("k-means on codes", KMeans(K, n_init=N_INIT, random_state=0).fit_predict(codes))
pretrained = (encoder.get_weights(), decoder.get_weights())

# %% [markdown]
# ## DEC and IDEC
#
# Both start from the same pretrained weights and k-means centres; the targets are refreshed
# every 25 steps.


# %%
def train(model, steps, name):
    model.initialize(x, seed=0)
    # A smoke run takes one step per execution: a multi-step loop traces train_step twice.
    model.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=1 if QUICK else 25)
    rng = np.random.default_rng(0)
    size = steps * 256
    index = np.concatenate([rng.permutation(len(x)) for _ in range(-(-size // len(x)))])
    index = index[:size].astype("int32")
    history = model.fit(x[index], index, batch_size=256, epochs=max(1, steps // 100),
                        shuffle=False, verbose=0,
                        callbacks=tensorboard_callbacks(out / f"tb_{name}"))
    save_loss_curves(history, out / f"loss_{name}.png", title=f"{name}: training losses")
    clusters = model.predict_clusters(x)
    score(name, clusters)
    return clusters


steps = 50 if QUICK else 1500
encoder.set_weights(pretrained[0])
dec_clusters = train(dec.DEC(encoder, K, update_interval=25), steps, "DEC")
encoder.set_weights(pretrained[0])
decoder.set_weights(pretrained[1])
idec = dec.IDEC(encoder, decoder, K, gamma=1.0, update_interval=25)
idec_clusters = train(idec, steps, "IDEC")

# %% [markdown]
# The model saves to `.keras` with its centres, stored data and targets, and reloads.

# %%
idec.save(out / "idec.keras")
reloaded = keras.saving.load_model(out / "idec.keras")
assert np.array_equal(reloaded.predict_clusters(x), idec_clusters)
print("reloaded IDEC gives the same clusters")

# %% [markdown]
# ## What the numbers hide: which digits go together
#
# The confusion table of classes against clusters (clusters reordered by their Hungarian
# match), and the codes in 2-D (their first two principal components), by class and by
# cluster.

# %%
from scipy.optimize import linear_sum_assignment  # noqa: E402

counts = np.zeros((K, K), dtype=int)
np.add.at(counts, (y, idec_clusters), 1)
_, order = linear_sum_assignment(-counts)  # the best matching: most points matched
figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
axes[0].imshow(counts[:, order], cmap="Blues")
axes[0].set(xlabel="cluster (matched order)", ylabel="digit", title="IDEC: digits x clusters")
codes = np.asarray(encoder(x))
centred = codes - codes.mean(0)
plane = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
for axis, colours, title in ((axes[1], y, "codes by digit"),
                             (axes[2], idec_clusters, "codes by IDEC cluster")):
    axis.scatter(plane[:, 0], plane[:, 1], c=colours, cmap="tab10", s=4)
    axis.set(title=title)
figure.tight_layout()
save_figure(figure, out / "clusters.png", dpi=100)
plt.close(figure)

for name, (accuracy, nmi) in results.items():
    print(f"{name:28s} {accuracy:.3f} {nmi:.3f}")
