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
# # Lab 04 companion: regularisation and adversarial robustness on 8x8 digits
#
# This notebook uses the five graded modules of the lab: it overfits an MLP on a few hundred
# digits and then fights the overfitting with weight decay (L2 against AdamW), dropout,
# Gaussian noise, random shifts and early stopping; then it attacks a trained classifier
# with FGSM and PGD and trains a robust one on PGD examples. Every figure is written as a
# PNG under `outputs/lab04_regularization/`, TensorBoard logs next to them
# (`tensorboard --logdir outputs/lab04_regularization`).
#
# Run it as a script (`python notebook.py`) or open it as a notebook with jupytext.
# `DLKIT_QUICK=1` shrinks every budget so the whole file runs in seconds.

# %%
import os

import numpy as np

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.data import load_digits
from dlkit.plots import save_figure, save_image_grid, save_loss_curves
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before the graded modules import it

import adversarial  # noqa: E402  (the graded modules, next to this file)
import augmentation  # noqa: E402
import early_stopping  # noqa: E402
import noise_layers  # noqa: E402
import weight_decay  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
out = run_dir("lab04_regularization", "quick" if QUICK else "full")

# %% [markdown]
# ## The data, and a training set small enough to overfit
#
# With all 1347 training digits a small MLP barely overfits. We keep 200 of them (20 per
# class): a wide MLP then fits them perfectly long before it generalises well, and every
# regulariser has something to do.

# %%
x_train, y_train = load_digits("train")          # (N, 8, 8, 1) in [0, 1]
x_test, y_test = load_digits("test")
rng = np.random.default_rng(0)
few = np.concatenate([rng.choice(np.flatnonzero(y_train == d), 20, replace=False)
                      for d in range(10)])
x_few, y_few = x_train[few], y_train[few]
print("small training set", x_few.shape, "test", x_test.shape)
EPOCHS = 1 if QUICK else 300
CROSS_ENTROPY = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def classifier(*extra_input_layers, dropout=0.0, noise=0.0, width=256):
    """Images -> (optional augmentation) -> flatten -> wide ReLU layer -> logits."""
    layers = [keras.Input((8, 8, 1)), *extra_input_layers, keras.layers.Flatten()]
    if noise:
        layers.append(noise_layers.GaussianNoise(noise, seed=1))
    layers.append(keras.layers.Dense(width, activation="relu"))
    if dropout:
        layers.append(noise_layers.InvertedDropout(dropout, seed=2))
    layers.append(keras.layers.Dense(10))
    return keras.Sequential(layers)


def fit_plain(model, optimizer, name, callbacks=(), validate=not QUICK):
    """Train on the small set (validating on the test set, for the curves); test accuracy."""
    model.compile(optimizer, CROSS_ENTROPY, metrics=["accuracy"], steps_per_execution=4,
                  run_eagerly=QUICK)  # a few eager steps cost less than tracing
    history = model.fit(x_few, y_few, batch_size=50, epochs=EPOCHS, verbose=0,
                        validation_data=(x_test, y_test) if validate else None,
                        callbacks=list(callbacks))
    # Counted in numpy: evaluate would trace one more function per model.
    accuracy = float(np.mean(np.argmax(model.predict(x_test, verbose=0), -1) == y_test))
    print(f"{name:32s} test accuracy {accuracy:.1%} after {len(history.history['loss'])} epochs")
    return history, accuracy


# %% [markdown]
# ## Weight decay: L2 in the loss against decoupled decay
#
# For SGD the two are the same update; for Adam they are not (the handout explains why).
# First the unregularised baseline, then Adam with the L2 penalty in the loss, then AdamW.

# %%
results = {}
history, results["none (Adam)"] = fit_plain(
    classifier(), keras.optimizers.Adam(1e-3), "no regularisation (Adam)",
    callbacks=tensorboard_callbacks(out / "tb_baseline"))
save_loss_curves(history, out / "baseline_curves.png", title="no regularisation: "
                 "training vs test loss")

# %% [markdown]
# L2 in the loss: a small model class whose `compute_loss` (what the default train_step
# minimises) adds `l2_penalty` of the Dense kernels (biases are usually not decayed).

# %%
class PenalisedClassifier(keras.Model):
    """A classifier whose training loss adds l2_penalty of its Dense kernels."""

    def __init__(self, network, coefficient, **kwargs):
        super().__init__(**kwargs)
        self.network, self.coefficient = network, coefficient

    def call(self, x, training=False):
        return self.network(x, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x, y, y_pred, sample_weight, training)
        kernels = [layer.kernel for layer in self.network.layers
                   if isinstance(layer, keras.layers.Dense)]
        return loss + weight_decay.l2_penalty(kernels, self.coefficient)


def kernel_norm(model):
    return float(np.sqrt(sum(np.sum(np.square(w)) for w in model.get_weights() if w.ndim == 2)))


l2_model = PenalisedClassifier(classifier(), 1e-3)
_, results["L2 in the loss (Adam)"] = fit_plain(l2_model, keras.optimizers.Adam(1e-3),
                                                "L2 1e-3 in the loss (Adam)")
adamw_model = classifier()
_, results["decoupled (AdamW)"] = fit_plain(
    adamw_model, weight_decay.AdamW(1e-3, decay=0.1), "AdamW, decay 0.1")
print(f"kernel norms: L2-Adam {kernel_norm(l2_model):.1f}, AdamW {kernel_norm(adamw_model):.1f}")

# %% [markdown]
# ## Noise: dropout and Gaussian input noise; augmentation: random shifts
#
# What RandomShift does to a batch in training (top row: the digits, below: three draws).

# %%
shifter = augmentation.RandomShift(1, seed=0)
batch = x_test[:8]
save_image_grid(np.concatenate([batch] + [np.asarray(shifter(batch, training=True))
                                          for _ in range(3)]),
                out / "random_shifts.png", title="digits and three random shifts of each")

_, results["dropout 0.5"] = fit_plain(classifier(dropout=0.5), keras.optimizers.Adam(1e-3),
                                      "dropout 0.5")
_, results["Gaussian noise 0.2"] = fit_plain(classifier(noise=0.2),
                                             keras.optimizers.Adam(1e-3), "input noise 0.2")
_, results["random shifts of 1 pixel"] = fit_plain(
    classifier(augmentation.RandomShift(1, seed=3)), keras.optimizers.Adam(1e-3),
    "random shifts (1 pixel)")

# %% [markdown]
# ## Early stopping
#
# The baseline's test loss stops falling and creeps back up while its training loss goes
# to 0. Early stopping on the validation loss (here the test set stands in for a validation
# set, which is fine for a picture and wrong for a paper) keeps the weights of the best epoch.

# %%
stopper = early_stopping.EarlyStopping(patience=2 if QUICK else 20, restore_best_weights=True)
history, results["early stopping"] = fit_plain(
    classifier(), keras.optimizers.Adam(1e-3), "early stopping (patience 20)", validate=True,
    callbacks=[stopper, *tensorboard_callbacks(out / "tb_early_stopping")])
print(f"stopped after {len(history.history['loss'])} epochs, best epoch {stopper.best_epoch}")
save_loss_curves(history, out / "early_stopping_curves.png",
                 title="early stopping: training vs test loss")

# %% [markdown]
# ## Adversarial examples
#
# A standard MLP and an adversarially trained one, on all the training digits (flattened).
# Then both are attacked with FGSM and PGD at a range of epsilons.

# %%
xf_train, xf_test = x_train.reshape(-1, 64), x_test.reshape(-1, 64)
ATTACK_EPOCHS = 1 if QUICK else 40
if QUICK:   # a smoke run: a few batches are enough
    xf_train, y_train = xf_train[:256], y_train[:256]
EPSILON = 0.15
standard = adversarial.make_mlp(hidden_units=(64,))
standard.compile(keras.optimizers.Adam(1e-2), CROSS_ENTROPY, steps_per_execution=8,
                 run_eagerly=QUICK)
standard.fit(xf_train, y_train, batch_size=64, epochs=ATTACK_EPOCHS, verbose=0)
robust = adversarial.make_mlp(hidden_units=(64,))
trainer = adversarial.AdversarialTraining(robust, epsilon=EPSILON, step_size=0.06, steps=3)
trainer.compile(keras.optimizers.Adam(1e-2), steps_per_execution=8, run_eagerly=QUICK)
history = trainer.fit(xf_train, y_train, batch_size=64, epochs=ATTACK_EPOCHS, verbose=0,
                      validation_data=(xf_test, y_test),
                      callbacks=tensorboard_callbacks(out / "tb_adversarial"))
save_loss_curves(history, out / "adversarial_training_curves.png",
                 title="adversarial training: PGD loss (train), clean loss (test)")


def accuracy(model, x):
    return float(np.mean(np.argmax(np.asarray(model(x)), axis=-1) == y_test))


epsilons = [0.0, 0.05, 0.1, 0.15, 0.2, 0.3] if not QUICK else [0.0, 0.15]
curves = {}
for name, model in (("standard", standard), ("adversarial", robust)):
    curves[name + " FGSM"] = [accuracy(model, adversarial.fgsm(model, xf_test, y_test, e))
                              for e in epsilons]
    curves[name + " PGD"] = [accuracy(model, adversarial.pgd(model, xf_test, y_test, e,
                                                             e / 4, 10)) for e in epsilons]
for name, values in curves.items():
    print(f"{name:16s}", "  ".join(f"eps {e:.2f}: {v:.1%}" for e, v in zip(epsilons, values)))

# %%
import matplotlib  # noqa: E402

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # noqa: E402

figure, ax = plt.subplots(figsize=(6, 4))
for name, values in curves.items():
    ax.plot(epsilons, values, "--" if "PGD" in name else "-", marker="o", label=name)
ax.set_xlabel("epsilon (L-inf, pixels in [0, 1])")
ax.set_ylabel("test accuracy")
ax.legend()
save_figure(figure, out / "robust_accuracy.png", dpi=100, bbox_inches="tight")
plt.close(figure)

# %% [markdown]
# What an attack looks like: test digits (top), their PGD examples at epsilon 0.15 against
# the standard model (middle) and the perturbation, rescaled (bottom).

# %%
originals = xf_test[:8]
attacked = np.asarray(adversarial.pgd(standard, originals, y_test[:8], EPSILON, 0.04, 10))
save_image_grid(np.concatenate([originals, attacked, 0.5 + (attacked - originals) / (2 * EPSILON)])
                .reshape(-1, 8, 8), out / "adversarial_examples.png",
                title="digits, PGD examples (eps 0.15), perturbations")
print("standard model on those:", np.argmax(np.asarray(standard(attacked)), -1),
      "labels:", y_test[:8])

# %% [markdown]
# ## Summary

# %%
for name, value in results.items():
    print(f"{name:28s} {value:.1%}")
