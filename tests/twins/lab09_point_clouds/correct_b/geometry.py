"""Lab 9, part 1: the geometry of point sets. Fill in the parts marked TODO.

1. distances       pairwise_squared_distances, chamfer_distance
2. PointNet++      furthest_point_sampling, ball_query, group_points (sample_and_group is given)

Shapes: B clouds in a batch, N points per cloud, S sampled centroids, K neighbours per
centroid, C features per point (3 for coordinates). Every function takes and returns
TensorFlow tensors (numpy arrays are accepted as inputs) and works on a batch.
"""
import tensorflow as tf

# ---------------------------------------------------------------------------------------------
# 1. Distances between point sets
# ---------------------------------------------------------------------------------------------

def pairwise_squared_distances(a, b):
    """Squared Euclidean distances between every point of a and every point of b.

    a: (..., N, C); b: (..., M, C), the same leading axes. Returns (..., N, M) float32 with
    out[..., i, j] = |a_i - b_j|^2, never negative (rounding can make the expansion below
    dip under 0 for nearly equal points: clip it).
    """
    a = tf.convert_to_tensor(a, tf.float32)
    b = tf.convert_to_tensor(b, tf.float32)
    a_norm = tf.einsum("...nc,...nc->...n", a, a)[..., :, None]
    b_norm = tf.einsum("...mc,...mc->...m", b, b)[..., None, :]
    cross = tf.matmul(a, b, transpose_b=True)
    return tf.nn.relu(a_norm + b_norm - 2.0 * cross)


def chamfer_distance(a, b):
    """The (squared) Chamfer distance between two batches of point sets:

        CD(A, B) = mean_{a in A} min_{b in B} |a - b|^2 + mean_{b in B} min_{a in A} |a - b|^2

    a: (B, N, 3); b: (B, M, 3) (N and M may differ). Returns (B,) float32, one distance per
    pair of clouds. Symmetric, and 0 exactly when the two sets hold the same points.
    """
    d = pairwise_squared_distances(a, b)
    a_to_b = tf.reduce_min(d, axis=-1)            # (B, N): each a's nearest b
    b_to_a = tf.reduce_min(d, axis=-2)            # (B, M): each b's nearest a
    return tf.reduce_mean(a_to_b, axis=-1) + tf.reduce_mean(b_to_a, axis=-1)


# ---------------------------------------------------------------------------------------------
# 2. PointNet++ set abstraction: sampling and grouping
# ---------------------------------------------------------------------------------------------

def gather_points(points, indices):
    """points (B, N, C), indices (B, ...) ints into N -> (B, ..., C): each cloud's own points."""
    return tf.gather(points, indices, batch_dims=1)


def furthest_point_sampling(points, num_samples):
    """Pick num_samples points of each cloud that cover it well, greedily: start from point 0,
    then again and again pick the point furthest from the points picked so far (its distance
    to the set is its distance to the NEAREST picked point).

    points: (B, N, 3); num_samples: S <= N, a Python int. Returns (B, S) int32 indices into
    N, in the order picked (the first is 0); ties go to the lowest index (tf.argmax does).
    """
    points = tf.convert_to_tensor(points, tf.float32)
    shape = tf.shape(points)
    nearest = tf.fill(shape[:2], tf.constant(float("inf")))
    pick = tf.zeros(shape[:1], tf.int32)
    picks = tf.TensorArray(tf.int32, size=num_samples)
    for step in tf.range(num_samples):
        picks = picks.write(step, pick)
        picked_point = gather_points(points, pick[:, None])            # (B, 1, 3)
        to_pick = pairwise_squared_distances(points, picked_point)[..., 0]   # (B, N)
        nearest = tf.minimum(nearest, to_pick)
        pick = tf.argmax(nearest, axis=-1, output_type=tf.int32)
    return tf.transpose(picks.stack())


def ball_query(points, centroids, radius, max_neighbours):
    """The neighbours of each centroid within a ball: the first max_neighbours points (by
    index, ascending) whose squared distance to the centroid is below radius^2. A centroid
    with fewer neighbours repeats its first (lowest) neighbour to fill the K slots.

    points: (B, N, 3); centroids: (B, S, 3), each a point of its cloud (so every ball holds
    at least one point). Returns (B, S, K) int32 indices into N, K = max_neighbours.
    """
    d = pairwise_squared_distances(centroids, points)                   # (B, S, N)
    n = tf.shape(d)[-1]
    inside = d < float(radius) * float(radius)
    # score N - n for a point inside the ball (the lowest index scores highest), 0 outside
    score = tf.where(inside, n - tf.range(n), tf.zeros_like(d, tf.int32))
    top, _ = tf.math.top_k(score, k=max_neighbours, sorted=True)
    indices = n - top
    filled = top > 0
    return tf.where(filled, indices, indices[:, :, 0:1])


def group_points(points, centroids, neighbour_indices):
    """The local patches of PointNet++: each centroid's neighbours, in coordinates relative
    to that centroid (so a patch looks the same wherever it sits in the cloud).

    points: (B, N, C); centroids: (B, S, C); neighbour_indices: (B, S, K) from ball_query.
    Returns (B, S, K, C): points[neighbour] - centroid.
    """
    patches = tf.gather(points, neighbour_indices, batch_dims=1)        # (B, S, K, C)
    return patches - tf.expand_dims(tf.cast(centroids, patches.dtype), axis=2)


def sample_and_group(points, num_centroids, radius, max_neighbours):
    """One set-abstraction sampling and grouping: S centroids by furthest point sampling,
    their balls, the local patches. Returns (centroids (B, S, 3), patches (B, S, K, 3))."""
    points = tf.cast(points, tf.float32)
    centroids = gather_points(points, furthest_point_sampling(points, num_centroids))
    neighbours = ball_query(points, centroids, radius, max_neighbours)
    return centroids, group_points(points, centroids, neighbours)
