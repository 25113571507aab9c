"""Hidden checks of lab09_point_clouds: fresh sizes for the geometry and the layers, and the
student's whole PointNet (T-Net, call, loss, train_step) trained against the reference.
References from the solution."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab09_point_clouds.probes import (
    balls,
    classifier_train_probe,
    greedy_furthest,
    judge_classifier_training,
    judge_indices,
    point_sets,
    squared_distance_matrix,
)
from autograder.verdicts import expect_close

WHOLE = {"train_size": 300, "test_size": 150, "num_points": 32, "widths": (32, 64),
         "head_units": (32,), "learning_rate": 3e-3, "batch_size": 32, "epochs": 3}


def other_sizes(rng):
    n, s, k = int(rng.integers(30, 60)), int(rng.integers(5, 12)), int(rng.integers(3, 9))
    return point_sets(rng, 2, n), s, k


@check(points=1, uses="geometry",
       hint="furthest_point_sampling must work for any number of points N and of samples S")
def sampling_other_sizes(lab, rng):
    points, s, _ = other_sizes(rng)
    return {"picks": lab.geometry.furthest_point_sampling(points, s),
            "expected_picks": greedy_furthest(points, s)}


@sampling_other_sizes.verdict
def _(student, _reference):
    judge_indices(student["picks"], student["expected_picks"], "furthest_point_sampling", [])


@check(points=1, uses="geometry",
       hint="ball_query must work for any number of points N, centroids S, radius and K")
def balls_other_sizes(lab, rng):
    points, s, k = other_sizes(rng)
    picks = greedy_furthest(points, s)
    centroids = np.stack([cloud[index] for cloud, index in zip(points, picks)])
    radius = float(rng.uniform(0.6, 1.2))
    return {"balls": lab.geometry.ball_query(points, centroids, radius, k),
            "expected_balls": balls(points, centroids, radius, k)}


@balls_other_sizes.verdict
def _(student, _reference):
    judge_indices(student["balls"], student["expected_balls"], "ball_query", [])


@check(points=1, uses="geometry", hint="the Chamfer distance of sets of any sizes")
def chamfer_other_sizes(lab, rng):
    a = point_sets(rng, 2, int(rng.integers(3, 30)))
    b = point_sets(rng, 2, int(rng.integers(3, 30)))
    matrix = squared_distance_matrix(a, b)
    return {"chamfer": lab.geometry.chamfer_distance(a, b),
            "expected": matrix.min(axis=2).mean(axis=1) + matrix.min(axis=1).mean(axis=1)}


@chamfer_other_sizes.verdict
def _(student, _reference):
    expect_close(student["chamfer"], student["expected"].astype(np.float32), "chamfer_distance",
                 rtol=1e-4, atol=1e-5)


LAYERS = {"deep_sets": "DeepSets(3, phi_units=(6,), rho_units=(5, 4))(x)",
          "tnet": "TNet(C, widths=(6,), head_units=(5,))(x)",
          "pma": "PoolingByMultiheadAttention(num_seeds=3, num_heads=1, key_dim=3)(x)"}


@check(points=1, uses="pointnet", hint="DeepSets.call, TNet.call and "
       "PoolingByMultiheadAttention.call must work for other widths and set sizes (the "
       "message names the one that failed)")
def set_layers_other_sizes(lab, rng):
    n, c = int(rng.integers(3, 15)), int(rng.integers(2, 7))
    x = rng.normal(size=(2, n, c)).astype("float32")
    deep_sets = lab.pointnet.DeepSets(3, phi_units=(6,), rho_units=(5, 4))
    deep_sets.build(x.shape)
    tnet = lab.pointnet.TNet(c, widths=(6,), head_units=(5,))
    tnet.build(x.shape)
    pma = lab.pointnet.PoolingByMultiheadAttention(num_seeds=3, num_heads=1, key_dim=3)
    pma.build(x.shape)
    for layer in (deep_sets, tnet, pma):
        assign_random_weights(layer, rng, 0.5)
    return {"deep_sets": deep_sets(x), "tnet": tnet(x), "pma": pma(x), "x": x}


@set_layers_other_sizes.verdict
def _(student, reference):
    for key in ("deep_sets", "tnet", "pma"):
        shape = tuple(np.shape(student["x"]))
        expect_close(student[key], reference[key], f"{LAYERS[key]} for x {shape}")


@check(points=2, timeout=45, uses="pointnet",
       hint="the whole PointNet (T-Net, call, loss, train_step) must train like the reference")
def whole_pointnet_trains(lab, rng):
    return classifier_train_probe(lab, rng, WHOLE, stand_ins=False)


@whole_pointnet_trains.verdict
def _(student, reference):
    judge_classifier_training(student, reference, blame=(
        "the whole PointNet trains differently from the reference: TNet.call, "
        "orthogonality_loss, PointNetClassifier.call, classification_loss or train_step (the "
        "public check of each names it)"))
