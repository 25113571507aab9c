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
# # Lab 14 companion: autoregressive models
#
# This notebook trains the three models of the lab and looks at what they learned:
# a MADE and a PixelCNN on binarised 8x8 digits (exact log-likelihoods in bits per
# dimension, digits sampled pixel by pixel), and a small WaveNet on synthetic sequences.
# Every figure is written as a PNG under `outputs/lab14_autoregressive/`, with TensorBoard
# logs next to them (`tensorboard --logdir outputs/lab14_autoregressive`).
#
# Run it as a script (`python notebook.py`) or open it as a notebook with jupytext.
# `DLKIT_QUICK=1` shrinks every budget so the whole file runs in seconds.

# %%
import os
import time

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.data import load_digits
from dlkit.plots import save_figure, save_image_grid, save_loss_curves
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before the lab's modules import it
tf = backend.tensorflow()

# The graded modules, next to this file.
import gated_pixelcnn  # noqa: E402
import likelihood  # noqa: E402
import made  # noqa: E402
import nade  # noqa: E402
import pixelcnn  # noqa: E402
import sampling  # noqa: E402
import wavenet  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
out = run_dir("lab14_autoregressive", "quick" if QUICK else "full")


def epochs(full):
    return 1 if QUICK else full


SAMPLES = 8 if QUICK else 32  # each sample costs 64 model calls


def held_out(x):
    """Validation data for fit (skipped in quick mode: evaluating costs a second trace)."""
    return None if QUICK else (x,)


# %% [markdown]
# ## The data, and a baseline in bits per dimension
#
# Binarised digits: every pixel is 0 or 1, so -log p(x) is a number of nats (or bits) that
# compresses the image, and models can be compared by it. The simplest model treats the 64
# pixels as independent, each with its own training frequency: no pixel tells it anything
# about another.

# %%
x_train, _ = load_digits("train", flatten=True, binarize=True)
x_test, _ = load_digits("test", flatten=True, binarize=True)
if QUICK:  # a smoke run trains every model on four batches
    x_train = x_train[:256]
save_image_grid(x_test[:32].reshape(-1, 8, 8), out / "data.png", title="binarised test digits")

frequency = np.clip(x_train.mean(axis=0), 1e-3, 1 - 1e-3)
independent_logits = np.tile(np.log(frequency / (1 - frequency)), (len(x_test), 1))
baseline = float(likelihood.bits_per_dim(likelihood.bernoulli_nll(x_test, independent_logits), 64))
print(f"independent pixels: {baseline:.3f} bits per dimension on the test digits")


def test_bits(model, x):
    """Exact held-out bits per dimension of an autoregressive model."""
    return float(likelihood.bits_per_dim(-model.log_prob(x), 64))


# %% [markdown]
# ## MADE: masks from degrees
#
# A MADE for D = 6 inputs, one hidden layer of 8 units, in the order 3, 0, 5, 1, 4, 2.
# The product of the masks counts the paths from input j to output d. It must be zero
# unless j comes before d in the order: with rows (outputs) and columns (inputs) sorted by
# the order, it is strictly lower triangular.

# %%
order = [3, 0, 5, 1, 4, 2]
masks = made.made_masks(order, (8,))
paths = (masks[0] @ masks[1]).T  # (outputs, inputs): the number of paths from j to d
in_order = paths[np.ix_(order, order)]
print("input degrees:", made.input_degrees(order))
print("paths, outputs (rows) and inputs (columns) in generation order:\n", in_order.astype(int))
save_image_grid(np.stack([paths, in_order]) / paths.max(), out / "made_paths.png", ncols=2,
                titles=["paths: output <- input", "in generation order"])

# %% [markdown]
# ## MADE on the digits
#
# The autograder's `made_trains` model (one hidden layer of 128, Adam 1e-2, batches of 64)
# for its 8 epochs, then on to the notebook's budget.

# %%
reset_keras(0)
made_model = made.MADE(64, (128,))
made_model.compile(optimizer=keras.optimizers.Adam(1e-2))
made_model.optimizer.build(made_model.trainable_variables)  # avoids tracing train_step twice
curves, done = {}, 0
for stop in (1, 2) if QUICK else (8, 40):
    history = made_model.fit(x_train, validation_data=held_out(x_test), batch_size=64,
                             initial_epoch=done, epochs=stop, verbose=0)
    for name, values in history.history.items():
        curves.setdefault(name, []).extend(values)
    done = stop
    print(f"MADE after {stop:3d} epochs: {test_bits(made_model, x_test):.3f} bits per dimension")
save_loss_curves({k: v for k, v in curves.items() if "bits" in k}, out / "made_bits.png",
                 title="MADE: bits per dimension")


# %% [markdown]
# ## Sampling, one pixel at a time
#
# 64 calls of the model for 64 pixels: the price of an exact likelihood. The uniform numbers
# fix the randomness, so the same seed gives the same digits.

# %%
def sample_made(model, n, seed=0):
    uniform = np.random.default_rng(seed).random((n, model.input_dim))
    return sampling.sample_autoregressive(lambda x: model(x), model.order, uniform)


started = time.perf_counter()
samples = sample_made(made_model, SAMPLES)
print(f"{SAMPLES} MADE samples in {time.perf_counter() - started:.1f} s")
save_image_grid(samples.reshape(-1, 8, 8), out / "made_samples.png", title="MADE samples")

# %% [markdown]
# ## Another order
#
# The same MADE in a random pixel order. Every order gives a valid factorisation of p(x),
# so the model is just as exact; how well a network of a given size can learn the
# conditionals depends on the order, but on these digits the difference is small.

# %%
reset_keras(0)
shuffled = made.MADE(64, (128,), order=np.random.default_rng(1).permutation(64))
shuffled.compile(optimizer=keras.optimizers.Adam(1e-2))
shuffled.optimizer.build(shuffled.trainable_variables)  # avoids tracing train_step twice
shuffled.fit(x_train, batch_size=64, epochs=epochs(40), verbose=0)
print(f"MADE, raster order: {test_bits(made_model, x_test):.3f}; random order: "
      f"{test_bits(shuffled, x_test):.3f} bits per dimension")
save_image_grid(sample_made(shuffled, SAMPLES, seed=1).reshape(-1, 8, 8),
                out / "made_random_order_samples.png", title="MADE in a random order")

# %% [markdown]
# ## PixelCNN: masked convolutions
#
# Type A (first layer) and type B (later layers) masks of a 5x5 kernel, and the logits of
# a PixelCNN whose receptive field grows with every block (the famous blind spot: the
# stacked masks never see the pixels up and to the right beyond a diagonal).

# %%
save_image_grid(np.stack([pixelcnn.causal_mask_2d(5, "A"), pixelcnn.causal_mask_2d(5, "B")]),
                out / "pixelcnn_masks.png", ncols=2, titles=["type A", "type B"])

images_train, images_test = x_train.reshape(-1, 8, 8, 1), x_test.reshape(-1, 8, 8, 1)


def sample_pixelcnn(model, n, seed=0):
    uniform = np.random.default_rng(seed).random((n, 64))

    def logits_fn(x):
        return np.asarray(model(x.reshape(-1, 8, 8, 1))).reshape(len(x), 64)

    return sampling.sample_autoregressive(logits_fn, np.arange(64), uniform).reshape(-1, 8, 8, 1)


reset_keras(0)
pixel_model = pixelcnn.PixelCNN((8, 8, 1), filters=16 if QUICK else 32, num_blocks=2)
pixel_model.compile(optimizer=keras.optimizers.Adam(2e-2 if QUICK else 5e-3))
pixel_model.optimizer.build(pixel_model.trainable_variables)  # avoids tracing train_step twice
history = pixel_model.fit(
    images_train, validation_data=held_out(images_test), batch_size=64, epochs=epochs(25),
    verbose=0,
    callbacks=tensorboard_callbacks(out / "tb_pixelcnn", every_n_epochs=1 if QUICK else 10,
                                    max_images=8,
                                    sample_fn=lambda: sample_pixelcnn(pixel_model, 8)))
save_loss_curves({k: v for k, v in history.history.items() if "bits" in k},
                 out / "pixelcnn_bits.png", title="PixelCNN: bits per dimension")
print(f"PixelCNN: {test_bits(pixel_model, images_test):.3f} bits per dimension")
save_image_grid(sample_pixelcnn(pixel_model, SAMPLES), out / "pixelcnn_samples.png",
                title="PixelCNN samples")

# %% [markdown]
# The `.keras` round trip: the reloaded PixelCNN gives the same log-likelihoods.

# %%
pixel_model.save(out / "pixelcnn.keras")
reloaded = keras.saving.load_model(out / "pixelcnn.keras")
difference = np.max(np.abs(np.asarray(reloaded.log_prob(images_test))
                           - np.asarray(pixel_model.log_prob(images_test))))
print("max log p(x) difference after reload:", float(difference))

# %% [markdown]
# ## WaveNet on synthetic sequences
#
# Noisy sine waves quantised to 16 levels, periods of 6 to 14 steps. With dilations
# 1, 2, 4, 8 and kernel 2, the logits at step t see the 17 steps before it: at least one
# full period.

# %%
levels, length = 16, 16 if QUICK else 64  # each sampled step is one call of the model
train_sequences = wavenet.make_sequences(128 if QUICK else 2048, length, levels, seed=0)
test_sequences = wavenet.make_sequences(256, length, levels, seed=1)


def save_sequences(sequences, path, title):
    """One step plot per sequence, written as a PNG (matplotlib without pyplot)."""
    figure = Figure(figsize=(8, 0.9 * len(sequences) + 0.4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(sequences), 1, sharex=True, squeeze=False)[:, 0]
    for ax, sequence in zip(axes, sequences):
        ax.step(np.arange(len(sequence)), sequence, where="mid", linewidth=1)
        ax.set_ylim(-0.5, levels - 0.5)
        ax.set_yticks([0, levels - 1])
    axes[0].set_title(title)
    axes[-1].set_xlabel("step")
    save_figure(figure, path, format="png")


save_sequences(test_sequences[:6], out / "sequences.png", "test sequences")

reset_keras(0)
# Quick mode keeps two blocks: every block adds a second or so to the first trace.
wave_model = wavenet.WaveNet(levels, filters=32,
                             dilation_rates=(1, 2) if QUICK else (1, 2, 4, 8))
print("receptive field:", wave_model.receptive_field, "steps")
wave_model.compile(optimizer=keras.optimizers.Adam(3e-3))
wave_model.optimizer.build(wave_model.trainable_variables)  # avoids tracing train_step twice
history = wave_model.fit(train_sequences, validation_data=held_out(test_sequences),
                         batch_size=64, epochs=epochs(30), verbose=0)
save_loss_curves({k: v for k, v in history.history.items() if "bits" in k},
                 out / "wavenet_bits.png", title="WaveNet: bits per step")
nll = wave_model.negative_log_likelihood(test_sequences, wave_model(test_sequences))
print(f"WaveNet: {float(likelihood.bits_per_dim(nll, length)):.3f} bits per step "
      f"(uniform over {levels} levels: {np.log2(levels):.0f} bits)")

# %% [markdown]
# Sampling step by step with categorical draws: the samples should look like waves.

# %%
uniform = np.random.default_rng(2).random((8, length))
wave_samples = sampling.sample_autoregressive(
    lambda x: wave_model(x.astype("int32")), np.arange(length), uniform,
    draw=sampling.categorical_draw)
save_sequences(wave_samples[:6], out / "wavenet_samples.png", "WaveNet samples")
# %% [markdown]
# ## NADE: one hidden layer shared along the order
#
# NADE computes all 64 conditionals with one running pre-activation (an exclusive cumulative
# sum): the cost of one dense layer. It trains like the other models, and it samples by
# carrying the same running sum along, without calling a network 64 times.

# %%
reset_keras(0)
nade_model = nade.NADE(64, 64)
nade_model.compile(optimizer=keras.optimizers.Adam(1e-2))
nade_model.optimizer.build(nade_model.trainable_variables)  # avoids tracing train_step twice
history = nade_model.fit(x_train, validation_data=held_out(x_test), batch_size=64,
                         epochs=epochs(30), verbose=0)
save_loss_curves({k: v for k, v in history.history.items() if "bits" in k},
                 out / "nade_bits.png", title="NADE: bits per dimension")
print(f"NADE: {test_bits(nade_model, x_test):.3f} bits per dimension on the test digits")
nade_samples = nade.nade_sample(*nade_model.weights_numpy(),
                                np.random.default_rng(3).random((SAMPLES, 64)))
save_image_grid(nade_samples.reshape(-1, 8, 8), out / "nade_samples.png", title="NADE samples")

# %% [markdown]
# ## The blind spot, and the gated PixelCNN without it
#
# The gradient of one logit (here at row 4, column 4) with respect to the input image shows
# what it sees. A plain stack of three 3x3 masked convolutions misses the pixels up and to
# the right outside a triangle; the gated PixelCNN of three layers sees the whole rectangle
# above and the left of its row. Neither sees the pixel itself or anything after it.


# %%
def receptive_field(model, row=4, column=4):
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 8, 8, 1)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        logit = tf.reduce_sum(model(x)[:, row, column, 0])
    field = np.abs(tape.gradient(logit, x).numpy()).sum(axis=(0, 3)) > 0
    picture = np.stack([field, field, field], axis=-1).astype("float32")
    picture[row, column] = (1.0, 0.0, 0.0)   # the pixel being predicted, in red
    return picture


reset_keras(0)
plain = pixelcnn.PixelCNN((8, 8, 1), filters=8, num_blocks=2, first_kernel_size=3)
gated = gated_pixelcnn.GatedPixelCNN((8, 8, 1), filters=8, num_layers=3)
save_image_grid(np.stack([receptive_field(plain), receptive_field(gated)]),
                out / "receptive_fields.png", ncols=2, titles=["plain stack", "gated"],
                title="what the logit at (4, 4) sees")

# %% [markdown]
# ## A class-conditional PixelCNN
#
# The same gated model, with the digit's label as a bias inside every gate. It is trained on
# (image, label) pairs, and against an unconditional twin with the same budget: knowing the
# digit lowers the bits per dimension. Then we ask it for each digit in turn.

# %%
y_train = load_digits("train")[1][:len(x_train)]
y_test = load_digits("test")[1]
images, test_images = x_train.reshape(-1, 8, 8, 1), x_test.reshape(-1, 8, 8, 1)
scores = {}
for classes in (10,) if QUICK else (0, 10):   # quick mode: only the conditional model
    reset_keras(0)
    model = gated_pixelcnn.GatedPixelCNN((8, 8, 1), filters=8 if QUICK else 32,
                                         num_layers=2 if QUICK else 4, num_classes=classes)
    model.compile(optimizer=keras.optimizers.Adam(5e-3))
    model.optimizer.build(model.trainable_variables)  # avoids tracing train_step twice
    train = {"image": images, "label": y_train} if classes else images
    test = {"image": test_images, "label": y_test} if classes else test_images
    model.fit(train, batch_size=64, epochs=epochs(20), verbose=0)
    nll = model.negative_log_likelihood(test, model(test))
    scores[classes] = float(likelihood.bits_per_dim(nll, 64))
conditional_model = model
print("bits per dimension on the test digits:",
      {("class-conditional" if k else "gated PixelCNN"): round(v, 3) for k, v in scores.items()})

per_class = 1 if QUICK else 6
# One traced function instead of an eager model call for each of the 64 pixels of a digit.
fast_model = tf.function(conditional_model)
class_samples = np.concatenate([
    gated_pixelcnn.sample_class(fast_model, (8, 8, 1), digit,
                                np.random.default_rng(digit).random((per_class, 64)))
    for digit in (range(2) if QUICK else range(10))])  # a smoke run: digits 0 and 1
save_image_grid(class_samples.reshape(-1, 8, 8), out / "class_samples.png", ncols=per_class,
                title="class-conditional samples: one row per digit, 0 to 9")
print("written:", sorted(p.name for p in out.glob("*.png")))
