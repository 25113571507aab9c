"""Hidden checks of lab15_flows: fresh shapes, masks and sizes; the density of the student's
own RealNVP and MAF integrates to one; the student's whole MAF (MADE, layers, model,
train_step) trains as well as the reference. References from the solution."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab15_flows.probes import (
    coupling_probe,
    judge_autoregressive,
    judge_list,
    judge_log_dets,
    judge_round_trips,
    judge_training,
    made_dependencies,
    maf_probe,
    train_probe,
)
from autograder.verdicts import expect_close, expect_true

# The MAF budget of maf_trains (the public check trains a RealNVP).
MAF_TRAIN = {"model": "maf", "layers": 4, "hidden_units": (64,), "learning_rate": 1e-2,
             "batch_size": 256, "steps": 200, "train_size": 1024, "test_size": 1024}


@check(points=1, uses="flows", hint="the coupling must work for any D and any mask, with "
       "log_det summed over the transformed (mask 0) dimensions only")
def coupling_other_shapes(lab, rng):
    dim = int(rng.integers(4, 7))
    mask = np.zeros(dim)
    mask[rng.permutation(dim)[: dim // 2]] = 1
    return coupling_probe(lab, rng, mask.tolist(), n=int(rng.integers(3, 9)), scale=0.6)


@coupling_other_shapes.verdict
def _(student, reference):
    what = f"AffineCoupling(mask={student['mask'].astype(int).tolist()})"
    judge_round_trips(student, what)
    judge_log_dets(student, what)
    expect_close(student["forward"], reference["forward"], f"the z of {what}.forward(x)")


@check(points=1, uses="made", hint="degrees and masks must hold for any D, any number and "
       "width of hidden layers, both orders")
def made_other_sizes(lab, rng):
    dim = int(rng.integers(5, 8))
    hidden = tuple(int(u) for u in rng.integers(dim, 2 * dim, size=3))
    made = lab.made.MADE(dim, hidden_units=hidden, order="right-to-left")
    made.build((None, dim))
    return {"dim": dim, "hidden": list(hidden),
            "masks": [np.asarray(m) for m in lab.made.made_masks(dim, hidden, "right-to-left")],
            "dependencies": made_dependencies(made, rng)}


@made_other_sizes.verdict
def _(student, reference):
    what = f"MADE({student['dim']}, {tuple(student['hidden'])})"
    judge_list(student["masks"], reference["masks"],
               f"made_masks({student['dim']}, {tuple(student['hidden'])}, 'right-to-left')")
    judge_autoregressive(student["dependencies"], student["dim"], "right-to-left", what)


@check(points=1, uses=("made", "flows"), reference=False,
       hint="the MAF inverse needs D passes for D dimensions, whatever D is")
def maf_other_dim(lab, rng):
    return maf_probe(lab, rng, int(rng.integers(5, 8)), 5, "right-to-left")


@maf_other_dim.verdict
def _(student, _reference):
    what = f"MaskedAutoregressiveFlow({np.shape(student['x'])[1]}, order='right-to-left')"
    judge_round_trips(student, what)
    judge_log_dets(student, what)


@check(points=1, uses=("made", "flows"), reference=False,
       hint="a correct log-determinant makes exp(log_prob) integrate to 1; a wrong sign or a "
            "missing term does not")
def density_integrates_to_one(lab, rng):
    step = 0.05
    ticks = np.arange(-9.0, 9.0, step) + step / 2
    gx, gy = np.meshgrid(ticks, ticks)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype("float32")
    out = {}
    for name, model in (("RealNVP", lab.flows.RealNVP(2, num_couplings=3, hidden_units=(16,))),
                        ("MAF", lab.flows.MAF(2, num_layers=2, hidden_units=(16,)))):
        assign_random_weights(model, rng, 0.25)
        log_prob = np.asarray(model.log_prob(grid), dtype=np.float64)
        out[name] = float(np.sum(np.exp(log_prob)) * step * step)
    return out


@density_integrates_to_one.verdict
def _(student, _reference):
    for name in ("RealNVP", "MAF"):
        mass = student[name]
        expect_true(np.isfinite(mass) and abs(mass - 1.0) < 0.02,
                    f"exp({name}.log_prob(x)) integrates to {mass:.4g} over [-9, 9]^2 (random "
                    "weights), not 1: the change of variables or a log-determinant is wrong")


@check(points=2, timeout=40, uses=("made", "flows"),
       hint="train_step must train a MAF as well as the reference does")
def maf_trains(lab, rng):
    return train_probe(lab, rng, MAF_TRAIN)


@maf_trains.verdict
def _(student, reference):
    judge_training(student, reference)
