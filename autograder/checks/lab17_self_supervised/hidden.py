"""Hidden checks of lab17_self_supervised: the losses on fresh sizes, temperatures and
scales, and the EMA at another rate, against the solution run live."""
import numpy as np

from autograder.api import check
from autograder.checks.lab17_self_supervised.probes import cpc_pairs_probe, judge_cpc_pairs
from autograder.verdicts import expect_close

LOSS = {"rtol": 1e-5, "atol": 1e-5}


@check(points=1, uses="selfsup", hint="NT-Xent must hold for any N, D and temperature")
def nt_xent_other_sizes(lab, rng):
    n, d = int(rng.integers(2, 9)), int(rng.integers(2, 9))
    z1 = rng.normal(size=(n, d)).astype("float32") * 4.0
    z2 = rng.normal(size=(n, d)).astype("float32")
    t = float(rng.uniform(0.05, 1.0))
    return {"loss": float(lab.selfsup.nt_xent_loss(z1, z2, t)),
            "identical_views": float(lab.selfsup.nt_xent_loss(z1, z1, t))}


@nt_xent_other_sizes.verdict
def _(student, reference):
    expect_close(student["loss"], reference["loss"], "nt_xent_loss on fresh sizes", **LOSS)
    expect_close(student["identical_views"], reference["identical_views"],
                 "nt_xent_loss(z, z, t)", **LOSS)


@check(points=1, uses="selfsup", hint="InfoNCE must hold for any number of rows")
def info_nce_other_sizes(lab, rng):
    m, d = int(rng.integers(2, 12)), int(rng.integers(2, 6))
    p, t = (3.0 * rng.normal(size=(m, d)).astype("float32") for _ in range(2))
    return {"loss": float(lab.selfsup.info_nce_loss(p, t)),
            "matched": float(lab.selfsup.info_nce_loss(t, t))}


@info_nce_other_sizes.verdict
def _(student, reference):
    expect_close(student["loss"], reference["loss"], "info_nce_loss on fresh sizes", **LOSS)
    expect_close(student["matched"], reference["matched"], "info_nce_loss(t, t)", **LOSS)


@check(points=1, uses="selfsup", hint="byol_loss and ema_update at any size and rate")
def byol_and_ema_other_rates(lab, rng):
    import keras
    n = int(rng.integers(2, 9))
    p, t = (rng.normal(size=(n, 3)).astype("float32") for _ in range(2))
    decay = float(rng.uniform(0.5, 0.999))
    target = keras.Variable(rng.normal(size=(3, 3)).astype("float32"))
    online = keras.Variable(rng.normal(size=(3, 3)).astype("float32"))
    lab.selfsup.ema_update([target], [online], decay)
    return {"byol": float(lab.selfsup.byol_loss(p, t)),
            "target": np.asarray(target.numpy())}


@byol_and_ema_other_rates.verdict
def _(student, reference):
    expect_close(student["byol"], reference["byol"], "byol_loss on fresh sizes", **LOSS)
    expect_close(student["target"], reference["target"], "ema_update at a fresh decay", **LOSS)


@check(points=1, uses="selfsup", reference=False,
       hint="cpc_loss must pair W_k c_t with z_t+k for any number of steps ahead and length")
def cpc_loss_other_sizes(lab, rng):
    return cpc_pairs_probe(lab, rng, latent=3, context=4, steps=int(rng.integers(1, 4)),
                           n=int(rng.integers(2, 5)), length=2 * int(rng.integers(5, 9)))


@cpc_loss_other_sizes.verdict
def _(student, _reference):
    judge_cpc_pairs(student)
