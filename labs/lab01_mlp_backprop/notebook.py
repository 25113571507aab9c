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
# # Lab 01 — a multilayer perceptron from its pieces
#
# This notebook uses your `layers.py`, `mlp.py` and `regions.py`. It checks your gradients
# numerically, compares a linear classifier with an MLP on a 2-D toy set, trains the same
# MLP on the digits three ways (by hand, with `tf.GradientTape`, with Keras), and counts the
# linear regions of ReLU networks. Figures and TensorBoard logs go to
# `outputs/lab01_mlp_backprop/notebook/`.
#
# Set `DLKIT_QUICK=1` for a fast smoke run with tiny budgets.

# %%
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dlkit.backend import keras as get_keras
from dlkit.backend import reset_keras, tensorflow
from dlkit.data import load_digits, toy2d_classification
from dlkit.plots import save_decision_boundary, save_figure, save_image_grid, save_loss_curves
from dlkit.training import run_dir, tensorboard_callbacks

tf = tensorflow()
keras = get_keras()

import layers  # noqa: E402  (your graded modules, next to this notebook)
import mlp  # noqa: E402
import regions  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
OUT = run_dir("lab01_mlp_backprop", "notebook")
reset_keras(0)
print("figures and logs in", OUT)

# %% [markdown]
# ## 1. Softmax and cross-entropy must survive large logits
#
# The naive formula overflows: `exp(1000)` is `inf` in float64, and `inf / inf` is NaN.
# Shifting each row by its maximum changes nothing mathematically and fixes it.

# %%
big = np.array([[1000.0, 999.0, 990.0], [-1000.0, -1001.0, -1010.0]])
with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(big) / np.exp(big).sum(axis=1, keepdims=True)
print("naive softmax:\n", naive)
print("stable softmax:\n", layers.softmax(big))
print("cross-entropy, label 0:", layers.cross_entropy(big, np.array([0, 0])))

# %% [markdown]
# ## 2. Gradient check
#
# The analytic gradient of a small loss (dense -> ReLU -> dense -> cross-entropy) against
# central differences in float64. Relative errors around 1e-8 or below mean the backward
# pass is right; 1e-2 or more means it is wrong.

# %%
rng = np.random.default_rng(0)
x_small = rng.normal(size=(5, 4))
labels_small = rng.integers(0, 3, size=5)
w1, b1 = rng.normal(size=(4, 6)), rng.normal(size=6)
w2, b2 = rng.normal(size=(6, 3)), rng.normal(size=3)


def small_loss(w1, b1, w2, b2):
    hidden = layers.relu_forward(layers.dense_forward(x_small, w1, b1))
    return layers.cross_entropy(layers.dense_forward(hidden, w2, b2), labels_small)


_, analytic = mlp.mlp_loss_and_grads([(w1, b1), (w2, b2)], x_small, labels_small)
numeric = {
    "w1": layers.numerical_gradient(lambda v: small_loss(v, b1, w2, b2), w1),
    "b1": layers.numerical_gradient(lambda v: small_loss(w1, v, w2, b2), b1),
    "w2": layers.numerical_gradient(lambda v: small_loss(w1, b1, v, b2), w2),
    "b2": layers.numerical_gradient(lambda v: small_loss(w1, b1, w2, v), b2),
}
for name, mine in zip(("w1", "b1", "w2", "b2"), [g for pair in analytic for g in pair]):
    print(f"{name}: relative error {layers.relative_error(mine, numeric[name]):.2e}")

# %% [markdown]
# ## 3. A linear classifier cannot bend; an MLP can
#
# `init_mlp((2, 2))` has no hidden layer: it *is* a linear (softmax) classifier. On the two
# moons, its decision boundary is a straight line; two ReLU layers bend it.

# %%
x_moons, y_moons = toy2d_classification("moons", 512, seed=0)
x_moons = x_moons.astype(np.float64)
moons_epochs = 20 if QUICK else 200
for name, sizes in (("linear", (2, 2)), ("mlp", (2, 32, 32, 2))):
    params, _ = mlp.train_mlp_manual(mlp.init_mlp(sizes, seed=0), x_moons, y_moons,
                                     epochs=moons_epochs, batch_size=32, learning_rate=0.1)
    accuracy = np.mean(mlp.predict(params, x_moons) == y_moons)
    print(f"{name}: training accuracy {accuracy:.3f}")
    save_decision_boundary(lambda points, p=params: mlp.predict(p, points.astype(np.float64)),
                           x_moons, y_moons, OUT / f"moons_{name}.png",
                           title=f"{name}: accuracy {accuracy:.2f}")

# %% [markdown]
# ## 4. The digits, by hand and with `tf.GradientTape`
#
# The same network, initialisation and batches: the two loss curves should lie on top of
# each other (up to float32 vs float64 rounding).

# %%
x_train, y_train = load_digits("train", flatten=True)
x_test, y_test = load_digits("test", flatten=True)
digits_epochs = 2 if QUICK else 50
start = mlp.init_mlp((64, 128, 10), seed=0)
manual, manual_losses = mlp.train_mlp_manual(start, x_train.astype(np.float64), y_train,
                                             epochs=digits_epochs, batch_size=16,
                                             learning_rate=0.1)
taped, tape_losses = mlp.train_mlp_tape(start, x_train, y_train, epochs=digits_epochs,
                                        batch_size=16, learning_rate=0.1)
for name, params in (("manual", manual), ("tape", taped)):
    accuracy = np.mean(mlp.predict(params, x_test.astype(np.float64)) == y_test)
    print(f"{name}: test accuracy {accuracy:.3f}")
save_loss_curves({"manual": manual_losses, "tape": tape_losses}, OUT / "digits_manual_vs_tape.png",
                 title="training loss", logy=True)

# %% [markdown]
# ## 5. The same MLP in Keras
#
# `build_keras_mlp` stacks your `Linear` layers. TensorBoard logs go to `OUT / "tensorboard"`
# (`tensorboard --logdir outputs/lab01_mlp_backprop`).

# %%
reset_keras(0)
model = mlp.build_keras_mlp(64, (128,), 10, learning_rate=1e-2)
history = model.fit(x_train, y_train, validation_data=(x_test, y_test),
                    epochs=2 if QUICK else 10, batch_size=64, verbose=0,
                    callbacks=tensorboard_callbacks(OUT / "tensorboard"))
print("Keras test accuracy:", history.history["val_accuracy"][-1])
save_loss_curves(history, OUT / "keras_history.png", title="Keras MLP on the digits")

model.save(OUT / "mlp.keras")
reloaded = keras.saving.load_model(OUT / "mlp.keras")
print("reloaded model agrees:", np.allclose(model.predict(x_test[:8], verbose=0),
                                            reloaded.predict(x_test[:8], verbose=0)))
predicted = np.argmax(model.predict(x_test[:32], verbose=0), axis=1)
save_image_grid(x_test[:32].reshape(-1, 8, 8), OUT / "digits_predictions.png",
                titles=[f"{p} ({t})" for p, t in zip(predicted, y_test[:32])],
                title="predicted (true)")

# %% [markdown]
# ## 6. Linear regions of ReLU networks
#
# A 1-D-input ReLU network is a piecewise linear function. Its breakpoints are where some
# hidden unit switches on or off; `activation_breakpoints` finds them exactly.

# %%
def random_network(sizes, seed):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(size=b) for b in sizes[1:]]
    return weights, biases


weights, biases = random_network((1, 16, 16, 1), seed=0)
breakpoints = regions.activation_breakpoints(weights, biases, -3.0, 3.0)
t = np.linspace(-3.0, 3.0, 2001)
figure = Figure(figsize=(7, 3.5))
FigureCanvasAgg(figure)
ax = figure.subplots()
ax.plot(t, regions.relu_network(weights, biases, t)[:, 0], lw=1.5)
for point in breakpoints:
    ax.axvline(point, color="grey", lw=0.5, alpha=0.6)
ax.set_title(f"a 1-16-16-1 ReLU network: {len(breakpoints) + 1} linear regions on [-3, 3]")
save_figure(figure, OUT / "linear_regions.png")

# %% [markdown]
# Deeper networks can make many more regions than wide ones with the same number of units
# (the count can grow exponentially in depth), though random weights seldom get close to
# that maximum.

# %%
seeds = range(2 if QUICK else 20)
for sizes in ((1, 32, 1), (1, 16, 16, 1), (1, 8, 8, 8, 8, 1)):
    counts = [regions.count_linear_regions(*random_network(sizes, s), -3.0, 3.0) for s in seeds]
    print(f"{'-'.join(map(str, sizes)):>14}: {np.mean(counts):5.1f} regions on average")

# %% [markdown]
# Training adds regions where the target bends: fit sin(3t) with a small Keras MLP and
# count the regions before and after.

# %%
reset_keras(0)
t_train = np.linspace(-2, 2, 256, dtype=np.float32)[:, None]
curve = keras.Sequential([keras.Input((1,)), mlp.Linear(16, "relu"), mlp.Linear(16, "relu"),
                          mlp.Linear(1)])
curve.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
curve.optimizer.build(curve.trainable_variables)  # avoids tracing train_step twice


def curve_regions(model):
    kernels = [layer.kernel.numpy().astype(np.float64) for layer in model.layers]
    biases = [layer.bias.numpy().astype(np.float64) for layer in model.layers]
    return regions.count_linear_regions(kernels, biases, -2.0, 2.0)


before = curve_regions(curve)
curve.fit(t_train, np.sin(3 * t_train), epochs=5 if QUICK else 300, batch_size=64, verbose=0)
print(f"regions on [-2, 2]: {before} before training, {curve_regions(curve)} after")
