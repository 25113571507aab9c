"""Hidden checks of lab15b_glow: fresh channel counts and sizes for the 1x1 convolution and
the coupling, a fresh D for the IAF, the density of the student's own Glow integrating to one
in a tiny case. References from the solution."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab15b_glow.probes import flow_invariants, judge_invariants
from autograder.checks.lab15b_glow.public_iaf import iaf_against_tfp, judge_iaf
from autograder.verdicts import expect_close


@check(points=1, uses="glow", hint="the 1x1 convolution and the coupling must work for any C "
       "(odd included) and any image size")
def glow_layers_other_shapes(lab, rng):
    c = int(rng.integers(3, 7))
    conv = lab.glow.InvertibleConv1x1(seed=int(rng.integers(100)))
    conv.build((None, 2, 2, c))
    coupling = lab.glow.AffineCoupling(hidden_channels=5)
    coupling.build((None, 2, 2, c))
    assign_random_weights(coupling, rng, 0.4)
    x, z = (rng.normal(size=(2, 2, 2, c)).astype("float32") for _ in range(2))
    return {"conv": flow_invariants(conv, x, z, "InvertibleConv1x1"),
            "coupling": flow_invariants(coupling, x, z, "AffineCoupling")}


@glow_layers_other_shapes.verdict
def _(student, reference):
    for name, layer in (("conv", "InvertibleConv1x1"), ("coupling", "AffineCoupling")):
        judge_invariants(student[name], layer)
        expect_close(student[name]["forward"], reference[name]["forward"],
                     f"the z of {layer}.forward(x)")


@check(points=1, uses="iaf", reference=False,
       hint="the IAF's density takes D passes whatever D is; its sampling one")
def iaf_other_dim(lab, rng):
    return iaf_against_tfp(lab, rng, int(rng.integers(5, 8)), "right-to-left")


@iaf_other_dim.verdict
def _(student, _reference):
    judge_iaf(student, "InverseAutoregressiveFlow(order='right-to-left')")


@check(points=1, uses="glow", reference=False,
       hint="a correct log-determinant makes exp(log_prob) integrate to 1")
def glow_density_integrates_to_one(lab, rng):
    """Glow((2, 2, 1), 1 level) on random weights: a 4-D density, its mass by Monte Carlo
    importance sampling from a wide Gaussian."""
    model = lab.glow.Glow((2, 2, 1), levels=1, steps=2, hidden_channels=4)
    assign_random_weights(model, rng, 0.2)
    wide = 3.0
    x = rng.normal(scale=wide, size=(200_000, 2, 2, 1)).astype("float32")
    log_q = (-0.5 * np.sum((x / wide) ** 2, axis=(1, 2, 3))
             - 4 * np.log(wide * np.sqrt(2 * np.pi)))
    log_p = np.asarray(model.log_prob(x), dtype=np.float64)
    return {"mass": float(np.mean(np.exp(log_p - log_q)))}


@glow_density_integrates_to_one.verdict
def _(student, _reference):
    expect_close(student["mass"], 1.0, "the mass of exp(Glow.log_prob) over R^4 (importance "
                 "sampling): a density integrates to 1", atol=0.05)
