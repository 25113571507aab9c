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
# # Lab 10 companion: from PCA to autoencoders on 8x8 digits
#
# This notebook uses `pca.py`, `autoencoders.py` and `regularized.py`: PCA by the SVD, a
# linear autoencoder that finds the PCA subspace by gradient descent, deep and convolutional
# autoencoders that beat PCA at the same code size, a denoising autoencoder, walks through
# code space; then sparse and contractive autoencoders, and anomaly detection by
# reconstruction error.
# Every figure is a PNG under `outputs/lab10_autoencoders/`; the TensorBoard logs go next
# to them (`tensorboard --logdir outputs/lab10_autoencoders`).
#
# Run it as a script (`python notebook.py`) or open it as a notebook with jupytext.
# `DLKIT_QUICK=1` shrinks every budget so the whole file runs in seconds.

# %%
import os

import numpy as np

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.data import load_digits
from dlkit.plots import save_image_grid, save_loss_curves, save_scatter_2d
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before autoencoders.py imports it
tf = backend.tensorflow()

import autoencoders  # noqa: E402  (the graded modules, next to this file)
import pca  # noqa: E402
import regularized  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)
out = run_dir("lab10_autoencoders", "quick" if QUICK else "full")

# %% [markdown]
# ## The data
#
# 1797 grey-level digits of 8x8 pixels in [0, 1], split 1347 / 450. The dense models see
# them as vectors of 64 pixels, the convolutional ones as (8, 8, 1) images.

# %%
x_train, y_train = load_digits("train", flatten=True)
x_test, y_test = load_digits("test", flatten=True)
images_train, images_test = x_train.reshape(-1, 8, 8, 1), x_test.reshape(-1, 8, 8, 1)
print("train", x_train.shape, "test", x_test.shape)
save_image_grid(images_test[:32], out / "data.png", title="test digits")


def test_mse(x_hat, x=x_test):
    """Mean squared error per pixel."""
    return float(np.mean((np.asarray(x_hat).reshape(x.shape) - x) ** 2))


# %% [markdown]
# ## PCA by the SVD
#
# The principal directions are the rows of Vt in the SVD of the centred data; the variance
# along each is s^2 / (N - 1). A few directions carry most of the variance: the cumulative
# ratio tells how many a faithful reconstruction needs.

# %%
full = pca.PCA(64).fit(x_train)
cumulative = np.cumsum(full.explained_variance_ratio_)
for k in (4,) if QUICK else (2, 4, 8, 16, 32):  # one PCA fit per k
    print(f"K={k:2d}: {cumulative[k - 1]:.1%} of the variance, "
          f"test MSE {test_mse(pca.PCA(k).fit(x_train).reconstruct(x_test)):.4f}")
save_loss_curves({"explained variance ratio": full.explained_variance_ratio_,
                  "cumulative": cumulative}, out / "pca_spectrum.png",
                 title="PCA of the digits (x axis: component index)")

# The components are directions in pixel space: draw them as images (grey = 0).
scale = np.abs(full.components_[:16]).max()
save_image_grid(full.components_[:16].reshape(-1, 8, 8), out / "pca_components.png",
                vmin=-scale, vmax=scale, title="the first 16 principal directions")

# %%
CODE_DIM = 4
reference_pca = pca.PCA(CODE_DIM).fit(x_train)
pca_mse = test_mse(reference_pca.reconstruct(x_test))
print(f"PCA with {CODE_DIM} components: test MSE {pca_mse:.4f}")

# %% [markdown]
# ## A linear autoencoder finds the PCA subspace
#
# Trained on the squared error, a linear autoencoder with K code units reconstructs in the
# same K-dimensional subspace as PCA, though its decoder rows are neither orthonormal nor
# the components themselves. So we compare *subspaces*, by their principal angles: all
# zero when the two subspaces coincide. One "epoch" below is 50 full-batch steps.

# %%
def subspace_of(model, k=CODE_DIM):
    """The k-dim subspace that a model's test reconstructions span (after centring)."""
    x_hat = np.asarray(model(x_test), dtype=np.float64)
    return pca.PCA(k).fit(x_hat).components_


reset_keras(0)
linear = autoencoders.LinearAutoencoder(input_dim=64, code_dim=CODE_DIM)
# Quick mode: a few steps, one per execution (a multi-step loop traces train_step twice).
linear_steps = 5 if QUICK else 50
linear.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse",
               steps_per_execution=1 if QUICK else linear_steps)
linear.optimizer.build(linear.trainable_variables)  # avoids tracing train_step twice
full_batch = tf.data.Dataset.from_tensors((x_train, x_train)).repeat()
angles = []
for epoch in range(2 if QUICK else 16):
    linear.fit(full_batch, steps_per_epoch=linear_steps, epochs=1, verbose=0)
    angles.append(np.degrees(pca.principal_angles(subspace_of(linear), reference_pca.components_)))
angles = np.array(angles)
print("principal angles to the PCA subspace after training (degrees):", np.round(angles[-1], 3))
print(f"linear autoencoder test MSE {test_mse(linear(x_test)):.4f} (PCA: {pca_mse:.4f})")
save_loss_curves({f"angle {i + 1}": angles[:, i] for i in range(CODE_DIM)},
                 out / "linear_ae_angles.png", logy=True,
                 title="principal angles (degrees) to the PCA subspace, per 50 steps")

# The decoder's rows span the subspace, but they are not the principal directions.
rows = np.asarray(linear.decoder.layers[0].kernel)
scale = np.abs(rows).max()
save_image_grid(np.concatenate([reference_pca.components_, rows]).reshape(-1, 8, 8),
                out / "linear_ae_vs_pca.png", ncols=CODE_DIM, vmin=-scale, vmax=scale,
                title="PCA components (top), linear decoder rows (bottom)")

# %% [markdown]
# ## Deep and convolutional autoencoders beat PCA at the same code size
#
# Non-linear encoders and decoders can bend the 4-dimensional code onto the curved set the
# digits live on. The dense one logs its reconstructions to TensorBoard as it trains.

# %%
def shuffled(x, seed=0, batch_size=64):
    return tf.data.Dataset.from_tensor_slices((x, x)).shuffle(len(x), seed=seed).repeat() \
        .batch(batch_size)


steps, epochs = (10, 2) if QUICK else (300, 10)  # steps per epoch
reset_keras(0)
dense = autoencoders.DenseAutoencoder(input_dim=64, code_dim=CODE_DIM, hidden_units=(128, 64))
dense.compile(optimizer=keras.optimizers.Adam(1e-2 if QUICK else 3e-3), loss="mse",
              steps_per_execution=1 if QUICK else steps)
dense.optimizer.build(dense.trainable_variables)  # avoids tracing train_step twice
history = dense.fit(
    shuffled(x_train), steps_per_epoch=steps, epochs=epochs, verbose=0,
    validation_data=None if QUICK else (x_test, x_test),  # a smoke run skips the test trace
    callbacks=tensorboard_callbacks(
        out / "tb_dense", every_n_epochs=1 if QUICK else 2,
        sample_fn=lambda: np.asarray(dense(x_test[:16])).reshape(-1, 8, 8, 1)))
save_loss_curves(history, out / "dense_ae_loss.png", logy=True, title="DenseAutoencoder: MSE")

reset_keras(0)
conv = autoencoders.ConvAutoencoder(image_shape=(8, 8, 1), code_dim=CODE_DIM, filters=(16, 32))
conv.compile(optimizer=keras.optimizers.Adam(1e-2 if QUICK else 3e-3), loss="mse",
             steps_per_execution=1 if QUICK else steps)
conv.optimizer.build(conv.trainable_variables)  # avoids tracing train_step twice
conv.fit(shuffled(images_train), steps_per_epoch=steps * epochs, epochs=1, verbose=0)

for name, x_hat in [("PCA", reference_pca.reconstruct(x_test)), ("linear AE", linear(x_test)),
                    ("dense AE", dense(x_test)), ("conv AE", conv(images_test))]:
    print(f"code size {CODE_DIM}, {name:9s}: test MSE {test_mse(x_hat):.4f}")
rows = [x_test[:12], reference_pca.reconstruct(x_test[:12]), dense(x_test[:12]),
        conv(images_test[:12])]
save_image_grid(np.concatenate([np.asarray(r).reshape(-1, 8, 8) for r in rows]),
                out / "reconstructions.png", ncols=12,
                title=f"data; PCA, dense AE, conv AE with {CODE_DIM} numbers per digit")

# %% [markdown]
# ## Two numbers per digit: PCA against a deep autoencoder
#
# With a 2-D code we can draw the code space, coloured by digit. Neither model saw a
# label; the autoencoder's non-linear code separates the classes better than the best
# linear projection.

# %%
if QUICK:  # a smoke run plots two code units of the dense AE above: no second model
    dense2 = dense
else:
    reset_keras(0)
    dense2 = autoencoders.DenseAutoencoder(input_dim=64, code_dim=2, hidden_units=(128, 64))
    dense2.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse", steps_per_execution=100)
    dense2.optimizer.build(dense2.trainable_variables)  # avoids tracing train_step twice
    dense2.fit(shuffled(x_train), steps_per_epoch=4000, epochs=1, verbose=0)
codes_pca = pca.PCA(2).fit(x_train).transform(x_test)
codes_ae = np.asarray(dense2.encode(x_test))[:, :2]
save_scatter_2d({str(d): codes_pca[y_test == d] for d in range(10)}, out / "codes_pca.png",
                title="PCA, 2 components")
save_scatter_2d({str(d): codes_ae[y_test == d] for d in range(10)}, out / "codes_dense_ae.png",
                title="DenseAutoencoder, code_dim=2")

# %% [markdown]
# ## A denoising autoencoder
#
# Trained on noisy inputs against clean targets, it learns to put stray points back on
# the digits. Rows: clean, noisy (sigma = 0.3, clipped), denoised.

# %%
reset_keras(0)
denoiser = autoencoders.DenoisingAutoencoder(
    autoencoders.DenseAutoencoder(input_dim=64, code_dim=16, hidden_units=(128, 64)),
    noise_stddev=0.3)
denoiser.compile(optimizer=keras.optimizers.Adam(3e-3), steps_per_execution=1 if QUICK else 100)
denoiser.fit(tf.data.Dataset.from_tensor_slices(x_train).shuffle(len(x_train), seed=0)
             .repeat().batch(64), steps_per_epoch=20 if QUICK else 4000, epochs=1, verbose=0)
rng = np.random.default_rng(0)
noisy = np.asarray(autoencoders.corrupt(x_test, 0.3, rng.normal(size=x_test.shape)
                                        .astype("float32")))
print(f"noisy test digits: MSE {test_mse(noisy):.4f}; denoised: {test_mse(denoiser(noisy)):.4f}")
save_image_grid(np.concatenate([x_test[:12], noisy[:12], np.asarray(denoiser(noisy[:12]))])
                .reshape(-1, 8, 8), out / "denoising.png", ncols=12,
                title="clean, noisy, denoised")

# %% [markdown]
# ## Walking through code space
#
# Decoding the straight line between the codes of two digits morphs one into the other
# through digit-like images; the straight line between the *pixels* is only a cross-fade.

# %%
pairs = [(0, 1), (2, 3), (4, 5)]
starts = [int(np.flatnonzero(y_test == a)[0]) for a, _ in pairs]
ends = [int(np.flatnonzero(y_test == b)[0]) for _, b in pairs]
rows = []
for start, end in zip(starts, ends):
    rows.append(autoencoders.interpolate_images(conv, images_test[start], images_test[end], 10))
    rows.append(autoencoders.interpolate(images_test[start].ravel(), images_test[end].ravel(), 10)
                .reshape(-1, 8, 8, 1))
save_image_grid(np.concatenate(rows), out / "interpolation.png", ncols=10,
                title="conv AE code path (odd rows) against a pixel cross-fade (even rows)")

# %% [markdown]
# ## Save and reload
#
# Every model of the lab saves to `.keras` and reloads with its weights, the denoising
# wrapper together with the autoencoder inside it.

# %%
for name, model, x in [("conv", conv, images_test), ("denoiser", denoiser, noisy)]:
    model.save(out / f"{name}.keras")
    reloaded = keras.saving.load_model(out / f"{name}.keras")
    print(f"{name}: max difference after reload "
          f"{float(np.max(np.abs(np.asarray(reloaded(x)) - np.asarray(model(x))))):.2g}")

# %% [markdown]
# ## A sparse autoencoder
#
# An L1 penalty on a ReLU code silences most code units for each digit: each digit is
# described by a few active units. The same stacks trained without the penalty, side by side
# (rows: the 16 code units of 24 test digits, black = silent). Quick runs (DLKIT_QUICK=1)
# train the regularised models alone, for a few steps.

# %%
def mlp_stacks(code_dim, code_activation, hidden=32):
    """Small ELU stacks around a code layer: the models of regularized.py wrap any stacks."""
    from keras import layers
    encoder = keras.Sequential([keras.Input((64,)), layers.Dense(hidden, activation="elu"),
                                layers.Dense(code_dim, activation=code_activation)])
    decoder = keras.Sequential([keras.Input((code_dim,)), layers.Dense(hidden, activation="elu"),
                                layers.Dense(64, activation="sigmoid")])
    return encoder, decoder


reg_steps = 1 if QUICK else 2000  # one step per execution below: one trace of train_step
codes_of = {}
for name, weight in [("sparse", 1e-3)] if QUICK else [("plain", 0.0), ("sparse", 1e-3)]:
    reset_keras(0)
    encoder, decoder = mlp_stacks(16, "relu")
    sparse = regularized.SparseAutoencoder(encoder, decoder, sparsity_weight=weight)
    sparse.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse",
                   steps_per_execution=min(100, reg_steps))
    sparse.optimizer.build(sparse.trainable_variables)  # avoids tracing train_step twice
    sparse.fit(shuffled(x_train), steps_per_epoch=reg_steps, epochs=1, verbose=0)
    codes_of[name] = np.asarray(encoder(x_test))
    print(f"{name:6s} (weight {weight:g}): {np.mean(codes_of[name] < 1e-3):.0%} of the code "
          f"units silent, test MSE {test_mse(sparse(x_test)):.4f}")
scale = max(float(codes.max()) for codes in codes_of.values())
titles = {"plain": "no penalty", "sparse": "L1 penalty 1e-3"}
save_image_grid(np.stack([codes[:24] for codes in codes_of.values()]), out / "sparse_codes.png",
                ncols=len(codes_of), vmin=0, vmax=scale, titles=[titles[n] for n in codes_of],
                cmap="magma")

# %% [markdown]
# ## A contractive autoencoder
#
# Penalising the encoder's Jacobian makes the code insensitive to small moves of the input,
# except along the directions the data needs. Below: the mean squared Frobenius norm of the
# Jacobian on test digits, and how far the code moves when noise of growing size is added.

# %%
contracted = {}
for name, weight in [("contractive", 0.01)] if QUICK else [("plain", 0.0), ("contractive", 0.01)]:
    reset_keras(0)
    encoder, decoder = mlp_stacks(8, "sigmoid")
    model = regularized.ContractiveAutoencoder(encoder, decoder, contraction_weight=weight)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), steps_per_execution=min(100, reg_steps))
    history = model.fit(shuffled(x_train), steps_per_epoch=reg_steps, epochs=1, verbose=0)
    jacobian = float(regularized.contractive_penalty(encoder, x_test[:64] if QUICK else x_test))
    noise = np.random.default_rng(1).normal(size=x_test.shape).astype("float32")
    contracted[name] = [float(np.mean(np.linalg.norm(np.asarray(encoder(x_test + s * noise))
                                                     - np.asarray(encoder(x_test)), axis=1)))
                        for s in (0.01, 0.03, 0.1, 0.3)]
    print(f"{name:11s} (weight {weight:g}): Jacobian norm {jacobian:.3f}, test MSE "
          f"{test_mse(model(x_test)):.4f}")
save_loss_curves(contracted, out / "contractive_code_shift.png", logy=True,
                 title="mean code shift for noise 0.01, 0.03, 0.1, 0.3 (x axis)")

# %% [markdown]
# ## Anomaly detection by reconstruction error
#
# Trained on every digit but the 2s, an autoencoder reconstructs the 2s worse than the
# other test digits: the reconstruction error flags them. The AUROC measures how well (1 is
# perfect, 0.5 a coin); the digits it finds least like the training data come last.

# %%
reset_keras(0)
encoder, decoder = mlp_stacks(8, None)
detector = keras.Sequential([encoder, decoder])
found = regularized.anomaly_detection(detector, x_train, y_train, x_test, y_test, 2,
                                      steps=reg_steps, learning_rate=3e-3)
print(f"AUROC of the unseen 2s by reconstruction error: {found['auroc']:.3f}")
order = np.argsort(found["scores"])
save_image_grid(x_test[np.concatenate([order[:12], order[-12:]])].reshape(-1, 8, 8),
                out / "anomalies.png", ncols=12,
                title="lowest (top) and highest (bottom) reconstruction errors, 2s unseen")
print("written:", sorted(p.name for p in out.glob("*.png")))
