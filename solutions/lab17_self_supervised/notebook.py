# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lab 17 companion: learning with few labels
#
# This notebook trains the models of `selfsup.py` and measures them the way the field does:
# by a linear probe on frozen features with few labels. It looks at augmented views, trains
# SimCLR and BYOL on the digits, CPC on the procedural sequences, and the Pi-model and mean
# teacher with 5 labels per class. Figures are written as PNGs under
# `outputs/lab17_self_supervised/`, TensorBoard logs next to them.
#
# Run it as a script (`python notebook.py`) or open it with jupytext. `DLKIT_QUICK=1`
# shrinks every budget so the whole file runs in seconds.

# %%
import os

import numpy as np

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.data import load_digits, make_sequences
from dlkit.plots import save_image_grid, save_loss_curves, save_scatter_2d
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before selfsup.py imports it
tf = backend.tensorflow()

import selfsup  # noqa: E402  (the graded module, next to this file)

QUICK = os.environ.get("DLKIT_QUICK") == "1"
EPOCHS = 1 if QUICK else 30
reset_keras(0)
out = run_dir("lab17_self_supervised", "quick" if QUICK else "full")
x_train, y_train = load_digits("train")
x_test, y_test = load_digits("test")
if QUICK:
    x_train, y_train = x_train[:256], y_train[:256]


def few(per_class, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(np.flatnonzero(y_train == c), per_class, replace=False)
                           for c in range(10)])


# %% [markdown]
# ## Augmented views
#
# Each row: a digit, then eight random views of it. They must still be that digit: a one
# pixel shift, contrast, brightness and noise, no flips.

# %%
augmenter = selfsup.make_augmenter(seed=0)
views = np.concatenate([np.concatenate([x_train[k:k + 1]] + [
    np.asarray(augmenter(x_train[k:k + 1], training=True)) for _ in range(8)])
    for k in range(2 if QUICK else 6)])
save_image_grid(views, out / "views.png", ncols=9, title="a digit and eight views")

# %% [markdown]
# ## SimCLR and BYOL, measured by a linear probe
#
# Both pretrain the same encoder without labels; the probe then learns from k labels per
# class. A randomly initialised encoder is the baseline to beat.

# %%
def probe(encoder, per_class):
    index = few(per_class)
    # A smoke run takes one full-batch step per probe (the default is 200).
    return selfsup.linear_probe_accuracy(encoder, x_train[index], y_train[index], x_test, y_test,
                                         epochs=1 if QUICK else 200)


reset_keras(0)
random_encoder = selfsup.make_encoder()
reset_keras(0)
simclr = selfsup.SimCLR(selfsup.make_encoder(), selfsup.make_augmenter(seed=0))
simclr.compile(optimizer=keras.optimizers.Adam(3e-3))
simclr.optimizer.build(simclr.trainable_variables)  # avoids tracing train_step twice
history = simclr.fit(x_train, batch_size=128, epochs=EPOCHS, verbose=0,
                     callbacks=tensorboard_callbacks(out / "tb_simclr"))
save_loss_curves(history, out / "loss_simclr.png", title="SimCLR: NT-Xent")

reset_keras(0)
byol = selfsup.BYOL(selfsup.make_encoder(), selfsup.make_augmenter(seed=0))
byol.compile(optimizer=keras.optimizers.Adam(3e-3))
byol.optimizer.build(byol.trainable_variables)  # avoids tracing train_step twice
history = byol.fit(x_train, batch_size=128, epochs=EPOCHS, verbose=0,
                   callbacks=tensorboard_callbacks(out / "tb_byol"))
save_loss_curves(history, out / "loss_byol.png", title="BYOL: 2 - 2 cos, both views")

for k in (1,) if QUICK else (1, 5, 20):
    # A smoke run probes the two trained encoders only.
    baseline = "" if QUICK else f"random {probe(random_encoder, k):.3f}  "
    print(f"{k:2d} labels/class: {baseline}"
          f"SimCLR {probe(simclr.encoder, k):.3f}  BYOL {probe(byol.encoder, k):.3f}")

# PCA of the SimCLR features of the test digits, coloured by class.
features = np.asarray(simclr.encoder(x_test, training=False))
centred = features - features.mean(axis=0)
plane = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
save_scatter_2d({str(c): plane[y_test == c] for c in range(10)}, out / "simclr_pca.png",
                title="SimCLR features of the test digits (PCA)")

# %% [markdown]
# ## CPC on sequences
#
# The sequences' class and drifting phase make the future predictable. After training, a
# logistic regression reads the class off the last context vector.

# %%
from sklearn.linear_model import LogisticRegression  # noqa: E402

seq, seq_labels, phase = make_sequences(128 if QUICK else 1024, length=32, seed=0)
seq_test, seq_labels_test, _ = make_sequences(256, length=32, seed=1)
first_of_class = [np.flatnonzero(seq_labels == c)[0] for c in range(4)]
save_scatter_2d({f"class {c}": np.stack([np.arange(32), seq[i, :, 0]], axis=1)
                 for c, i in enumerate(first_of_class)}, out / "sequences.png",
                title="one sequence per class")
reset_keras(0)
cpc = selfsup.CPC()
before = float(cpc.cpc_loss(seq_test[:64]))
cpc.compile(optimizer=keras.optimizers.Adam(1e-2))
cpc.optimizer.build(cpc.trainable_variables)  # avoids tracing train_step twice
history = cpc.fit(seq, batch_size=32, epochs=1 if QUICK else 10, verbose=0,
                  callbacks=tensorboard_callbacks(out / "tb_cpc"))
save_loss_curves(history, out / "loss_cpc.png", title="CPC: InfoNCE (nats)")
classifier = LogisticRegression(max_iter=2000).fit(np.asarray(cpc.features(seq)), seq_labels)
print(f"CPC held-out loss {before:.3f} -> {float(cpc.cpc_loss(seq_test[:64])):.3f}; class probe "
      f"{classifier.score(np.asarray(cpc.features(seq_test)), seq_labels_test):.3f}")

# %% [markdown]
# ## Semi-supervised: 5 labels per class and the rest unlabelled
#
# Supervised training on the 50 labels alone against the Pi-model and the mean teacher,
# which also use the other images through the consistency term.

# %%
def classifier_net():
    return keras.Sequential([selfsup.make_encoder(), keras.layers.Dense(10)])


labels = np.full(len(y_train), -1, dtype="int32")
labels[few(5)] = y_train[few(5)]
results = {}
for name in ("supervised", "pi_model", "mean_teacher"):
    reset_keras(0)
    net = classifier_net()
    if QUICK:  # built now, so its optimizer can be built before fit: one trace of train_step
        net(x_train[:1])
    if name == "supervised":
        net.compile(optimizer=keras.optimizers.Adam(3e-3),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        if QUICK:
            net.optimizer.build(net.trainable_variables)
        net.fit(x_train[few(5)], y_train[few(5)], epochs=EPOCHS * 10, verbose=0)
    else:
        cls = selfsup.PiModel if name == "pi_model" else selfsup.MeanTeacher
        model = cls(net, selfsup.make_augmenter(seed=1), ramp_steps=100)
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        if QUICK:
            model.optimizer.build(model.trainable_variables)
        history = model.fit(x_train, labels, batch_size=128, epochs=EPOCHS, verbose=0)
        save_loss_curves(history, out / f"loss_{name}.png", title=name)
    results[name] = float(np.mean(np.argmax(np.asarray(net(x_test)), 1) == y_test))
print({k: round(v, 3) for k, v in results.items()})

# %% [markdown]
# ## The `.keras` round trip
#
# Every model saves and reloads with its parts (encoder, augmenter, heads, BYOL's target)
# and its optimizer state.

# %%
byol.save(out / "byol.keras")
reloaded = keras.saving.load_model(out / "byol.keras")
print("max |feature difference| after reload:", float(np.max(np.abs(
    np.asarray(reloaded.encoder(x_test[:64])) - np.asarray(byol.encoder(x_test[:64]))))))
print("written:", sorted(p.name for p in out.glob("*.png")))
