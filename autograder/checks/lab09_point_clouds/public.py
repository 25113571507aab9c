"""Public checks of lab09_point_clouds, part 1: geometry.py, each function against a
brute-force answer written another way (scipy's cdist and cKDTree, a greedy loop over the
full distance matrix), with the usual slips named when an answer equals one of them."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.checks.lab09_point_clouds.probes import (
    balls,
    greedy_furthest,
    judge_indices,
    point_sets,
    squared_distance_matrix,
)
from autograder.verdicts import expect_close, expect_close_naming, expect_true


@check(points=1, uses="geometry", reference=False, task="`pairwise_squared_distances`",
       hint="|a|^2 - 2 a.b + |b|^2 (squared: no sqrt), then tf.maximum(..., 0)")
def pairwise_squared_distances(lab, rng):
    """Against scipy's cdist on a batch of sets of different sizes; never negative, even
    for nearly equal points far from the origin."""
    a, b = point_sets(rng, 2, 7), point_sets(rng, 2, 5)
    # 12 points within 0.001 of one point 1000 from the origin: the expansion's rounding
    # (about 0.1 here) swamps their true squared distances (about 1e-6).
    far = (1000.0 + 1e-3 * rng.normal(size=(1, 12, 3))).astype("float32")
    return {"distances": lab.geometry.pairwise_squared_distances(a, b),
            "expected": squared_distance_matrix(a, b),
            "same": lab.geometry.pairwise_squared_distances(far, far)}


@pairwise_squared_distances.verdict
def _(student, _reference):
    what = "pairwise_squared_distances(a, b) for a (2, 7, 3), b (2, 5, 3)"
    expected = student["expected"]
    expect_close_naming(student["distances"], expected.astype(np.float32), what, [
        (np.sqrt(expected), "is the distance, not its square")], against="scipy's cdist",
        rtol=1e-4, atol=1e-4)
    same = np.asarray(student["same"], dtype=np.float64)
    expect_true(same.shape == (1, 12, 12) and same.min() >= 0.0,
                f"pairwise_squared_distances(x, x) for close points ~1000 from the origin has the "
                f"entry {same.min():.4g}: rounding makes the expansion dip under 0; clip it "
                "with tf.maximum(..., 0.0)")


@check(points=2, uses="geometry", reference=False, task="`chamfer_distance`",
       hint="mean over A of the min over B of |a - b|^2, PLUS mean over B of the min over A: "
            "squared distances, both directions, means (not sums)")
def chamfer_distance(lab, rng):
    """Against the nearest neighbours read off scipy's full distance matrix, for sets of
    12 and 9 points; 0 for a set and itself, symmetric."""
    a, b = point_sets(rng, 3, 12), point_sets(rng, 3, 9)
    shuffled = a[:, rng.permutation(12)]
    return {"chamfer": lab.geometry.chamfer_distance(a, b),
            "swapped": lab.geometry.chamfer_distance(b, a),
            "itself": lab.geometry.chamfer_distance(a, shuffled),
            "matrix": squared_distance_matrix(a, b)}


@chamfer_distance.verdict
def _(student, _reference):
    matrix = student["matrix"]
    a_to_b, b_to_a = matrix.min(axis=2).mean(axis=1), matrix.min(axis=1).mean(axis=1)
    root = np.sqrt(matrix)
    what = "chamfer_distance(a, b) for a (3, 12, 3), b (3, 9, 3)"
    expect_close_naming(student["chamfer"], (a_to_b + b_to_a).astype(np.float32), what, [
        (a_to_b, "is only the a -> b half: add the mean over b of its nearest a"),
        (b_to_a, "is only the b -> a half: add the mean over a of its nearest b"),
        (root.min(axis=2).mean(axis=1) + root.min(axis=1).mean(axis=1),
         "uses distances, not SQUARED distances"),
        (matrix.min(axis=2).sum(axis=1) + matrix.min(axis=1).sum(axis=1),
         "sums over the points: take the MEAN over each set"),
        (0.5 * (a_to_b + b_to_a), "is half the Chamfer distance: add the two means")],
        against="the nearest neighbours of scipy's distance matrix", rtol=1e-4, atol=1e-5)
    expect_close(student["swapped"], student["chamfer"], "chamfer_distance(b, a)",
                 against="chamfer_distance(a, b) (it is symmetric)", rtol=1e-4, atol=1e-5)
    itself = np.asarray(student["itself"], dtype=np.float64)
    expect_true(itself.shape == (3,) and np.abs(itself).max() < 1e-4,
                f"chamfer_distance(a, a shuffled) is {itself}, not 0: a set is at distance 0 "
                "from itself, whatever the order of its points")


@check(points=2, uses="geometry", reference=False, task="`furthest_point_sampling`",
       hint="start at index 0; keep each point's distance to its NEAREST pick so far "
            "(tf.minimum after every pick); the next pick is the argmax of those distances")
def furthest_point_sampling(lab, rng):
    """The picks (8 of 40 points, 3 clouds), against a greedy loop over scipy's full
    distance matrix."""
    points = point_sets(rng, 3, 40)
    return {"picks": lab.geometry.furthest_point_sampling(points, 8),
            "expected": greedy_furthest(points, 8),
            "last_only": greedy_furthest(points, 8, "last"),
            "summed": greedy_furthest(points, 8, "sum")}


@furthest_point_sampling.verdict
def _(student, _reference):
    picks = np.asarray(student["picks"])
    what = "furthest_point_sampling(points (3, 40, 3), 8)"
    if picks.ndim == 2 and picks.shape[1] == 8 and np.any(picks[:, 0] != 0):
        raise CheckFailed(f"{what} starts at index {picks[:, 0].tolist()}: start from point 0")
    judge_indices(picks, student["expected"], what, [
        (student["last_only"], "picks the point furthest from the LAST pick only: keep each "
         "point's distance to its nearest pick so far (tf.minimum with the new distances)"),
        (student["summed"], "picks the point with the largest SUM of distances to the picks: "
         "the distance to a set is the distance to its NEAREST member")])
    expect_true(all(len(set(row)) == 8 for row in picks.tolist()),
                f"{what} picks a point twice")


@check(points=2, uses="geometry", reference=False, task="`ball_query`",
       hint="indices with squared distance < radius^2, the first K by index (ascending); a "
            "short ball repeats its first (lowest) index, not 0")
def ball_query(lab, rng):
    """The neighbours of 6 centroids of each of 2 clouds of 48 points (K = 6, balls with
    fewer and with more than K points), against scipy's cKDTree."""
    points = point_sets(rng, 2, 48)
    centroids = np.stack([cloud[index] for cloud, index in
                          zip(points, greedy_furthest(points, 6))])
    radius, k = 0.9, 6
    return {"got": lab.geometry.ball_query(points, centroids, radius, k),
            "expected": balls(points, centroids, radius, k),
            "nearest": balls(points, centroids, radius, k, "nearest"),
            "pad_zero": balls(points, centroids, radius, k, "pad_zero"),
            "by_distance": balls(points, centroids, radius, k, "by_distance"),
            "radius_not_squared": balls(points, centroids, np.sqrt(radius), k)}


@ball_query.verdict
def _(student, _reference):
    judge_indices(student["got"], student["expected"],
                  "ball_query(points (2, 48, 3), centroids (2, 6, 3), radius=0.9, 6)", [
                      (student["nearest"], "gives the 6 NEAREST points, inside the ball or "
                       "not: keep only points with squared distance < radius^2"),
                      (student["pad_zero"], "pads short balls with index 0: repeat the "
                       "ball's first index (point 0 may be far away)"),
                      (student["by_distance"], "orders each ball nearest first: keep the "
                       "first K by INDEX (sort the indices)"),
                      (student["radius_not_squared"], "compares the SQUARED distances with "
                       "the radius itself: compare them with radius ** 2")])


@check(points=1, uses="geometry", task="`group_points`",
       hint="tf.gather(points, indices, batch_dims=1) (gather_points), then subtract each "
            "patch's centroid: coordinates RELATIVE to the centroid")
def group_points(lab, rng):
    """The patches of 4 centroids x 5 neighbours in 2 clouds of 10 points with 3 features."""
    points = rng.normal(size=(2, 10, 3)).astype("float32")
    centroids = rng.normal(size=(2, 4, 3)).astype("float32")
    indices = rng.integers(0, 10, size=(2, 4, 5)).astype("int32")
    return {"centroids": centroids,
            "patches": lab.geometry.group_points(points, centroids, indices)}


@group_points.verdict
def _(student, reference):
    expected = np.asarray(reference["patches"], dtype=np.float64)
    centroids = np.asarray(reference["centroids"], dtype=np.float64)[:, :, None, :]
    expect_close_naming(student["patches"], expected,
                        "group_points(points (2, 10, 3), centroids (2, 4, 3), indices (2, 4, 5))",
                        [(expected + centroids, "gives the neighbours' own coordinates: "
                          "subtract the centroid"),
                         (-expected, "subtracts the wrong way: neighbour - centroid")])
