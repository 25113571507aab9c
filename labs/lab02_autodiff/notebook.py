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
# # Lab 02 — automatic differentiation from scratch
#
# This notebook uses your `reverse.py`, `forward.py` and `jacobians.py`. It takes a first
# gradient three ways (your engine, central differences, `tf.GradientTape`), prints the tape
# of a small program, shows why broadcasting needs un-broadcasting, checks forward mode
# against reverse mode, times full Jacobians built column by column and row by row, and
# trains a small MLP with nothing but your engine, next to the same MLP in Keras. Figures
# and TensorBoard logs go to `outputs/lab02_autodiff/notebook/`.
#
# Set `DLKIT_QUICK=1` for a fast smoke run.

# %%
import os
import time

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dlkit.backend import keras as get_keras
from dlkit.backend import reset_keras, tensorflow
from dlkit.data import toy2d_classification
from dlkit.plots import save_decision_boundary, save_figure, save_loss_curves
from dlkit.training import run_dir, tensorboard_callbacks

tf = tensorflow()
keras = get_keras()

import forward  # noqa: E402  (your graded modules, next to this notebook)
import jacobians  # noqa: E402
import reverse  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
OUT = run_dir("lab02_autodiff", "notebook")
reset_keras(0)
print("figures and logs in", OUT)

# %% [markdown]
# ## 1. A first gradient, three ways
#
# f(x, y) = sum(tanh(x * y) + exp(x) / y). Your engine records the program and walks it
# backwards; central differences need two evaluations per input entry; the tape of
# TensorFlow does what your engine does.

# %%
rng = np.random.default_rng(0)
x0, y0 = rng.normal(size=(2, 3)), rng.uniform(1.0, 2.0, size=(2, 3))


def f(ops, x, y):
    """The same program for either engine: `ops` is reverse or forward."""
    return ops.reduce_sum(ops.tanh(x * y) + ops.exp(x) / y)


dx, dy = reverse.grad(lambda x, y: f(reverse, x, y))(x0, y0)


def numerical(fun, x, h=1e-6):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = h
        grad[index] = (fun(x + step) - fun(x - step)) / (2 * h)
    return grad


def f_numpy(x, y):
    return float(np.sum(np.tanh(x * y) + np.exp(x) / y))


tx, ty = tf.constant(x0), tf.constant(y0)
with tf.GradientTape() as tape:
    tape.watch([tx, ty])
    out = tf.reduce_sum(tf.tanh(tx * ty) + tf.exp(tx) / ty)
tape_dx, tape_dy = tape.gradient(out, [tx, ty])
numeric_dx = numerical(lambda v: f_numpy(v, y0), x0)
numeric_dy = numerical(lambda v: f_numpy(x0, v), y0)
print("dx, dy, engine vs central differences:", np.max(np.abs(dx - numeric_dx)),
      np.max(np.abs(dy - numeric_dy)))
print("dx, dy, engine vs tf.GradientTape:", np.max(np.abs(dx - tape_dx.numpy())),
      np.max(np.abs(dy - tape_dy.numpy())))

# %% [markdown]
# ## 2. The tape
#
# `topological_order` lists every node the output depends on, parents first. `x` is used
# twice (in `x * y` and in `exp(x)`): its gradient is the sum of what both uses send back.

# %%
x, y = reverse.Node(x0, op="x"), reverse.Node(y0, op="y")
loss = f(reverse, x, y)
for node in reverse.topological_order(loss):
    parents = ", ".join(p.op for p in node.parents)
    print(f"{node.op:>10}({parents:<14}) -> shape {node.shape}")

# %% [markdown]
# ## 3. Broadcasting, and why its gradient is a sum
#
# A bias b of shape (M,) is added to every row of an (N, M) batch: numpy copies it N times.
# Each copy receives its share of the gradient, so b's gradient is the sum over the rows.
# That is `unbroadcast`; without it, b's "gradient" would have the batch's shape.

# %%
batch = rng.normal(size=(5, 3))
b = reverse.Node(np.zeros(3))
reverse.backward(reverse.reduce_sum(reverse.tanh(batch + b)))
print("b.grad:", b.grad, " shape", b.grad.shape)
print("sum over rows of d tanh:", np.sum(1 - np.tanh(batch) ** 2, axis=0))

# %% [markdown]
# ## 4. Forward mode: one directional derivative per pass
#
# A dual number carries (value, tangent). Push the tangent v through f and the output's
# tangent is the directional derivative grad(f) · v, which reverse mode gives as a dot
# product.

# %%
vx, vy = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
value, tangent = forward.jvp(lambda d: f(forward, d, forward.Dual(y0, vy)), x0, vx)
print(f"forward mode: f = {float(value):.6f}, tangent = {float(tangent):.12f}")
print(f"reverse mode: <grad, v>  = {float(np.sum(dx * vx) + np.sum(dy * vy)):.12f}")

# %% [markdown]
# ## 5. A full Jacobian: n JVPs or m VJPs
#
# For f(x) = tanh(A x) from R^n to R^m, forward mode builds the Jacobian column by column
# (n passes), reverse mode row by row (one recorded tape, m backward passes). We fix m = 8
# and grow n: forward mode's cost grows with n, reverse mode's does not.

# %%
def tanh_of_a_x(ops, a, x):
    """f(x) = tanh(A x) for either engine, A x written as (m, n) * (n,) summed over rows."""
    return ops.tanh(ops.reduce_sum(a * x, axis=1))


m = 8
sizes = [2, 8, 32] if QUICK else [2, 8, 32, 128, 512]
timings = {"forward": [], "reverse": []}
for n in sizes:
    a = rng.normal(size=(m, n)) / np.sqrt(n)
    point = rng.normal(size=n)
    jacobian = {}
    for mode, build, ops in (("forward", jacobians.jacobian_forward, forward),
                             ("reverse", jacobians.jacobian_reverse, reverse)):
        seconds = []
        for _ in range(3):  # the fastest of three: the machine may be busy
            start = time.perf_counter()
            jacobian[mode] = build(lambda x, ops=ops: tanh_of_a_x(ops, a, x), point)
            seconds.append(time.perf_counter() - start)
        timings[mode].append(min(seconds))
    agree = np.allclose(jacobian["forward"], jacobian["reverse"])
    print(f"n = {n:4d}: forward {timings['forward'][-1] * 1e3:7.2f} ms, reverse "
          f"{timings['reverse'][-1] * 1e3:7.2f} ms, Jacobians agree: {agree}, "
          f"cheaper_mode says {jacobians.cheaper_mode((n,), (m,))}")

figure = Figure(figsize=(6, 4))
FigureCanvasAgg(figure)
ax = figure.subplots()
for mode, seconds in timings.items():
    ax.plot(sizes, np.asarray(seconds) * 1e3, "o-", label=f"{mode} mode")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("n (inputs), m = 8 outputs")
ax.set_ylabel("time to build the Jacobian (ms)")
ax.legend()
ax.grid(alpha=0.3)
save_figure(figure, OUT / "jacobian_cost.png", bbox_inches="tight")

# %% [markdown]
# ## 6. Training an MLP with your engine
#
# A 2-16-16-1 tanh MLP on the two moons, full-batch gradient descent on the logistic loss
# softplus(-y z) (labels y = ±1, logit z). softplus(t) = log(1 + exp(t)) overflows for
# large t, so we write it as relu(t) + log(1 + exp(-|t|)) with |t| = relu(t) + relu(-t):
# only primitives of your engine.

# %%
points, labels = toy2d_classification("moons", 512, seed=0)
points = points.astype(np.float64)
signs = (2.0 * labels - 1.0).reshape(-1, 1)


def softplus(t):
    magnitude = reverse.relu(t) + reverse.relu(-t)
    return reverse.relu(t) + reverse.log(1.0 + reverse.exp(-magnitude))


def init_params(seed, sizes=(2, 16, 16, 1)):
    init = np.random.default_rng(seed)
    return [(init.normal(size=(d_in, d_out)) * np.sqrt(1.0 / d_in), np.zeros(d_out))
            for d_in, d_out in zip(sizes[:-1], sizes[1:])]


def logits(params, x):
    out = x
    for index, (w, b) in enumerate(params):
        out = reverse.matmul(out, w) + b
        out = reverse.tanh(out) if index < len(params) - 1 else out
    return out


params = init_params(0)
steps, learning_rate = (40 if QUICK else 1000), 0.5
losses = []
for step in range(steps):
    nodes = [(reverse.Node(w), reverse.Node(b)) for w, b in params]
    loss = reverse.reduce_mean(softplus(-signs * logits(nodes, points)))
    reverse.backward(loss)
    params = [(w.value - learning_rate * w.grad, b.value - learning_rate * b.grad)
              for w, b in nodes]
    losses.append(float(loss.value))


def engine_predict(grid):
    return (logits(params, grid.astype(np.float64)).value[:, 0] > 0).astype(int)


engine_accuracy = float(np.mean(engine_predict(points) == labels))
print(f"engine MLP: loss {losses[-1]:.4f}, training accuracy {engine_accuracy:.3f}")
save_decision_boundary(engine_predict, points, labels, OUT / "moons_engine.png",
                       title=f"your engine: accuracy {engine_accuracy:.2f}")

# %% [markdown]
# The same network and optimiser in Keras (its own initialisation), logged to TensorBoard
# (`tensorboard --logdir outputs/lab02_autodiff`). One full batch per epoch, so an epoch is
# one step, as above.

# %%
reset_keras(0)
model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, "tanh"),
                          keras.layers.Dense(16, "tanh"), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(learning_rate),
              loss=keras.losses.BinaryCrossentropy(from_logits=True),
              metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)])
history = model.fit(points.astype(np.float32), labels.astype(np.float32), epochs=steps,
                    batch_size=len(points), verbose=0,
                    callbacks=tensorboard_callbacks(OUT / "tensorboard"))
keras_accuracy = history.history["binary_accuracy"][-1]
print(f"Keras MLP: loss {history.history['loss'][-1]:.4f}, training accuracy "
      f"{keras_accuracy:.3f}")
save_loss_curves({"your engine": losses, "keras": history.history["loss"]},
                 OUT / "moons_loss.png", title="logistic loss, full-batch gradient descent",
                 logy=True)
