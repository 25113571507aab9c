"""Public checks of lab15_flows, part 1: the change of variables, bounded log-scales and the
MADE (made.py). The maths is compared with the reference on fixed random weights; MADE's
autoregressive property is read off its Jacobian, with no reference."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab15_flows.probes import (
    judge_autoregressive,
    judge_list,
    made_dependencies,
)
from autograder.verdicts import expect_close, expect_equal, expect_finite, expect_shape, expect_true


@check(points=1, uses="flows", task="`change_of_variables_log_prob`",
       hint="log p(x) = base.log_prob(z) + log_det, with "
       "(z, log_det) = forward(x) and log_det = log|det dz/dx|: a PLUS")
def change_of_variables(lab, rng):
    """log p(x) through a linear flow z = A x + b, against the exact Gaussian density of x."""
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


@check(points=1, uses="flows", task="`bounded_log_scale`",
       hint="log_scale = bound * tanh(raw / bound): finite, inside "
       "(-bound, bound), and close to raw when raw is small")
def bounded_log_scale(lab, rng):
    """Values for two bounds; finite and inside the bound for raw = ±10⁴."""
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


# ---- MADE (made.py) -------------------------------------------------------------------------

@check(points=2, uses="made", task="`made_degrees`, `mask_from_degrees`, `made_masks` (made.py)",
       hint="input degrees 1..D (reversed for right-to-left), hidden "
       "degrees 1 + (k mod max(D-1, 1)); mask[a, b] = out[b] >= in[a], strict > for the outputs")
def made_degrees_and_masks(lab, rng):
    """Degrees and masks of small MADEs, both orders, two outputs per dimension."""
    made = lab.made
    return {"degrees": [np.asarray(d) for d in made.made_degrees(4, (6, 5))],
            "degrees_reversed": [np.asarray(d)
                                 for d in made.made_degrees(3, (4,), "right-to-left")],
            "mask": made.mask_from_degrees([1, 2, 3], [1, 2, 2, 3]),
            "mask_strict": made.mask_from_degrees([1, 2, 3], [1, 2, 2, 3], strict=True),
            "masks": [np.asarray(m) for m in made.made_masks(4, (6, 5))],
            "masks_reversed": [np.asarray(m) for m in
                               made.made_masks(3, (4,), "right-to-left", outputs_per_dim=2)]}


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


@check(points=2, uses="made", reference=False, task="`MaskedDense.call`, `MADE.call` (made.py)",
       hint="MaskedDense.call multiplies the kernel by "
       "the mask; MADE.call returns (shift, raw_log_scale), output i seeing only inputs before i")
def made_is_autoregressive(lab, rng):
    """The autoregressive property, read off the Jacobian of (shift, raw log-scale): each
    output depends on every earlier input and on no other, in both orders."""
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


@check(points=1, uses="made", task="`MaskedDense.call`, `MADE.call` (made.py)",
       hint="x @ (kernel * mask) + bias, then the activation; MADE "
       "returns the first D outputs as the shift and the next D as the raw log-scale")
def made_outputs(lab, rng):
    """Shift, raw log-scale and weight count of a MADE on fixed random weights."""
    made = lab.made.MADE(3, hidden_units=(8, 6), order="right-to-left")
    made.build((None, 3))
    assign_random_weights(made, rng, 0.5)
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
