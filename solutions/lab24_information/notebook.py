# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lab 24 companion: measuring information
#
# This notebook uses `information.py` to look at the bias of plug-in estimates as the sample
# grows, and at what the InfoNCE and Donsker-Varadhan bounds certify about correlated
# Gaussians whose mutual information is known exactly, then uses `variational.py` for MINE,
# the accuracy/I(Z; X) trade-off of the information bottleneck and the bits-back code length
# of a small VAE. Every figure is written as a PNG under
# `outputs/lab24_information/`. `DLKIT_QUICK=1` shrinks every budget so the file runs in
# seconds.

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dlkit import backend  # noqa: E402
from dlkit.backend import reset_keras  # noqa: E402
from dlkit.data import (  # noqa: E402
    correlated_gaussians,
    gaussian_mutual_information,
    random_joint,
    sample_joint,
)
from dlkit.plots import save_figure, save_loss_curves  # noqa: E402
from dlkit.training import run_dir, tensorboard_callbacks  # noqa: E402

keras = backend.keras()  # the quiet TensorFlow import, before information.py imports it
tf = backend.tensorflow()

import information  # noqa: E402  (the graded module, next to this file)

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
out = run_dir("lab24_information", "quick" if QUICK else "full")

# %% [markdown]
# ## Exact quantities of a small joint distribution
#
# A 4×5 joint with dependence: its marginals' entropies, the joint entropy and the mutual
# information, which must equal H(X) + H(Y) − H(X, Y).

# %%
joint = random_joint(4, 5, seed=0, zeros=3)
h_x = information.entropy(joint.sum(axis=1))
h_y = information.entropy(joint.sum(axis=0))
h_xy = information.entropy(joint.ravel())
mi = information.mutual_information(joint)
print(f"H(X) = {h_x:.3f}, H(Y) = {h_y:.3f}, H(X,Y) = {h_xy:.3f} bits")
print(f"I(X;Y) = {mi:.4f} bits; H(X) + H(Y) - H(X,Y) = {h_x + h_y - h_xy:.4f}")

# %% [markdown]
# ## The bias of plug-in estimates
#
# For each sample size N, many samples of the joint: the average plug-in entropy of X
# (biased low), its Miller-Madow correction, and the plug-in MI (biased high, towards
# spurious dependence).

# %%
sizes = [10, 20, 50, 100, 300] if QUICK else [10, 20, 50, 100, 200, 500, 1000, 3000]
repeats = 20 if QUICK else 200
rows = []
for n in sizes:
    draws = [sample_joint(joint, n, seed=1000 * n + r) for r in range(repeats)]
    rows.append((np.mean([information.plug_in_entropy(x, 4) for x, _ in draws]),
                 np.mean([information.miller_madow_entropy(x, 4) for x, _ in draws]),
                 np.mean([information.plug_in_mutual_information(x, y) for x, y in draws])))
rows = np.array(rows)
figure, axes = plt.subplots(1, 2, figsize=(10, 4))
axes[0].semilogx(sizes, rows[:, 0], "o-", label="plug-in")
axes[0].semilogx(sizes, rows[:, 1], "s-", label="Miller-Madow")
axes[0].axhline(h_x, color="k", ls="--", label="true H(X)")
axes[0].set(xlabel="N", ylabel="bits", title="entropy estimates")
axes[0].legend()
axes[1].semilogx(sizes, rows[:, 2], "o-", label="plug-in MI")
axes[1].axhline(mi, color="k", ls="--", label="true I(X;Y)")
axes[1].set(xlabel="N", ylabel="bits", title="mutual information estimate")
axes[1].legend()
figure.tight_layout()
save_figure(figure, out / "plug_in_bias.png", dpi=100)
plt.close(figure)

# %% [markdown]
# ## InfoNCE on correlated Gaussians
#
# d = 2, ρ = 0.8: the truth is 1.02 nats. We train the estimator, then evaluate the bound,
# and the Donsker-Varadhan bound with the same critic (diagonal scores for the joint,
# off-diagonal ones for the product of marginals), on held-out pairs.

# %%
dim, rho, batch = 2, 0.8, 128
steps = 10 if QUICK else 600
truth = gaussian_mutual_information(dim, rho)
x, y = correlated_gaussians(batch * steps, dim, rho, seed=24)
x_test, y_test = correlated_gaussians(2048, dim, rho, seed=25)
model = information.InfoNCEEstimator(dim, hidden_units=(64,), embed_dim=16)
model.compile(optimizer=keras.optimizers.Adam(3e-3))
model.optimizer.build(model.trainable_variables)  # avoids tracing train_step twice
history = model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False,
                    callbacks=tensorboard_callbacks(out / "infonce"))
save_loss_curves({"mi": history.history["mi"]}, out / "infonce_training.png",
                 title=f"InfoNCE during training (truth {truth:.2f} nats)")
scores = model.critic(x_test[:batch], y_test[:batch])
off_diagonal = tf.boolean_mask(scores, ~tf.eye(batch, dtype=tf.bool))
dv = float(information.donsker_varadhan_bound(tf.linalg.diag_part(scores), off_diagonal))
print(f"InfoNCE {model.estimate(x_test, y_test, batch):.3f}, DV {dv:.3f}, "
      f"truth {truth:.3f}, cap log N = {np.log(batch):.3f} nats")

# %% [markdown]
# ## The log N cap
#
# For growing ρ the truth grows without bound; InfoNCE with batches of N pairs cannot pass
# log N. Here with N = 16, trained briefly for each ρ.

# %%
rhos = [0.99] if QUICK else [0.3, 0.6, 0.8, 0.9, 0.95, 0.99, 0.999]
small = 16
found = []
for rho_k in rhos:
    reset_keras(0)
    xs, ys = correlated_gaussians(small * (20 if QUICK else 600), dim, rho_k, seed=1)
    estimator = information.InfoNCEEstimator(dim, hidden_units=(64,), embed_dim=16)
    estimator.compile(optimizer=keras.optimizers.Adam(3e-3))
    estimator.optimizer.build(estimator.trainable_variables)  # avoids tracing train_step twice
    estimator.fit(xs, ys, batch_size=small, epochs=1, verbose=0, shuffle=False)
    xt, yt = correlated_gaussians(1024, dim, rho_k, seed=2)
    found.append(estimator.estimate(xt, yt, small))
figure, axis = plt.subplots(figsize=(5, 4))
axis.plot(rhos, [gaussian_mutual_information(dim, r) for r in rhos], "k--", label="truth")
axis.plot(rhos, found, "o-", label=f"InfoNCE, N = {small}")
axis.axhline(np.log(small), color="r", ls=":", label="log N")
axis.set(xlabel="rho", ylabel="nats", title="InfoNCE saturates at log N")
axis.legend()
figure.tight_layout()
save_figure(figure, out / "infonce_cap.png", dpi=100)
plt.close(figure)

# %% [markdown]
# ## MINE with the moving-average correction
#
# The same Gaussians, the Donsker-Varadhan bound trained by `MINEEstimator`: the bound it
# logs per batch, and the running average of exp(T) on the shuffled pairs.

# %%
import variational  # noqa: E402  (the second graded module)

from dlkit.data import load_digits  # noqa: E402

reset_keras(0)
mine_steps = 10 if QUICK else 600
xm, ym = correlated_gaussians(batch * mine_steps, dim, 0.8, seed=24)
mine = variational.MINEEstimator(dim, hidden_units=(64,))
mine.compile(optimizer=keras.optimizers.Adam(3e-3))
mine.optimizer.build(mine.trainable_variables)  # avoids tracing train_step twice
mine_history = mine.fit(xm, ym, batch_size=batch, epochs=1, verbose=0, shuffle=False)
save_loss_curves({"mi (DV, batch)": mine_history.history["mi"],
                  "running mean of exp(T)": mine_history.history["running_mean"]},
                 out / "mine_training.png", title=f"MINE (truth {truth:.2f} nats)")
print(f"MINE held-out DV {mine.estimate(x_test[:256], y_test[:256]):.3f}, "
      f"truth {truth:.3f} nats")

# %% [markdown]
# ## The information bottleneck: accuracy against I(Z; X)
#
# For growing β the rate (an upper bound on I(Z; X)) shrinks, and the accuracy follows.

# %%
xd, yd = load_digits("train", flatten=True)
xe, ye = load_digits("test", flatten=True)
betas = [1.0] if QUICK else [1e-4, 1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0]
points = []
for beta in betas:
    reset_keras(24)
    vib = variational.VIBClassifier(latent_dim=4, hidden_units=(32,), beta=beta, seed=24)
    vib.compile(optimizer=keras.optimizers.Adam(1e-2))
    vib.optimizer.build(vib.trainable_variables)  # avoids tracing train_step twice
    vib.fit(xd, yd, batch_size=64, epochs=1 if QUICK else 20, verbose=0, shuffle=False)
    accuracy = float(np.mean(np.argmax(vib(xe).numpy(), 1) == ye))
    points.append((float(np.mean(variational.rate(vib.encode(xe), 4))), accuracy))
    print(f"beta {beta:g}: rate {points[-1][0]:.2f} nats, test accuracy {accuracy:.3f}")
figure, axis = plt.subplots(figsize=(5, 4))
axis.semilogx([max(p[0], 1e-3) for p in points], [p[1] for p in points], "o-")
for beta, (r, a) in zip(betas, points):
    axis.annotate(f"β={beta:g}", (max(r, 1e-3), a))
axis.set(xlabel="rate = mean KL (nats), an upper bound on I(Z; X)", ylabel="test accuracy",
         title="the information bottleneck")
figure.tight_layout()
save_figure(figure, out / "vib_tradeoff.png", dpi=100)
plt.close(figure)

# %% [markdown]
# ## Bits-back code length of a small VAE
#
# The negative ELBO in bits per dimension, split into rate and distortion, against the
# importance-weighted code length as K grows.

# %%
xb, _ = load_digits("train", flatten=True, binarize=True)
xbt, _ = load_digits("test", flatten=True, binarize=True)
reset_keras(24)
vae = variational.BitsBackVAE(latent_dim=4, hidden_units=(64,), seed=24)
vae.compile(optimizer=keras.optimizers.Adam(1e-2 if QUICK else 3e-3))
vae.optimizer.build(vae.trainable_variables)  # avoids tracing train_step twice
vae.fit(xb, batch_size=64, epochs=1 if QUICK else 60, verbose=0, shuffle=False)
rates, distortion = (t.numpy() for t in vae.elbo_terms(xbt))
elbo_bits = variational.bits_per_dim(float(np.mean(rates + distortion)), 64)
ks = [4] if QUICK else [1, 2, 4, 8, 16, 64, 256]
iwae_bits = [variational.bits_per_dim(-float(np.mean(variational.iwae_bound(
    vae.importance_log_weights(xbt, k)))), 64) for k in ks]
print(f"-ELBO {elbo_bits:.4f} bits/dim = rate "
      f"{variational.bits_per_dim(float(np.mean(rates)), 64):.4f} + distortion "
      f"{variational.bits_per_dim(float(np.mean(distortion)), 64):.4f}")
figure, axis = plt.subplots(figsize=(5, 4))
axis.semilogx(ks, iwae_bits, "o-", label="-IWAE(K)")
axis.axhline(elbo_bits, color="k", ls="--", label="-ELBO")
axis.set(xlabel="K", ylabel="bits per dimension", title="code lengths of the VAE")
axis.legend()
figure.tight_layout()
save_figure(figure, out / "bits_back.png", dpi=100)
plt.close(figure)
