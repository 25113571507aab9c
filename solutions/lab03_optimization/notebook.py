# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lab 03 — optimization: optimizers, curvature, initialisation, batch norm
#
# This notebook uses your `optimizers.py`, `conditioning.py`, `initialization.py` and
# `batchnorm.py`. It races your optimizers on an ill-conditioned quadratic, measures how
# the number of steps grows with the condition number, plots your learning-rate schedule,
# follows activation variances through a deep network, shows what standardising the
# inputs does to the curvature, and trains digit classifiers with your optimizers and your
# BatchNorm. Figures and TensorBoard logs go to `outputs/lab03_optimization/notebook/`.
#
# Set `DLKIT_QUICK=1` for a fast smoke run with tiny budgets.

# %%
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dlkit.backend import keras as get_keras
from dlkit.backend import reset_keras, tensorflow
from dlkit.data import load_digits
from dlkit.plots import save_figure, save_loss_curves
from dlkit.training import run_dir, tensorboard_callbacks

tf = tensorflow()
keras = get_keras()

import batchnorm  # noqa: E402  (your graded modules, next to this notebook)
import conditioning  # noqa: E402
import initialization  # noqa: E402
import optimizers  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
OUT = run_dir("lab03_optimization", "notebook")
reset_keras(0)
print("figures and logs in", OUT)


def new_figure(width=7.0, height=4.0):
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


# %% [markdown]
# ## 1. Six optimizers on a stretched bowl
#
# f(w) = 1/2 w^T A w with A = diag(1, 25): condition number 25. Gradient descent with the
# best constant step still zigzags across the steep direction and crawls along the flat
# one; momentum builds up speed along the valley; the adaptive methods rescale each
# coordinate by its own gradient history.

# %%
hessian_2d = np.diag([1.0, 25.0])
start_2d = np.array([-4.0, 1.5])


def optimizer_path(optimizer, hessian, start, steps):
    """The iterates of `optimizer` on f(w) = 1/2 w^T A w from `start`: (steps + 1, D)."""
    w = keras.Variable(start, dtype="float64")
    optimizer.build([w])
    a = tf.constant(hessian)

    @tf.function
    def step():
        optimizer.apply([tf.linalg.matvec(a, w.value)], [w])
        return w.value

    return np.stack([start] + [step().numpy() for _ in range(steps)])


gd_lr, _ = conditioning.gradient_descent_parameters(hessian_2d)
hb_lr, hb_momentum, _ = conditioning.heavy_ball_parameters(hessian_2d)
kappa_2d = conditioning.condition_number(hessian_2d)
nesterov_momentum = (np.sqrt(kappa_2d) - 1) / (np.sqrt(kappa_2d) + 1)
racers = {
    "gradient descent": optimizers.MomentumSGD(gd_lr),
    "heavy ball": optimizers.MomentumSGD(hb_lr, hb_momentum),
    "Nesterov": optimizers.MomentumSGD(1.0 / 25.0, nesterov_momentum, nesterov=True),
    "AdaGrad": optimizers.AdaGrad(1.0),
    "RMSProp": optimizers.RMSProp(0.1),
    "Adam": optimizers.Adam(0.3),
}
paths = {name: optimizer_path(opt, hessian_2d, start_2d, 15 if QUICK else 60)
         for name, opt in racers.items()}

figure = new_figure(9, 4.5)
ax = figure.subplots()
grid_x, grid_y = np.meshgrid(np.linspace(-4.5, 4.5, 200), np.linspace(-2, 2, 200))
ax.contour(grid_x, grid_y, 0.5 * (grid_x ** 2 + 25 * grid_y ** 2), levels=20, colors="0.8",
           linewidths=0.6)
for name, path in paths.items():
    ax.plot(path[:, 0], path[:, 1], ".-", lw=1, ms=3, label=name)
    print(f"{name:>16}: distance to the minimum after {len(path) - 1} steps "
          f"{np.linalg.norm(path[-1]):.2e}")
ax.legend(fontsize=8)
ax.set_title("optimizers on f(w) = (w1^2 + 25 w2^2) / 2")
save_figure(figure, OUT / "quadratic_paths.png")

# %% [markdown]
# ## 2. Steps to converge against the condition number
#
# Theory: gradient descent needs about kappa / 2 * ln(1 / tol) steps, heavy-ball momentum
# about sqrt(kappa) / 2 * ln(1 / tol). Measured on random 10-d quadratics with eigenvalues
# from 1 to kappa, to a tolerance of 1e-4 of the starting distance:

# %%
def random_quadratic(rng, dim, kappa):
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    return (rotation * np.geomspace(1.0, kappa, dim)) @ rotation.T, rng.normal(size=dim)


def steps_to_converge(optimizer, hessian, target, tolerance=1e-4, max_steps=20000):
    solution = np.linalg.solve(hessian, target)
    w = keras.Variable(np.zeros_like(target), dtype="float64")
    optimizer.build([w])
    a, b, w_star = (tf.constant(v) for v in (hessian, target, solution))
    goal = tolerance * float(np.linalg.norm(solution))

    @tf.function
    def run():
        def step(t, _distance):
            optimizer.apply([tf.linalg.matvec(a, w.value) - b], [w])
            return t + 1, tf.norm(w.value - w_star)
        return tf.while_loop(lambda t, d: (t < max_steps) & (d > goal), step,
                             [tf.constant(0), tf.norm(w.value - w_star)])[0]
    return int(run())


rng = np.random.default_rng(0)
kappas = [10] if QUICK else [10, 30, 100, 300, 1000, 3000]
counts = {"gradient descent": [], "heavy ball": []}
for kappa in kappas:
    hessian, target = random_quadratic(rng, 10, kappa)
    lr, _ = conditioning.gradient_descent_parameters(hessian)
    hb_lr, hb_momentum, _ = conditioning.heavy_ball_parameters(hessian)
    counts["gradient descent"].append(steps_to_converge(optimizers.MomentumSGD(lr), hessian,
                                                        target))
    counts["heavy ball"].append(steps_to_converge(
        optimizers.MomentumSGD(hb_lr, hb_momentum), hessian, target))
    print(f"kappa {kappa:>5}: gradient descent {counts['gradient descent'][-1]:>6} steps, "
          f"heavy ball {counts['heavy ball'][-1]:>4} steps")

figure = new_figure()
ax = figure.subplots()
for name, values in counts.items():
    ax.loglog(kappas, values, "o-", label=name)
ax.loglog(kappas, np.array(kappas) / 2 * np.log(1e4), "k:", lw=1, label="kappa/2 ln(1/tol)")
ax.loglog(kappas, np.sqrt(kappas) / 2 * np.log(1e4), "k--", lw=1,
          label="sqrt(kappa)/2 ln(1/tol)")
ax.set_xlabel("condition number")
ax.set_ylabel("steps to 1e-4")
ax.legend(fontsize=8)
save_figure(figure, OUT / "steps_vs_condition_number.png")

# %% [markdown]
# ## 3. Warmup and cosine decay

# %%
total_steps = 1000
schedule = optimizers.WarmupCosineDecay(1e-2, warmup_steps=100, decay_steps=900,
                                        final_learning_rate=1e-4)
steps = np.arange(0, total_steps + 100, 10 if QUICK else 1)  # one eager call per point
figure = new_figure(6, 3.5)
ax = figure.subplots()
ax.plot(steps, [float(schedule(s)) for s in steps])
ax.set_xlabel("step")
ax.set_ylabel("learning rate")
ax.set_title("WarmupCosineDecay(1e-2, 100, 900, 1e-4)")
save_figure(figure, OUT / "schedule.png")

# %% [markdown]
# ## 4. Activation variance through depth
#
# A 64-512-...-512 MLP, 20 layers, no biases, on standard normal inputs. With He
# initialisation the ReLU network keeps its pre-activation variance near 2; Glorot halves
# it layer after layer for ReLU (it is made for tanh). A fixed N(0, 0.05^2), whatever the
# width, multiplies it by 512 * 0.05^2 / 2 = 0.64 per layer here: its fate depends on the
# width. Gradients shrink (or explode) the same way on the way back.

# %%
def variances_through_depth(kernel_initializer, activation, layers=20, width=512, seed=0):
    x = np.random.default_rng(seed).normal(size=(256, 64)).astype("float32")
    out = []
    for _ in range(layers):
        pre = keras.layers.Dense(width, use_bias=False,
                                 kernel_initializer=kernel_initializer())(x)
        out.append(float(np.mean(np.asarray(pre) ** 2)))
        x = np.maximum(pre, 0.0) if activation == "relu" else np.tanh(pre)
    return out


depth = 6 if QUICK else 20
settings = {
    "He, ReLU": (lambda: initialization.ScaledNormal("he"), "relu"),
    "Glorot, ReLU": (lambda: initialization.ScaledNormal("glorot"), "relu"),
    "Glorot, tanh": (lambda: initialization.ScaledNormal("glorot"), "tanh"),
    "N(0, 0.05^2), ReLU": (lambda: keras.initializers.RandomNormal(stddev=0.05), "relu"),
}
figure = new_figure()
ax = figure.subplots()
for name, (make, activation) in settings.items():
    values = variances_through_depth(make, activation, layers=depth)
    ax.semilogy(np.arange(1, depth + 1), values, "o-", ms=3, label=name)
    print(f"{name:>20}: layer 1 {values[0]:.3g}, layer {depth} {values[-1]:.3g}")
ax.set_xlabel("layer")
ax.set_ylabel("mean square of the pre-activations")
ax.legend(fontsize=8)
save_figure(figure, OUT / "variance_through_depth.png")

# %% [markdown]
# ## 5. Input scaling changes the curvature
#
# The mean squared error of a linear model on the digits has Hessian X^T X / N. Raw pixels
# are all positive with means around 0.3: one direction (the mean image) has a huge
# eigenvalue, and pixels that are nearly always blank give tiny ones. Standardising removes
# both. (Pixels that are constant in the training set are dropped: they add exact zeros.)

# %%
x_train, y_train = load_digits("train", flatten=True)
x_test, y_test = load_digits("test", flatten=True)
varying = x_train.std(axis=0) > 0
raw = x_train[:, varying].astype(np.float64)
scaled, _ = conditioning.standardize(raw, raw)
kappa_raw = conditioning.condition_number(conditioning.least_squares_hessian(raw))
kappa_scaled = conditioning.condition_number(conditioning.least_squares_hessian(scaled))
print(f"condition number of X^T X / N on {varying.sum()} pixels: raw {kappa_raw:.3g}, "
      f"standardized {kappa_scaled:.3g}")

# %% [markdown]
# The same 64-64-10 MLP and the same plain gradient descent (lr 0.1) on raw and on
# standardized pixels:

# %%
train_scaled, test_scaled = (a.astype("float32") for a in
                             conditioning.standardize(x_train, x_test))
epochs = 2 if QUICK else 20


def mlp(hidden=(64,), normalization=None, activation="relu"):
    layers = [keras.Input((64,))]
    for units in hidden:
        layers.append(keras.layers.Dense(
            units, kernel_initializer=initialization.ScaledNormal("he"),
            use_bias=normalization is None))
        if normalization is not None:
            layers.append(normalization())
        layers.append(keras.layers.Activation(activation))
    layers.append(keras.layers.Dense(10))
    return keras.Sequential(layers)


scaling_histories = {}
inputs = {"raw": (x_train, x_test), "standardized": (train_scaled, test_scaled)}
if QUICK:  # a smoke run trains on the standardized digits only: the same code
    inputs = {"standardized": inputs["standardized"]}
for name, (train, test) in inputs.items():
    reset_keras(0)
    model = mlp()
    model.compile(optimizer=optimizers.MomentumSGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], steps_per_execution=1 if QUICK else 11)
    model.optimizer.build(model.trainable_variables)  # avoids tracing train_step twice
    history = model.fit(train, y_train, validation_data=(test, y_test), batch_size=64,
                        epochs=epochs, verbose=0).history
    scaling_histories[f"{name} loss"] = history["loss"]
    print(f"{name:>12}: training loss {history['loss'][-1]:.3f}, "
          f"test accuracy {history['val_accuracy'][-1]:.3f}")
save_loss_curves(scaling_histories, OUT / "input_scaling.png", title="SGD on raw vs standardized")

# %% [markdown]
# ## 6. Your optimizers on the digits
#
# The same MLP on standardized digits with each of your optimizers. The Adam run uses
# your warmup + cosine schedule and logs to TensorBoard
# (`tensorboard --logdir outputs/lab03_optimization`).

# %%
steps_per_epoch = int(np.ceil(len(x_train) / 64))
contenders = {
    "SGD": lambda: optimizers.MomentumSGD(0.05),
    "momentum 0.9": lambda: optimizers.MomentumSGD(0.05, 0.9),
    "Nesterov 0.9": lambda: optimizers.MomentumSGD(0.05, 0.9, nesterov=True),
    "AdaGrad": lambda: optimizers.AdaGrad(0.05),
    "RMSProp": lambda: optimizers.RMSProp(1e-3),
    "Adam + schedule": lambda: optimizers.Adam(optimizers.WarmupCosineDecay(
        1e-2, steps_per_epoch, steps_per_epoch * (epochs - 1), 1e-4)),
}
if QUICK:  # a smoke run: only the run that logs to TensorBoard
    contenders = {"Adam + schedule": contenders["Adam + schedule"]}
losses = {}
for name, make in contenders.items():
    reset_keras(0)
    model = mlp()
    model.compile(optimizer=make(),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], steps_per_execution=1 if QUICK else 11)
    model.optimizer.build(model.trainable_variables)  # avoids tracing train_step twice
    callbacks = tensorboard_callbacks(OUT / "tensorboard" / "adam") if name.startswith("Adam") \
        else []
    history = model.fit(train_scaled, y_train, validation_data=(test_scaled, y_test),
                        batch_size=64, epochs=epochs, verbose=0, callbacks=callbacks).history
    losses[name] = history["loss"]
    print(f"{name:>16}: training loss {history['loss'][-1]:.4f}, "
          f"test accuracy {history['val_accuracy'][-1]:.3f}")
save_loss_curves(losses, OUT / "optimizers_on_digits.png", title="training loss", logy=True)

# %% [markdown]
# ## 7. Batch normalisation
#
# A deep, narrow sigmoid MLP (8 hidden layers of 32) is hard to train with plain SGD: the
# signal fades through the saturating layers. Your BatchNorm after each dense layer keeps
# every layer's inputs centred and scaled, and training gets going at once.

# %%
deep = (32,) * (3 if QUICK else 8)  # a smoke run only checks the plumbing
bn_histories = {}
normalizations = (("no BatchNorm", None), ("BatchNorm", batchnorm.BatchNorm))
for name, normalization in normalizations[1:] if QUICK else normalizations:  # smoke: BN only
    reset_keras(0)
    model = mlp(deep, normalization, activation="sigmoid")
    model.compile(optimizer=optimizers.MomentumSGD(0.05, 0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], steps_per_execution=1 if QUICK else 11)
    model.optimizer.build(model.trainable_variables)  # avoids tracing train_step twice
    history = model.fit(train_scaled, y_train, validation_data=(test_scaled, y_test),
                        batch_size=64, epochs=epochs, verbose=0).history
    bn_histories[f"{name} loss"] = history["loss"]
    bn_histories[f"val_{name} loss"] = history["val_loss"]
    print(f"{name:>13}: test accuracy {history['val_accuracy'][-1]:.3f}")
save_loss_curves(bn_histories, OUT / "batchnorm.png", title="8 sigmoid layers, SGD + momentum")

# %% [markdown]
# Training and inference differ: in training mode an example's output depends on the rest
# of its batch; at inference it does not. And the model saves with its moving statistics.

# %%
batch = test_scaled[:32]
first_alone = model(batch[:1], training=True).numpy()
first_in_batch = model(batch, training=True).numpy()[:1]
print("training mode, same example alone vs in a batch: max difference",
      float(np.max(np.abs(first_alone - first_in_batch))))
print("inference mode, same example alone vs in a batch: max difference",
      float(np.max(np.abs(model(batch[:1]).numpy() - model(batch).numpy()[:1]))))
model.save(OUT / "batchnorm_mlp.keras")
reloaded = keras.saving.load_model(OUT / "batchnorm_mlp.keras")
print("reloaded model agrees:", np.allclose(model(batch).numpy(), reloaded(batch).numpy(),
                                            atol=1e-5))
