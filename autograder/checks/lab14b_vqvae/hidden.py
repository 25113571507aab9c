"""Hidden checks of lab14b_vqvae: nearest codes and the EMA on fresh sizes and settings, the
prior's causality on another grid and depth. References from the solution."""
import numpy as np

from autograder.api import check
from autograder.checks.lab14b_vqvae.probes import decided_rows, judge_nearest
from autograder.checks.lab14b_vqvae.public import (
    ema_trajectory,
    judge_ema_trajectory,
    tie_case,
)
from autograder.checks.lab14b_vqvae.public_prior import (
    judge_prior_on_shift_layers,
    prior_on_shift_layers,
)


@check(points=1, uses="vq", hint="nearest_code must work for any K and D, ties to the lowest "
       "index")
def nearest_code_other_sizes(lab, rng):
    k, d = int(rng.integers(9, 15)), int(rng.integers(2, 6))
    codebook = (rng.normal(size=(k, d)) * rng.uniform(0.2, 3.0, size=(k, 1))).astype("float32")
    z = rng.normal(scale=1.5, size=(60, d)).astype("float32")
    tie_z, tie_codebook = tie_case(rng)
    return {"z": z, "codebook": codebook, "indices": np.asarray(lab.vq.nearest_code(z, codebook)),
            "tie_z": tie_z[::-1].copy(), "tie_codebook": tie_codebook,
            "tie_indices": np.asarray(lab.vq.nearest_code(tie_z[::-1].copy(), tie_codebook))}


@nearest_code_other_sizes.verdict
def _(student, _reference):
    k, d = student["codebook"].shape
    judge_nearest(student["indices"], student["z"], student["codebook"],
                  f"nearest_code(z, codebook) for 60 vectors and {k} codes of {d}",
                  decided=decided_rows(student["z"], student["codebook"]))
    judge_nearest(student["tie_indices"], student["tie_z"], student["tie_codebook"],
                  "nearest_code(z, codebook) on exact ties")


@check(points=1, uses="vq", hint="the EMA must hold for any decay, epsilon and number of "
       "steps")
def ema_update_other_settings(lab, rng):
    decay, epsilon = float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.05, 1.0))
    return {"decay": decay, "epsilon": epsilon,
            **ema_trajectory(lab, rng, steps=6, decay=decay, epsilon=epsilon, num_codes=7,
                             dim=2, batch=9)}


@ema_update_other_settings.verdict
def _(student, _reference):
    judge_ema_trajectory(student, student["decay"], student["epsilon"],
                         f"ema_update(..., decay={student['decay']:.3f}, "
                         f"epsilon={student['epsilon']:.3f})")


@check(points=1, uses="prior", hint="the prior must be causal on any grid and at any depth: "
       "type A first, type B after, each with its own kernel size")
def code_prior_other_grid(lab, rng):
    return prior_on_shift_layers(lab, rng, 7, (2, 5), 3, (3, 5))


@code_prior_other_grid.verdict
def _(student, reference):
    judge_prior_on_shift_layers(student, reference, 7, (2, 5), 3, (3, 5))
