"""Public checks of lab15_flows.

The maths is compared with the reference on fixed random weights. The flow invariants need
no reference: a layer's inverse undoes its forward, and its log-determinant matches the one
autodiff computes from the full Jacobian (tf.GradientTape.batch_jacobian, then
tf.linalg.slogdet, in the probe). The training check measures the held-out NLL with that
autodiff log-determinant too, so a wrong log_det inside the model cannot flatter its score.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.verdicts import (
    expect_at_most,
    expect_close,
    expect_equal,
    expect_finite,
    expect_shape,
    expect_true,
)

# Log-determinants from float32 Jacobians agree with the layer's own to about 1e-5.
LOG_DET = {"rtol": 1e-4, "atol": 1e-4}
# inverse(forward(x)) == x up to float32 rounding through a few exp() and MLPs.
ROUND_TRIP = {"rtol": 1e-4, "atol": 1e-4}

# The training budget of train_step_lowers_nll, stated in the handout.
TRAIN = {"model": "realnvp", "layers": 4, "hidden_units": (64,), "learning_rate": 1e-2,
         "batch_size": 256, "steps": 200, "train_size": 1024, "test_size": 1024}
# How much worse than the reference's held-out NLL a student flow may end up (nats).
# train_step draws no randomness, so a correct student flow trains like the reference up to
# float rounding: rewriting the reference's formulas in equivalent ways moves its result by
# less than 0.002 nats. (Over training seeds it lands between 2.77 and 2.83.) Couplings
# that all share one mask end near 3.06 and fail.
MARGIN_NATS = 0.1
# The held-out NLL caps each point's -log p(x) at this many nats, so one test point that
# falls in a hole of the density (seen: 179 nats) cannot decide the average.
NLL_CAP = 10.0


# ---------------------------------------------------------------------------------------------
# Helpers: probes run in the worker (they import TensorFlow inside), verdicts here
# ---------------------------------------------------------------------------------------------

def randomize(obj, rng, scale):
    """Give every trainable weight of a layer or model random values (the same values for
    the student and the reference: both see the same rng and build the same weights)."""
    for weight in obj.trainable_weights:
        weight.assign(rng.normal(scale=scale, size=tuple(weight.shape)).astype("float32"))


def pair(result, call):
    """The (values, log_det) pair a flow method returns, as numpy arrays."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ValueError(f"{call} must return a pair (values, log_det), got "
                         f"{type(result).__name__}")
    return np.asarray(result[0]), np.asarray(result[1])


def autodiff_log_det(fn, x):
    """log |det d fn(x) / dx| per row, from the full Jacobian. x: (N, D). Returns (N,) float64."""
    import tensorflow as tf
    x = tf.constant(np.asarray(x, dtype="float32"))
    # A persistent tape without pfor: a loop of D backward passes, several times faster than
    # pfor's graph conversion for these few small inputs.
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = fn(x)
    jacobian = tape.batch_jacobian(y, x, experimental_use_pfor=False)
    if jacobian is None:
        raise ValueError("the output does not depend on the input through TensorFlow ops "
                         "(numpy inside the flow?), so autodiff cannot take its Jacobian")
    return tf.linalg.slogdet(tf.cast(jacobian, tf.float64))[1].numpy()


def flow_invariants(layer, x, z, what, round_trips=True, log_dets=True):
    """forward/inverse of a flow layer (or model) at x and z; with round_trips, inverse of
    the forward and forward of the inverse; with log_dets, the autodiff log-dets too."""
    fz, f_log_det = pair(layer.forward(x), f"{what}.forward(x)")
    ix, i_log_det = pair(layer.inverse(z), f"{what}.inverse(z)")
    out = {"x": x, "z": z, "forward": fz, "forward_log_det": f_log_det,
           "inverse": ix, "inverse_log_det": i_log_det}
    if round_trips:
        out["round_trip_x"] = pair(layer.inverse(fz), f"{what}.inverse(z)")[0]
        out["round_trip_z"] = pair(layer.forward(ix), f"{what}.forward(x)")[0]
    if log_dets:
        out["autodiff_forward"] = autodiff_log_det(lambda t: layer.forward(t)[0], x)
        out["autodiff_inverse"] = autodiff_log_det(lambda t: layer.inverse(t)[0], z)
    return out


def judge_round_trips(out, what):
    n, d = np.shape(out["x"])
    expect_shape(out["forward"], (n, d), f"the z of {what}.forward(x) for x ({n}, {d})")
    expect_shape(out["inverse"], (n, d), f"the x of {what}.inverse(z) for z ({n}, {d})")
    expect_close(out["round_trip_x"], out["x"], f"{what}.inverse(forward(x)) (must give x back)",
                 **ROUND_TRIP)
    expect_close(out["round_trip_z"], out["z"], f"{what}.forward(inverse(z)) (must give z back)",
                 **ROUND_TRIP)


def judge_log_dets(out, what):
    n = len(out["x"])
    for direction, jac in (("forward", "dz/dx"), ("inverse", "dx/dz")):
        log_det = expect_shape(out[f"{direction}_log_det"], (n,),
                               f"the log_det of {what}.{direction} (one value per example)")
        expect_close(log_det.astype(np.float32), out[f"autodiff_{direction}"].astype(np.float32),
                     f"the log_det of {what}.{direction}, against log|det {jac}| from the "
                     "autodiff Jacobian", **LOG_DET)


def judge_pair_against_reference(student, reference, keys, what):
    for key in keys:
        expect_close(student[key], reference[key], f"{key.replace('_', ' ')} of {what}")


# ---------------------------------------------------------------------------------------------
# 1-2. The change of variables, bounded log-scales
# ---------------------------------------------------------------------------------------------

@check(points=1, uses="flows", hint="log p(x) = base.log_prob(z) + log_det, with "
       "(z, log_det) = forward(x) and log_det = log|det dz/dx|: a PLUS")
def change_of_variables(lab, rng):
    import tensorflow as tf
    a = rng.normal(size=(3, 3)) + 2.0 * np.eye(3)
    b = rng.normal(size=3)
    x = rng.normal(size=(10, 3)).astype("float32")
    log_abs_det = np.linalg.slogdet(a)[1]

    def forward(t):  # the linear flow z = A x + b
        t = tf.convert_to_tensor(t, tf.float32)
        z = tf.matmul(t, tf.constant(a.T, tf.float32)) + tf.constant(b, tf.float32)
        return z, tf.fill(tf.shape(t)[:1], tf.constant(log_abs_det, tf.float32))

    log_px = lab.flows.change_of_variables_log_prob(x, forward, lab.flows.standard_normal(3))
    # x = A^-1 (z - b) with z ~ N(0, I) is Gaussian: mean -A^-1 b, covariance A^-1 A^-T.
    mean = -np.linalg.solve(a, b)
    covariance = np.linalg.inv(a) @ np.linalg.inv(a).T
    centred = x.astype(np.float64) - mean
    exact = -0.5 * (np.einsum("ni,ij,nj->n", centred, np.linalg.inv(covariance), centred)
                    + np.linalg.slogdet(2 * np.pi * covariance)[1])
    return {"log_px": log_px, "exact": exact}


@change_of_variables.verdict
def _(student, reference):
    what = "change_of_variables_log_prob(x, forward, base) for the linear flow z = A x + b"
    expect_close(student["log_px"], student["exact"].astype(np.float32),
                 f"{what} (against the exact Gaussian log-density of x)", rtol=1e-4, atol=1e-4)
    expect_close(student["log_px"], reference["log_px"], what)


@check(points=1, uses="flows", hint="log_scale = bound * tanh(raw / bound): finite, inside "
       "(-bound, bound), and close to raw when raw is small")
def bounded_log_scale(lab, rng):
    special = [-1e4, -60.0, -5.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 5.0, 60.0, 1e4]
    raw = np.concatenate([special, 3.0 * rng.normal(size=13)]).astype("float32")
    return {"raw": raw, "bound_2": lab.flows.bounded_log_scale(raw, 2.0),
            "bound_half": lab.flows.bounded_log_scale(raw.reshape(4, 6), 0.5)}


@bounded_log_scale.verdict
def _(student, reference):
    raw = student["raw"]
    for key, bound, shape in (("bound_2", 2.0, raw.shape), ("bound_half", 0.5, (4, 6))):
        what = f"bounded_log_scale(raw, bound={bound})"
        values = expect_shape(student[key], shape, f"{what} for raw {shape}")
        expect_finite(values, what)
        worst = int(np.argmax(np.abs(values).ravel()))
        expect_true(np.abs(values).max() <= bound + 1e-6,
                    f"{what} gives {values.ravel()[worst]:.4g} for raw = {raw.ravel()[worst]:.4g}: "
                    f"log-scales must stay inside (-{bound}, {bound}), or exp(log_scale) "
                    "overflows to inf and training turns NaN")
        expect_close(values, reference[key], what)


# ---------------------------------------------------------------------------------------------
# MADE (made.py)
# ---------------------------------------------------------------------------------------------

@check(points=2, uses="made", hint="input degrees 1..D (reversed for right-to-left), hidden "
       "degrees 1 + (k mod max(D-1, 1)); mask[a, b] = out[b] >= in[a], strict > for the outputs")
def made_degrees_and_masks(lab, rng):
    made = lab.made
    return {"degrees": [np.asarray(d) for d in made.made_degrees(4, (6, 5))],
            "degrees_reversed": [np.asarray(d) for d in made.made_degrees(3, (4,), "right-to-left")],
            "mask": made.mask_from_degrees([1, 2, 3], [1, 2, 2, 3]),
            "mask_strict": made.mask_from_degrees([1, 2, 3], [1, 2, 2, 3], strict=True),
            "masks": [np.asarray(m) for m in made.made_masks(4, (6, 5))],
            "masks_reversed": [np.asarray(m) for m in
                               made.made_masks(3, (4,), "right-to-left", outputs_per_dim=2)]}


def judge_list(student, reference, what):
    expect_true(len(student) == len(reference),
                f"{what} returned {len(student)} arrays, expected {len(reference)}")
    for index, (got, expected) in enumerate(zip(student, reference)):
        expect_equal(got, expected, f"array {index} of {what}")


@made_degrees_and_masks.verdict
def _(student, reference):
    judge_list(student["degrees"], reference["degrees"], "made_degrees(4, (6, 5))")
    judge_list(student["degrees_reversed"], reference["degrees_reversed"],
               "made_degrees(3, (4,), 'right-to-left')")
    expect_equal(student["mask"], reference["mask"],
                 "mask_from_degrees([1, 2, 3], [1, 2, 2, 3])")
    expect_equal(student["mask_strict"], reference["mask_strict"],
                 "mask_from_degrees([1, 2, 3], [1, 2, 2, 3], strict=True)")
    judge_list(student["masks"], reference["masks"], "made_masks(4, (6, 5))")
    judge_list(student["masks_reversed"], reference["masks_reversed"],
               "made_masks(3, (4,), 'right-to-left')")


def made_dependencies(made, rng, n=6):
    """Which inputs each MADE output depends on: max |d output / d input| over a batch.
    Returns (2D, D): rows 0..D-1 the shifts, D..2D-1 the raw log-scales.

    Positive weights and inputs keep every ReLU active and every path's contribution
    positive, so an allowed connection can neither die nor cancel out: a zero is a missing
    connection."""
    import tensorflow as tf
    for weight in made.trainable_weights:
        weight.assign(np.abs(rng.normal(scale=0.5, size=tuple(weight.shape))).astype("float32"))
    x = tf.constant(rng.uniform(0.1, 1.0, size=(n, made.dim)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        shift, raw_log_scale = made(x)
        outputs = tf.concat([shift, raw_log_scale], axis=-1)
    jacobian = tape.batch_jacobian(outputs, x, experimental_use_pfor=False)
    return np.abs(jacobian.numpy()).max(axis=0)


def judge_autoregressive(dependencies, dim, order, what):
    """Output i (shift or log-scale of dimension i) depends on every earlier input, and on
    no other (itself included)."""
    position = np.arange(dim) if order == "left-to-right" else np.arange(dim)[::-1]
    allowed = position[None, :] < position[:, None]  # (output dim, input dim)
    dependencies = expect_shape(dependencies, (2 * dim, dim),
                                f"the Jacobian of {what}'s (shift, raw_log_scale)")
    for half, name in ((dependencies[:dim], "shift"), (dependencies[dim:], "raw log-scale")):
        leaks = np.argwhere((half > 1e-7) & ~allowed)
        if len(leaks):
            i, j = (int(v) for v in leaks[0])
            raise CheckFailed(f"{what} ({order}) is not autoregressive: the {name} of dimension "
                              f"{i} depends on input {j}" + (" (itself)" if i == j else "") +
                              f" ({len(leaks)} forbidden dependencies in all). Are the masks "
                              "applied, and is the output mask strict?")
        missing = np.argwhere((half <= 1e-7) & allowed)
        if len(missing):
            i, j = (int(v) for v in missing[0])
            raise CheckFailed(f"the {name} of dimension {i} of {what} ({order}) ignores input "
                              f"{j}, which comes before it: each output must see every earlier "
                              "input (are the hidden degrees 1..D-1 all present?)")


@check(points=2, uses="made", reference=False, hint="MaskedDense.call multiplies the kernel by "
       "the mask; MADE.call returns (shift, raw_log_scale), output i seeing only inputs before i")
def made_is_autoregressive(lab, rng):
    out = {}
    for order in ("left-to-right", "right-to-left"):
        made = lab.made.MADE(4, hidden_units=(16, 16), order=order)
        made.build((None, 4))
        out[order] = made_dependencies(made, rng)
    return out


@made_is_autoregressive.verdict
def _(student, _reference):
    for order in ("left-to-right", "right-to-left"):
        judge_autoregressive(student[order], 4, order, "MADE(4, (16, 16))")


@check(points=1, uses="made", hint="x @ (kernel * mask) + bias, then the activation; MADE "
       "returns the first D outputs as the shift and the next D as the raw log-scale")
def made_outputs(lab, rng):
    made = lab.made.MADE(3, hidden_units=(8, 6), order="right-to-left")
    made.build((None, 3))
    randomize(made, rng, 0.5)
    x = rng.normal(size=(5, 3)).astype("float32")
    shift, raw_log_scale = made(x)
    return {"shift": shift, "raw_log_scale": raw_log_scale, "params": made.count_params()}


@made_outputs.verdict
def _(student, reference):
    expect_equal(student["params"], reference["params"],
                 "number of weights of MADE(3, (8, 6)) (masks are not weights)")
    expect_close(student["shift"], reference["shift"], "the shift of MADE(3, (8, 6))(x)")
    expect_close(student["raw_log_scale"], reference["raw_log_scale"],
                 "the raw log-scale of MADE(3, (8, 6))(x)")


# ---------------------------------------------------------------------------------------------
# 3. RealNVP's layers
# ---------------------------------------------------------------------------------------------

def coupling_probe(lab, rng, mask, n, scale=0.4, **checks):
    d = len(mask)
    coupling = lab.flows.AffineCoupling(mask, hidden_units=(8, 8), log_scale_bound=1.5)
    coupling.build((None, d))
    randomize(coupling, rng, scale)
    x = rng.normal(size=(n, d)).astype("float32")
    z = rng.normal(size=(n, d)).astype("float32")
    out = flow_invariants(coupling, x, z, "AffineCoupling", **checks)
    out["mask"] = np.asarray(mask, dtype="float32")
    return out


@check(points=2, uses="flows", reference=False, hint="forward: z = m*x + (1-m)*(x*exp(s) + t); "
       "inverse: the kept half of z gives the same s, t, so x = m*z + (1-m)*(z - t)*exp(-s)")
def coupling_inverts(lab, rng):
    return coupling_probe(lab, rng, [0, 1, 0, 1], n=9, log_dets=False)


@coupling_inverts.verdict
def _(student, _reference):
    judge_round_trips(student, "AffineCoupling(mask=[0, 1, 0, 1])")
    kept = student["mask"] == 1
    expect_close(student["forward"][:, kept], student["x"][:, kept],
                 "the dimensions with mask 1 of AffineCoupling.forward(x) (must pass unchanged)")
    expect_true(np.abs(student["forward"][:, ~kept] - student["x"][:, ~kept]).max() > 1e-3,
                "AffineCoupling.forward(x) leaves the dimensions with mask 0 unchanged too: "
                "they must be scaled and shifted")


@check(points=2, uses="flows", reference=False, hint="forward log_det = sum over the mask-0 "
       "dimensions of log_scale (the kept ones contribute log 1 = 0); inverse: minus that")
def coupling_log_det(lab, rng):
    return coupling_probe(lab, rng, [1, 0, 0], n=6, scale=0.6, round_trips=False)


@coupling_log_det.verdict
def _(student, _reference):
    judge_log_dets(student, "AffineCoupling(mask=[1, 0, 0])")


@check(points=1, uses="flows", hint="the conditioner reads mask * x; log_scale = "
       "bounded_log_scale(scale_head(h), bound); z = m*x + (1-m)*(x*exp(log_scale) + shift)")
def coupling_matches_reference(lab, rng):
    coupling = lab.flows.AffineCoupling([1, 0, 1, 0, 0], hidden_units=(8,), log_scale_bound=1.0)
    coupling.build((None, 5))
    randomize(coupling, rng, 0.6)
    x = rng.normal(size=(7, 5)).astype("float32")
    shift, log_scale = coupling.conditioner(x)
    z, log_det = pair(coupling.forward(x), "AffineCoupling.forward(x)")
    return {"shift": shift, "log_scale": log_scale, "z": z, "log_det": log_det}


@coupling_matches_reference.verdict
def _(student, reference):
    what = "AffineCoupling([1, 0, 1, 0, 0], (8,), log_scale_bound=1.0)"
    expect_close(student["shift"], reference["shift"], f"the shift of {what}.conditioner(x)")
    expect_close(student["log_scale"], reference["log_scale"],
                 f"the log_scale of {what}.conditioner(x)")
    expect_close(student["z"], reference["z"], f"the z of {what}.forward(x)")
    expect_close(student["log_det"], reference["log_det"], f"the log_det of {what}.forward(x)")


@check(points=1, uses="flows", hint="row 0 is i mod 2 (0, 1, 0, 1, ...), every next row the "
       "complement of the one before: each coupling transforms what the previous one kept")
def alternating_masks(lab, rng):
    return {"two": lab.flows.alternating_masks(2, 4), "five": lab.flows.alternating_masks(5, 3)}


@alternating_masks.verdict
def _(student, reference):
    for key, (dim, count) in (("two", (2, 4)), ("five", (5, 3))):
        what = f"alternating_masks({dim}, {count})"
        masks = expect_shape(student[key], (count, dim), what)
        for k in range(1, count):
            expect_true(np.array_equal(masks[k], 1 - masks[k - 1]),
                        f"row {k} of {what} is {masks[k].tolist()}, the row before "
                        f"{masks[k - 1].tolist()}: each coupling must transform the dimensions "
                        "the previous one kept (with one fixed mask, some dimensions are never "
                        "transformed at all)")
        expect_equal(masks, reference[key], what)


@check(points=1, uses="flows", hint="initialize(x): loc = mean of x over the batch, log_scale "
       "= log(std of x + ACTNORM_EPSILON), per dimension")
def actnorm_initialize(lab, rng):
    x = (rng.normal(size=(64, 3)) * [2.0, 0.5, 1.0] + [3.0, -1.0, 0.5]).astype("float32")
    actnorm = lab.flows.ActNorm()
    actnorm.build((None, 3))
    actnorm.initialize(x)
    z, _ = pair(actnorm.forward(x), "ActNorm.forward(x)")
    return {"loc": actnorm.loc, "log_scale": actnorm.log_scale, "z_mean": z.mean(axis=0),
            "z_std": z.std(axis=0)}


@actnorm_initialize.verdict
def _(student, reference):
    expect_close(student["z_mean"], np.zeros(3, np.float32), "the per-dimension mean of "
                 "ActNorm.forward(x) right after initialize(x) (must be 0)", atol=1e-4)
    expect_close(student["z_std"], np.ones(3, np.float32), "the per-dimension standard "
                 "deviation of ActNorm.forward(x) right after initialize(x) (must be 1)", atol=1e-4)
    expect_close(student["loc"], reference["loc"], "ActNorm.loc after initialize(x)")
    expect_close(student["log_scale"], reference["log_scale"],
                 "ActNorm.log_scale after initialize(x)")


@check(points=1, uses="flows", hint="z = (x - loc) * exp(-log_scale), log_det = -sum(log_scale) "
       "for every row; the inverse undoes it with log_det = +sum(log_scale)")
def actnorm_forward_inverse(lab, rng):
    actnorm = lab.flows.ActNorm()
    actnorm.build((None, 3))
    actnorm.loc.assign(rng.normal(size=3).astype("float32"))
    actnorm.log_scale.assign(rng.normal(size=3).astype("float32"))
    x, z = (rng.normal(size=(6, 3)).astype("float32") for _ in range(2))
    return flow_invariants(actnorm, x, z, "ActNorm")


@actnorm_forward_inverse.verdict
def _(student, reference):
    judge_round_trips(student, "ActNorm")
    judge_log_dets(student, "ActNorm")
    expect_close(student["forward"], reference["forward"], "the z of ActNorm.forward(x)")


# ---------------------------------------------------------------------------------------------
# 4. MAF's layer
# ---------------------------------------------------------------------------------------------

def maf_probe(lab, rng, dim, n, order, **checks):
    layer = lab.flows.MaskedAutoregressiveFlow(dim, hidden_units=(12, 12), order=order)
    layer.build((None, dim))
    randomize(layer, rng, 0.4)
    x, z = (rng.normal(size=(n, dim)).astype("float32") for _ in range(2))
    return flow_invariants(layer, x, z, f"MaskedAutoregressiveFlow({dim}, order={order!r})",
                           **checks)


@check(points=2, uses=("made", "flows"), reference=False,
       hint="forward: one MADE pass, z = (x - shift) * exp(-log_scale); inverse: start from "
            "x = 0 and repeat D times x = z * exp(log_scale(x)) + shift(x)")
def maf_inverts(lab, rng):
    return {order: maf_probe(lab, rng, 3, 8, order, log_dets=False)
            for order in ("left-to-right", "right-to-left")}


@maf_inverts.verdict
def _(student, _reference):
    for order in ("left-to-right", "right-to-left"):
        judge_round_trips(student[order], f"MaskedAutoregressiveFlow(3, order={order!r})")


@check(points=1, uses=("made", "flows"), reference=False,
       hint="forward log_det = -sum(log_scale); inverse: +sum(log_scale) of its last pass")
def maf_log_det(lab, rng):
    return maf_probe(lab, rng, 4, 6, "left-to-right", round_trips=False)


@maf_log_det.verdict
def _(student, _reference):
    judge_log_dets(student, "MaskedAutoregressiveFlow(4)")


# ---------------------------------------------------------------------------------------------
# 5-6. The model, TFP
# ---------------------------------------------------------------------------------------------

def small_models(lab, rng):
    """A RealNVP with one coupling (actnorm, coupling) and a 3-D MAF of two layers, with
    random weights."""
    models = {"RealNVP": lab.flows.RealNVP(2, num_couplings=1, hidden_units=(8,)),
              "MAF": lab.flows.MAF(3, num_layers=2, hidden_units=(8,))}
    for model in models.values():
        randomize(model, rng, 0.4)
    return models


@check(points=2, uses=("made", "flows"), hint="forward chains the layers' forward in order and "
       "adds up their log_dets; log_prob = change_of_variables_log_prob(x, self.forward, "
       "standard_normal(D))")
def flow_log_prob(lab, rng):
    out = {}
    for name, model in small_models(lab, rng).items():
        x = rng.normal(size=(9, model.dim)).astype("float32")
        z, log_det = pair(model.forward(x), f"{name}.forward(x)")
        out[name] = {"z": z, "log_det": log_det, "log_prob": model.log_prob(x), "call": model(x),
                     "autodiff": autodiff_log_det(lambda t: model.forward(t)[0], x)}
    return out


@flow_log_prob.verdict
def _(student, reference):
    for name, what in (("RealNVP", "RealNVP(2, num_couplings=1)"), ("MAF", "MAF(3, num_layers=2)")):
        got, expected = student[name], reference[name]
        expect_close(got["log_det"].astype(np.float32), got["autodiff"].astype(np.float32),
                     f"the log_det of {what}.forward(x)", against="the autodiff Jacobian's",
                     **LOG_DET)
        expect_close(got["z"], expected["z"], f"the z of {what}.forward(x)")
        expect_close(got["log_prob"], expected["log_prob"], f"{what}.log_prob(x)")
        expect_close(got["call"], got["log_prob"], f"{what}(x)", against="its log_prob(x)")


@check(points=1, uses=("made", "flows"), hint="inverse runs the layers' inverse in REVERSED "
       "order; sample draws z = keras.random.normal((n, D), seed=seed) and returns inverse(z)'s x")
def flow_inverse_and_sample(lab, rng):
    out = {}
    for name, model in small_models(lab, rng).items():
        z = rng.normal(size=(7, model.dim)).astype("float32")
        x, log_det = pair(model.inverse(z), f"{name}.inverse(z)")
        out[name] = {"z": z, "x": x, "log_det": log_det,
                     "round_trip": pair(model.forward(x), f"{name}.forward(x)")[0],
                     "autodiff": autodiff_log_det(lambda t: model.inverse(t)[0], z),
                     "samples": model.sample(6, seed=3), "again": model.sample(6, seed=3),
                     "other_seed": model.sample(6, seed=4)}
    return out


@flow_inverse_and_sample.verdict
def _(student, reference):
    for name, what in (("RealNVP", "RealNVP(2, num_couplings=1)"), ("MAF", "MAF(3, num_layers=2)")):
        got = student[name]
        expect_close(got["round_trip"], got["z"], f"{what}.forward(inverse(z)) (must give z back)",
                     **ROUND_TRIP)
        expect_close(got["log_det"].astype(np.float32), got["autodiff"].astype(np.float32),
                     f"the log_det of {what}.inverse(z), against the autodiff Jacobian", **LOG_DET)
        samples = expect_shape(got["samples"], reference[name]["samples"].shape,
                               f"{what}.sample(6, seed=3)")
        expect_close(got["again"], samples, f"{what}.sample(6, seed=3) called twice (same seed)")
        expect_true(not np.allclose(got["other_seed"], samples),
                    f"{what}.sample gives the same points for seeds 3 and 4: pass the seed on")
        expect_close(samples, reference[name]["samples"], f"{what}.sample(6, seed=3)")


@check(points=2, uses=("made", "flows"), reference=False,
       hint="FlowBijector's methods return the flow's (values or log_det); distribution() is "
            "TransformedDistribution(standard_normal(D), tfb.Invert(tfb.Chain([... reversed ...]))). "
            "TFP evaluates log_prob through the layers' INVERSE log_dets, the model through the "
            "forward ones: they must agree")
def tfp_distribution(lab, rng):
    """TFP's log_prob against the model's. TFP caches z = forward(x) and takes the log-det
    as -inverse_log_det(z), so this also catches forward and inverse log-dets that disagree."""
    out = {}
    for name, model in small_models(lab, rng).items():
        x = rng.normal(size=(8, model.dim)).astype("float32")
        distribution = model.distribution()
        seed = tuple(int(s) for s in rng.integers(0, 2**30, size=2))  # a stateless TFP seed
        base_draw = lab.flows.standard_normal(model.dim).sample(5, seed=seed)
        out[name] = {"log_prob": model.log_prob(x), "tfp_log_prob": distribution.log_prob(x),
                     "tfp_samples": distribution.sample(5, seed=seed),
                     "pushed": pair(model.inverse(base_draw), f"{name}.inverse(z)")[0]}
    return out


@tfp_distribution.verdict
def _(student, _reference):
    for name, what in (("RealNVP", "RealNVP(2, num_couplings=1)"), ("MAF", "MAF(3, num_layers=2)")):
        got = student[name]
        expect_close(got["tfp_log_prob"], got["log_prob"], f"{what}.distribution().log_prob(x)",
                     against=f"{what}.log_prob(x)")
        expect_close(got["tfp_samples"], got["pushed"], f"{what}.distribution().sample(5, seed)",
                     against=f"{what}.inverse(z) for the base draw z with that seed (the "
                     "distribution must map z to x: tfb.Invert)")


# ---------------------------------------------------------------------------------------------
# Training, evaluate, saving
# ---------------------------------------------------------------------------------------------

def toy_data(name, budget, seed):
    from dlkit.data import sample_toy2d
    return (sample_toy2d(name, budget["train_size"], seed=seed),
            sample_toy2d(name, budget["test_size"], seed=seed + 1))


def heldout_nll(model, x):
    """The mean NLL of x in nats, each point's capped at NLL_CAP, from the model's z and the
    AUTODIFF log-determinant: it does not trust the model's own log_det or log_prob."""
    import tensorflow as tf
    x = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        z = model.forward(x)[0]
        columns = [z[:, i] for i in range(x.shape[1])]
    # Row n of z depends on row n of x only: the gradient of column i of z is row i of each
    # example's Jacobian (D backward passes: faster than batch_jacobian for 1024 points).
    jacobian = tf.stack([tape.gradient(column, x) for column in columns], axis=1)
    log_det = tf.linalg.slogdet(tf.cast(jacobian, tf.float64))[1].numpy()
    z = np.asarray(z, dtype=np.float64)
    log_pz = -0.5 * np.sum(z ** 2, axis=1) - 0.5 * z.shape[1] * np.log(2 * np.pi)
    return float(np.mean(np.minimum(-(log_pz + log_det), NLL_CAP)))


def build_model(lab, budget, dim=2):
    if budget["model"] == "realnvp":
        return lab.flows.RealNVP(dim, num_couplings=budget["layers"],
                                 hidden_units=budget["hidden_units"])
    return lab.flows.MAF(dim, num_layers=budget["layers"], hidden_units=budget["hidden_units"])


def train_probe(lab, rng, budget, data="moons"):
    """Train a fresh flow with fit() for `budget`: budget["steps"] Adam steps on batches
    drawn from the training set, the learning rate decaying to 0 on a cosine. Returns the
    held-out NLL before and after."""
    import keras
    x_train, x_test = toy_data(data, budget, seed=int(rng.integers(0, 1000)))
    model = build_model(lab, budget)
    model.initialize(x_train)
    schedule = keras.optimizers.schedules.CosineDecay(budget["learning_rate"], budget["steps"])
    model.compile(optimizer=keras.optimizers.Adam(schedule), steps_per_execution=25)
    # Create the optimizer's slots before fit: created inside the first step, they make
    # TensorFlow trace train_step twice (seconds on a CPU).
    model.optimizer.build(model.trainable_variables)
    before = heldout_nll(model, x_test)
    # One epoch over copies of the training set: each execution runs 25 steps, and Keras's
    # per-epoch work (a new iterator, the callbacks) happens once.
    size = budget["steps"] * budget["batch_size"]
    x_steps = np.tile(x_train, (-(-size // len(x_train)), 1))[:size]
    history = model.fit(x_steps, batch_size=budget["batch_size"], epochs=1, shuffle=True,
                        verbose=0).history
    return {"before": before, "after": heldout_nll(model, x_test),
            "logged": json.dumps(sorted(history)), "last_loss": float(history["loss"][-1])}


def judge_training(student, reference, margin=MARGIN_NATS):
    logged = json.loads(student["logged"])
    expect_true(logged == ["loss"], f"fit() logged {logged}; train_step must return exactly "
                "{'loss': ...} (the tracker's result)")
    after = student["after"]
    expect_true(np.isfinite(after), f"after training, the held-out NLL is {after} (NaN or inf): "
                "training diverged (unbounded log-scales? a log_det sign?)")
    fallen = student["before"] - after
    expect_true(fallen >= 0.5 * (reference["before"] - reference["after"]),
                f"training did not lower the held-out NLL enough: from {student['before']:.3f} "
                f"to {after:.3f} nats, where the reference goes from {reference['before']:.3f} "
                f"to {reference['after']:.3f}. Is the gradient of -mean(log_prob(x)) applied to "
                "all trainable variables, with the right log-determinants?")
    expect_at_most(after, reference["after"] + margin,
                   f"the held-out NLL after training (the reference reaches "
                   f"{reference['after']:.3f})", unit=" nats")


@check(points=4, timeout=40, uses=("made", "flows"),
       hint=f"train_step: loss = -mean(log_prob(x)) inside a GradientTape, optimizer.scale_loss, "
            f"tape.gradient w.r.t. self.trainable_variables, optimizer.apply; must come within "
            f"{MARGIN_NATS} nats of the reference's held-out NLL")
def train_step_lowers_nll(lab, rng):
    return train_probe(lab, rng, TRAIN)


@train_step_lowers_nll.verdict
def _(student, reference):
    judge_training(student, reference)


@check(points=1, uses=("made", "flows"), reference=False,
       hint="test_step: loss = -mean(log_prob(x)), no gradient step; update and return the tracker")
def test_step_evaluates(lab, rng):
    import keras
    model = lab.flows.MAF(2, num_layers=2, hidden_units=(8,))
    randomize(model, rng, 0.3)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x = rng.normal(size=(40, 2)).astype("float32")
    weights = [np.array(w) for w in model.get_weights()]
    logged = model.evaluate(x, batch_size=40, verbose=0, return_dict=True)
    changed = max(float(np.max(np.abs(a - np.asarray(b)))) for a, b in zip(weights, model.get_weights()))
    return {"names": json.dumps(sorted(logged)), "loss": float(logged.get("loss", np.nan)),
            "changed": changed, "own_nll": -float(np.mean(model.log_prob(x)))}


@test_step_evaluates.verdict
def _(student, _reference):
    names = json.loads(student["names"])
    expect_true(names == ["loss"], f"evaluate() returned {names}; test_step must return exactly "
                "{'loss': ...}")
    expect_true(student["changed"] == 0.0, "evaluate() changed the weights: test_step must not "
                "apply gradients")
    expect_close(np.float32(student["loss"]), np.float32(student["own_nll"]),
                 "the loss evaluate() reports, against -mean(model.log_prob(x))", rtol=1e-4)


@check(points=2, uses=("made", "flows"), reference=False,
       hint="get_config returns every constructor argument, so that keras.saving.load_model "
            "rebuilds the same RealNVP and restores its weights (ActNorm's too)")
def save_load_round_trip(lab, rng):
    import keras
    x = rng.normal(size=(32, 2)).astype("float32") * [2.0, 1.0] + [1.0, 0.0]
    out = {}
    for name, model in (("RealNVP", lab.flows.RealNVP(2, num_couplings=3, hidden_units=(8, 8),
                                                      log_scale_bound=1.5, actnorm=True)),
                        ("MAF", lab.flows.MAF(2, num_layers=2, hidden_units=(8,)))):
        model.initialize(x)
        randomize(model, rng, 0.3)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        # Optimizer state to save, without the cost of tracing a training step (graded elsewhere).
        model.optimizer.build(model.trainable_variables)
        model.optimizer.iterations.assign(int(rng.integers(2, 50)))
        path = str(lab.tmpdir / f"{name}.keras")
        model.save(path)
        try:
            loaded = keras.saving.load_model(path)
        except Exception as error:  # the message goes to the student
            out[name] = {"error": f"{type(error).__name__}: {error}"[:600]}
            continue
        out[name] = {
            "error": "", "class": type(loaded).__name__,
            "config": json.dumps(model.get_config(), sort_keys=True, default=str),
            "loaded_config": json.dumps(loaded.get_config(), sort_keys=True, default=str),
            "log_prob": model.log_prob(x), "loaded_log_prob": loaded.log_prob(x),
            "samples": model.sample(4, seed=1), "loaded_samples": loaded.sample(4, seed=1),
            "steps": int(model.optimizer.iterations.numpy()),
            "loaded_steps": int(loaded.optimizer.iterations.numpy())}
    return out


@save_load_round_trip.verdict
def _(student, _reference):
    for name, what in (("RealNVP", "RealNVP(2, 3, (8, 8), log_scale_bound=1.5)"),
                       ("MAF", "MAF(2, 2, (8,))")):
        got = student[name]
        if got["error"]:
            raise CheckFailed(f"keras.saving.load_model could not rebuild the saved {what}: "
                              + got["error"])
        expect_true(got["class"] == name, f"load_model returned a {got['class']}, not a {name}")
        if got["loaded_config"] != got["config"]:
            before, after = json.loads(got["config"]), json.loads(got["loaded_config"])
            differ = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            raise CheckFailed(f"the reloaded {what}'s config differs in {differ}: get_config "
                              "must return every constructor argument")
        expect_close(got["loaded_log_prob"], got["log_prob"], f"{what}.log_prob(x) after save and load",
                     against="the value before saving")
        expect_close(got["loaded_samples"], got["samples"],
                     f"{what}.sample(4, seed=1) after save and load", against="the samples before saving")
        expect_true(got["loaded_steps"] == got["steps"],
                    f"the reloaded {what}'s optimizer has done {got['loaded_steps']} steps, the "
                    f"saved one {got['steps']}: its state was not restored")
