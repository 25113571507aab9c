# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lab 13 — Wasserstein GANs
#
# This notebook uses your `wasserstein.py`, `wgan_losses.py`, `fgan_losses.py` and
# `wgan_model.py`:
#
# 1. why the Wasserstein distance: point masses, where KL and JS are useless;
# 2. a critic alone estimates W1 between two 1-D samples: compare with the exact value by
#    sorting, with a gradient penalty and with weight clipping;
# 3. WGAN-GP on the ring of 8 Gaussians, then the same with weight clipping;
# 4. f-GANs (KL, Jensen–Shannon, Pearson χ²) on "moons" with the same model;
# 5. saving and reloading the WGAN as a `.keras` file;
# 6. spectral normalisation: your power iteration against np.linalg.svd;
# 7. a spectrally normalised critic and R1 on the ring, measured over training by a Fréchet
#    distance on the features of a classifier trained here (your `regularizers.py` and
#    `quality.py`).
#
# Plots go to `outputs/lab13_wgan/<run>/`. Set `DLKIT_QUICK=1` for a smoke run.

# %%
import os

import numpy as np

from dlkit.backend import keras, reset_keras, tensorflow
from dlkit.data import sample_toy2d, toy2d_dataset, toy2d_mode_counts
from dlkit.plots import save_loss_curves, save_scatter_2d
from dlkit.training import run_dir, tensorboard_callbacks

tf = tensorflow()
keras = keras()

from wasserstein import random_directions, sliced_wasserstein, wasserstein_1d  # noqa: E402
from wgan_model import WGAN, make_mlp_critic, make_mlp_generator  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
reset_keras(0)

# %% [markdown]
# ## 1. Point masses: W1 moves smoothly, JS and KL do not
#
# P puts all its mass at 0, Q all of it at θ. For θ ≠ 0 they do not overlap, so
# KL(P || Q) = ∞ and JS(P || Q) = log 2 whatever θ is: neither tells a generator which way
# to move. W1 = |θ| shrinks as Q moves toward P. Your `wasserstein_1d` on samples agrees.

# %%
print(f"{'theta':>6} {'W1 (sorting)':>13} {'JS':>8} {'KL':>5}")
for theta in (0.0, 0.5, 1.0, 2.0):
    w1 = wasserstein_1d(np.zeros(100), np.full(100, theta))
    js = 0.0 if theta == 0 else np.log(2)
    kl = "0" if theta == 0 else "inf"
    print(f"{theta:6.1f} {w1:13.3f} {js:8.3f} {kl:>5}")

# %% [markdown]
# ## 2. A critic estimates W1
#
# Only the critic trains here: the generator is fixed, z ↦ 0.5 z + 2, so the fakes are
# N(2, 0.5²) and the data N(0, 1). By Kantorovich–Rubinstein the best 1-Lipschitz critic's
# score gap E f(real) - E f(fake) *is* W1. With a gradient penalty of weight λ the constraint
# is soft: a critic of slope s gains s·W1 and pays λ(s - 1)², so it settles near
# s = 1 + W1/(2λ) and overshoots W1 a little. With weight clipping the critic is K-Lipschitz
# for some K nobody knows, so its gap is W1 times an unknown scale.

# %%
def fixed_shift_generator():
    generator = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)], name="shift")
    generator.layers[0].kernel.assign([[0.5]])
    generator.layers[0].bias.assign([2.0])
    return generator


def train_critic_alone(steps, **wgan_args):
    """Critic steps against the fixed generator; its score gap on held-out data every 10."""
    reset_keras(0)
    generator = fixed_shift_generator()
    critic = make_mlp_critic(data_dim=1, hidden_units=32, depth=2)
    model = WGAN(generator, critic, latent_dim=1, n_critic=1, seed=0, **wgan_args)
    model.compile(critic_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5, beta_2=0.9),
                  generator_optimizer=keras.optimizers.Adam(1e-3))
    step = tf.function(model.critic_step)
    rng = np.random.default_rng(0)
    real = rng.normal(size=(2000, 1)).astype("float32")
    fake = generator(rng.normal(size=(2000, 1)).astype("float32")).numpy()
    gaps = []
    for i in range(steps):
        step(tf.constant(rng.normal(size=(128, 1)), tf.float32))
        if i % 10 == 9:
            gaps.append(float(np.mean(critic(real)) - np.mean(critic(fake))))
    return gaps, wasserstein_1d(real, fake)


critic_dir = run_dir("lab13_wgan", "critic_1d")
critic_steps = 10 if QUICK else 600
gp_gaps, exact = train_critic_alone(critic_steps, gp_weight=10.0)
clip_gaps, _ = train_critic_alone(critic_steps, gp_weight=0.0, clip_value=0.05)
print(f"exact W1 (sorting): {exact:.3f}; gradient-penalty critic: {gp_gaps[-1]:.3f} "
      f"(W1 (1 + W1/20) = {exact * (1 + exact / 20):.3f}); clipped critic: {clip_gaps[-1]:.3g}")
save_loss_curves({"critic gap, gradient penalty": gp_gaps, "critic gap, clipping": clip_gaps,
                  "exact W1 (sorting)": [exact] * len(gp_gaps),
                  "W1 (1 + W1 / 2 lambda)": [exact * (1 + exact / 20)] * len(gp_gaps)},
                 critic_dir / "critic_gap.png", title="critic's estimate of W1 (x: tens of steps)")

# %% [markdown]
# ## 3. WGAN-GP on the ring of 8 Gaussians
#
# n_critic = 5 critic steps per generator step, λ = 10, Adam(β1 = 0.5, β2 = 0.9) with a
# critic learning 5x faster than the generator. The sliced W1 to held-out data is your
# `sliced_wasserstein` over 50 random directions; a mode counts as covered when a sample lands
# within 3 standard deviations of it.

# %%
def train_toy_wgan(data_name, steps, logdir, **wgan_args):
    reset_keras(0)
    model = WGAN(make_mlp_generator(), make_mlp_critic(), latent_dim=2, seed=0, **wgan_args)
    optimizer = (keras.optimizers.RMSprop if wgan_args.get("clip_value")
                 else lambda rate: keras.optimizers.Adam(rate, beta_1=0.5, beta_2=0.9))
    model.compile(critic_optimizer=optimizer(1e-3), generator_optimizer=optimizer(2e-4),
                  steps_per_execution=1 if QUICK else 20)  # a smaller graph to trace
    epochs = 1 if QUICK else 10
    history = model.fit(toy2d_dataset(data_name, 8192, batch_size=128, repeat=True),
                        epochs=epochs, steps_per_epoch=max(steps // epochs, 1), verbose=0,
                        callbacks=tensorboard_callbacks(logdir))
    return model, history


heldout = sample_toy2d("ring", 1000, seed=1)
directions = random_directions(50, 2, seed=0)
toy_steps = 3 if QUICK else 3000
ring_runs = (("gradient_penalty", dict(gp_weight=10.0)),
             ("weight_clipping", dict(gp_weight=0.0, clip_value=0.05)))
if QUICK:  # a smoke run: weight clipping only (the penalty's critic step ran in section 2)
    ring_runs = ring_runs[1:]
for method, args in ring_runs:
    ring_dir = run_dir("lab13_wgan", f"ring_{method}")
    model, history = train_toy_wgan("ring", toy_steps, ring_dir / "logs", n_critic=5, **args)
    samples = model.generate(1000).numpy()
    covered = int((toy2d_mode_counts(samples, "ring") > 0).sum())
    distance = sliced_wasserstein(samples, heldout, directions)
    print(f"{method}: sliced W1 to held-out data {distance:.3f}, modes covered {covered}/8")
    save_scatter_2d({"data": heldout, "WGAN": samples}, ring_dir / "samples.png",
                    title=f"WGAN ({method.replace('_', ' ')}) on the ring",
                    limits=(-3, 3, -3, 3))
    save_loss_curves(history, ring_dir / "losses.png", title=f"WGAN ({method}) losses")
    if method == "weight_clipping":
        weights = np.concatenate([w.numpy().ravel() for w in model.critic.trainable_variables
                                  if w.numpy().ndim == 2])
        at_bound = np.mean(np.isclose(np.abs(weights), 0.05))
        print(f"  {100 * at_bound:.0f}% of the critic's kernel weights sit at ±c: clipping "
              "pushes the critic toward a very simple function")

# %% [markdown]
# ## 4. f-GANs on "moons"
#
# The same model with `divergence="kl" | "js" | "pearson"`: the critic maximises
# E_P[g_f(v)] - E_Q[f*(g_f(v))], the generator maximises E_Q[g_f(v)]. One critic step per
# generator step, no penalty, Adam without momentum. -critic_loss is the critic's running
# estimate (a lower bound) of D_f(data || model); for "js" it is 2·JS, at most
# 2 log 2 ≈ 1.386. KL is the touchy one: its conjugate exp(v - 1) grows exponentially, so a
# few fakes the critic scores high dominate the loss. With Adam's usual beta_1 = 0.5 the KL
# f-GAN does not learn this problem (at a learning rate of 3e-4 its loss even reaches NaN).

# %%
moons = sample_toy2d("moons", 1000, seed=1)
fgan_dir = run_dir("lab13_wgan", "fgan_moons")
sets = {"data": moons}
for divergence in ("js",) if QUICK else ("kl", "js", "pearson"):
    reset_keras(0)
    model = WGAN(make_mlp_generator(), make_mlp_critic(), latent_dim=2, n_critic=1,
                 gp_weight=0.0, divergence=divergence, seed=0)
    # No momentum: with beta_1 = 0.5 the KL f-GAN fails here (at lr 3e-4 its loss reaches NaN).
    model.compile(critic_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.0),
                  generator_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.0),
                  steps_per_execution=1 if QUICK else 20)
    history = model.fit(toy2d_dataset("moons", 8192, batch_size=128, repeat=True),
                        epochs=1 if QUICK else 10, steps_per_epoch=3 if QUICK else 200, verbose=0)
    sets[divergence] = samples = model.generate(500).numpy()
    print(f"{divergence:>8}: critic's bound {-history.history['critic_loss'][-1]:.3f}, sliced W1 "
          f"to held-out data {sliced_wasserstein(samples, moons, directions):.3f}")
save_scatter_2d(sets, fgan_dir / "samples.png", title="f-GANs on moons",
                limits=(-3.5, 3.5, -2.5, 2.5))

# %% [markdown]
# ## 5. Save and reload
#
# `get_config` / `from_config` let `keras.models.load_model` rebuild the WGAN with both
# networks, its training choices (n_critic, gp_weight, clip_value, divergence) and its
# optimizers, so training can resume.

# %%
path = fgan_dir / f"fgan_{divergence}.keras"
model.save(path)
reloaded = keras.models.load_model(path)
z = keras.random.normal((16, 2), seed=0)
difference = np.abs(reloaded(z).numpy() - model(z).numpy()).max()
print(f"reloaded {type(reloaded).__name__} (divergence={reloaded.divergence!r}, "
      f"n_critic={reloaded.n_critic}) from {path.name}: largest difference {difference:.2g}")

# %% [markdown]
# ## 6. Spectral normalisation: power iteration
#
# A wrapped Dense layer keeps u between calls and takes one power-iteration step per
# training call. Its sigma (read off the output: the raw layer's output norm over the
# wrapped one's) reaches the largest singular value of the kernel within a few calls, and
# at inference u stays where it is.

# %%
from quality import (  # noqa: E402
    frechet_distance_of_features,
    ring_mode_labels,
    train_feature_classifier,
)
from regularizers import R1GAN, SpectralNormalization, make_sn_critic  # noqa: E402

reset_keras(0)
spectral_dir = run_dir("lab13_wgan", "spectral")
layer = SpectralNormalization(keras.layers.Dense(8, use_bias=False))
x = keras.random.normal((32, 16), seed=0)
layer(x)
exact_sigma = np.linalg.svd(layer.layer.kernel.numpy(), compute_uv=False)[0]
estimates = []
for _ in range(20):
    layer(x, training=True)
    estimates.append(float(np.linalg.norm(layer.layer(x)) / np.linalg.norm(layer(x))))
print(f"largest singular value (np.linalg.svd) {exact_sigma:.4f}; power iteration after 1, 3 "
      f"and 20 calls: {estimates[0]:.4f}, {estimates[2]:.4f}, {estimates[-1]:.4f}")
save_loss_curves({"sigma by power iteration": estimates,
                  "largest singular value (svd)": [exact_sigma] * len(estimates)},
                 spectral_dir / "power_iteration.png",
                 title="spectral norm estimate per training call")

# %% [markdown]
# ## 7. A spectrally normalised critic and R1, measured by a Fréchet distance
#
# The feature space: a small MLP trained once (seed 0) to tell which of the ring's 8 modes
# a point is nearest; its 32 last hidden units are the features. The Fréchet distance of a
# fresh sample of the ring to the held-out points is the floor (sampling noise); a generator
# that misses modes moves the features' mean and covariance. Two GANs on the ring, measured
# every tenth of their training: a WGAN whose critic has every Dense wrapped in your
# `SpectralNormalization` (no penalty, no clipping, 5 critic steps), and `R1GAN` (the
# non-saturating loss, one critic step, R1 with γ = 1 on the real data).

# %%
classifier_features = train_feature_classifier(n=256 if QUICK else 4000,
                                               epochs=1 if QUICK else 5)
held_features = classifier_features(heldout).numpy()


def fd_to_heldout(points):
    return frechet_distance_of_features(held_features, classifier_features(points).numpy())


fresh = sample_toy2d("ring", 1000, seed=7)
half = sample_toy2d("ring", 3000, seed=8)
half = half[ring_mode_labels(half) < 4][:1000]
print(f"Fréchet distance to held-out ring points: a fresh sample {fd_to_heldout(fresh):.3f}, "
      f"4 of the 8 modes {fd_to_heldout(half):.2f}")

quality_dir = run_dir("lab13_wgan", "fd_ring")
gan_steps = 3 if QUICK else 2000
measurements = 1 if QUICK else 10  # epochs, each ends with a Fréchet distance
curves, samples_by_model = {}, {"data": heldout}
for name in ("spectral norm critic", "R1"):
    reset_keras(0)
    if name == "R1":
        model = R1GAN(make_mlp_generator(), make_mlp_critic(), latent_dim=2, r1_gamma=1.0, seed=0)
    else:
        model = WGAN(make_mlp_generator(), make_sn_critic(), latent_dim=2, n_critic=5,
                     gp_weight=0.0, seed=0)
    model.compile(critic_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.9),
                  generator_optimizer=keras.optimizers.Adam(
                      (1e-3 if name == "R1" else 2e-4), beta_1=0.5, beta_2=0.9),
                  steps_per_execution=1 if QUICK else 20)
    z = keras.random.normal((1000, 2), seed=1)
    curve = [fd_to_heldout(model.generator(z).numpy())]
    measure = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: curve.append(fd_to_heldout(model.generator(z).numpy())))
    model.fit(toy2d_dataset("ring", 8192, batch_size=128, repeat=True), epochs=measurements,
              steps_per_epoch=max(gan_steps // measurements, 1), callbacks=[measure], verbose=0)
    curves[name] = curve
    samples_by_model[name] = samples = model.generator(z).numpy()
    covered = int((toy2d_mode_counts(samples, "ring") > 0).sum())
    print(f"{name}: Fréchet distance {curve[0]:.2f} untrained, {curve[-1]:.3f} after "
          f"{gan_steps} generator steps; modes covered {covered}/8")
save_loss_curves(curves, quality_dir / "frechet_distance.png",
                 title="Fréchet distance to held-out data (x: tenths of training)")
save_scatter_2d(samples_by_model, quality_dir / "samples.png",
                title="spectral norm critic and R1 on the ring", limits=(-3, 3, -3, 3))
