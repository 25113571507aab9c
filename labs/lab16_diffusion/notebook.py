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
# # Lab 16 — Diffusion models
#
# This notebook uses every module of the lab:
#
# 1. the forward process: how the linear and cosine schedules destroy a 2-D data set;
# 2. a DDPM on the "moons" toy set (`DiffusionModel` with an `MLPDenoiser`), with TensorBoard;
# 3. sampling it: DDPM's T ancestral steps against DDIM with far fewer steps; EMA against
#    the online weights;
# 4. the same network as a score model, sampled with annealed Langevin dynamics;
# 5. a class-conditional model on the "pinwheel" set with classifier-free guidance;
# 6. saving and reloading the model as `.keras`;
# 7. a U-Net denoiser with FiLM (`UNetDenoiser`) trained on the 8x8 digits;
# 8. classifier guidance of that unconditional U-Net by a classifier of noisy digits.
#
# Plots go to `outputs/lab16_diffusion/<run>/`. Set `DLKIT_QUICK=1` for a smoke run.

# %%
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dlkit.backend import keras, reset_keras, tensorflow  # noqa: E402
from dlkit.data import load_digits, sample_toy2d, toy2d_classification, toy2d_dataset  # noqa: E402
from dlkit.plots import save_figure, save_image_grid, save_loss_curves, save_scatter_2d  # noqa: E402
from dlkit.training import run_dir, tensorboard_callbacks  # noqa: E402

tf = tensorflow()
keras = keras()

from classifier_guidance import NoisyClassifier, classifier_guided_predictor  # noqa: E402
from denoiser import MLPDenoiser  # noqa: E402  (after the quiet TensorFlow import)
from diffusion_model import DiffusionModel  # noqa: E402
from forward_process import NoiseSchedule, cosine_betas, linear_betas, q_sample  # noqa: E402
from reverse_process import ddpm_sample  # noqa: E402
from score_matching import annealed_langevin, score_from_noise  # noqa: E402
from unet import UNetDenoiser  # noqa: E402

QUICK = os.environ.get("DLKIT_QUICK") == "1"
T = 25 if QUICK else 50  # DDPM samples run T steps; the linear schedule needs T > 20
N = 100 if QUICK else 1000  # samples per plot
DDIM_STEPS = 3 if QUICK else 10  # the DDIM run plotted against DDPM
LIMITS = (-4, 4, -4, 4)
reset_keras(0)


def energy_distance(x, y):
    """2 E|X - Y| - E|X - X'| - E|Y - Y'|: 0 exactly when the two distributions agree."""
    x, y = (np.asarray(a, dtype=np.float64) for a in (x, y))

    def mean_distance(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).mean()
    return 2 * mean_distance(x, y) - mean_distance(x, x) - mean_distance(y, y)


heldout = sample_toy2d("moons", 1000, seed=1)
pure_noise = np.random.default_rng(0).normal(size=(1000, 2))
second_sample = sample_toy2d("moons", 1000, seed=2)
print(f"energy distance of pure noise to the data: {energy_distance(pure_noise, heldout):.3f}; "
      f"of a second data sample: {energy_distance(second_sample, heldout):.4f}")

# %% [markdown]
# ## 1. The forward process
#
# alpha_bar_t is the fraction of the data's variance left at step t. The linear schedule
# destroys the signal quickly in the middle; the cosine schedule keeps more of it for
# longer and spends more steps at low noise, where the details are decided.

# %%
forward_dir = run_dir("lab16_diffusion", "forward")
schedules = {"linear": NoiseSchedule(linear_betas(T)), "cosine": NoiseSchedule(cosine_betas(T))}
figure, ax = plt.subplots(figsize=(6, 4))
for name, schedule in schedules.items():
    ax.plot(np.arange(T), schedule.alpha_bars.numpy(), label=f"alpha_bar ({name})")
ax.set_xlabel("t")
ax.legend()
ax.grid(alpha=0.3)
save_figure(figure, forward_dir / "alpha_bars.png", dpi=100)
plt.close(figure)

x0 = sample_toy2d("moons", 1000, seed=0)
noise = np.random.default_rng(0).normal(size=x0.shape).astype("float32")
for name, schedule in schedules.items():
    noised = {f"t={t}": q_sample(x0, np.full(len(x0), t), noise, schedule.alpha_bars).numpy()
              for t in (0, T // 5, T // 2, T - 1)}
    save_scatter_2d(noised, forward_dir / f"noised_{name}.png", limits=LIMITS,
                    title=f"q(x_t | x_0), {name} schedule")
    print(name, "alpha_bar at t = 0, T/5, T/2, T-1:",
          np.round(schedule.alpha_bars.numpy()[[0, T // 5, T // 2, T - 1]], 4))

# %% [markdown]
# ## 2. A DDPM on "moons"
#
# `fit` runs `train_step`: a random t and fresh noise per example, the noise-prediction
# loss, one Adam step, then one EMA step.

# %%
moons_dir = run_dir("lab16_diffusion", "moons")
steps = 10 if QUICK else 4000
reset_keras(0)
model = DiffusionModel(MLPDenoiser(hidden_units=128, depth=3), num_steps=T, schedule="linear",
                       ema_decay=0.995)
# Quick mode runs one step per execution: the multi-step loop traces train_step twice.
model.compile(optimizer=keras.optimizers.Adam(2e-3), steps_per_execution=1 if QUICK else 50)
model.optimizer.build(model.trainable_variables)  # avoids tracing train_step twice
started = time.perf_counter()
history = model.fit(toy2d_dataset("moons", 8192, batch_size=256, repeat=True),
                    epochs=10, steps_per_epoch=steps // 10, verbose=0,
                    callbacks=tensorboard_callbacks(moons_dir / "logs"))
print(f"{steps} steps in {time.perf_counter() - started:.1f} s; final loss "
      f"{history.history['loss'][-1]:.3f}")
save_loss_curves(history, moons_dir / "loss.png", title="noise-prediction loss")

# %% [markdown]
# ## 3. DDPM against DDIM, EMA against online weights
#
# DDPM needs all T steps. DDIM (eta = 0) is deterministic and jumps over timesteps: its
# samples stay good with a fraction of the steps. The EMA weights average the last
# ~1 / (1 - decay) steps of training; the online weights are the last step's alone.

# %%
samples = {}
runs = [("ddpm", T), ("ddim", DDIM_STEPS)] if QUICK else [("ddpm", T), ("ddim", T),
                                                          ("ddim", DDIM_STEPS), ("ddim", 5)]
for method, sample_steps in runs:
    started = time.perf_counter()
    x = model.sample(N, method=method, num_sample_steps=sample_steps, seed=3).numpy()
    samples[f"{method} {sample_steps}"] = x
    print(f"{method} with {sample_steps:3d} steps: energy distance "
          f"{energy_distance(x, heldout):.4f} ({time.perf_counter() - started:.2f} s)")
save_scatter_2d({"data": heldout, "DDPM": samples[f"ddpm {T}"]}, moons_dir / "ddpm.png",
                limits=LIMITS, title=f"DDPM, {T} steps")
save_scatter_2d({"data": heldout, f"DDIM {DDIM_STEPS} steps": samples[f"ddim {DDIM_STEPS}"]},
                moons_dir / "ddim.png", limits=LIMITS, title=f"DDIM, {DDIM_STEPS} steps")

online = tf.function(lambda x_t, t: model.predict_noise(x_t, t, use_ema=False))
x_online = ddpm_sample(online, keras.random.normal((N, 2), seed=3), model.schedule, seed=4)
print(f"online weights: energy distance {energy_distance(x_online.numpy(), heldout):.4f} "
      f"(EMA weights: {energy_distance(samples[f'ddpm {T}'], heldout):.4f})")

# %% [markdown]
# ## 4. The denoiser is a score model
#
# At step t the data are perturbed with noise of scale sigma_t = sqrt(1 - alpha_bar_t), and
# score = -eps / sigma_t. Annealed Langevin dynamics needs nothing but that score: start
# from noise and run Langevin steps at decreasing noise levels. (Here each level is a DDPM
# timestep; the scaling by sqrt(alpha_bar_t) is ignored, which is harmless at the low
# levels where the sampling ends.)

# %%
levels = np.unique(np.linspace(0, T - 1, 12).round().astype(int))[::-1]  # noisy to clean
sigmas = np.sqrt(1.0 - model.schedule.alpha_bars.numpy()[levels])
level_of = {float(s): int(t) for s, t in zip(sigmas, levels)}
predict = tf.function(lambda x_t, t: model.predict_noise(x_t, t))


def score_fn(x, sigma):
    t = tf.fill([tf.shape(x)[0]], level_of[sigma])
    return score_from_noise(predict(x, t), sigma)


x_langevin = annealed_langevin(score_fn, keras.random.normal((N, 2), seed=5), sigmas,
                               epsilon=2e-3, steps_per_level=2 if QUICK else 40, seed=6).numpy()
print(f"annealed Langevin: energy distance {energy_distance(x_langevin, heldout):.4f}")
save_scatter_2d({"data": heldout, "Langevin": x_langevin}, moons_dir / "langevin.png",
                limits=LIMITS, title="annealed Langevin with the learned score")

# %% [markdown]
# ## 5. Classifier-free guidance on "pinwheel"
#
# One network, trained with each label dropped (replaced by the null label) 10 % of the
# time, predicts both the conditional and the unconditional noise. Guidance weight w
# pushes the samples away from the unconditional prediction: larger w, samples more
# typical of their class and less spread out.

# %%
cfg_dir = run_dir("lab16_diffusion", "guidance")
x_labelled, y_labelled = toy2d_classification("pinwheel", 8192, seed=0)
reset_keras(0)
conditional = DiffusionModel(MLPDenoiser(hidden_units=128, depth=3, num_classes=5),
                             num_steps=T, schedule="linear", num_classes=5, label_dropout=0.1,
                             ema_decay=0.995)
conditional.compile(optimizer=keras.optimizers.Adam(2e-3),
                    steps_per_execution=1 if QUICK else 50)
conditional.optimizer.build(conditional.trainable_variables)  # avoids tracing train_step twice
dataset = tf.data.Dataset.from_tensor_slices((x_labelled, y_labelled))
dataset = dataset.shuffle(8192, seed=0).repeat().batch(256)
conditional.fit(dataset, epochs=1, steps_per_epoch=10 if QUICK else 4000, verbose=0)

x_test, y_test = toy2d_classification("pinwheel", 1000, seed=1)
labels = np.arange(N) % 5
# A smoke run samples without guidance here; the reloaded model below samples with it.
for w in (0.0,) if QUICK else (0.0, 1.0, 3.0):
    x = conditional.sample(N, labels=labels, guidance_weight=w, method="ddim",
                           num_sample_steps=DDIM_STEPS if QUICK else T, seed=7).numpy()
    per_class = np.mean([energy_distance(x[labels == k], x_test[y_test == k]) for k in range(5)])
    spread = np.mean([x[labels == k].std(axis=0).mean() for k in range(5)])
    print(f"w = {w}: per-class energy distance {per_class:.4f}, mean per-class std {spread:.3f}")
    save_scatter_2d({f"class {k}": x[labels == k] for k in range(5)},
                    cfg_dir / f"guidance_{w:g}.png", limits=LIMITS, title=f"guidance weight {w}")

# %% [markdown]
# ## 6. Save and reload
#
# The denoiser is serialised inside the model's config, and both weight sets (online and
# EMA) travel in the `.keras` file.

# %%
path = cfg_dir / "conditional.keras"
conditional.save(path)
reloaded = keras.saving.load_model(path)
reload_steps = DDIM_STEPS if QUICK else None  # None: all T steps
again = reloaded.sample(8, labels=2, guidance_weight=1.0, method="ddim",
                        num_sample_steps=reload_steps, seed=9).numpy()
first = conditional.sample(8, labels=2, guidance_weight=1.0, method="ddim",
                           num_sample_steps=reload_steps, seed=9).numpy()
print(f"reloaded from {path.name}: largest difference in the samples "
      f"{np.abs(again - first).max():.2g}")

# %% [markdown]
# ## 7. A U-Net on digits
#
# The same `DiffusionModel`, now with `UNetDenoiser` as its network: the flat 64-pixel
# digits (scaled to [-1, 1]) are reshaped to 8x8 images inside the U-Net, convolved down to
# 4x4 and 2x2 and back up, with the full-resolution features handed across by the skips and
# the timestep told to every block by FiLM. T = 100 steps of the linear schedule (25 under
# DLKIT_QUICK).

# %%
digits_dir = run_dir("lab16_diffusion", "digits")
x_digits, y_digits = load_digits("train", flatten=True)
x_digits_test, y_digits_test = load_digits("test", flatten=True)
x_digits, x_digits_test = x_digits * 2.0 - 1.0, x_digits_test * 2.0 - 1.0
T_DIGITS = 25 if QUICK else 100
reset_keras(0)
digit_model = DiffusionModel(UNetDenoiser(image_shape=(8, 8, 1), base_filters=16,
                                          embedding_dim=32),
                             data_dim=64, num_steps=T_DIGITS, schedule="linear", ema_decay=0.995)
digit_model.compile(optimizer=keras.optimizers.Adam(2e-3),
                    steps_per_execution=1 if QUICK else 10)
digit_model.optimizer.build(digit_model.trainable_variables)  # avoids tracing train_step twice
digit_data = (tf.data.Dataset.from_tensor_slices(x_digits).shuffle(len(x_digits), seed=0)
              .repeat().batch(128))
start = time.time()
history = digit_model.fit(digit_data, epochs=1 if QUICK else 30,
                          steps_per_epoch=2 if QUICK else 100, verbose=0)
print(f"U-Net on digits: {time.time() - start:.0f} s, final loss "
      f"{history.history['loss'][-1]:.3f}")
save_loss_curves(history, digits_dir / "loss.png", title="noise-prediction loss, U-Net")

digit_samples = digit_model.sample(64, method="ddpm", seed=11).numpy()
save_image_grid((np.clip(digit_samples, -1, 1).reshape(-1, 8, 8) + 1) / 2,
                digits_dir / "unet_samples.png", ncols=8, title="U-Net DDPM samples")

# A judge independent of the lab: logistic regression on the clean training digits.
from sklearn.linear_model import LogisticRegression  # noqa: E402

judged = slice(300) if QUICK else slice(None)  # a smoke run's judge needs fewer digits
judge = LogisticRegression(max_iter=2000).fit(x_digits[judged], y_digits[judged])
print(f"the judge's accuracy on the test digits: {judge.score(x_digits_test, y_digits_test):.3f}")
counts = np.bincount(judge.predict(np.clip(digit_samples, -1, 1)), minlength=10)
print(f"digits the judge sees in 64 unguided samples: {counts.tolist()}")

# %% [markdown]
# ## 8. Classifier guidance
#
# The U-Net above knows no labels. A separate classifier p(y | x_t, t), trained on digits
# noised by q_sample at random t, steers it after the fact: the guided noise is
# eps - w sqrt(1 - alpha_bar_t) grad_x log p(y | x_t, t). Same starting noise, same
# sampler; only w changes.

# %%
reset_keras(1)
classifier = NoisyClassifier(num_classes=10, image_shape=(8, 8, 1), filters=32)
rng = np.random.default_rng(0)
copies = 1 if QUICK else 40
x_clean = np.tile(x_digits, (copies, 1))
y_noisy = np.tile(y_digits, copies)
if QUICK:  # a smoke run trains the classifier on one batch
    x_clean, y_noisy = x_clean[:256], y_noisy[:256]
t_noisy = rng.integers(0, T_DIGITS, size=len(x_clean)).astype("int32")
x_noisy = q_sample(x_clean, t_noisy, rng.normal(size=x_clean.shape).astype("float32"),
                   digit_model.schedule.alpha_bars).numpy()
inputs = (keras.Input((64,)), keras.Input((), dtype="int32"))
classifier_model = keras.Model(inputs, classifier(*inputs))
classifier_model.compile(optimizer=keras.optimizers.Adam(2e-3),
                         loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                         metrics=["accuracy"])
classifier_model.optimizer.build(classifier_model.trainable_variables)
classifier_model.fit((x_noisy, t_noisy), y_noisy, batch_size=256, epochs=1 if QUICK else 6,
                     verbose=0)
for t in (T_DIGITS // 2,) if QUICK else (0, T_DIGITS // 2, T_DIGITS - 1):
    t_test = np.full(len(x_digits_test), t, dtype="int32")
    noisy_test = q_sample(x_digits_test, t_test, rng.normal(size=x_digits_test.shape)
                          .astype("float32"), digit_model.schedule.alpha_bars).numpy()
    accuracy = np.mean(np.argmax(classifier_model.predict((noisy_test, t_test), verbose=0),
                                 axis=-1) == y_digits_test)
    print(f"noisy classifier at t = {t}: test accuracy {accuracy:.3f}")

# %%
targets = np.arange(60) % 10
x_T = keras.random.normal((60, 64), seed=12)
ema_predict = tf.function(lambda x_t, t: digit_model.predict_noise(x_t, t))
for w in (3.0,) if QUICK else (0.0, 1.0, 3.0, 10.0):
    guided = classifier_guided_predictor(ema_predict, classifier, tf.constant(targets),
                                         digit_model.schedule.alpha_bars, w)
    x_guided = ddpm_sample(tf.function(guided), x_T, digit_model.schedule, seed=13).numpy()
    hit = np.mean(judge.predict(np.clip(x_guided, -1, 1)) == targets)
    print(f"w = {w:g}: the judge reads the target digit in {hit:.0%} of the samples")
    order = np.argsort(targets, kind="stable")
    save_image_grid((np.clip(x_guided[order], -1, 1).reshape(-1, 8, 8) + 1) / 2,
                    digits_dir / f"classifier_guidance_{w:g}.png", ncols=6,
                    title=f"classifier guidance w = {w:g} (row k: digit k asked)")
