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
# # Lab 25 companion: model compression
#
# Distillation, pruning and the lottery ticket, int8 quantisation (Keras's own and yours),
# low-rank factorisation, all on the 8x8 digits with the code of `compression.py`. Figures
# are PNGs under `outputs/lab25_model_compression/`. `DLKIT_QUICK=1` shrinks every budget to
# a smoke run.

# %%
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dlkit import backend  # noqa: E402
from dlkit.backend import reset_keras  # noqa: E402
from dlkit.data import load_digits  # noqa: E402
from dlkit.plots import save_figure  # noqa: E402
from dlkit.training import run_dir, tensorboard_callbacks  # noqa: E402

keras = backend.keras()  # the quiet TensorFlow import, before compression.py imports it
tf = backend.tensorflow()

import compression  # noqa: E402  (the graded modules, next to this file)
import qat  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
out = run_dir("lab25_model_compression", "quick" if QUICK else "full")
TEACHER_STEPS, STUDENT_STEPS, PRUNE_STEPS = (5, 5, 10) if QUICK else (300, 60, 400)
QAT_STEPS = 5 if QUICK else 40
x, y = load_digits("train", flatten=True)
test_x, test_y = load_digits("test", flatten=True)


def accuracy(model):
    return float((model.predict(test_x, verbose=0).argmax(1) == test_y).mean())


def batches(bs=128, seed=0):
    return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(2000, seed=seed).repeat().batch(bs)


# %% [markdown]
# ## Swish and Mish

# %%
grid = np.linspace(-5, 5, 201).astype("float32")
fig, ax = plt.subplots(figsize=(5, 3.5))
for name, values in (("ReLU", np.maximum(grid, 0)), ("Swish", compression.swish(grid)),
                     ("Swish beta 3", compression.swish(grid, 3.0)),
                     ("Mish", compression.mish(grid))):
    ax.plot(grid, np.asarray(values), label=name)
ax.legend()
ax.set_title("activations")
save_figure(fig, out / "activations.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## Distillation: a teacher, a student alone, a student distilled

# %%
reset_keras(0)
teacher = compression.make_mlp((128,), name="teacher")
teacher.compile(keras.optimizers.Adam(3e-3),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
teacher.optimizer.build(teacher.trainable_variables)  # avoids tracing train_step twice
teacher.fit(batches(), steps_per_epoch=TEACHER_STEPS, epochs=1, verbose=0)
print("teacher", accuracy(teacher))
pick = np.random.default_rng(0)
few = np.concatenate([pick.choice(np.flatnonzero(y == k), 3, replace=False) for k in range(10)])
results = {}
# A smoke run trains the distilled student only (the same train_step as the student alone).
for name, alpha in (("distilled", 0.1),) if QUICK else (("alone", 1.0), ("distilled", 0.1)):
    reset_keras(0)
    model = compression.Distiller(compression.make_mlp((32,), name="student"), teacher,
                                  temperature=4.0, alpha=alpha)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.optimizer.build(model.trainable_variables)  # avoids tracing train_step twice
    model.fit(tf.data.Dataset.from_tensors((x[few], y[few])).repeat(),
              steps_per_epoch=STUDENT_STEPS, epochs=1, verbose=0,
              callbacks=tensorboard_callbacks(out / f"tb_{name}"))
    results[name] = accuracy(model)
print(results)

# %% [markdown]
# ## Pruning to 90 % with the polynomial schedule, and the lottery ticket

# %%
def prune_run(initial=None, mask=None, seed=1):
    reset_keras(seed)
    model = compression.make_mlp((128,), name="pruned")
    kernels = [layer.kernel for layer in model.layers]
    start = [np.asarray(k) for k in kernels]
    if initial is not None:
        compression.rewind_to_initial(kernels, initial, mask)
    model.compile(keras.optimizers.Adam(3e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.optimizer.build(model.trainable_variables)  # avoids tracing train_step twice
    schedule = ((lambda t: 0.9) if mask is not None else
                (lambda t: compression.polynomial_sparsity(t, 0.0, 0.9, 0, PRUNE_STEPS // 2)))
    pruning = compression.MagnitudePruning(kernels, schedule)
    if mask is not None:
        pruning.masks = [np.asarray(m, np.float32) for m in mask]
    model.fit(batches(seed=seed), steps_per_epoch=PRUNE_STEPS, epochs=1, verbose=0,
              callbacks=[pruning])
    return model, start, pruning.masks


pruned, start, masks = prune_run()
ticket, _, _ = prune_run(start, masks)
if not QUICK:  # a smoke run rewinds once, to the ticket: the same code as a new init
    random_init = [np.random.default_rng(3).normal(0, s.std(), s.shape) for s in start]
    fresh, _, _ = prune_run(random_init, masks)
sparsity = [float((np.asarray(k) == 0).mean()) for k in pruned.trainable_weights[::2]]
pruning_results = {"pruned": accuracy(pruned), "ticket (rewound)": accuracy(ticket)}
if not QUICK:
    pruning_results["same mask, new init"] = accuracy(fresh)
print({**pruning_results, "sparsity": sparsity})
steps = np.arange(PRUNE_STEPS)
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(steps, [compression.polynomial_sparsity(t, 0.0, 0.9, 0, PRUNE_STEPS // 2) for t in steps])
ax.set_xlabel("step")
ax.set_ylabel("sparsity")
save_figure(fig, out / "sparsity_schedule.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## int8: Keras's model.quantize and the hand-written quantiser

# %%
q, scale = compression.quantize_per_channel(np.asarray(teacher.layers[0].kernel))
error = np.abs(compression.dequantize(q, scale) - np.asarray(teacher.layers[0].kernel)).max()
print("largest rounding error of the hidden kernel", error)
float_accuracy = accuracy(teacher)
teacher.quantize("int8")
print({"float32": float_accuracy, "int8 (model.quantize)": accuracy(teacher)})

# %% [markdown]
# ## Quantisation-aware training (qat.py)
#
# Left: fake quantisation at 3 bits on [-1, 1.5] (the nudged grid) and its straight-through
# gradient. Right: an MLP 64-16-10 of float Dense layers and the same of QATDense layers, 40
# Adam steps at seed 0 (the budget of the hidden check `qat_survives_int8`), before and after
# Keras's `model.quantize("int8")`.

# %%
grid = tf.constant(np.linspace(-2, 2.5, 451).astype("float32"))
with tf.GradientTape() as tape:
    tape.watch(grid)
    staircase = qat.fake_quant_range(grid, tf.constant(-1.0), tf.constant(1.5), 3)
slope = tape.gradient(staircase, grid)


def float_mlp(hidden=16):
    return keras.Sequential([keras.Input((64,)), keras.layers.Dense(hidden, activation="relu"),
                             keras.layers.Dense(10)])


qat_results = {}
for name in ("QAT",) if QUICK else ("float", "QAT"):  # a smoke run: the QAT model only
    reset_keras(0)
    model = qat.make_qat_mlp((16,)) if name == "QAT" else float_mlp()
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.optimizer.build(model.trainable_variables)  # avoids tracing train_step twice
    model.fit(batches(), steps_per_epoch=QAT_STEPS, epochs=1, verbose=0)
    plain = float_mlp()
    for target, layer in zip(plain.layers, model.layers):
        target.set_weights([np.asarray(layer.kernel), np.asarray(layer.bias)])
    plain.quantize("int8")
    qat_results[name] = (accuracy(model), accuracy(plain))
print(qat_results)
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
left.plot(grid, staircase, label="fake_quant_range, 3 bits")
left.plot(grid, slope, "--", label="straight-through gradient")
left.set_xlabel("x")
left.legend()
names = list(qat_results)
right.bar(np.arange(len(names)) - 0.2, [qat_results[n][0] for n in names], 0.4, label="float32")
right.bar(np.arange(len(names)) + 0.2, [qat_results[n][1] for n in names], 0.4, label="int8")
right.set_xticks(range(len(names)), names)
right.set_ylim(0.5, 1)
right.set_ylabel("test accuracy")
right.legend()
save_figure(fig, out / "qat.png", dpi=100)
plt.close(fig)

# %% [markdown]
# ## Low rank: the hidden layer of a fresh float teacher at several ranks

# %%
reset_keras(0)
dense = compression.make_mlp((128,), name="float_teacher")
dense.compile(keras.optimizers.Adam(3e-3),
              keras.losses.SparseCategoricalCrossentropy(from_logits=True))
dense.optimizer.build(dense.trainable_variables)  # avoids tracing train_step twice
dense.fit(batches(), steps_per_epoch=TEACHER_STEPS, epochs=1, verbose=0)
ranks = [4] if QUICK else [2, 4, 8, 16, 32, 64]  # each rank: one more model to predict with
accuracies, sizes = [], []
for rank in ranks:
    factorised = compression.factorize_dense(dense.layers[0], rank)
    model = keras.Sequential([keras.Input((64,)), factorised, dense.layers[1]])
    accuracies.append(accuracy(model))
    sizes.append(factorised.count_params())
print(dict(zip(ranks, accuracies)), "full", accuracy(dense))
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(sizes, accuracies, "o-")
ax.axhline(accuracy(dense), ls="--", c="k", label="full rank")
ax.set_xlabel("weights of the hidden layer")
ax.set_ylabel("test accuracy")
ax.legend()
save_figure(fig, out / "low_rank.png", dpi=100)
plt.close(fig)
