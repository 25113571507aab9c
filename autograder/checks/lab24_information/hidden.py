"""Hidden checks of lab24_information: the discrete functions and bounds on fresh shapes and
bases, and a training check at another dimension and correlation. References from the
solution, run live."""
import numpy as np

from autograder.api import check
from autograder.checks.lab24_information.probes import (
    EXACT,
    FLOAT32,
    count_table,
    distributions,
    judge_training,
    train_probe,
)
from autograder.verdicts import expect_close

HIDDEN_TRAIN = {"dim": 3, "rho": 0.6, "batch_size": 64, "steps": 100, "learning_rate": 3e-3,
                "seed": 7}


@check(points=1, uses="information", hint="entropy, cross-entropy and KL over the last axis "
       "of any batch shape, in any base")
def discrete_other_shapes(lab, rng):
    k = int(rng.integers(3, 9))
    p = distributions(rng, 6, k, zeros=1).reshape(2, 3, k)
    q = distributions(rng, 6, k).reshape(2, 3, k)
    info = lab.information
    return {"h": info.entropy(p, base=3.0), "ce": info.cross_entropy(p, q, base=10.0),
            "kl": info.kl_divergence(p, q, base=3.0)}


@discrete_other_shapes.verdict
def _(student, reference):
    for key, what in (("h", "entropy(p, base=3) for p (2, 3, K)"),
                      ("ce", "cross_entropy(p, q, base=10)"), ("kl", "kl_divergence(p, q, 3)")):
        expect_close(student[key], reference[key], what, **EXACT)


@check(points=1, uses="information", hint="mutual information of any table shape; plug-in "
       "estimates for any number of values")
def estimates_other_sizes(lab, rng):
    kx, ky = (int(v) for v in rng.integers(2, 7, size=2))
    table = count_table(rng, kx, ky, zeros=1)
    x = rng.integers(0, kx, size=80)
    y = (x + rng.integers(0, 2, size=80)) % ky
    info = lab.information
    return {"mi": info.mutual_information(table / table.sum(), base=np.e),
            "plug_in_mi": info.plug_in_mutual_information(x, y),
            "plug_in_h": info.plug_in_entropy(x, kx + 2, base=np.e),
            "miller_madow": info.miller_madow_entropy(x, kx + 2)}


@estimates_other_sizes.verdict
def _(student, reference):
    for key in ("mi", "plug_in_mi", "plug_in_h", "miller_madow"):
        expect_close(student[key], reference[key], key, **EXACT)


@check(points=1, uses="information", hint="the bounds for any N and M")
def bounds_other_sizes(lab, rng):
    n, m = int(rng.integers(9, 20)), int(rng.integers(3, 30))
    scores = rng.normal(scale=3.0, size=(n, n)).astype("float32")
    info = lab.information
    return {"infonce": float(info.infonce_bound(scores)),
            "dv": float(info.donsker_varadhan_bound(rng.normal(size=n).astype("float32"),
                                                    rng.normal(size=m).astype("float32")))}


@bounds_other_sizes.verdict
def _(student, reference):
    expect_close(student["infonce"], reference["infonce"], "infonce_bound", **FLOAT32)
    expect_close(student["dv"], reference["dv"], "donsker_varadhan_bound", **FLOAT32)


@check(points=2, timeout=60, uses="information",
       hint="train_step must maximise infonce_bound as well as the reference does")
def infonce_trains_other_gaussians(lab, rng):
    return train_probe(lab, HIDDEN_TRAIN)


@infonce_trains_other_gaussians.verdict
def _(student, reference):
    judge_training(student, reference, HIDDEN_TRAIN)
