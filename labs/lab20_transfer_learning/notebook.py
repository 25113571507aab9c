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
# # Lab 20 companion: transfer learning and domain adaptation
#
# Part 1 pretrains the backbone of `transfer.py` on clean digits and transfers it to
# low-contrast digits on a grey background with two labels per class: from scratch, feature
# extraction and fine-tuning.
# Part 2 trains one model on clean digits and tests it on digits drawn over a stripe texture
# (source-only), then adapts it with DANN (gradient reversal) and with an MMD loss, and looks
# at the features of both domains. Figures are PNGs under `outputs/lab20_transfer_learning/`,
# TensorBoard logs next to them. `DLKIT_QUICK=1` shrinks every budget to a smoke run.

# %%
import os

import numpy as np

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.data import load_digits, make_domains, paired_domains
from dlkit.plots import save_figure, save_image_grid, save_loss_curves, save_scatter_2d
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before transfer.py imports it
tf = backend.tensorflow()

import transfer  # noqa: E402  (the graded module, next to this file)

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
out = run_dir("lab20_transfer_learning", "quick" if QUICK else "full")
PRETRAIN_EPOCHS, TRANSFER_EPOCHS, DANN_STEPS = (1, 2, 20) if QUICK else (15, 200, 250)

# %% [markdown]
# ## The data
#
# The source task: half of the training digits, clean and labelled (about 670 images). The
# target task: the same ten classes drawn faint on a grey background (the `contrast` shift),
# with only two labelled images per class (20 in all), tested on the 450 shifted test digits.

# %%
task = make_domains("contrast", labelled_per_class=2, seed=0)
print({key: value.shape for key, value in task.items()})
save_image_grid(task["few_x"][..., 0], out / "target_task_labels.png", ncols=10,
                titles=[str(int(y)) for y in task["few_y"]])

# %% [markdown]
# ## Pretraining the backbone on the source task

# %%
reset_keras(0)
backbone = transfer.make_backbone()
pretrain = keras.Sequential([backbone, keras.layers.Dense(10)])
pretrain.compile(optimizer=keras.optimizers.Adam(3e-3),
                 loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                 metrics=["accuracy"])
pretrain.optimizer.build(pretrain.trainable_variables)  # avoids tracing train_step twice
history = pretrain.fit(task["source_x"], task["source_y"], batch_size=64, epochs=PRETRAIN_EPOCHS,
                       verbose=0, callbacks=tensorboard_callbacks(out / "tb_pretrain"))
save_loss_curves(history, out / "pretrain_loss.png", title="pretraining on clean digits")
pretrained = backbone.get_weights()
print("source training accuracy", history.history["accuracy"][-1])

# %% [markdown]
# ## From scratch, feature extraction, fine-tuning
#
# The same architecture three ways on the 20 labelled target images. From scratch, the
# backbone starts random and trains at the base rate; feature extraction freezes the
# pretrained backbone; fine-tuning trains it too, at a tenth of the rate (base rate 1e-2,
# 200 full-batch steps). `fit`'s
# `training=True` never reaches the backbone's batch norm (`TransferClassifier.call`).


# %%
def transfer_run(fine_tune, from_scratch=False):
    reset_keras(0)
    net = transfer.make_backbone()
    if not from_scratch:
        net.set_weights(pretrained)
    model = transfer.build_transfer_model(net, 10, fine_tune=fine_tune or from_scratch)
    rate = 1e-2 if from_scratch else transfer.transfer_learning_rate(1e-2, fine_tune=fine_tune)
    model.compile(optimizer=keras.optimizers.Adam(rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.optimizer.build(model.trainable_variables)  # avoids tracing train_step twice
    model.fit(task["few_x"], task["few_y"], batch_size=len(task["few_x"]),
              epochs=TRANSFER_EPOCHS, verbose=0)
    return transfer.target_accuracy(model, task["test_x"], task["test_y"])


results = {"from scratch": transfer_run(True, from_scratch=True),
           "feature extraction": transfer_run(False)}
if not QUICK:  # a smoke run: fine-tuning is the feature extraction run with fine_tune=True
    results["fine-tuning"] = transfer_run(True)
print(results)

# %%
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

figure, axis = plt.subplots(figsize=(5, 3))
axis.bar(list(results), list(results.values()), color=["grey", "tab:blue", "tab:orange"])
axis.set_ylabel("test accuracy, low-contrast digits")
axis.set_ylim(0, 1)
figure.tight_layout()
save_figure(figure, out / "transfer_accuracy.png")
plt.close(figure)

# %% [markdown]
# ## A shifted target domain
#
# Source: clean digits, labelled. Target: the other half of the training digits drawn over
# a random stripe texture, unlabelled. A model trained on the source alone loses a lot on
# the target; DANN and MMD use the unlabelled target images to align the two domains.

# %%
domains = make_domains("texture", seed=0)
save_image_grid(np.concatenate([domains["source_x"][:8], domains["target_x"][:8]])[..., 0],
                out / "domains.png", ncols=8)
clean_x, clean_y = load_digits("test")
pairs_x, pairs_y = paired_domains(domains["source_x"], domains["source_y"],
                                  domains["target_x"], seed=0)
target_images = np.concatenate([domains["target_x"], domains["test_x"]])
target_labels = np.concatenate([domains["target_y"], domains["test_y"]])


class RampLambda(keras.callbacks.Callback):
    """DANN's schedule: lambda = lambda_max (2 / (1 + exp(-10 p)) - 1)."""

    def __init__(self, lambda_max, steps):
        super().__init__()
        self.lambda_max, self.steps, self.step = lambda_max, steps, 0

    def on_train_batch_begin(self, batch, logs=None):
        progress = self.step / self.steps
        self.step += 1
        self.model.reversal.lambda_.assign(
            self.lambda_max * (2.0 / (1.0 + np.exp(-10.0 * progress)) - 1.0))


def adapt(name, lambda_max, mmd_weight=0.0):
    reset_keras(2)
    model = transfer.DANN(10, lambda_=0.0, mmd_weight=mmd_weight)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.optimizer.build(model.trainable_variables)  # avoids tracing train_step twice
    data = (tf.data.Dataset.from_tensor_slices((pairs_x, pairs_y))
            .shuffle(len(pairs_x), seed=2).repeat().batch(64))
    epochs = 2 if QUICK else 10   # the lambda ramp runs over all DANN_STEPS steps, as in the check
    history = model.fit(data, steps_per_epoch=max(DANN_STEPS // epochs, 1), epochs=epochs,
                        verbose=0, callbacks=[RampLambda(lambda_max, DANN_STEPS)]
                        + tensorboard_callbacks(out / f"tb_{name}"))
    save_loss_curves(history, out / f"loss_{name}.png", title=name)
    return model, {"clean test": transfer.target_accuracy(model, clean_x, clean_y),
                   "target": transfer.target_accuracy(model, target_images, target_labels)}


settings = (("source_only", 0.0, 0.0), ("dann", 0.5, 0.0), ("mmd", 0.0, 1.0))
if QUICK:  # the source-only run is DANN's graph with lambda = 0: a smoke run leaves it out,
    # and trains one model with both the reversal and the MMD term (one trace, both terms)
    settings = (("dann", 0.5, 1.0),)
models, accuracies = {}, {}
for name, lambda_max, mmd_weight in settings:
    models[name], accuracies[name] = adapt(name, lambda_max, mmd_weight)
    print(name, accuracies[name])

# %% [markdown]
# ## The features of both domains
#
# The backbone's features of 300 source and 300 target images, projected on their first two
# principal components. Source-only features keep the domains apart; DANN's overlap.


# %%
def features_2d(model):
    feats = np.concatenate([model.backbone(domains["source_x"][:300], training=False),
                            model.backbone(domains["target_x"][:300], training=False)])
    feats = feats - feats.mean(axis=0)
    _, _, vt = np.linalg.svd(feats, full_matrices=False)
    return feats @ vt[:2].T


for name in ("dann",) if QUICK else ("source_only", "dann"):
    projected = features_2d(models[name])
    save_scatter_2d({"source": projected[:300], "target": projected[300:]},
                    out / f"features_{name}.png", title=f"features, {name}")

# %% [markdown]
# ## What to look at
#
# - With two labels per class, a network trained from scratch barely learns the task; the
#   backbone pretrained on clean digits already separates them, and fine-tuning adapts it to
#   the faint strokes (the handout gives the numbers over five seeds).
# - Source-only accuracy on the textured digits is far below its accuracy on clean digits;
#   DANN closes part of the gap (the handout gives the numbers over several seeds).
# - With the reversal's sign flipped (a plain domain classifier), the backbone learns to
#   separate the domains and the target accuracy falls.
