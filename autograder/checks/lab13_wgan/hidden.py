"""Hidden checks of lab13_wgan: fresh inputs and shapes, references computed from the solution."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import tensor
from autograder.checks.lab13_wgan.probes import (
    FGAN,
    LOSSES,
    MODEL,
    WASSERSTEIN,
    compiled_wgan,
    elementwise,
    judge_training,
    probe_networks,
    run_step,
    scalar,
    train_toy_wgan,
)
from autograder.checks.lab13_wgan.public_penalty import (
    interpolates_probe,
    judge_interpolates,
    judge_penalty,
    penalty_probe,
)
from autograder.verdicts import expect_close, expect_finite, expect_true


@check(points=1, uses=WASSERSTEIN,
       hint="for samples of different sizes integrate |F_x - F_y| between consecutive points "
            "of the merged sorted sample (np.searchsorted gives the empirical CDFs)")
def wasserstein_1d_unequal_sizes(lab, rng):
    n, m = (int(k) for k in rng.integers(20, 200, size=2))
    x, y = rng.normal(size=n), rng.exponential(size=m + 7)
    fn = lab.wasserstein.wasserstein_1d
    return {"w1": scalar(fn(x, y), f"wasserstein_1d(x ({n},), y ({m + 7},))"),
            "swapped": scalar(fn(y, x), "wasserstein_1d(y, x)"),
            "self": scalar(fn(x, np.concatenate([x, x])), "wasserstein_1d(x, x twice)")}


@wasserstein_1d_unequal_sizes.verdict
def _(student, reference):
    expect_close(student["w1"], reference["w1"], "wasserstein_1d on samples of different sizes")
    expect_close(student["swapped"], student["w1"], "wasserstein_1d(y, x) against "
                                                    "wasserstein_1d(x, y) (W1 is symmetric)")
    expect_close(student["self"], 0.0, "wasserstein_1d(x, [x, x]) (the same empirical "
                                       "distribution, so 0)", atol=1e-9)


@check(points=1, uses=LOSSES,
       hint="on images alpha has shape (N, 1, 1, 1) and the gradient norm runs over H, W and C "
            "of each example")
def gradient_penalty_on_images(lab, rng):
    import keras
    shape = (12, 4, 4, 2)
    def critic(dtype):
        return keras.Sequential([keras.Input(shape[1:], dtype=dtype),
                                 keras.layers.Conv2D(4, 3, activation="tanh", dtype=dtype),
                                 keras.layers.Flatten(dtype=dtype),
                                 keras.layers.Dense(1, dtype=dtype)])
    return {"interpolates": interpolates_probe(lab, rng, shape),
            "penalty": penalty_probe(lab, rng, critic, rng.normal(size=shape))}


@gradient_penalty_on_images.verdict
def _(student, reference):
    judge_interpolates(student["interpolates"], (12, 4, 4, 2))
    judge_penalty(student["penalty"], reference["penalty"],
                  "gradient_penalty(critic, x_hat) on (12, 4, 4, 2) images")


@check(points=1, uses=FGAN,
       hint="for js, f*(g_f(v)) = softplus(v) - log 2 and g_f(v) = log 2 - softplus(-v): no "
            "log of a difference that rounds to 0")
def fgan_stable_on_extreme_scores(lab, rng):
    v = np.array([-300.0, -100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0, 300.0], dtype=np.float32)
    losses = lab.fgan_losses
    return {"activation": elementwise(losses.fgan_activation(tensor(v), "js"), v.shape,
                                      "fgan_activation(v, 'js')"),
            "conjugate": elementwise(losses.fgan_conjugate(tensor(v), "js"), v.shape,
                                     "fgan_conjugate(v, 'js')")}


@fgan_stable_on_extreme_scores.verdict
def _(student, reference):
    for part in ("activation", "conjugate"):
        what = f"fgan_{part}(v, 'js') at v from -300 to 300"
        expect_finite(student[part], what)
        expect_close(student[part], reference[part], what)


@check(points=1, uses=MODEL, reference=False,
       hint="train_step must run inside fit (a traced graph, steps_per_execution > 1): no "
            "Python-side counters or numpy in it")
def train_step_under_fit(lab, rng):
    import tensorflow as tf
    generator, critic = probe_networks(hidden_units=16)
    n_critic, steps = 4, 4
    model = compiled_wgan(lab, generator, critic, latent_dim=2, n_critic=n_critic,
                          compile_args={"steps_per_execution": 2})
    data = tf.data.Dataset.from_tensor_slices(rng.normal(size=(64, 2)).astype("float32"))
    history = run_step("fit", model.fit, data.batch(16), epochs=1, verbose=0)
    return {"n_critic": n_critic, "steps": steps,
            "critic_updates": int(model.critic_optimizer.iterations.numpy()),
            "generator_updates": int(model.generator_optimizer.iterations.numpy()),
            "history": {k: [float(x) for x in v] for k, v in history.history.items()}}


@train_step_under_fit.verdict
def _(student, reference):
    n_critic, steps = student["n_critic"], student["steps"]
    what = f"fit for {steps} batches with n_critic={n_critic} and steps_per_execution=2:"
    expect_true(student["critic_updates"] == n_critic * steps,
                f"{what} critic_optimizer made {student['critic_updates']} updates, expected "
                f"{n_critic * steps}")
    expect_true(student["generator_updates"] == steps,
                f"{what} generator_optimizer made {student['generator_updates']} updates, "
                f"expected {steps}")
    for name in ("critic_loss", "penalty", "generator_loss"):
        expect_true(name in student["history"], f"{what} the history has no {name!r}")
        expect_finite(student["history"][name], f"{name} logged by fit")


@check(points=2, uses=MODEL, timeout=60,
       hint="with clip_value set and gp_weight=0, the critic's weights are clipped after "
            "every critic update; the generator is never clipped")
def wgan_clipping_learns_moons(lab, rng):
    return train_toy_wgan(lab, rng, "moons", CLIP_STEPS, optimizer="rmsprop", n_critic=5,
                          gp_weight=0.0, clip_value=0.05)


CLIP_STEPS = 300


@wgan_clipping_learns_moons.verdict
def _(student, reference):
    judge_training(student, reference, "moons (weight clipping)")
