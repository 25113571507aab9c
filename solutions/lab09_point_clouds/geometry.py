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
    # BEGIN SOLUTION |a|^2 - 2 a.b + |b|^2 with one matmul (transpose_b=True), clipped at 0 from below
    a = tf.cast(a, tf.float32)
    b = tf.cast(b, tf.float32)
    a_norms = tf.reduce_sum(tf.square(a), axis=-1)[..., :, None]
    b_norms = tf.reduce_sum(tf.square(b), axis=-1)[..., None, :]
    cross = tf.matmul(a, b, transpose_b=True)
    return tf.maximum(a_norms - 2.0 * cross + b_norms, 0.0)
    # END SOLUTION


def chamfer_distance(a, b):
    """The (squared) Chamfer distance between two batches of point sets:

        CD(A, B) = mean_{a in A} min_{b in B} |a - b|^2 + mean_{b in B} min_{a in A} |a - b|^2

    a: (B, N, 3); b: (B, M, 3) (N and M may differ). Returns (B,) float32, one distance per
    pair of clouds. Symmetric, and 0 exactly when the two sets hold the same points.
    """
    # BEGIN SOLUTION pairwise_squared_distances (B, N, M); the min over M, averaged over N; plus
    #   the min over N, averaged over M
    distances = pairwise_squared_distances(a, b)
    a_to_b = tf.reduce_mean(tf.reduce_min(distances, axis=2), axis=1)
    b_to_a = tf.reduce_mean(tf.reduce_min(distances, axis=1), axis=1)
    return a_to_b + b_to_a
    # END SOLUTION


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
    # BEGIN SOLUTION keep a (B, N) distance of each point to its nearest picked point, starting at
    #   +inf; S times: append the current pick, lower the distances with the squared distances
    #   to it (tf.minimum), and pick the argmax next
    points = tf.cast(points, tf.float32)
    batch, count = tf.shape(points)[0], tf.shape(points)[1]
    nearest = tf.fill((batch, count), float("inf"))
    chosen = tf.zeros((batch,), tf.int32)
    picks = []
    for _ in range(num_samples):
        picks.append(chosen)
        centre = gather_points(points, chosen[:, None])            # (B, 1, 3)
        distances = tf.reduce_sum(tf.square(points - centre), axis=-1)
        nearest = tf.minimum(nearest, distances)
        chosen = tf.argmax(nearest, axis=1, output_type=tf.int32)
    return tf.stack(picks, axis=1)
    # END SOLUTION


def ball_query(points, centroids, radius, max_neighbours):
    """The neighbours of each centroid within a ball: the first max_neighbours points (by
    index, ascending) whose squared distance to the centroid is below radius^2. A centroid
    with fewer neighbours repeats its first (lowest) neighbour to fill the K slots.

    points: (B, N, 3); centroids: (B, S, 3), each a point of its cloud (so every ball holds
    at least one point). Returns (B, S, K) int32 indices into N, K = max_neighbours.
    """
    # BEGIN SOLUTION pairwise_squared_distances (B, S, N); index n where inside the ball, else N;
    #   sort and keep the first K; replace every N left by the first index of the row
    count = tf.shape(points)[1]
    distances = pairwise_squared_distances(centroids, points)
    indices = tf.broadcast_to(tf.range(count, dtype=tf.int32), tf.shape(distances))
    inside = tf.where(distances < radius ** 2, indices, count)
    nearest_first = tf.sort(inside, axis=-1)[..., :max_neighbours]
    first = nearest_first[..., :1]
    return tf.where(nearest_first == count, first, nearest_first)
    # END SOLUTION


def group_points(points, centroids, neighbour_indices):
    """The local patches of PointNet++: each centroid's neighbours, in coordinates relative
    to that centroid (so a patch looks the same wherever it sits in the cloud).

    points: (B, N, C); centroids: (B, S, C); neighbour_indices: (B, S, K) from ball_query.
    Returns (B, S, K, C): points[neighbour] - centroid.
    """
    # BEGIN SOLUTION gather_points with the (B, S, K) indices, minus the centroid broadcast over K
    grouped = gather_points(tf.cast(points, tf.float32), neighbour_indices)
    return grouped - tf.cast(centroids, tf.float32)[:, :, None, :]
    # END SOLUTION


def sample_and_group(points, num_centroids, radius, max_neighbours):
    """One set-abstraction sampling and grouping: S centroids by furthest point sampling,
    their balls, the local patches. Returns (centroids (B, S, 3), patches (B, S, K, 3))."""
    points = tf.cast(points, tf.float32)
    centroids = gather_points(points, furthest_point_sampling(points, num_centroids))
    neighbours = ball_query(points, centroids, radius, max_neighbours)
    return centroids, group_points(points, centroids, neighbours)
