"""Public checks of lab23_nngp_ntk, part 2: NTKDense and ntk_mlp, the empirical NTK (against
a loop of per-example gradients), kernel gradient flow (against scipy's expm), full-batch
training (on the check's own MLP, against the reference and against the linearised
network's flow) and the NTK's drift with width (with Keras's fit and the gradient loop
standing in for train_full_batch and empirical_ntk)."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import standing_in
from autograder.checks.lab23_nngp_ntk.probes import (
    check_mlp,
    keras_fit_trainer,
    loop_ntk,
    unit_inputs,
)
from autograder.verdicts import (
    expect_close,
    expect_close_naming,
    expect_equal,
    expect_shape,
    expect_true,
)


@check(points=1, task="`NTKDense.call`",
       hint="x @ kernel * sqrt(weight_var / fan_in) + bias * sqrt(bias_var): the weights stay "
       "N(0, 1) and the scale goes in the call")
def ntk_dense(lab, rng):
    """NTKDense(5, weight_var=1.7, bias_var=0.3) on 6 inputs of dimension 4 with fixed
    weights, against numpy."""
    layer = lab.kernels.NTKDense(5, weight_var=1.7, bias_var=0.3, seed=1)
    layer.build((None, 4))
    kernel, bias = rng.normal(size=(4, 5)), rng.normal(size=5)
    layer.kernel.assign(kernel.astype("float32"))
    layer.bias.assign(bias.astype("float32"))
    x = rng.normal(size=(6, 4)).astype("float32")
    expected = np.sqrt(1.7 / 4) * x.astype(np.float64) @ kernel + np.sqrt(0.3) * bias
    return {"out": np.asarray(layer(x)), "numpy": expected,
            "unscaled": x.astype(np.float64) @ kernel + bias,
            "by_fan_in": 1.7 / 4 * x.astype(np.float64) @ kernel + 0.3 * bias}


@ntk_dense.verdict
def _(student, _reference):
    out = expect_shape(student["out"], (6, 5), "NTKDense(5)(x) for x (6, 4)")
    expect_close_naming(out, student["numpy"], "NTKDense(5, 1.7, 0.3)(x)",
                        [(student["unscaled"], "no scaling: multiply x @ kernel by "
                          "sqrt(weight_var / fan_in) and the bias by sqrt(bias_var)"),
                         (student["by_fan_in"], "scaled by the variances, not their square "
                          "roots")], rtol=1e-5, atol=1e-5)


@check(points=1, task="`ntk_mlp`",
       hint="depth times [NTKDense(width, ..., seed=seed + k), ReLU], then NTKDense(1, ..., "
       "seed=seed + depth), as a keras.Sequential built for (None, input_dim)")
def ntk_mlp(lab, rng):
    """ntk_mlp(3, 7, depth=2, seed=4): the units of its NTKDense layers, the weight count,
    the outputs (the same for the same seed, others for another seed)."""
    x = rng.normal(size=(5, 3)).astype("float32")
    model = lab.kernels.ntk_mlp(3, 7, 2, 1.5, 0.2, seed=4)
    again = lab.kernels.ntk_mlp(3, 7, 2, 1.5, 0.2, seed=4)
    other = lab.kernels.ntk_mlp(3, 7, 2, 1.5, 0.2, seed=5)
    return {"units": [int(layer.units) for layer in model.layers
                      if isinstance(layer, lab.kernels.NTKDense)],
            "params": model.count_params(), "out": np.asarray(model(x)),
            "again": np.asarray(again(x)), "other": np.asarray(other(x))}


@ntk_mlp.verdict
def _(student, reference):
    expect_equal(np.asarray(student["units"]), np.asarray(reference["units"]),
                 "the units of the NTKDense layers of ntk_mlp(3, 7, depth=2)")
    expect_equal(student["params"], reference["params"],
                 "the weight count of ntk_mlp(3, 7, depth=2)")
    outputs = np.concatenate([np.ravel(student["out"]), np.ravel(student["other"])])
    if np.any(np.asarray(reference["out"]) < 0):
        expect_true(np.any(outputs < 0),
                    "ntk_mlp(3, 7, 2, 1.5, 0.2)(x) is " + ("0 for every input and both seeds"
                    if np.all(outputs == 0) else "never negative, for 5 inputs and two seeds")
                    + ": the output NTKDense(1) must have no activation after it (a ReLU "
                    "belongs after each hidden layer only)")
    expect_close(student["again"], student["out"], "ntk_mlp(..., seed=4) built twice")
    expect_true(np.abs(student["other"] - student["out"]).max() > 1e-4,
                "ntk_mlp(..., seed=5) gives the same outputs as seed=4: pass seed + k to layer k")
    expect_close(student["out"], reference["out"], "ntk_mlp(3, 7, 2, 1.5, 0.2, seed=4)(x)",
                 rtol=1e-5, atol=1e-6)


def _plain_mlp(seed):
    import keras
    init = keras.initializers.RandomNormal(stddev=0.8, seed=seed)
    return keras.Sequential([keras.Input(shape=(3,)),
                             keras.layers.Dense(6, "tanh", kernel_initializer=init,
                                                bias_initializer=init),
                             keras.layers.Dense(5, "tanh", kernel_initializer=init,
                                                bias_initializer=init),
                             keras.layers.Dense(1, kernel_initializer=init,
                                                bias_initializer=init)])


@check(points=2, task="`empirical_ntk`",
       hint="per-example Jacobians of model(x)[:, 0] with respect to EVERY trainable variable "
       "(kernels and biases), flattened and concatenated: Theta = J1 J2^T, (n1, n2)")
def empirical_ntk(lab, rng):
    """empirical_ntk(model, x1, x2) of a tanh MLP (3-6-5-1, with biases) for 4 and 7 points,
    against a loop of per-example tf.GradientTape gradients."""
    model = _plain_mlp(int(rng.integers(1000)))
    x1, x2 = rng.normal(size=(4, 3)), rng.normal(size=(7, 3))
    return {"ntk": lab.kernels.empirical_ntk(model, x1, x2), "loop": loop_ntk(model, x1, x2),
            "no_bias": _without_biases(model, x1, x2)}


def _without_biases(model, x1, x2):
    import tensorflow as tf
    kernels = [v for v in model.trainable_variables if len(v.shape) == 2]

    def rows(x):
        out = []
        for point in np.asarray(x, dtype=np.float32):
            with tf.GradientTape() as tape:
                value = model(point[None])[0, 0]
            out.append(np.concatenate([np.ravel(g) for g in tape.gradient(value, kernels)]))
        return np.asarray(out, dtype=np.float64)
    return rows(x1) @ rows(x2).T


@empirical_ntk.verdict
def _(student, _reference):
    ntk = expect_shape(student["ntk"], (4, 7), "empirical_ntk(model, x1 (4, 3), x2 (7, 3))")
    expect_close_naming(ntk, student["loop"], "empirical_ntk(model, x1, x2)",
                        [(student["no_bias"], "the biases are missing: take the Jacobian "
                          "with respect to all of model.trainable_variables")],
                        advice="Theta[i, j] is the dot product of the gradients of f(x1_i) and "
                        "f(x2_j), one Jacobian row per example (not the gradient of the sum)",
                        against="a loop of per-example gradients", rtol=1e-4, atol=1e-5)


@check(points=2, task="`kernel_gradient_flow`",
       hint="u(t) = y + expm(-learning_rate * Theta * t) (u0 - y): eigendecompose the symmetric "
       "Theta; each eigen-direction decays as exp(-learning_rate * lambda * t)")
def kernel_gradient_flow(lab, rng):
    """u(t) for a random 6x6 PSD kernel at 5 times (0 included), against scipy.linalg.expm."""
    from scipy.linalg import expm
    a = rng.normal(size=(6, 6))
    theta = a @ a.T / 6 + 0.1 * np.eye(6)
    y, u0 = rng.normal(size=6), rng.normal(size=6)
    times = np.array([0.0, 0.5, 2.0, 7.5, 40.0])
    flow = lab.kernels.kernel_gradient_flow(theta, y, u0, 0.3, times)
    return {"flow": flow,
            "scipy": np.stack([y + expm(-0.3 * theta * t) @ (u0 - y) for t in times]),
            "from_zero": np.stack([y - expm(-0.3 * theta * t) @ y for t in times]),
            "no_rate": np.stack([y + expm(-theta * t) @ (u0 - y) for t in times])}


@kernel_gradient_flow.verdict
def _(student, _reference):
    flow = expect_shape(student["flow"], (5, 6), "kernel_gradient_flow(theta, y, u0, 0.3, "
                        "times) for 5 times and 6 points")
    expect_close_naming(flow, student["scipy"], "kernel_gradient_flow(theta, y, u0, 0.3, times)",
                        [(student["from_zero"], "u0 is ignored: u(t) = y + exp(-eta Theta t) "
                          "(u0 - y)"),
                         (student["no_rate"], "the learning rate is missing: each eigen-"
                          "direction decays as exp(-learning_rate * lambda * t)")],
                        against="scipy.linalg.expm", rtol=1e-6, atol=1e-8)


TRAIN = {"width": 256, "depth": 1, "n": 8, "learning_rate": 0.02, "steps": 40}


@check(points=2, timeout=40, task="`train_full_batch`",
       hint="loss = 0.5 * SUM of squared errors (not the mean), one SGD step per call on the "
       "whole batch, outputs recorded before the first step and after every step")
def train_full_batch(lab, rng):
    """40 steps of full-batch gradient descent on the check's own MLP (width 256, no
    biases) on 8 points: the outputs against the reference's, and against the kernel
    gradient flow of the network's initial NTK (scipy's expm), within 0.05."""
    from scipy.linalg import expm
    x = unit_inputs(rng, TRAIN["n"], 2)
    y = np.sin(3 * np.arctan2(x[:, 1], x[:, 0]))
    model = check_mlp(2, TRAIN["width"], TRAIN["depth"], seed=int(rng.integers(1000)))
    theta = loop_ntk(model, x, x)
    u0 = np.asarray(model(x.astype("float32")))[:, 0].astype(np.float64)
    outputs = lab.kernels.train_full_batch(model, x, y, TRAIN["learning_rate"], TRAIN["steps"])

    def flow(rate, times):
        return np.stack([y + expm(-rate * theta * t) @ (u0 - y) for t in times])

    steps, rate = TRAIN["steps"], TRAIN["learning_rate"]
    # The flows of the usual slips, to name the one the outputs follow.
    return {"outputs": outputs, "flow": flow(rate, range(steps + 1)),
            "slips": {"mean": flow(rate / TRAIN["n"], range(steps + 1)),
                      "no_half": flow(2 * rate, range(steps + 1)),
                      "before_step": flow(rate, [0, *range(steps)])}}


TRAIN_SLIPS = {
    "mean": "it follows the flow n = 8 times slower, as a MEAN of the squared errors trains: "
    "the loss is 0.5 * SUM of squares",
    "no_half": "it follows the flow twice as fast, as the sum of squares WITHOUT the 0.5 "
    "trains: the loss is 0.5 * SUM of squares",
    "before_step": "row t + 1 is the output after t steps, as when the outputs are recorded "
    "BEFORE each step: record them once before the loop and then after every step"}


@train_full_batch.verdict
def _(student, reference):
    what = "train_full_batch(model, x, y, 0.02, 40)"
    expect_true(np.shape(student["outputs"]) != (40, 8), f"{what} has 40 rows, one per step: "
                "the first row is the output before any training (steps + 1 rows)")
    outputs = expect_shape(student["outputs"], (41, 8), f"{what} (steps + 1 rows of 8 outputs)")
    gap = np.abs(outputs - student["flow"]).max()
    slips = {name: np.abs(outputs - value).max() for name, value in student["slips"].items()}
    nearest = min(slips, key=slips.get)
    expect_true(gap < 0.05, f"{what} strays {gap:.3g} from the kernel gradient flow of the "
                "network's NTK (the reference stays within about 0.03)" + (
                    f": {TRAIN_SLIPS[nearest]}" if slips[nearest] < min(0.1, gap / 3) else
                    ": the loss is 0.5 * SUM of squares, one step per call, and the first row "
                    "is the untrained output"))
    expect_close(outputs, reference["outputs"], what, rtol=1e-3, atol=1e-4)


DRIFT = {"widths": (16, 512), "n": 6, "learning_rate": 0.02, "steps": 30}


@check(points=2, timeout=40, task="`ntk_relative_change`",
       hint="||Theta_after - Theta_before||_F / ||Theta_before||_F, with empirical_ntk(model, x, "
       "x) before and after train_full_batch(model, x, y, learning_rate, steps)")
def ntk_drift(lab, rng):
    """The NTK's relative change while training the check's MLP of widths 16 and 512, with
    Keras's fit standing in for train_full_batch and a gradient loop for empirical_ntk:
    against the reference, and smaller for the wider network."""
    x = unit_inputs(rng, DRIFT["n"], 2)
    y = np.cos(2 * np.arctan2(x[:, 1], x[:, 0]))
    seed = int(rng.integers(1000))
    out, ntks = {}, []

    def recorded_ntk(model, x1, x2):
        ntks.append(loop_ntk(model, x1, x2))
        return ntks[-1]

    with standing_in(lab.kernels, train_full_batch=keras_fit_trainer, empirical_ntk=recorded_ntk):
        for width in DRIFT["widths"]:
            del ntks[:]
            out[f"width_{width}"] = float(lab.kernels.ntk_relative_change(
                check_mlp(2, width, 1, seed), x, y, DRIFT["learning_rate"], DRIFT["steps"]))
            if len(ntks) == 2:   # the slips, from the NTKs it asked for (before, after)
                before, after = ntks
                change = np.linalg.norm(after - before)
                out[f"slips_{width}"] = {
                    "divided by ||Theta_after||_F instead of ||Theta_before||_F":
                        change / np.linalg.norm(after),
                    "not divided by ||Theta_before||_F": change,
                    "squared norms (the ratio of ||.||_F^2)": (change / np.linalg.norm(before))
                    ** 2}
    return out


@ntk_drift.verdict
def _(student, reference):
    for width in DRIFT["widths"]:
        value, expected = student[f"width_{width}"], reference[f"width_{width}"]
        what = f"ntk_relative_change(model of width {width}, x, y, 0.02, 30)"
        if abs(value - expected) <= 1e-3 * abs(expected) + 1e-6:
            continue
        named = [name for name, slip in student.get(f"slips_{width}", {}).items()
                 if abs(value - slip) <= 1e-4 * abs(slip) + 1e-9]
        size = (f"too large by a factor {value / expected:.4g}" if value > expected else
                f"too small by a factor {expected / value:.4g}" if value > 0 else "not positive")
        expect_true(False, f"{what} = {value:.6g}, the reference's {expected:.6g}: {size}"
                    + (f" ({named[0]})" if named else ""))
    expect_true(student["width_512"] < 0.5 * student["width_16"],
                f"the NTK moves by {student['width_512']:.3g} at width 512 and "
                f"{student['width_16']:.3g} at width 16: it should move less when wider")
