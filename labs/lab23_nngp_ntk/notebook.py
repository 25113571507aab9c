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
# # Lab 23 companion: infinitely wide networks as kernels
#
# This notebook uses `kernels.py` to look at the NNGP and the NTK of deep ReLU networks: the
# kernels as functions of the angle between two inputs, the NNGP against the covariance of
# real random Keras networks, GP regression with the NNGP on the circle, the NTK's drift as
# the width grows, and a wide network's training against the kernel gradient flow that
# predicts it. Every figure is a PNG under `outputs/lab23_nngp_ntk/`; the training curves
# also go to TensorBoard (`tensorboard --logdir outputs/lab23_nngp_ntk`).
#
# Run it as a script (`python notebook.py`) or open it with jupytext. `DLKIT_QUICK=1`
# shrinks every budget so the whole file runs in seconds.

# %%
import os
import time

import numpy as np

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.data import make_kernel_regression
from dlkit.training import run_dir

keras = backend.keras()  # the quiet TensorFlow import, before kernels.py imports it
tf = backend.tensorflow()

import kernels  # noqa: E402  (the graded module, next to this file)

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
out = run_dir("lab23_nngp_ntk", "quick" if QUICK else "full")
import matplotlib.pyplot as plt  # noqa: E402

# %% [markdown]
# ## The kernels against the angle
#
# For unit inputs the kernels depend on the angle between x and x' only. Deeper networks
# forget angles faster: their NNGP flattens towards a constant (every input looks alike),
# while the NTK keeps a sharp peak at angle 0.

# %%
angles = np.linspace(0, np.pi, 181)
x0 = np.array([[1.0, 0.0]])
xs = np.stack([np.cos(angles), np.sin(angles)], axis=1)
figure, axes = plt.subplots(1, 2, figsize=(10, 4))
for depth in (1, 2, 4, 8):
    nngp, ntk = kernels.ntk_kernel(x0, xs, depth)
    axes[0].plot(angles, nngp[0] / nngp[0, 0], label=f"depth {depth}")
    axes[1].plot(angles, ntk[0] / ntk[0, 0], label=f"depth {depth}")
for ax, name in zip(axes, ("NNGP", "NTK")):
    ax.set(title=f"{name} K(x, x') / K(x, x)", xlabel="angle between x and x' (radians)")
    ax.legend()
figure.tight_layout()
figure.savefig(out / "kernels_by_angle.png", dpi=100)

# %% [markdown]
# ## The NNGP is the covariance of random networks
#
# Draw many random `ntk_mlp` networks and measure the covariance of their outputs on a few
# points of the circle: it approaches `nngp_kernel` as the width grows.

# %%
points = make_kernel_regression(6, domain="circle", seed=1)["x_train"]
exact = kernels.nngp_kernel(points, points, 2)
seeds = 20 if QUICK else 300
widths = (16,) if QUICK else (16, 64, 256)
start = time.time()
errors = []
for width in widths:
    outputs = np.stack([np.asarray(kernels.ntk_mlp(2, width, 2, seed=3 * s)(points))[:, 0]
                        for s in range(seeds)])
    empirical = outputs.T @ outputs / seeds
    errors.append(np.abs(empirical - exact).max() / np.abs(exact).max())
    print(f"width {width:4d}: max |empirical - NNGP| / max NNGP = {errors[-1]:.3f}")
print(f"({seeds} networks per width, {time.time() - start:.0f} s)")

# %% [markdown]
# ## GP regression with the NNGP kernel
#
# 20 noisy points of a smooth function on the circle; the posterior mean and a band of two
# standard deviations of f, on evenly spaced test angles.

# %%
data = make_kernel_regression(20, 200, domain="circle", noise=0.1, seed=0)
k = kernels.nngp_kernel
mean, var = kernels.gp_posterior(
    k(data["x_train"], data["x_train"], 3), k(data["x_test"], data["x_train"], 3),
    np.diag(k(data["x_test"], data["x_test"], 3)), data["y_train"], 0.01)
test_angle = np.arctan2(data["x_test"][:, 1], data["x_test"][:, 0])
train_angle = np.arctan2(data["x_train"][:, 1], data["x_train"][:, 0])
print("test RMSE of the NNGP posterior mean:",
      f"{np.sqrt(np.mean((mean - data['y_test']) ** 2)):.3f}")
figure, ax = plt.subplots(figsize=(8, 4))
band = 2 * np.sqrt(np.maximum(var, 0))
ax.fill_between(test_angle, mean - band, mean + band, alpha=0.3, label="± 2 std of f")
ax.plot(test_angle, data["y_test"], "k--", label="target")
ax.plot(test_angle, mean, label="posterior mean (NNGP, depth 3)")
ax.scatter(train_angle, data["y_train"], color="C3", zorder=3, label="training points")
ax.set(xlabel="angle", title="GP regression with the NNGP kernel")
ax.legend()
figure.tight_layout()
figure.savefig(out / "nngp_posterior.png", dpi=100)

# %% [markdown]
# ## The NTK freezes as the width grows
#
# Train networks of growing width on the same 8 points for the same budget and measure how
# far their empirical NTK moves. The slope on log axes is close to -1/2.

# %%
train = make_kernel_regression(8, domain="circle", seed=2)
sweep = (16, 128) if QUICK else (16, 32, 64, 128, 256, 512, 1024, 2048)
drift = {w: np.mean([kernels.ntk_relative_change(kernels.ntk_mlp(2, w, 2, seed=s),
                                                 train["x_train"], train["y_train"], 0.02,
                                                 10 if QUICK else 50)
                     for s in range(1 if QUICK else 3)]) for w in sweep}
for width, change in drift.items():
    print(f"width {width:5d}: relative NTK change {change:.4f}")
figure, ax = plt.subplots(figsize=(5, 4))
ax.loglog(list(drift), list(drift.values()), "o-", label="measured")
ax.loglog(list(drift), drift[sweep[0]] * np.sqrt(sweep[0] / np.asarray(sweep)), "k--",
          label="1/sqrt(width)")
ax.set(xlabel="width", ylabel="||Θ_T − Θ_0|| / ||Θ_0||", title="NTK drift in training")
ax.legend()
figure.tight_layout()
figure.savefig(out / "ntk_drift.png", dpi=100)

# %% [markdown]
# ## Training predicted without training
#
# A wide network trained by full-batch gradient descent against `kernel_gradient_flow` of
# its initial empirical NTK. The losses are written to TensorBoard as well.

# %%
width, steps, rate = (256, 40, 0.02) if QUICK else (2048, 300, 0.02)
model = kernels.ntk_mlp(2, width, 2, seed=7)
theta = kernels.empirical_ntk(model, train["x_train"], train["x_train"])
outputs = kernels.train_full_batch(model, train["x_train"], train["y_train"], rate, steps)
flow = kernels.kernel_gradient_flow(theta, train["y_train"], outputs[0], rate,
                                    np.arange(steps + 1))
loss_net = 0.5 * ((outputs - train["y_train"]) ** 2).sum(1)
loss_flow = 0.5 * ((flow - train["y_train"]) ** 2).sum(1)
print(f"width {width}: largest gap between the network and the flow "
      f"{np.abs(outputs - flow).max():.4f}")
writer = tf.summary.create_file_writer(str(out / "logs"))
with writer.as_default():
    for step in range(steps + 1):
        tf.summary.scalar("loss/network", loss_net[step], step=step)
        tf.summary.scalar("loss/kernel_flow", loss_flow[step], step=step)
writer.flush()
figure, axes = plt.subplots(1, 2, figsize=(10, 4))
axes[0].semilogy(loss_net, label="network")
axes[0].semilogy(loss_flow, "--", label="kernel flow")
axes[0].set(xlabel="step", title="training loss")
axes[0].legend()
for i in range(4):
    axes[1].plot(outputs[:, i], color=f"C{i}")
    axes[1].plot(flow[:, i], "--", color=f"C{i}")
axes[1].set(xlabel="step", title="outputs f(x_i): network (solid), flow (dashed)")
figure.tight_layout()
figure.savefig(out / "training_vs_flow.png", dpi=100)
