"""Helpers that lab03's check files share: probes run them in the worker, verdicts here.
Numpy only at module level (TensorFlow and Keras are imported inside the probe helpers).

Optimizers: the same starting values and gradient sequence go to the student's optimizer
and to Keras's; `judge_trajectory` compares the variables after every step and names the
usual slip when the student's numbers match one (simulated here in float64 numpy).
"""
import re

import numpy as np

from autograder.api import CheckFailed
from autograder.check_helpers import trajectory
from autograder.verdicts import expect_close, expect_finite, expect_shape, expect_true

# ---------------------------------------------------------------------------------------------
# Optimizers: trajectories on a fixed gradient sequence
# ---------------------------------------------------------------------------------------------


STEPS = 5
SHAPES = ((3, 4), (5,))


def gradient_problem(rng, shapes, steps):
    """Starting values and a gradient sequence whose entries span three orders of magnitude,
    so that where epsilon sits (inside or outside a square root) shows."""
    initial = [rng.normal(size=s).astype("float32") for s in shapes]
    gradients = [[(rng.normal(size=s) * 10.0 ** rng.uniform(-2.5, 0.5, size=s)).astype("float32")
                  for s in shapes] for _ in range(steps)]
    return initial, gradients


def optimizer_probe(make_student, make_keras, rng, shapes=SHAPES, steps=STEPS):
    initial, gradients = gradient_problem(rng, shapes, steps)
    return {"initial": initial, "gradients": gradients,
            "student": trajectory(make_student(), initial, gradients),
            "keras": trajectory(make_keras(), initial, gradients)}


def simulate(kind, hyper, initial, gradients, **slip):
    """The update rule of `kind` in float64 numpy, optionally with a named slip; for the
    diagnosis of a wrong trajectory only (the verdict compares with Keras's numbers)."""
    w = np.concatenate([np.ravel(v) for v in initial]).astype(np.float64)
    slot = np.zeros_like(w)
    second = np.zeros_like(w)
    if kind == "adagrad":
        slot += 0.0 if slip.get("accumulator_from_zero") else hyper["initial_accumulator_value"]
    lr, eps = hyper.get("learning_rate"), hyper.get("epsilon", 0.0)
    out = []
    for t, step in enumerate(gradients, start=1):
        g = np.concatenate([np.ravel(x) for x in step]).astype(np.float64)
        lr_t = hyper["learning_rates"][t - 1] if "learning_rates" in hyper else lr
        if kind == "sgd":
            mu = 0.0 if slip.get("no_momentum") else hyper["momentum"]
            slot = mu * slot - lr_t * g
            nesterov = (hyper["nesterov"] or slip.get("nesterov")) and not slip.get("heavy_ball")
            w = w + (mu * slot - lr_t * g if nesterov else slot)
        elif kind in ("adagrad", "rmsprop"):
            if kind == "adagrad":
                slot = slot + g ** 2
            else:
                rho = 1.0 - hyper["rho"] if slip.get("rho_swapped") else hyper["rho"]
                slot = rho * slot + (1.0 - rho) * g ** 2
            scale = np.sqrt(slot) + eps if slip.get("epsilon_outside") else np.sqrt(slot + eps)
            w = w - lr_t * g / scale
        elif kind == "adam":
            b1, b2 = hyper["beta_1"], hyper["beta_2"]
            previous = (slot, second)
            slot = b1 * slot + (1 - b1) * g
            second = b2 * second + (1 - b2) * g ** 2
            if slip.get("old_moments"):   # the step taken before this step's m and v
                alpha = lr_t * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                w = w - alpha * previous[0] / (np.sqrt(previous[1]) + eps)
            elif slip.get("no_bias_correction"):
                w = w - lr_t * slot / (np.sqrt(second) + eps)
            elif slip.get("only_second_corrected"):
                w = w - lr_t * np.sqrt(1 - b2 ** t) * slot / (np.sqrt(second) + eps)
            elif slip.get("textbook"):
                w = w - lr_t * (slot / (1 - b1 ** t)) / (np.sqrt(second / (1 - b2 ** t)) + eps)
            else:
                alpha = lr_t * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                scale = np.sqrt(second + eps) if slip.get("epsilon_inside") else \
                    np.sqrt(second) + eps
                w = w - alpha * slot / scale
        out.append(w.copy())
    return np.stack(out)


SLIPS = {
    "sgd": {"no_momentum": "plain gradient descent: the velocity is not used",
            "nesterov": "Nesterov's look-ahead step, but nesterov=False asks for the heavy ball"},
    "nesterov": {"heavy_ball": "the plain heavy-ball step w <- w + v, but Nesterov's step is "
                               "w <- w + mu * v - lr * g, with the v just updated"},
    "adagrad": {"epsilon_outside": "an update with epsilon added outside the square root "
                                   "(Keras: sqrt(a + eps))",
                "accumulator_from_zero": "an accumulator starting at 0 instead of "
                                         "initial_accumulator_value"},
    "rmsprop": {"epsilon_outside": "an update with epsilon added outside the square root "
                                   "(Keras: sqrt(s + eps))",
                "rho_swapped": "a moving average with rho and 1 - rho swapped"},
    "adam": {"no_bias_correction": "Adam without the bias correction of m and v",
             "only_second_corrected": "Adam with the bias correction of v only: alpha_t = lr * "
                                      "sqrt(1 - beta_2^t) / (1 - beta_1^t) corrects m too",
             "old_moments": "a step taken with m and v from BEFORE this step's update: update "
                            "m and v first, then step with the new ones",
             "textbook": "the textbook form lr * m_hat / (sqrt(v_hat) + eps), but Keras adds "
                         "eps to sqrt(v) and puts the corrections into alpha_t = lr * "
                         "sqrt(1 - beta_2^t) / (1 - beta_1^t)",
             "epsilon_inside": "an update with epsilon inside the square root (Adam: "
                               "sqrt(v) + eps)"},
}


def diagnose(kind, hyper, reference, actual):
    """The name of the slip whose numbers `actual` matches, if any."""
    for slip, meaning in SLIPS[kind].items():
        variant = simulate("sgd" if kind == "nesterov" else kind, hyper, reference["initial"],
                           reference["gradients"], **{slip: True})
        if np.allclose(actual, variant, rtol=1e-3, atol=1e-4):
            return meaning
    return None


def judge_trajectory(student, reference, what, kind, hyper):
    """The student's variables after each step against Keras's (from the reference run)."""
    expected = np.asarray(reference["keras"])
    actual = expect_shape(student["student"], expected.shape,
                          f"the variables after each of the {len(expected)} steps of {what}")
    expect_finite(actual, f"the variables during {what}")
    for step in range(len(expected)):
        if np.allclose(actual[step], expected[step], rtol=2e-4, atol=2e-5):
            continue
        slip = diagnose(kind, hyper, reference, actual)
        if slip:
            raise CheckFailed(f"{what}: the variables match {slip} (they leave Keras's "
                              f"trajectory at step {step + 1} of {len(expected)})")
        expect_close(actual[step], expected[step],
                     f"{what}: the variables after step {step + 1} of {len(expected)} "
                     f"(against the Keras optimizer on the same gradients)")


# ---------------------------------------------------------------------------------------------
# Schedules, quadratics, input scaling, depth, batch norm
# ---------------------------------------------------------------------------------------------

def schedule_values(schedule, steps):
    """The schedule at each step, called eagerly with ints and inside a tf.function with an
    int64 tensor (as an optimizer calls it)."""
    import tensorflow as tf
    eager = [float(schedule(step)) for step in steps]
    compiled = tf.function(lambda step: schedule(step))
    traced = [float(compiled(tf.constant(step, dtype=tf.int64))) for step in steps]
    return np.array(eager), np.array(traced)


def quadratic(rng, dim, kappa):
    """A random symmetric Hessian with eigenvalues from 1 to kappa (geometrically spaced),
    and a linear term: f(w) = 1/2 w^T A w - b^T w."""
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    eigenvalues = np.geomspace(1.0, kappa, dim)
    return (rotation * eigenvalues) @ rotation.T, rng.normal(size=dim)


def steps_to_converge(optimizer, hessian, target, tolerance, max_steps):
    """Steps until ||w - w*|| <= tolerance * ||w0 - w*|| from w0 = 0, with the gradient
    A w - b applied by `optimizer` (float64); max_steps + 1 if it never gets there."""
    import keras
    import tensorflow as tf
    solution = np.linalg.solve(hessian, target)
    w = keras.Variable(np.zeros_like(target), dtype="float64")
    optimizer.build([w])
    a, b, w_star = (tf.constant(v) for v in (hessian, target, solution))
    goal = tolerance * float(np.linalg.norm(solution))

    @tf.function
    def run():
        def step(t, _distance):
            optimizer.apply([tf.linalg.matvec(a, w.value) - b], [w])
            return t + 1, tf.norm(w.value - w_star)
        return tf.while_loop(lambda t, d: (t <= max_steps) & (d > goal), step,
                             [tf.constant(0), tf.norm(w.value - w_star)])[0]
    return int(run())


def convergence_probe(lab, rng, setting):
    dim, kappa = setting["dim"], setting["kappa"]
    hessian, target = quadratic(rng, dim, kappa)
    largest, smallest = kappa, 1.0
    root = np.sqrt(kappa)
    gd = lab.optimizers.MomentumSGD(learning_rate=2.0 / (largest + smallest))
    heavy_ball = lab.optimizers.MomentumSGD(
        learning_rate=4.0 / (np.sqrt(largest) + np.sqrt(smallest)) ** 2,
        momentum=((root - 1.0) / (root + 1.0)) ** 2)
    return {"gd_steps": steps_to_converge(gd, hessian, target, setting["tolerance"],
                                          setting["max_steps"]),
            "heavy_ball_steps": steps_to_converge(heavy_ball, hessian, target,
                                                  setting["tolerance"], setting["max_steps"])}


def judge_convergence(student, reference, setting):
    where = (f"on a {setting['dim']}-d quadratic with condition number {setting['kappa']:g} "
             f"(to {setting['tolerance']:g} of the starting distance)")
    for key, name in (("gd_steps", "gradient descent (MomentumSGD, momentum=0, lr=2/(L+mu))"),
                      ("heavy_ball_steps", "heavy ball (MomentumSGD with Polyak's lr and "
                                           "momentum)")):
        got, expected = int(student[key]), int(reference[key])
        expect_true(got <= setting["max_steps"],
                    f"{name} did not converge in {setting['max_steps']} steps {where}; the "
                    f"reference needs {expected}")
        slack = max(2, int(0.05 * expected))
        expect_true(abs(got - expected) <= slack,
                    f"{name} needs {got} steps {where}, the reference {expected} "
                    f"(allowed: +-{slack})")
    expect_true(student["heavy_ball_steps"] < student["gd_steps"],
                "momentum should converge faster than gradient descent on an ill-conditioned "
                "quadratic")


def scale_problem(rng, n_train, n_test, dim):
    """Features with wildly different offsets and scales, one of them constant in training."""
    offsets = rng.uniform(-50, 50, size=dim)
    scales = 10.0 ** rng.uniform(-2, 2, size=dim)
    x_train = offsets + scales * rng.normal(size=(n_train, dim))
    x_test = offsets + scales * rng.normal(size=(n_test, dim))
    x_train[:, 1] = 3.0  # an always-on pixel: std 0
    return x_train, x_test


# Over network draws, the per-layer variance (averaged over 4 networks) stays within 30 %
# of another draw's; a wrong fan or a missing factor 2 is off by 2x to 1000x.
VARIANCE_FACTOR = 1.6


def depth_variances(lab, rng, setting, mode, activation):
    """Mean square of every layer's pre-activations in ReLU/tanh MLPs initialised with the
    student's ScaledNormal, averaged over a few independent networks: (layers,)."""
    import keras
    x = rng.normal(size=(setting["batch"], setting["inputs"])).astype("float32")
    totals = np.zeros(setting["layers"])
    for _ in range(setting["networks"]):
        h = x
        for layer in range(setting["layers"]):
            dense = keras.layers.Dense(setting["width"], use_bias=False,
                                       kernel_initializer=lab.initialization.ScaledNormal(mode))
            pre = np.asarray(dense(h))
            totals[layer] += float(np.mean(pre.astype(np.float64) ** 2))
            h = np.maximum(pre, 0.0) if activation == "relu" else np.tanh(pre)
    return totals / setting["networks"]


def judge_depth(student, reference, setting):
    for key, name in (("he_relu", 'ScaledNormal("he") with ReLU'),
                      ("glorot_tanh", 'ScaledNormal("glorot") with tanh')):
        mine = expect_shape(student[key], (setting["layers"],), f"variances for {name}")
        expect_finite(mine, f"the activation variances of a deep MLP with {name}")
        ratio = mine / reference[key]
        worst = int(np.argmax(np.abs(np.log(np.maximum(ratio, 1e-300)))))
        expect_true(np.all((ratio < VARIANCE_FACTOR) & (ratio > 1.0 / VARIANCE_FACTOR)),
                    f"through a {setting['inputs']}-{setting['width']}x{setting['layers']} MLP "
                    f"with {name}, the pre-activation variance of layer {worst + 1} is "
                    f"{mine[worst]:.3g}, the reference's {reference[key][worst]:.3g} (layer by "
                    f"layer: {np.array2string(mine, precision=3)} against "
                    f"{np.array2string(reference[key], precision=3)})")


def twin_batchnorms(lab, rng, input_shape, momentum=0.99, epsilon=1e-3):
    """The student's BatchNorm and keras.layers.BatchNormalization, built on the same shape
    and holding the same random gamma, beta and moving statistics."""
    import keras
    mine = lab.batchnorm.BatchNorm(momentum=momentum, epsilon=epsilon)
    theirs = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon)
    mine.build(input_shape)
    theirs.build(input_shape)
    channels = input_shape[-1]
    values = {"gamma": rng.uniform(0.5, 2.0, size=channels),
              "beta": rng.normal(size=channels),
              "moving_mean": rng.normal(size=channels),
              "moving_variance": rng.uniform(0.5, 3.0, size=channels)}
    for name, value in values.items():
        getattr(mine, name).assign(value.astype("float32"))
        getattr(theirs, name).assign(value.astype("float32"))
    return mine, theirs


def features(rng, shape):
    """Inputs whose channels have their own offsets and scales."""
    channels = shape[-1]
    return (rng.uniform(-3, 3, size=channels)
            + rng.uniform(0.2, 4.0, size=channels) * rng.normal(size=shape)).astype("float32")


def moving_statistics(layer):
    return [np.asarray(layer.moving_mean), np.asarray(layer.moving_variance)]


# Computed in float32, standardize is off by up to 1e-3 standard units on scale_problem's
# offsets (up to 50) and scales (down to 0.01) over 200 seeds: a float32 implementation is
# correct. The mistakes are far off: the sample std by 1-3 %, std + epsilon on a constant
# feature by a factor 1e8, the test set's own statistics by whole units.
STANDARDIZE_TOLERANCE = {"rtol": 1e-4, "atol": 5e-3}


def judge_standardize(student, reference, what):
    """standardize(x_train, x_test) on scale_problem data: column 1 of x_train is constant.
    `what` is the call, e.g. "standardize(x_train, x_test)"."""
    x_train = np.asarray(reference["x_train"], dtype=np.float64)
    x_test = np.asarray(reference["x_test"], dtype=np.float64)
    constant_note = f"(x_train's column 1 is constant, {x_train[0, 1]:g}: its std is 0)"
    train = expect_shape(student["train"], x_train.shape, f"{what}[0]").astype(np.float64)
    test = expect_shape(student["test"], x_test.shape, f"{what}[1]").astype(np.float64)
    expect_finite(train, f"{what}[0] {constant_note}")
    expect_finite(test, f"{what}[1] {constant_note}")
    varying = [j for j in range(x_train.shape[1]) if j != 1]
    if len(x_test) > 1:
        own = (x_test - x_test.mean(axis=0)) / x_test.std(axis=0)
        if np.allclose(test[:, varying], own[:, varying], **STANDARDIZE_TOLERANCE):
            raise CheckFailed(f"{what} scaled x_test with x_test's own mean and std: use the "
                              "training statistics for both sets")
    centred = x_test[:, 1] - x_train[0, 1]
    if not np.allclose(test[:, 1], centred, **STANDARDIZE_TOLERANCE):
        size, expected = float(np.max(np.abs(test[:, 1]))), float(np.max(np.abs(centred)))
        blown = size > 1e3 * max(expected, 1e-3)
        raise CheckFailed(
            f"{what}[1]: x_train's column 1 is constant ({x_train[0, 1]:g}, std 0), so it must "
            f"only be centred, divided by 1: x_test's column 1 should come out as x_test[:, 1] - "
            f"{x_train[0, 1]:g} (at most {expected:.3g} in size), and comes out as large as "
            f"{size:.3g}"
            + (": dividing by std + epsilon blows a constant feature up by 1 / epsilon. Replace "
               "a std <= epsilon by 1 instead" if blown else ""))
    n = len(x_train)
    spread = train[:, varying].std(axis=0)
    if not np.allclose(spread, 1.0, atol=2e-3):
        sample = np.sqrt((n - 1) / n)
        raise CheckFailed(
            f"the features of {what}[0] have standard deviations "
            f"{np.array2string(spread, precision=4)}, expected 1"
            + (f": that is sqrt((N - 1) / N) = {sample:.4f} for N = {n}, the sample std "
               "(ddof=1). Standardize with the population std (np.std's default, ddof=0)"
               if np.allclose(spread, sample, atol=2e-3) else ""))
    expect_close(train, reference["train"], f"{what}[0]", **STANDARDIZE_TOLERANCE)
    expect_close(test, reference["test"], f"{what}[1]", **STANDARDIZE_TOLERANCE)


def batchnorm_pass(layer, x, upstream, keys, calls):
    """One training call of `layer` on x under a tape, and what `keys` asks for: "training"
    (its output), "gradients" (of sum(upstream * output) with respect to x, gamma and beta)
    and "connected" (which of those are not None), "moving" (the moving statistics after
    the call), "inference" (the output at inference). `calls` records the call under way."""
    import tensorflow as tf
    x = tf.constant(x)
    calls.append("training=True")
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(upstream * tf.cast(y, tf.float32))
    sources = {"x": x, "gamma": layer.gamma, "beta": layer.beta}
    found = dict(zip(sources, tape.gradient(loss, list(sources.values()))))
    out = {"training": y,
           "gradients": {name: np.zeros(sources[name].shape, "float32") if g is None else g
                         for name, g in found.items()},
           "connected": [name for name, g in found.items() if g is not None],
           "moving": moving_statistics(layer)}
    if "inference" in keys:
        calls.append("training=False")
        out["inference"] = layer(x, training=False)
    return {key: out[key] for key in keys}


def error_in(error, filename):
    """`error` as a student reads it: its type, message and line in `filename`."""
    import traceback
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if f.filename.endswith(filename)]
    where = f" ({filename}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(error)).split())
    return f"{type(error).__name__}{where}: {text[:300]}"


def batchnorm_training_probe(lab, rng, shape, keys, momentum=0.99, epsilon=1e-3,
                             catch=False):
    """The student's BatchNorm and Keras's, holding the same weights, through one training
    call (batchnorm_pass, keeping `keys`) on the same inputs. With `catch`, an error of the
    student's layer is returned as "error" and "call", not raised: the probe of (N, C)
    inputs ran first, so an error here is about the feature maps."""
    mine, theirs = twin_batchnorms(lab, rng, shape, momentum, epsilon)
    x = features(rng, shape)
    upstream = rng.normal(size=shape).astype("float32")
    out = {"shape": str(tuple(shape)), "epsilon": epsilon, "x": x, "upstream": upstream,
           "gamma": np.asarray(theirs.gamma), "keras": batchnorm_pass(theirs, x, upstream,
                                                                      keys, [])}
    calls = []
    try:
        out["student"] = batchnorm_pass(mine, x, upstream, keys, calls)
    except NotImplementedError:
        raise
    except Exception as error:
        if not catch:
            raise
        out["error"], out["call"] = error_in(error, "batchnorm.py"), calls[-1]
    return out


def judge_batchnorm_error(student, where):
    if "error" in student:
        raise CheckFailed(f"BatchNorm()(x, {student['call']}) {where} raised "
                          f"{student['error']}. The statistics are per channel, over every "
                          "axis but the last (batch_axes), so the batch mean and variance "
                          "have shape (C,), like moving_mean")


def judge_batchnorm_output(student, reference, where):
    judge_batchnorm_error(student, where)
    expect_close(student["student"]["training"], reference["keras"]["training"],
                 f"BatchNorm()(x, training=True) {where}, against "
                 "keras.layers.BatchNormalization with the same gamma and beta")


def judge_batchnorm_gradients(student, reference, where):
    """The gradients of sum(upstream * BatchNorm(x, training=True)) against Keras's; names
    the statistics treated as constants (stop_gradient, or computed outside the graph)."""
    judge_batchnorm_error(student, where)
    mine, theirs = student["student"], reference["keras"]
    what = f"the gradient of sum(upstream * BatchNorm()(x, training=True)) {where}"
    for name in ("x", "gamma", "beta"):
        expect_true(name in mine["connected"],
                    f"{what} with respect to {name} is None: compute the output from {name} "
                    "with keras.ops on tensors (no numpy, no .numpy()), so the tape sees it")
    x = np.asarray(reference["x"], dtype=np.float64)
    axes = tuple(range(x.ndim - 1))
    frozen = (np.asarray(reference["upstream"]) * np.asarray(reference["gamma"])
              / np.sqrt(x.var(axis=axes) + reference["epsilon"]))
    if np.allclose(mine["gradients"]["x"], frozen, rtol=1e-3, atol=1e-4):
        raise CheckFailed(f"{what} with respect to x is upstream * gamma / sqrt(var + epsilon), "
                          "as if the batch mean and variance were constants: in training the "
                          "gradient flows through them too (no stop_gradient on them)")
    for name in ("x", "gamma", "beta"):
        expect_close(mine["gradients"][name], theirs["gradients"][name],
                     f"{what} with respect to {name}, against keras.layers.BatchNormalization",
                     rtol=1e-3, atol=1e-4)
