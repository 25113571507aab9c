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
# # Lab 21 companion: explaining a CNN and a tabular model
#
# Part 1 trains the small CNN of `gradients.py` on procedural shapes and draws its saliency
# maps, SmoothGrad, guided backpropagation and integrated gradients. Part 2 fits a small MLP
# to the tabular set with known effects and explains it with Shapley values. Figures are PNGs
# under `outputs/lab21_explainability/`; `DLKIT_QUICK=1` shrinks every budget.

# %%
import os

import numpy as np

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.data import TABULAR_FEATURES, make_shapes, make_tabular
from dlkit.plots import save_figure, save_image_grid, save_loss_curves
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()
tf = backend.tensorflow()

import gradients  # noqa: E402  (the graded modules, next to this file)
import shapley  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
out = run_dir("lab21_explainability", "quick" if QUICK else "full")
EPOCHS, SAMPLES, STEPS = (1, 4, 8) if QUICK else (8, gradients.SMOOTHGRAD_SAMPLES,
                                                   gradients.IG_STEPS)

# %% [markdown]
# ## A CNN on procedural shapes

# %%
data = make_shapes(600 if QUICK else 3000, size=32, seed=0)
cnn = gradients.make_cnn()
cnn.compile(optimizer=keras.optimizers.Adam(3e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"])
history = cnn.fit(data["images"], data["labels"], batch_size=64, epochs=EPOCHS, verbose=0,
                  validation_split=0.2, callbacks=tensorboard_callbacks(out / "tb_cnn"))
save_loss_curves(history, out / "cnn_loss.png", title="shape CNN")
print("validation accuracy", history.history["val_accuracy"][-1])

# %% [markdown]
# ## Four gradient explanations of the same images

# %%
x, target = data["images"][:6], data["labels"][:6]
vanilla = gradients.saliency_map(gradients.input_gradients(cnn, x, target))
smooth = gradients.saliency_map(gradients.smoothgrad(cnn, x, target, samples=SAMPLES))
guided = gradients.saliency_map(gradients.guided_backprop(cnn, x, target))
integrated = gradients.integrated_gradients(cnn, x, target, steps=STEPS)
print("completeness gaps", gradients.completeness_gap(cnn, x, target, integrated))
rows = [x[..., 0], vanilla, smooth, guided, np.abs(integrated).max(axis=-1)]
save_image_grid(np.concatenate(rows), out / "explanations.png", ncols=len(x),
                titles=[name for name in ("image", "gradient", "SmoothGrad", "guided", "IG")
                        for _ in range(len(x))])

# %% [markdown]
# ## Shapley values of a tabular model
#
# f(x) = 2 x0 - x1 + sin(2 x2) + 1.5 x3 x4; x5..x7 play no part. An MLP learns it; Kernel SHAP
# explains one prediction against a background of 16 rows.

# %%
table = make_tabular(2000, seed=0)
reset_keras(0)
mlp = keras.Sequential([keras.Input((8,)), keras.layers.Dense(32, activation="relu"),
                        keras.layers.Dense(1)])
mlp.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
mlp.fit(table["x"], table["y"], batch_size=128, epochs=2 if QUICK else 40, verbose=0)


def model_fn(z):
    return mlp.predict(np.asarray(z, dtype="float32"), verbose=0, batch_size=4096)[:, 0]


value_fn = shapley.masked_value_function(model_fn, table["x"][0], table["x"][1:17])
phi = shapley.kernel_shap(value_fn, 8)
for name, value in zip(TABULAR_FEATURES, phi):
    print(f"{name:12s} {value:+.3f}")
import matplotlib.pyplot as plt  # noqa: E402

figure, axis = plt.subplots(figsize=(6, 3))
axis.barh(TABULAR_FEATURES, phi)
axis.set_title("Kernel SHAP of one prediction")
figure.tight_layout()
save_figure(figure, out / "kernel_shap.png")
plt.close(figure)
