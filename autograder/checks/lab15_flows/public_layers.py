"""Public checks of lab15_flows, part 2: the flow layers (AffineCoupling, alternating_masks,
ActNorm, MaskedAutoregressiveFlow). Invariants need no reference: a layer's inverse undoes
its forward, and its log-determinant matches the one autodiff computes from the full
Jacobian; values are compared with the reference on fixed random weights."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab15_flows.probes import (
    coupling_probe,
    flow_invariants,
    judge_log_dets,
    judge_round_trips,
    maf_probe,
    pair,
)
from autograder.verdicts import expect_close, expect_equal, expect_shape, expect_true

# ---- RealNVP's layers -----------------------------------------------------------------------

@check(points=2, uses="flows", reference=False,
       task="`AffineCoupling.conditioner`, `forward`, `inverse`",
       hint="forward: z = m*x + (1-m)*(x*exp(s) + t); "
       "inverse: the kept half of z gives the same s, t, so x = m*z + (1-m)*(z - t)*exp(-s)")
def coupling_inverts(lab, rng):
    """inverse(forward(x)) = x and forward(inverse(z)) = z; the mask-1 dimensions pass
    unchanged, the others do not."""
    out, coupling = coupling_probe(lab, rng, [0, 1, 0, 1], n=9, log_dets=False, with_layer=True)
    # The conditioner must read the mask-1 dimensions only: change the others.
    x = out["x"]
    other = x + (1 - out["mask"]) * rng.normal(size=x.shape).astype("float32")
    out["conditioner"] = [np.asarray(v) for v in coupling.conditioner(x)]
    out["conditioner_other"] = [np.asarray(v) for v in coupling.conditioner(other)]
    return out


@coupling_inverts.verdict
def _(student, _reference):
    for name, got, other in zip(("shift", "log_scale"), student["conditioner"],
                                student["conditioner_other"]):
        expect_close(other, got, f"the {name} of AffineCoupling(mask=[0, 1, 0, 1]).conditioner "
                     "when only the mask-0 dimensions of x change (the conditioner must read "
                     "mask * x, or the inverse cannot recompute it)", against="its value before")
    judge_round_trips(student, "AffineCoupling(mask=[0, 1, 0, 1])")
    kept = student["mask"] == 1
    expect_close(student["forward"][:, kept], student["x"][:, kept],
                 "the dimensions with mask 1 of AffineCoupling.forward(x) (must pass unchanged)")
    expect_true(np.abs(student["forward"][:, ~kept] - student["x"][:, ~kept]).max() > 1e-3,
                "AffineCoupling.forward(x) leaves the dimensions with mask 0 unchanged too: "
                "they must be scaled and shifted")


@check(points=2, uses="flows", reference=False, task="`AffineCoupling`",
       hint="forward log_det = sum over the mask-0 "
       "dimensions of log_scale (the kept ones contribute log 1 = 0); inverse: minus that")
def coupling_log_det(lab, rng):
    """Both log_dets against the autodiff Jacobian (`batch_jacobian` + `slogdet`)."""
    return coupling_probe(lab, rng, [1, 0, 0], n=6, scale=0.6, round_trips=False)


@coupling_log_det.verdict
def _(student, _reference):
    judge_log_dets(student, "AffineCoupling(mask=[1, 0, 0])")


@check(points=1, uses="flows", task="`AffineCoupling`",
       hint="the conditioner reads mask * x; log_scale = "
       "bounded_log_scale(scale_head(h), bound); z = m*x + (1-m)*(x*exp(log_scale) + shift)")
def coupling_matches_reference(lab, rng):
    """Shift, log-scale, z and log_det on fixed random weights."""
    coupling = lab.flows.AffineCoupling([1, 0, 1, 0, 0], hidden_units=(8,), log_scale_bound=1.0)
    coupling.build((None, 5))
    assign_random_weights(coupling, rng, 0.6)
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


@check(points=1, uses="flows", task="`alternating_masks`",
       hint="row 0 is i mod 2 (0, 1, 0, 1, ...), every next row the "
       "complement of the one before: each coupling transforms what the previous one kept")
def alternating_masks(lab, rng):
    """The masks of a stack of couplings, for an even and an odd dimension."""
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


@check(points=1, uses="flows", task="`ActNorm.initialize`",
       hint="initialize(x): loc = mean of x over the batch, log_scale "
       "= log(std of x + ACTNORM_EPSILON), per dimension")
def actnorm_initialize(lab, rng):
    """The initialised layer maps the batch to mean 0, std 1 per dimension."""
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


@check(points=1, uses="flows", task="`ActNorm.forward`, `inverse`",
       hint="z = (x - loc) * exp(-log_scale), log_det = -sum(log_scale) "
       "for every row; the inverse undoes it with log_det = +sum(log_scale)")
def actnorm_forward_inverse(lab, rng):
    """Round trips, both log_dets against autodiff, values."""
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


# ---- MAF's layer ----------------------------------------------------------------------------

@check(points=2, uses=("made", "flows"), reference=False,
       task="`MaskedAutoregressiveFlow.forward`, `inverse`",
       hint="forward: one MADE pass, z = (x - shift) * exp(-log_scale); inverse: start from "
            "x = 0 and repeat D times x = z * exp(log_scale(x)) + shift(x)")
def maf_inverts(lab, rng):
    """Round trips in both orders."""
    return {order: maf_probe(lab, rng, 3, 8, order, log_dets=False)
            for order in ("left-to-right", "right-to-left")}


@maf_inverts.verdict
def _(student, _reference):
    for order in ("left-to-right", "right-to-left"):
        judge_round_trips(student[order], f"MaskedAutoregressiveFlow(3, order={order!r})")


@check(points=1, uses=("made", "flows"), reference=False, task="`MaskedAutoregressiveFlow`",
       hint="forward log_det = -sum(log_scale); inverse: +sum(log_scale) of its last pass")
def maf_log_det(lab, rng):
    """Both log_dets against autodiff."""
    return maf_probe(lab, rng, 4, 6, "left-to-right", round_trips=False)


@maf_log_det.verdict
def _(student, _reference):
    judge_log_dets(student, "MaskedAutoregressiveFlow(4)")
