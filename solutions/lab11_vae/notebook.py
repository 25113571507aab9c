# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lab 11 companion: a variational autoencoder on 8x8 digits
#
# This notebook trains the VAE of `vae.py` and looks at what it learned: reconstructions,
# samples from the prior, the 2-D latent space coloured by digit, latent traversals, the
# held-out negative ELBO and the importance-weighted estimate of log p(x) in nats; then the
# beta-VAE's trade of reconstruction for KL, and a conditional VAE that draws the digit it is
# asked for. Every figure is written as a PNG under `outputs/lab11_vae/`; the TensorBoard
# logs go next to them (`tensorboard --logdir outputs/lab11_vae`).
#
# Run it as a script (`python notebook.py`) or open it as a notebook with jupytext.
# `DLKIT_QUICK=1` shrinks every budget so the whole file runs in seconds.

# %%
import math
import os

import numpy as np
from matplotlib.figure import Figure

from dlkit import backend
from dlkit.backend import reset_keras
from dlkit.data import load_digits
from dlkit.plots import save_figure, save_image_grid, save_loss_curves, save_scatter_2d
from dlkit.training import run_dir, tensorboard_callbacks

keras = backend.keras()  # the quiet TensorFlow import, before vae.py imports it

import estimators  # noqa: E402  (the graded modules, next to this file)
import ppca  # noqa: E402
import vae  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)

# %% [markdown]
# ## The data: binarised digits
#
# The 8x8 digits have 17 grey levels. We threshold them at 0.5 so that every pixel really is
# a Bernoulli variable: then -log p(x|z) is a log-probability, and the negative ELBO is an
# upper bound on -log p(x) in nats (with grey levels it would only be a cross-entropy).

# %%
x_train, y_train = load_digits("train", flatten=True, binarize=True)
x_test, y_test = load_digits("test", flatten=True, binarize=True)
print("train", x_train.shape, "test", x_test.shape, "pixels on:", round(float(x_train.mean()), 3))

out = run_dir("lab11_vae", "quick" if QUICK else "full")
save_image_grid(x_test[:32].reshape(-1, 8, 8), out / "data.png", title="binarised test digits")


def images(x):
    """(N, 64) -> (N, 8, 8, 1) for the plots and TensorBoard."""
    return np.asarray(x).reshape(-1, 8, 8, 1)


# %% [markdown]
# `loss_terms(x, epsilon)` gives the negative ELBO for given noise; averaging it over many
# noise draws gives a sharp estimate of the held-out negative ELBO (`evaluate` uses one).

# %%
def heldout_terms(model, x, draws=2 if QUICK else 16, seed=0):
    """(reconstruction, KL) of x, each the mean over `draws` noise draws, in nats."""
    rng = np.random.default_rng(seed)
    reconstruction, kl = 0.0, 0.0
    for _ in range(draws):
        epsilon = rng.normal(size=(len(x), model.latent_dim)).astype("float32")
        _, draw_reconstruction, draw_kl = model.loss_terms(x, epsilon)
        reconstruction, kl = reconstruction + float(draw_reconstruction), kl + float(draw_kl)
    return reconstruction / draws, kl / draws


def heldout_negative_elbo(model, x, draws=2 if QUICK else 16, seed=0):
    """The negative ELBO of x with beta = 1 (a bound on -log p(x)), in nats."""
    return sum(heldout_terms(model, x, draws, seed))


# %% [markdown]
# ## A VAE with a 2-D latent space
#
# Two latent dimensions are too few for a good likelihood, but they can be drawn.

# %%
model = vae.VAE(input_dim=64, latent_dim=2, hidden_units=(128,))
model.compile(optimizer=keras.optimizers.Adam(3e-3))
history = model.fit(  # a smoke run validates the latent_dim=8 model below only
    x_train, validation_data=None if QUICK else (x_test,), batch_size=64, epochs=2 if QUICK else 80, verbose=0,
    callbacks=tensorboard_callbacks(out / "tb_latent2", every_n_epochs=1 if QUICK else 10,
                                    sample_fn=lambda: images(model.sample(16, seed=0))))
save_loss_curves(history, out / "loss_latent2.png", title="2-D VAE: negative ELBO and its terms")
print(f"latent_dim=2: test negative ELBO {heldout_negative_elbo(model, x_test):.2f} nats")

# %% [markdown]
# Reconstructions decode the posterior mean (top: data, bottom: E[x|z]); samples decode
# z ~ N(0, I).

# %%
originals = x_test[:16]
save_image_grid(images(np.concatenate([originals, model.reconstruct(originals)])),
                out / "reconstructions.png", ncols=16, title="data (top), reconstructions")
save_image_grid(images(model.sample(32, seed=1)), out / "samples_latent2.png",
                title="samples from the prior")

# %% [markdown]
# The posterior means of the test digits, one colour per class. Nothing told the model the
# labels, yet the classes form regions: the ELBO rewards putting similar digits close.

# %%
means, _ = model.encoder(x_test)
means = np.asarray(means)
save_scatter_2d({str(d): means[y_test == d] for d in range(10)}, out / "latent_space.png",
                title="posterior means of test digits")

# A traversal: decode a grid of latent points over the bulk of the prior (its 5%-95% quantiles).
grid = np.linspace(-1.64, 1.64, 5 if QUICK else 10, dtype="float32")
z_grid = np.array([[a, b] for b in grid[::-1] for a in grid], dtype="float32")
save_image_grid(images(model.output_mean(model.decoder(z_grid))), out / "latent_traversal.png",
                ncols=len(grid), title="decoder over a grid of z")

# %% [markdown]
# ## The held-out negative ELBO, in nats
#
# The model below is the autograder's `train_step_trains` model (latent_dim=8,
# hidden_units=(64,), Adam 3e-3, batches of 64), trained for the check's 10 epochs and then
# on to the notebook's full budget.

# %%
reset_keras(0)
model8 = vae.VAE(input_dim=64, latent_dim=8, hidden_units=(64,))
model8.compile(optimizer=keras.optimizers.Adam(3e-3))
curves, done = {}, 0
for epochs in [1, 2] if QUICK else [10, 150]:
    history8 = model8.fit(x_train, validation_data=(x_test,), batch_size=64,
                          initial_epoch=done, epochs=epochs, verbose=0)
    for name, values in history8.history.items():
        curves.setdefault(name, []).extend(values)
    done = epochs
    print(f"latent_dim=8 after {epochs:3d} epochs: "
          f"test negative ELBO {heldout_negative_elbo(model8, x_test):.2f} nats")
save_loss_curves(curves, out / "loss_latent8.png", title="latent_dim=8")
save_image_grid(images(model8.sample(32, seed=1)), out / "samples_latent8.png",
                title="samples, latent_dim=8")

# %% [markdown]
# The `.keras` round trip: the reloaded model gives the same outputs.

# %%
model8.save(out / "vae_latent8.keras")
reloaded = keras.saving.load_model(out / "vae_latent8.keras")
print("max difference after reload:",
      float(np.max(np.abs(np.asarray(reloaded(x_test)) - np.asarray(model8(x_test))))))

# %% [markdown]
# ## Latent traversals
#
# Start from the posterior mean of one test digit and move along one latent axis at a time,
# from -2.5 to 2.5, keeping the others fixed. Axes the model uses change the digit (its
# stroke, slant, or identity); axes it does not use (their KL is near 0: q(z_k|x) is the
# prior whatever x is) change nothing. The per-dimension KL tells them apart.

# %%
def kl_per_dimension(model, x):
    """The mean KL of each latent dimension over x: (K,) nats."""
    mean, log_var = (np.asarray(t, dtype=np.float64) for t in model.encoder(x))
    return (0.5 * (mean ** 2 + np.exp(log_var) - 1.0 - log_var)).mean(axis=0)


def save_traversals(model, x, path, title, steps=5 if QUICK else 9):
    """One row per latent dimension: decode the posterior mean of x with that coordinate
    swept over [-2.5, 2.5]."""
    start = np.asarray(model.encoder(x[None])[0])[0]
    values = np.linspace(-2.5, 2.5, steps, dtype="float32")
    z = np.repeat(start[None], model.latent_dim * steps, axis=0)
    for k in range(model.latent_dim):
        z[k * steps:(k + 1) * steps, k] = values
    save_image_grid(images(model.output_mean(model.decoder(z))), path, ncols=steps, title=title)


print("KL per latent dimension (nats):", np.round(kl_per_dimension(model8, x_test), 2))
save_traversals(model8, x_test[0], out / "latent_traversals_latent8.png",
                title="latent_dim=8: one row per dimension, z_k from -2.5 to 2.5")

# %% [markdown]
# ## How good is the bound? The importance-weighted estimate of log p(x)
#
# The ELBO is a lower bound on log p(x). Drawing S samples from q(z|x) and averaging their
# importance weights p(x, z_s) / q(z_s|x) *inside* the log gives a tighter one,
#
#     log p(x) >= log (1/S) sum_s p(x, z_s) / q(z_s|x) >= ELBO,
#
# which rises towards log p(x) as S grows (`iwae_bound`, `VAE.log_likelihood_estimate`).
# The gap between the ELBO and the large-S estimate is how far q(z|x) is from the true
# posterior, on average: the price of the approximate posterior.

# %%
sample_counts = [10] if QUICK else [1, 10, 100, 1000]
print(f"held-out negative ELBO (16 draws): {heldout_negative_elbo(model8, x_test):.2f} nats")
for count in sample_counts:
    estimate = np.mean(model8.log_likelihood_estimate(x_test, num_samples=count, seed=0))
    print(f"S = {count:4d}: -log p(x) <= {-estimate:.2f} nats")

# %% [markdown]
# ## The beta-VAE: trading reconstruction for KL
#
# With loss = reconstruction + beta * KL, beta > 1 makes every nat of information in z
# more expensive: the model keeps fewer latent dimensions active and reconstructs worse;
# beta < 1 does the opposite. Only beta = 1 is a bound on -log p(x). Past some beta the
# KL wins outright: q(z|x) becomes the prior for every x (posterior collapse), and the
# decoder draws the average digit whatever z is.

# %%
betas = [4.0] if QUICK else [0.5, 1.0, 4.0]
shown = originals[:8] if QUICK else originals
beta_models = {}
for beta in betas:
    reset_keras(0)
    beta_models[beta] = vae.VAE(input_dim=64, latent_dim=8, hidden_units=(64,), beta=beta)
    beta_models[beta].compile(optimizer=keras.optimizers.Adam(3e-3))
    beta_models[beta].fit(x_train, batch_size=64, epochs=1 if QUICK else 60, verbose=0)
    reconstruction, kl = heldout_terms(beta_models[beta], x_test)
    active = int((kl_per_dimension(beta_models[beta], x_test) > 0.1).sum())
    print(f"beta = {beta:3}: reconstruction {reconstruction:6.2f} + KL {kl:5.2f} nats, "
          f"{active} of 8 latent dimensions active (KL > 0.1)")
rows = ", ".join(f"{b:g}" for b in betas)
save_image_grid(images(np.concatenate([beta_models[b].reconstruct(shown) for b in betas])),
                out / "beta_vae_reconstructions.png", ncols=len(shown),
                title=f"reconstructions, one row per beta: {rows}")
save_image_grid(images(np.concatenate([beta_models[b].sample(len(shown), seed=1)
                                       for b in betas])),
                out / "beta_vae_samples.png", ncols=len(shown),
                title=f"samples, one row per beta: {rows}")
save_traversals(beta_models[betas[-1]], x_test[0], out / "latent_traversals_beta4.png",
                title="beta = 4: most rows do not change (inactive dimensions)")

# %% [markdown]
# ## A conditional VAE: asking for a digit
#
# The ConditionalVAE gives the label to both networks: q(z|x, y) and p(x|z, y). The decoder
# knows which digit to draw, so z only has to carry the rest: the style. Below, each column
# decodes ONE z with every label 0-9: the same slant and thickness, ten different digits.

# %%
reset_keras(0)
cvae = vae.ConditionalVAE(input_dim=64, latent_dim=2, num_classes=10, hidden_units=(64,))
cvae.compile(optimizer=keras.optimizers.Adam(3e-3))
cvae_history = cvae.fit(x_train, y_train, validation_data=(x_test, y_test), batch_size=64,
                        epochs=2 if QUICK else 60, verbose=0)
save_loss_curves(cvae_history, out / "loss_conditional.png", title="conditional VAE")
columns = 5 if QUICK else 10
styles = keras.random.normal((columns, 2), seed=3)                # one z per column
z = np.tile(np.asarray(styles), (10, 1))                          # row r: digit r
digit_rows = np.repeat(np.arange(10), columns)
save_image_grid(images(cvae.output_mean(cvae.decode(z, digit_rows))),
                out / "conditional_digits.png", ncols=columns,
                title="one z per column, the label 0-9 per row")
cvae.save(out / "conditional_vae.keras")
reloaded_cvae = keras.saving.load_model(out / "conditional_vae.keras")
print("conditional VAE reloaded, largest sample difference:",
      float(np.max(np.abs(np.asarray(reloaded_cvae.sample(digit_rows, seed=4))
                          - np.asarray(cvae.sample(digit_rows, seed=4))))))

# %% [markdown]
# ## A Gaussian likelihood on the grey levels
#
# For real-valued pixels, p(x|z) = N(x | decoder(z), sigma^2 I) with a fixed sigma (here
# 0.2). Its negative ELBO is in nats of a *density*, so it cannot be compared with the
# Bernoulli numbers above. Try other sigmas: a small sigma weights reconstruction over KL.

# %%
reset_keras(0)
x_grey, _ = load_digits("train", flatten=True)
gaussian = vae.VAE(input_dim=64, latent_dim=8, hidden_units=(64,), likelihood="gaussian",
                   observation_log_var=2 * math.log(0.2))
gaussian.compile(optimizer=keras.optimizers.Adam(3e-3))
gaussian.fit(x_grey, batch_size=64, epochs=2 if QUICK else 60, verbose=0)
save_image_grid(images(np.clip(gaussian.sample(32, seed=1), 0, 1)), out / "samples_gaussian.png",
                title="Gaussian likelihood, grey levels: decoder means")

# %% [markdown]
# ## Probabilistic PCA: the linear VAE with closed forms (`ppca.py`)
#
# PPCA is z ~ N(0, I_q), x | z ~ N(W z + mean, sigma^2 I): a VAE with a linear decoder and a
# Gaussian likelihood, where the likelihood N(x | mean, W W^T + sigma^2 I), its maximum and
# the posterior p(z | x) all have closed forms. PPCA is a density on real vectors, so we fit
# it to the grey levels, dequantised: each pixel's 17 levels k/16 get uniform noise of one
# level's width, x = k/16 + u, u ~ U(0, 1/16). Without it, the pixels that are 0 in every
# training image (the corners) have variance 0, sigma^2 falls to 0 as q grows, and the
# log-density grows without bound. The log-likelihoods are log-DENSITIES in nats per image:
# comparable between these models, not with the Bernoulli VAE's nats above.
#
# With all 1347 training digits, the test log-likelihood rises with q until sigma^2 reaches
# the dequantisation noise. With 150 training digits, the extra directions fit that sample's
# noise: the training log-likelihood keeps rising, the test one peaks and falls (overfitting).

# %%
dequantize = np.random.default_rng(0)
x_ppca_train = load_digits("train", flatten=True)[0]
x_ppca_train = x_ppca_train + dequantize.uniform(0, 1 / 16, x_ppca_train.shape)
x_ppca_test = load_digits("test", flatten=True)[0]
x_ppca_test = x_ppca_test + dequantize.uniform(0, 1 / 16, x_ppca_test.shape)
latent_sizes = [5, 30] if QUICK else [1, 2, 3, 5, 8, 10, 15, 20, 25, 30, 40, 50, 60]
ppca_scores = {"all": {}, "150": {}}
for q in latent_sizes:
    for name, train in (("all", x_ppca_train), ("150", x_ppca_train[:150])):
        fitted = ppca.PPCA(q).fit(train)
        ppca_scores[name][q] = (float(fitted.score_samples(train).mean()),
                                float(fitted.score_samples(x_ppca_test).mean()))
    print(f"q = {q:2d}: mean log-likelihood per image, all training digits: train "
          f"{ppca_scores['all'][q][0]:5.1f}, test {ppca_scores['all'][q][1]:5.1f}; 150 training "
          f"digits: train {ppca_scores['150'][q][0]:5.1f}, test {ppca_scores['150'][q][1]:5.1f}")

figure = Figure(figsize=(6.5, 4))
axes = figure.subplots()
for name, style in (("all", "-"), ("150", "--")):
    for column, marker, split in ((0, "o", "train"), (1, "s", "test")):
        axes.plot(latent_sizes, [ppca_scores[name][q][column] for q in latent_sizes],
                  marker + style, label=f"{split}, {name} training digits")
axes.set_xlabel("latent dimensions q")
axes.set_ylabel("mean log-likelihood per image (nats)")
axes.set_title("PPCA on dequantised 8x8 digits")
axes.legend(fontsize=8)
save_figure(figure, out / "ppca_log_likelihood_vs_q.png")

# %% [markdown]
# Samples of the q = 10 model: x = mean + W z + sigma * noise. The pixel noise is white and
# the same everywhere, which is why the samples look grainy; the decoder means mean + W z
# (the second grid) are smooth blends of the principal directions. The posterior mean
# E[z | x] = M^-1 W^T (x - mean) maps a test digit back to latent space; mean + W E[z | x] is
# its reconstruction (third grid, under the originals).

# %%
digits_ppca = ppca.PPCA(10).fit(x_ppca_train)
save_image_grid(images(np.clip(digits_ppca.sample(32, seed=1), 0, 1)), out / "ppca_samples.png",
                title="PPCA (q = 10) samples: mean + W z + sigma * noise")
latents = np.random.default_rng(2).standard_normal((32, 10))
save_image_grid(images(np.clip(digits_ppca.mean_ + latents @ digits_ppca.weights_.T, 0, 1)),
                out / "ppca_decoder_means.png", title="PPCA (q = 10): mean + W z, no noise")
shown = x_ppca_test[:16]
posterior_means = digits_ppca.transform(shown)
reconstructions = digits_ppca.mean_ + posterior_means @ digits_ppca.weights_.T
save_image_grid(images(np.clip(np.concatenate([shown, reconstructions]), 0, 1)),
                out / "ppca_reconstructions.png", ncols=16,
                title="test digits (top), mean + W E[z|x] (bottom)")

# %% [markdown]
# ## Two gradient estimators (`estimators.py`)
#
# The VAE's gradient goes through the sample z = mean + sigma * eps: the reparameterisation
# (pathwise) estimator. The score-function (REINFORCE) estimator needs only values of f,
# which is why reinforcement learning uses it, and pays in variance. Below, both estimate
# d/d(mu, log sigma) E[z^2] for z ~ N(1, 0.5^2) (exactly (2 mu, 2 sigma^2) = (2, 0.5)) from
# the same 1000 draws; the histograms are the per-draw estimates of d/dmu.

# %%
def square(z):
    return z ** 2


mu, log_sigma = 1.0, math.log(0.5)
epsilon = np.random.default_rng(0).standard_normal(1000)
values = np.asarray(square(estimators.draws(mu, log_sigma, epsilon)))
per_draw = {
    "reparameterisation": np.asarray(estimators.reparameterization_gradient(
        square, mu, log_sigma, epsilon)),
    "REINFORCE": np.asarray(estimators.score_function_gradient(square, mu, log_sigma, epsilon)),
    "REINFORCE, leave-one-out baseline": np.asarray(estimators.score_function_gradient(
        square, mu, log_sigma, epsilon, estimators.leave_one_out_baseline(values))),
}
for name, estimates in per_draw.items():
    print(f"{name:34s} mean {np.round(estimates.mean(axis=0), 3)}, "
          f"variance per draw {np.round(estimates.var(axis=0), 2)}")
ratio = per_draw["REINFORCE"].var(axis=0) / per_draw["reparameterisation"].var(axis=0)
print("REINFORCE / reparameterisation variance:", np.round(ratio, 1))

figure = Figure(figsize=(7, 4))
axes = figure.subplots()
for name, estimates in per_draw.items():
    axes.hist(estimates[:, 0], bins=60, range=(-15, 20), histtype="step", label=name)
axes.axvline(2.0, color="k", linestyle=":", label="exact d/dmu = 2")
axes.set_xlabel("per-draw estimate of d/dmu E[z^2]")
axes.set_title("z ~ N(1, 0.5^2), 1000 draws")
axes.legend(fontsize=8)
save_figure(figure, out / "estimator_histograms.png")

# %% [markdown]
# How the variance of the mean estimate falls with the number of draws S (as 1/S for all
# three: only the constant differs, so REINFORCE needs that many times more draws for the
# same precision).

# %%
sizes = [10, 30, 100, 300, 1000]
spread = {name: [] for name in per_draw}
rng = np.random.default_rng(1)
for size in sizes:
    means = {name: [] for name in per_draw}
    for _ in range(5 if QUICK else 200):
        eps = rng.standard_normal(size)
        values = np.asarray(square(estimators.draws(mu, log_sigma, eps)))
        means["reparameterisation"].append(np.asarray(
            estimators.reparameterization_gradient(square, mu, log_sigma, eps)).mean(axis=0))
        means["REINFORCE"].append(np.asarray(
            estimators.score_function_gradient(square, mu, log_sigma, eps)).mean(axis=0))
        means["REINFORCE, leave-one-out baseline"].append(np.asarray(
            estimators.score_function_gradient(square, mu, log_sigma, eps,
                                               estimators.leave_one_out_baseline(values))
        ).mean(axis=0))
    for name in per_draw:
        spread[name].append(np.var(np.array(means[name])[:, 0]))
figure = Figure(figsize=(6, 4))
axes = figure.subplots()
for name in per_draw:
    axes.loglog(sizes, spread[name], "o-", label=name)
axes.set_xlabel("draws S")
axes.set_ylabel("variance of the mean estimate of d/dmu")
axes.legend(fontsize=8)
save_figure(figure, out / "estimator_variance_vs_draws.png")
print("written:", sorted(p.name for p in out.glob("*.png")))
