"""Public checks of lab13_wgan, part 5: spectral normalisation (regularizers.py).

Independent references: np.linalg.svd (the largest singular value, and through it the
gradient of sigma by central differences in float64) and keras.layers.SpectralNormalization,
which computes the same power-iteration step on a training call from the same u (it then
writes kernel / sigma into its kernel, so it is no reference for the gradient, and the
checks compare it on one call from a given state only).
"""
import numpy as np

from autograder.api import check
from autograder.check_helpers import tensor
from autograder.checks.lab13_wgan.probes import exact_w1, scalar
from autograder.verdicts import expect_close, expect_close_naming, expect_true

SPECTRAL = ("regularizers", "wgan_model", "wgan_losses", "fgan_losses")
CONVERGENCE_STEPS = 40


def unit(rng, size):
    u = rng.normal(size=size)
    return u / np.linalg.norm(u)


def with_singular_values(rng, rows, values):
    """A (rows, len(values)) matrix with the given singular values (largest first)."""
    left, _ = np.linalg.qr(rng.normal(size=(rows, rows)))
    right, _ = np.linalg.qr(rng.normal(size=(len(values), len(values))))
    return left[:, :len(values)] @ np.diag(values) @ right.T


def iteration_outputs(result, what):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ValueError(f"{what} returned {type(result).__name__}; expected a pair "
                         "(u_new, sigma)")
    u_new = np.asarray(result[0], dtype=np.float64)
    return u_new, scalar(result[1], f"{what}'s sigma")


@check(points=2, uses=SPECTRAL, task="`power_iteration`",
       hint="v = normalize(matrix @ u); u_new = normalize(matrix^T @ v); both through "
            "tf.stop_gradient; sigma = v . (matrix @ u_new)")
def power_iteration(lab, rng):
    """One step on a random (7, 4) matrix against the reference (u_new, sigma, and sigma's
    gradient w.r.t. the matrix, with u_new and v held constant); 40 steps on a matrix with
    singular values (3, 1.5, 1, 0.5): sigma is the largest one of np.linalg.svd and u_new
    its right singular vector."""
    import tensorflow as tf
    fn = lab.regularizers.power_iteration
    matrix, u = rng.normal(size=(7, 4)), unit(rng, 4)
    variable = tf.Variable(tensor(matrix))
    with tf.GradientTape() as tape:
        result = fn(variable, tensor(u))
    u_new, sigma = iteration_outputs(result, "power_iteration(matrix, u)")
    gradient = tape.gradient(result[1], variable)
    known = with_singular_values(rng, 5, [3.0, 1.5, 1.0, 0.5])
    u_known = tensor(unit(rng, 4))
    for _ in range(CONVERGENCE_STEPS):
        u_known, sigma_known = fn(tensor(known), u_known)
    u_known, sigma_known = iteration_outputs((u_known, sigma_known), "power_iteration")
    return {"matrix": matrix, "u": u, "u_new": u_new, "sigma": sigma,
            "gradient": None if gradient is None else gradient.numpy(),
            "known": known, "u_known": u_known, "sigma_known": sigma_known}


@power_iteration.verdict
def _(student, reference):
    matrix, u = reference["matrix"], reference["u"]
    u_new = np.asarray(student["u_new"], dtype=np.float64)
    expect_true(u_new.shape == (4,), f"power_iteration(matrix (7, 4), u (4,)) returned u_new "
                                     f"of shape {u_new.shape}, expected (4,)")
    expect_close(np.linalg.norm(u_new), 1.0, "the norm of u_new", atol=1e-4,
                 against="1 (normalise u_new = matrix^T v by its norm)")
    expect_close(u_new, reference["u_new"], "u_new after one step", rtol=1e-4, atol=1e-5)
    expect_close_naming(student["sigma"], reference["sigma"], "sigma after one step", [
        (np.linalg.norm(matrix @ u), "is ||matrix @ u|| with the old u; take "
                                     "v . (matrix @ u_new) with the new one"),
        (np.linalg.norm(matrix @ reference["u_new"]), "is ||matrix @ u_new||; take "
                                                      "v . (matrix @ u_new), v from the old u"),
        (np.linalg.norm(matrix, 2) ** 2, "is the square of the singular value"),
    ], rtol=1e-4, atol=1e-5)
    expect_true(student["gradient"] is not None and np.abs(student["gradient"]).max() > 0,
                "sigma has no gradient w.r.t. the matrix: compute it from the matrix itself "
                "(only u_new and v go through tf.stop_gradient)")
    expect_close_naming(student["gradient"], reference["gradient"],
                        "the gradient of sigma w.r.t. the matrix", [],
                        advice="hold u_new and v constant (tf.stop_gradient) so that the "
                               "gradient is v u_new^T", rtol=1e-3, atol=1e-5)
    _, values, right = np.linalg.svd(reference["known"])
    expect_close(student["sigma_known"], values[0],
                 f"sigma after {CONVERGENCE_STEPS} steps on a matrix of singular values "
                 "(3, 1.5, 1, 0.5)", against="the largest singular value by np.linalg.svd",
                 rtol=1e-4, atol=1e-5)
    expect_close(abs(float(np.dot(student["u_known"], right[0]))), 1.0,
                 f"|u_new . the top right singular vector| after {CONVERGENCE_STEPS} steps",
                 atol=1e-4, against="1 (u converges to the top right singular vector)")


def keras_twin(lab, make, x, kernel_and_bias, u):
    """keras.layers.SpectralNormalization around a fresh layer with these weights and u."""
    import keras
    twin = keras.layers.SpectralNormalization(make())
    twin.build(x.shape)
    twin.layer.set_weights(kernel_and_bias)
    twin.vector_u.assign(tensor(u[None]))
    return twin


def layer_probe(lab, rng, make, x):
    """The student's wrapper and Keras's on the same weights and u: a training call, then an
    inference call (u must stay; the output is Keras's training call from the student's u)."""
    sn = lab.regularizers.SpectralNormalization(make())
    sn.build(x.shape)
    kernel_before = sn.layer.kernel.numpy()
    weights = [tensor(w) for w in sn.layer.get_weights()]
    u0 = unit(rng, sn.layer.kernel.shape[-1])
    sn.u.assign(tensor(u0))
    x = tensor(x)
    out = {"train": np.asarray(sn(x, training=True)), "u_after": sn.u.numpy(),
           "keras_train": np.asarray(keras_twin(lab, make, x, weights, u0)(x, training=True))}
    keras_u = keras_twin(lab, make, x, weights, u0)
    keras_u(x, training=True)
    out["keras_u"] = keras_u.vector_u.numpy()[0]
    u1 = sn.u.numpy()
    out["infer"] = np.asarray(sn(x, training=False))
    out["u_after_inference"] = sn.u.numpy()
    out["keras_infer"] = np.asarray(keras_twin(lab, make, x, weights, u1)(x, training=True))
    out["kernel_change"] = float(np.abs(sn.layer.kernel.numpy() - kernel_before).max())
    return out


def judge_layer(student, what):
    expect_true(student["kernel_change"] == 0,
                f"{what}: the wrapped layer's kernel changed by up to "
                f"{student['kernel_change']:.3g} in a call; compute with kernel / sigma "
                "through call_with_kernel and never assign the kernel (Keras's layer writes "
                "it back, which cuts the gradient through sigma)")
    expect_close(student["u_after"], student["keras_u"], f"{what}: u after a training call",
                 against="keras.layers.SpectralNormalization's vector_u from the same u",
                 rtol=1e-4, atol=1e-5)
    expect_close(student["train"], student["keras_train"], f"{what}: the output of a training "
                 "call", against="keras.layers.SpectralNormalization's from the same kernel "
                 "and u", rtol=1e-4, atol=1e-5)
    expect_true(np.allclose(student["u_after_inference"], student["u_after"]),
                f"{what}: u changed in a call with training=False; update it only when "
                "training")
    expect_close(student["infer"], student["keras_infer"], f"{what}: the output of an "
                 "inference call", against="kernel / sigma from one power-iteration step of "
                 "the current u (Keras's training call from that u)", rtol=1e-4, atol=1e-5)


@check(points=2, uses=SPECTRAL, task="`SpectralNormalization.call`",
       hint="matrix = reshape(kernel, (-1, K)); (u_new, sigma) = power_iteration(matrix, "
            "self.u); self.u.assign(u_new) only when training; return "
            "self.call_with_kernel(inputs, kernel / sigma)")
def spectral_normalization_layer(lab, rng):
    """A wrapped Dense(3, tanh) on (4, 5) inputs and a wrapped Conv2D(3, 2) on (2, 4, 4, 2)
    images, against keras.layers.SpectralNormalization from the same kernel and u: u and the
    output after a training call; then an inference call leaves u alone and computes with
    one step from it; the kernel variable itself never changes."""
    import keras
    return {"dense": layer_probe(lab, rng, lambda: keras.layers.Dense(3, activation="tanh"),
                                 rng.normal(size=(4, 5))),
            "conv": layer_probe(lab, rng, lambda: keras.layers.Conv2D(3, 2),
                                rng.normal(size=(2, 4, 4, 2)))}


@spectral_normalization_layer.verdict
def _(student, reference):
    judge_layer(student["dense"], "SpectralNormalization(Dense(3, tanh))")
    judge_layer(student["conv"], "SpectralNormalization(Conv2D(3, 2)) (its kernel (2, 2, 2, 3) "
                                 "is the matrix (8, 3))")


@check(points=2, uses=SPECTRAL, task="`SpectralNormalization`, sigma and its gradient",
       hint="after many training calls sigma is the largest singular value of "
            "reshape(kernel, (-1, K)); the gradient reaches the kernel through kernel / sigma "
            "and through sigma itself (no stop_gradient on sigma, no kernel.assign)")
def spectral_normalization_converges(lab, rng):
    """40 training calls of a wrapped linear Dense (kernel (4, 3) of singular values
    (2, 1, 0.5)) and Conv2D(3, 2): the sigma the output implies is the largest singular
    value of np.linalg.svd; then the gradient of sum(g * output) w.r.t. the Dense kernel
    equals central differences of W -> sum(g * x W / sigma_max(W)) in float64."""
    import keras
    import tensorflow as tf
    dense = lab.regularizers.SpectralNormalization(keras.layers.Dense(3, use_bias=False))
    dense.build((None, 4))
    kernel = with_singular_values(rng, 4, [2.0, 1.0, 0.5])
    dense.layer.kernel.assign(tensor(kernel))
    conv = lab.regularizers.SpectralNormalization(keras.layers.Conv2D(3, 2, use_bias=False))
    images = tensor(rng.normal(size=(2, 4, 4, 2)))
    conv.build(images.shape)
    x, g = tensor(rng.normal(size=(6, 4))), rng.normal(size=(6, 3))
    for _ in range(CONVERGENCE_STEPS):
        dense(x, training=True)
        conv(images, training=True)

    def implied_sigma(layer, inputs):
        raw = np.asarray(layer.layer(inputs), dtype=np.float64)
        return float(np.linalg.norm(raw) / np.linalg.norm(np.asarray(layer(inputs))))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(dense(x) * tensor(g))
    gradient = tape.gradient(loss, dense.layer.kernel)
    return {"kernel": kernel, "x": np.asarray(x), "g": g,
            "dense_sigma": implied_sigma(dense, x), "conv_kernel": conv.layer.kernel.numpy(),
            "conv_sigma": implied_sigma(conv, images),
            "gradient": None if gradient is None else gradient.numpy()}


def normalised_output_gradient(kernel, x, g, step=1e-6):
    """Central differences of W -> sum(g * x W / sigma_max(W)), sigma_max by np.linalg.svd."""
    def f(w):
        return np.sum(g * (x @ w) / np.linalg.svd(w, compute_uv=False)[0])
    gradient = np.zeros_like(kernel)
    for index in np.ndindex(kernel.shape):
        nudge = np.zeros_like(kernel)
        nudge[index] = step
        gradient[index] = (f(kernel + nudge) - f(kernel - nudge)) / (2 * step)
    return gradient


@spectral_normalization_converges.verdict
def _(student, reference):
    kernel = np.asarray(student["kernel"], dtype=np.float64)
    expect_close(student["dense_sigma"], np.linalg.svd(kernel, compute_uv=False)[0],
                 f"the sigma a wrapped Dense divides by after {CONVERGENCE_STEPS} training calls",
                 against="the largest singular value of its kernel (np.linalg.svd)", rtol=1e-3)
    conv_kernel = np.asarray(student["conv_kernel"], dtype=np.float64)
    expect_close_naming(student["conv_sigma"],
                        np.linalg.svd(conv_kernel.reshape(-1, 3), compute_uv=False)[0],
                        f"the sigma a wrapped Conv2D(3, 2) divides by after {CONVERGENCE_STEPS} "
                        "training calls", [
                            (np.linalg.svd(conv_kernel.reshape(-1, 2), compute_uv=False)[0],
                             "is the norm of the kernel reshaped to (-1, c_in); the matrix is "
                             "(kh * kw * c_in, K), one column per output channel")],
                        rtol=1e-3, atol=1e-5)
    x, g = (np.asarray(student[k], dtype=np.float64) for k in ("x", "g"))
    expected = normalised_output_gradient(kernel, x, g)
    sigma = np.linalg.svd(kernel, compute_uv=False)[0]
    expect_true(student["gradient"] is not None, "no gradient reaches the wrapped layer's kernel")
    expect_close_naming(student["gradient"], expected, "the gradient of sum(g * output) w.r.t. "
                        "the wrapped Dense's kernel", [
                            (x.T @ g / sigma, "treats sigma as a constant (tf.stop_gradient on "
                             "sigma, or kernel / sigma assigned into the kernel); the gradient "
                             "flows through sigma too")],
                        rtol=1e-3, atol=1e-4)


CRITIC_STEPS = 100


@check(points=2, uses=SPECTRAL, timeout=60, task="`SpectralNormalization`, trained",
       hint="a critic of SpectralNormalization(Dense) layers must stay 1-Lipschitz while it "
            "trains: the kernel divided by sigma in every call, u updated in training calls")
def sn_critic_estimates_w1(lab, rng):
    """100 WGAN critic steps (Adam, no penalty, no clipping) of a critic of three wrapped
    Dense layers (32 ReLU units) against fixed fakes N(2, 0.5^2) and data N(0, 1): a
    1-Lipschitz critic's score gap is at most W1 (Kantorovich–Rubinstein), and it must come
    within 5 % of W1 of the reference's gap."""
    import keras
    import tensorflow as tf
    wrap = lab.regularizers.SpectralNormalization
    critic = keras.Sequential([keras.Input((1,))]
                              + [wrap(keras.layers.Dense(32, activation="relu")) for _ in "ab"]
                              + [wrap(keras.layers.Dense(1))])
    optimizer = keras.optimizers.Adam(5e-3, beta_1=0.5, beta_2=0.9)
    optimizer.build(critic.trainable_variables)

    def step(real, fake):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(critic(fake, training=True)) - tf.reduce_mean(
                critic(real, training=True))
        optimizer.apply(tape.gradient(loss, critic.trainable_variables),
                        critic.trainable_variables)
    pool = rng.normal(size=(CRITIC_STEPS, 2, 128, 1)).astype("float32")
    step(tensor(pool[0, 0]), tensor(0.5 * pool[0, 1] + 2.0))   # eagerly: plain errors first
    traced = tf.function(step)
    for real, z in pool[1:]:
        traced(tensor(real), tensor(0.5 * z + 2.0))
    real = rng.normal(size=(2000, 1)).astype("float32")
    fake = (0.5 * rng.normal(size=(2000, 1)) + 2.0).astype("float32")
    return {"gap": float(np.mean(critic(real)) - np.mean(critic(fake))), "real": real,
            "fake": fake}


@sn_critic_estimates_w1.verdict
def _(student, reference):
    exact = exact_w1(student["real"], student["fake"])
    gap, want = float(student["gap"]), float(reference["gap"])
    expect_true(np.isfinite(gap), f"the spectrally normalised critic's score gap is {gap}")
    expect_true(gap <= 1.02 * exact,
                f"after {CRITIC_STEPS} critic steps the score gap mean f(real) - mean f(fake) "
                f"is {gap:.4g}, above the exact W1 {exact:.4g}: no 1-Lipschitz critic can "
                "do that, so the layers are not divided by their largest singular value")
    expect_true(abs(gap - want) <= 0.05 * exact,
                f"after {CRITIC_STEPS} critic steps the spectrally normalised critic's score "
                f"gap is {gap:.4g}; the reference's is {want:.4g} and the exact W1 {exact:.4g} "
                f"(allowed: ±{0.05 * exact:.2g})")
