"""Public checks of lab13_wgan, part 2: the interpolates and the gradient penalty of
WGAN-GP (wgan_losses.py), on points and on images."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import tensor
from autograder.checks.lab13_wgan.probes import (
    LOSSES,
    elementwise,
    flat,
    in_float64,
    input_gradients,
    mlp,
    scalar,
)
from autograder.verdicts import expect_close, expect_close_naming, expect_finite, expect_true

POINTS, IMAGES = (64, 3), (16, 2, 2, 1)


def interpolates_probe(lab, rng, shape):
    import keras
    real = rng.normal(size=shape)
    fake = rng.normal(2.0, 1.0, size=shape)
    fn = lab.wgan_losses.random_interpolates

    def draw(seed):
        return elementwise(fn(tensor(real), tensor(fake), seed=seed), shape,
                           "random_interpolates(real, fake)")
    return {"real": real, "fake": fake, "interpolates": draw(keras.random.SeedGenerator(7)),
            "same_seed": draw(keras.random.SeedGenerator(7)), "int_seed": draw(3),
            "int_seed_again": draw(3), "other_int_seed": draw(4)}


def judge_interpolates(student, shape):
    x_hat = np.asarray(student["interpolates"], dtype=np.float64)
    real, fake = student["real"], student["fake"]
    expect_finite(x_hat, "random_interpolates(real, fake)")
    what = f"random_interpolates on real and fake of shape {shape}"
    flat_hat, flat_real, flat_fake = (a.reshape(len(a), -1) for a in (x_hat, real, fake))
    # Each example's coefficient, read off the coordinate where real and fake differ most
    # (x_hat = alpha * real + (1 - alpha) * fake), then checked on all its coordinates.
    widest = np.argmax(np.abs(flat_real - flat_fake), axis=1)
    rows = np.arange(len(flat_hat))
    alpha = ((flat_hat[rows, widest] - flat_fake[rows, widest])
             / (flat_real[rows, widest] - flat_fake[rows, widest]))
    expect_true(alpha.min() >= -1e-3 and alpha.max() <= 1 + 1e-3,
                f"{what}: some points are not between their real and fake sample (implied "
                f"coefficients span [{alpha.min():.3g}, {alpha.max():.3g}], not [0, 1])")
    mixed = alpha[:, None] * flat_real + (1 - alpha[:, None]) * flat_fake
    off = float(np.abs(mixed - flat_hat).max())
    expect_true(off < 1e-4,
                f"{what}: within one example the coordinates use different mixing "
                f"coefficients (a point lies {off:.3g} off the segment another of its coordinates "
                "implies). Draw ONE alpha per example, shaped (N, 1, ..., 1), so it broadcasts "
                "over that example's other axes")
    expect_true(alpha.std() > 0.1,
                f"{what}: every example uses the same coefficient alpha = {alpha.mean():.3g} "
                f"(spread {alpha.std():.2g}). Draw one alpha per example, shape "
                "(N, 1, ..., 1), not one for the whole batch")
    ignored = "random_interpolates ignores its seed: draw alpha with keras.random.uniform(..., " \
              "seed=seed), so that the same seed gives the same points"
    for first, second, seed in (("interpolates", "same_seed", "keras.random.SeedGenerator(7)"),
                                ("int_seed", "int_seed_again", "3")):
        expect_true(np.allclose(student[first], student[second]),
                    f"{ignored} (two calls with seed={seed} gave different points)")
    expect_true(not np.allclose(student["int_seed"], student["other_int_seed"]),
                "random_interpolates gives the same points for seed=3 and seed=4: draw alpha "
                "with keras.random.uniform(..., seed=seed)")


@check(points=2, uses=LOSSES, reference=False, task="`random_interpolates`",
       hint="alpha = keras.random.uniform((N, 1, ..., 1), seed=seed): one coefficient per "
            "example, broadcast over its other axes; x_hat = alpha*real + (1-alpha)*fake")
def random_interpolates(lab, rng):
    """On points (64, 3) and images (16, 2, 2, 1): every x_hat lies on the segment between
    its real and fake sample with one alpha in [0, 1] per example, alpha varies between
    examples, and the same seed gives the same points."""
    return {"points": interpolates_probe(lab, rng, POINTS),
            "images": interpolates_probe(lab, rng, IMAGES)}


@random_interpolates.verdict
def _(student, reference):
    judge_interpolates(student["points"], POINTS)
    judge_interpolates(student["images"], IMAGES)


def penalty_probe(lab, rng, build, x):
    """The student's penalty on x of the critic build(dtype) makes, and each example's input
    gradient, estimated here (for the verdict's known mistakes)."""
    critic, critic64 = in_float64(build)
    x = np.asarray(tensor(x))
    penalty = scalar(lab.wgan_losses.gradient_penalty(critic, tensor(x)), "gradient_penalty")
    return {"penalty": penalty, "gradients": input_gradients(critic64, x)}


def judge_penalty(student, reference, what):
    grads = np.asarray(student["gradients"], dtype=np.float64)
    norms = np.sqrt((grads.reshape(len(grads), -1) ** 2).sum(axis=1))
    batch_norm = np.sqrt((norms ** 2).sum())
    mistakes = [
        ((norms ** 2).mean(), "is mean ||grad||^2: it pushes the gradient to 0, not to 1. "
                              "Penalise (||grad|| - 1)^2"),
        ((norms - 1).mean(), "is mean(||grad|| - 1) without the square"),
        (np.abs(norms - 1).mean(), "is mean |‖grad‖ - 1|; the penalty squares it"),
        ((batch_norm - 1) ** 2, "takes one norm over the whole batch's gradient; take one "
                                "norm per example (over all its other axes)"),
        (len(grads) * float(reference["penalty"]), "sums over the batch; take the mean"),
    ]
    if grads.ndim > 2:
        last_axis = np.sqrt((grads ** 2).sum(axis=-1))
        mistakes.append((((last_axis - 1) ** 2).mean(),
                         "takes the norm over the last axis only: on images the norm runs "
                         "over all axes but the batch axis (flatten each example's gradient)"))
    expect_close_naming(student["penalty"], reference["penalty"], what, mistakes)


@check(points=2, uses=LOSSES, task="`gradient_penalty`",
       hint="an inner tf.GradientTape that watches x_hat; grads = tape.gradient(scores, x_hat); "
            "one L2 norm per example over all its other axes; mean((norm - 1)^2)")
def gradient_penalty(lab, rng):
    """The penalty of a tanh critic on points, of a linear critic x.w ((||w|| - 1)^2 at
    every point) and of a critic on (10, 3, 3, 2) images, against the reference; the message
    names the usual slips (||grad||^2, no square, one norm for the batch, a sum, the norm
    over the last axis only)."""
    import keras
    def points_critic(dtype):
        return mlp(2, 1, hidden_units=16, activation="tanh", name="probe_critic", dtype=dtype)
    out = {"points": penalty_probe(lab, rng, points_critic, 2.0 * rng.normal(size=(48, 2)))}
    # A linear critic x -> x.w has gradient w everywhere: the penalty is (||w|| - 1)^2.
    linear = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    linear.layers[-1].kernel.assign(tensor([[0.5], [1.0], [2.0]]))
    out["linear_penalty"] = scalar(
        lab.wgan_losses.gradient_penalty(linear, tensor(rng.normal(size=(10, 3)))),
        "gradient_penalty on a linear critic")
    def images_critic(dtype):
        return keras.Sequential([keras.Input((3, 3, 2), dtype=dtype),
                                 keras.layers.Flatten(dtype=dtype),
                                 keras.layers.Dense(8, activation="tanh", dtype=dtype),
                                 keras.layers.Dense(1, dtype=dtype)])
    out["images"] = penalty_probe(lab, rng, images_critic, rng.normal(size=(10, 3, 3, 2)))
    return out


@gradient_penalty.verdict
def _(student, reference):
    judge_penalty(student["points"], reference["points"], "gradient_penalty(critic, x_hat)")
    expect_close(student["linear_penalty"], reference["linear_penalty"],
                 "gradient_penalty of the linear critic x.w, w = (0.5, 1, 2), which should "
                 "be (||w|| - 1)^2 at every point")
    judge_penalty(student["images"], reference["images"],
                  "gradient_penalty(critic, x_hat) on (10, 3, 3, 2) images")


@check(points=2, uses=LOSSES, task="`gradient_penalty`, differentiable",
       hint="the penalty must stay differentiable w.r.t. the critic's weights: compute the "
            "input gradient with an inner tape and do not stop_gradient or .numpy() it")
def gradient_penalty_reaches_critic_weights(lab, rng):
    """An outer tape differentiates the penalty w.r.t. the critic's weights (double
    backpropagation): the gradient reaches them and equals the reference's."""
    import tensorflow as tf
    critic = mlp(2, 1, hidden_units=16, activation="tanh", name="probe_critic")
    x = tensor(2.0 * rng.normal(size=(32, 2)))
    with tf.GradientTape() as tape:
        penalty = lab.wgan_losses.gradient_penalty(critic, x)
    if penalty is None:
        raise ValueError("gradient_penalty returned None (is a `return` missing?)")
    grads = tape.gradient(penalty, critic.trainable_variables)
    # The output layer's bias never reaches the input gradient: its None is expected, and
    # the reference shows the same.
    return {"reached": [g is not None for g in grads],
            "gradient": flat([np.zeros(v.shape) if g is None else g.numpy()
                              for v, g in zip(critic.trainable_variables, grads)])}


@gradient_penalty_reaches_critic_weights.verdict
def _(student, reference):
    reached, expected = list(student["reached"]), list(reference["reached"])
    cut = "the outer tape must record the inner gradient (nested tapes; no tf.stop_gradient, " \
          "no numpy in between)"
    expect_true(any(reached), f"no gradient flows from gradient_penalty back to the critic's "
                              f"weights: {cut}")
    expect_true(all(r or not e for r, e in zip(reached, expected)),
                f"gradient_penalty's gradient reaches {sum(reached)} of the critic's "
                f"{len(reached)} variables; the reference's reaches {sum(expected)}: {cut}")
    gradient = np.asarray(student["gradient"], dtype=np.float64)
    expect_true(np.abs(gradient).max() > 0,
                "the gradient of gradient_penalty w.r.t. the critic's weights is exactly 0: "
                "the input gradient was cut from the graph (tf.stop_gradient?)")
    expect_close(gradient, reference["gradient"],
                 "the gradient of gradient_penalty w.r.t. the critic's weights "
                 "(double backpropagation through the inner tape)", rtol=1e-3, atol=1e-5)
