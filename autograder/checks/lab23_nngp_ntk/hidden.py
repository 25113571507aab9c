"""Hidden checks of lab23_nngp_ntk: the kernels at fresh depths, variances and sizes; GP
regression on other sizes; and the student's whole pipeline: the empirical NTK of their own
wide ntk_mlp against their analytic NTK, their training against their own kernel flow, and
their NTK drifting less at a larger width. References from the solution."""
import numpy as np

from autograder.api import check
from autograder.checks.lab23_nngp_ntk.probes import judge_tight, loop_ntk, unit_inputs
from autograder.verdicts import expect_shape, expect_true


@check(points=1, uses="kernels", hint="the recursions must hold for any depth, any variances "
       "and inputs of any dimension and norm")
def kernels_other_depths(lab, rng):
    depth = int(rng.integers(3, 6))
    weight_var, bias_var = float(rng.uniform(1.0, 3.0)), float(rng.uniform(0.0, 0.5))
    dim = int(rng.integers(2, 7))
    x1 = rng.normal(size=(int(rng.integers(3, 7)), dim))
    x2 = rng.normal(size=(int(rng.integers(3, 7)), dim))
    nngp, ntk = lab.kernels.ntk_kernel(x1, x2, depth, weight_var, bias_var)
    return {"nngp": nngp, "ntk": ntk, "what": f"ntk_kernel(x1, x2, depth={depth}, "
            f"{weight_var:.3g}, {bias_var:.3g}) for inputs of dimension {dim}"}


@kernels_other_depths.verdict
def _(student, reference):
    for key in ("nngp", "ntk"):
        expect_shape(student[key], np.shape(reference[key]), f"{reference['what']} ({key})")
        judge_tight(student[key], reference[key], f"{reference['what']} ({key})")


@check(points=1, uses="kernels", hint="gp_posterior must work for any sizes and noise levels")
def gp_posterior_other_sizes(lab, rng):
    n, m = int(rng.integers(15, 30)), int(rng.integers(3, 10))
    x = unit_inputs(rng, n, 3)
    xs = unit_inputs(rng, m, 3)
    k = lab.kernels.nngp_kernel
    y = rng.normal(size=n)
    noise = float(rng.uniform(0.01, 0.5))
    mean, var = lab.kernels.gp_posterior(k(x, x, 2), k(xs, x, 2), np.diag(k(xs, xs, 2)), y,
                                         noise)
    return {"mean": mean, "var": var}


@gp_posterior_other_sizes.verdict
def _(student, reference):
    judge_tight(student["mean"], reference["mean"], "the GP posterior mean (NNGP kernel)")
    judge_tight(student["var"], reference["var"], "the GP posterior variance (NNGP kernel)")


@check(points=2, timeout=40, uses="kernels", reference=False,
       hint="the empirical NTK of a wide ntk_mlp, averaged over seeds, must approach the "
       "analytic NTK: the layer's scaling, the MLP and empirical_ntk must agree")
def wide_mlp_matches_analytic_ntk(lab, rng):
    x = unit_inputs(rng, 5, 3)
    seeds = rng.integers(0, 10_000, size=6)
    models = [lab.kernels.ntk_mlp(3, 512, 1, 2.0, 0.2, seed=int(s) * 10) for s in seeds]
    ntks = np.asarray([lab.kernels.empirical_ntk(model, x, x) for model in models])
    # To say which part disagrees: the first model's NTK from a per-example gradient loop, and
    # the analytic NTK of one hidden layer written out.
    return {"empirical": ntks, "analytic": lab.kernels.ntk_kernel(x, x, 1, 2.0, 0.2)[1],
            "loop": loop_ntk(models[0], x, x), "exact": _one_layer_ntk(x, 2.0, 0.2)}


def _one_layer_ntk(x, weight_var, bias_var):
    k = bias_var + weight_var * x @ x.T / x.shape[1]
    diag = np.sqrt(np.diag(k))
    cos = np.clip(k / np.outer(diag, diag), -1.0, 1.0)
    theta = np.arccos(cos)
    e_relu = np.outer(diag, diag) / (2 * np.pi) * (np.sin(theta) + (np.pi - theta) * cos)
    return bias_var + weight_var * e_relu + weight_var * (np.pi - theta) / (2 * np.pi) * k


@wide_mlp_matches_analytic_ntk.verdict
def _(student, _reference):
    mean = student["empirical"].mean(axis=0)
    error = student["empirical"].std(axis=0, ddof=1) / np.sqrt(len(student["empirical"]))
    gap = np.abs(mean - student["analytic"])
    if bool(np.all(gap <= 5 * error + 0.03 * np.abs(student["analytic"]).max())):
        return
    parts = []
    if not np.allclose(student["analytic"], student["exact"], rtol=1e-6, atol=1e-8):
        parts.append("ntk_kernel(x, x, depth=1) is not the analytic NTK (check Theta^1 = K^1, "
                     "bias_var included, and the recursion)")
    if not np.allclose(student["empirical"][0], student["loop"], rtol=1e-3, atol=1e-4):
        parts.append("empirical_ntk of your ntk_mlp differs from a loop of per-example "
                     "gradients over all trainable variables (biases included)")
    expect_true(False, f"the empirical NTK of ntk_mlp(3, 512, depth=1), averaged over 6 seeds, "
                f"is {gap.max():.3g} away from ntk_kernel: " + ("; ".join(parts) if parts else
                "ntk_kernel and empirical_ntk agree with the checks, so the network is off: "
                "check NTKDense's scaling (sqrt(weight_var / fan_in), sqrt(bias_var)) and "
                "ntk_mlp's layers"))


@check(points=2, timeout=40, uses="kernels",
       hint="a wide network trained by train_full_batch follows kernel_gradient_flow of its "
       "own initial empirical NTK")
def training_follows_the_flow(lab, rng):
    x = unit_inputs(rng, 8, 2)
    y = np.sin(2 * np.arctan2(x[:, 1], x[:, 0]))
    model = lab.kernels.ntk_mlp(2, 512, 1, 2.0, 0.1, seed=int(rng.integers(1000)))
    theta = lab.kernels.empirical_ntk(model, x, x)
    outputs = lab.kernels.train_full_batch(model, x, y, 0.01, 40)
    flow = lab.kernels.kernel_gradient_flow(theta, y, outputs[0], 0.01, np.arange(41))
    return {"outputs": outputs, "flow": flow}


@training_follows_the_flow.verdict
def _(student, reference):
    gap = np.abs(student["outputs"] - student["flow"]).max()
    # The reference's own gap (finite width, finite steps) is about 0.02 to 0.04; a mean loss
    # strays by about 0.9.
    bound = max(0.08, 2.0 * np.abs(reference["outputs"] - reference["flow"]).max())
    expect_true(gap < bound, f"train_full_batch on ntk_mlp(2, 512) strays {gap:.3g} from "
                f"kernel_gradient_flow of its initial empirical NTK (expected under {bound:.3g})")


@check(points=1, timeout=40, uses="kernels", reference=False,
       hint="the NTK of a wider network moves less in training")
def drift_shrinks_with_width(lab, rng):
    x = unit_inputs(rng, 6, 2)
    y = np.cos(np.arctan2(x[:, 1], x[:, 0]))
    seed = int(rng.integers(1000))
    return {str(w): float(lab.kernels.ntk_relative_change(
        lab.kernels.ntk_mlp(2, w, 1, 2.0, 0.1, seed=seed), x, y, 0.02, 20)) for w in (16, 1024)}


@drift_shrinks_with_width.verdict
def _(student, _reference):
    expect_true(student["1024"] < 0.5 * student["16"],
                f"ntk_relative_change is {student['1024']:.3g} at width 1024 and "
                f"{student['16']:.3g} at width 16: the wide network's NTK should move less")
