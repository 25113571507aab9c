"""Public checks of lab09_point_clouds, part 2: the layers and losses of pointnet.py.

Set networks are judged by their symmetry first (shuffling the points leaves a pooled
output unchanged and shuffles a per-point one alike), then by values on fixed random weights
against the reference's stored outputs. The classifier's call runs on the checks' stand-in
T-Net (one fixed matrix for every cloud: probes.FixedTransform), so a wrong T-Net costs the
T-Net's check only."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights, standing_in
from autograder.checks.lab09_point_clouds.probes import fixed_transform
from autograder.verdicts import expect_close, expect_close_naming, expect_shape, expect_true


def with_point_0_twice(x):
    """The clouds with their point 0 repeated at the end: a max over the points is unchanged,
    a mean or a sum is not."""
    return np.concatenate([x, x[:, :1]], axis=1)


def unknown_points(layer, x):
    """layer(x) traced by a tf.function whose inputs have no static batch or points size (as
    fit traces a pipeline of clouds of different sizes): the output, and the error if any."""
    import tensorflow as tf
    traced = tf.function(lambda p: layer(p),
                         input_signature=[tf.TensorSpec((None, None, x.shape[-1]), tf.float32)])
    try:
        return np.asarray(traced(tf.constant(x))), ""
    except Exception as error:  # noqa: BLE001 - the message goes to the student
        last = [line.strip() for line in str(error).splitlines() if line.strip()
                and not line.strip().startswith(("•", "Call arguments", "File "))][-1:]
        return (np.full((1,), np.nan, np.float32),
                f"{type(error).__name__}: {(last or [''])[0][:160]}")


def judge_unknown_points(student, key, what, fix):
    if student[f"{key}_error"]:
        raise CheckFailed(f"{what} fails when the number of points is not known while tracing "
                          f"(a tf.function with inputs (None, None, C), as fit on clouds of "
                          f"different sizes): {student[f'{key}_error']}: {fix}")
    expect_close(student[f"{key}_traced"], student[key], f"{what} in a tf.function with "
                 "inputs (None, None, C)", against="its output called directly",
                 rtol=1e-4, atol=1e-5)


def judge_max_pool(student, key, what, fix):
    got = np.asarray(student[f"{key}_point_0_twice"])
    if not np.allclose(got, student[key], rtol=1e-4, atol=1e-5):
        raise CheckFailed(f"{what} changes when the cloud's point 0 appears twice: that pools "
                          f"by a mean or a sum; {fix}")


def invariant(student, key, what):
    expect_close(student[f"{key}_shuffled"], student[key], f"{what} on the shuffled points",
                 against="its output on the points in order (a set has no order)",
                 rtol=1e-4, atol=1e-5)


@check(points=2, uses="pointnet", task="`DeepSets.call`",
       hint="rho(SUM over the set axis of phi(x)): phi on every element, tf.reduce_sum(axis=1), "
            "then rho")
def deep_sets(lab, rng):
    """DeepSets(4) on 3 sets of 6 elements with random weights: the same for shuffled sets,
    values, and a set doubled (each element twice) gives rho(2 * sum), not the same."""
    layer = lab.pointnet.DeepSets(4, phi_units=(8, 8), rho_units=(8,))
    layer.build((None, 6, 5))
    assign_random_weights(layer, rng, 0.5)
    x = rng.normal(size=(3, 6, 5)).astype("float32")
    return {"out": layer(x), "out_shuffled": layer(x[:, rng.permutation(6)]),
            "doubled": layer(np.concatenate([x, x], axis=1))}


@deep_sets.verdict
def _(student, reference):
    what = "DeepSets(4, phi_units=(8, 8), rho_units=(8,))(x) for x (3, 6, 5)"
    expect_shape(student["out"], (3, 4), what)
    invariant(student, "out", what)
    if np.allclose(student["doubled"], student["out"], rtol=1e-4, atol=1e-5):
        raise CheckFailed(f"{what} gives the same output for the set with every element twice: "
                          "that is a mean or a max; Deep Sets SUMS phi over the set")
    expect_close(student["out"], reference["out"], what)
    expect_close(student["doubled"], reference["doubled"], f"{what} with every element twice")


@check(points=1, uses="pointnet", task="`orthogonality_loss`",
       hint="mean over the batch of the SQUARED Frobenius norm of I - A A^T (sum of squares "
            "over both matrix axes)")
def orthogonality_loss(lab, rng):
    """0 for random orthogonal matrices (rotations and reflections); the value for scaled
    identities c * I and for random 3 x 3 and 5 x 5 matrices."""
    q = np.linalg.qr(rng.normal(size=(6, 4, 4)))[0].astype("float32")
    scales = np.array([0.5, 1.5, 2.0], dtype="float32")
    scaled = scales[:, None, None] * np.eye(3, dtype="float32")
    loss = lab.pointnet.orthogonality_loss
    return {"orthogonal": loss(q), "scales": scales, "scaled": loss(scaled),
            "random_3": loss(rng.normal(size=(4, 3, 3)).astype("float32")),
            "random_5": loss(rng.normal(size=(2, 5, 5)).astype("float32"))}


@orthogonality_loss.verdict
def _(student, reference):
    orthogonal = np.asarray(student["orthogonal"], dtype=np.float64)
    expect_true(orthogonal.size == 1 and abs(float(orthogonal)) < 1e-4,
                f"orthogonality_loss of orthogonal matrices is {orthogonal}, not 0 (I - A A^T "
                "vanishes when A is orthogonal)")
    per_matrix = 3 * (1 - student["scales"].astype(np.float64) ** 2) ** 2
    what = "orthogonality_loss(c * I) for c = 0.5, 1.5, 2 (3 x 3)"
    expect_close_naming(student["scaled"], np.float32(per_matrix.mean()), what, [
        (np.sqrt(per_matrix).mean(), "is the Frobenius norm, not its SQUARE"),
        (per_matrix.sum(), "sums over the batch: take the MEAN over the batch"),
        (per_matrix.mean() / 9, "is the mean over the matrix entries: SUM the squares over "
         "both matrix axes, then average over the batch")],
        against="mean of k (1 - c^2)^2", rtol=1e-4, atol=1e-5)
    for key in ("random_3", "random_5"):
        expect_close(student[key], reference[key], f"orthogonality_loss(A) for random {key[-1]}"
                     f" x {key[-1]} matrices")


@check(points=1, uses="pointnet", task="`TNet.call`",
       hint="max over the points (axis 1) of the shared MLP, the head, transform_dense, "
            "reshape to (B, k, k), PLUS tf.eye(k)")
def tnet(lab, rng):
    """A fresh TNet(3) gives the identity for every cloud; with random weights, the same
    transform for a shuffled cloud and for a cloud with a point repeated, inside a tf.function
    with unknown sizes, and the reference's values."""
    x = rng.normal(size=(4, 10, 3)).astype("float32")
    layer = lab.pointnet.TNet(3, widths=(8, 16), head_units=(8,))
    fresh = layer(x)
    assign_random_weights(layer, rng, 0.4)
    traced, error = unknown_points(layer, x)
    return {"fresh": fresh, "out": layer(x), "out_shuffled": layer(x[:, rng.permutation(10)]),
            "out_point_0_twice": layer(with_point_0_twice(x)), "out_traced": traced,
            "out_error": error}


@tnet.verdict
def _(student, reference):
    what = "TNet(3, widths=(8, 16), head_units=(8,))(x) for x (4, 10, 3)"
    fresh = expect_shape(student["fresh"], (4, 3, 3), f"{what} (fresh)")
    if np.allclose(fresh, 0.0):
        raise CheckFailed(f"a fresh {what} is all zeros: add tf.eye(k), so that a fresh T-Net "
                          "(transform_dense starts at zero) is the identity")
    expect_close(fresh, np.tile(np.eye(3, dtype=np.float32), (4, 1, 1)), f"a fresh {what}",
                 against="the identity (transform_dense starts at zero)")
    invariant(student, "out", what)
    judge_max_pool(student, "out", what, "the T-Net pools by the MAX over the points "
                   "(tf.reduce_max(..., axis=1))")
    judge_unknown_points(student, "out", what, "reshape with tf.shape(x)[0] (or -1), not "
                         "x.shape[0]")
    expect_close(student["out"], reference["out"], f"{what} (random weights)")


def stand_in_classifier(lab, rng, matrix):
    """The student's PointNetClassifier on the stand-in T-Net starting at `matrix`."""
    with standing_in(lab.pointnet, TNet=fixed_transform(matrix)):
        model = lab.pointnet.PointNetClassifier(4, widths=(8, 16), head_units=(8,),
                                                num_points=12)
    return model


@check(points=2, uses="pointnet", task="`PointNetClassifier.call`",
       hint="aligned = tf.matmul(points, A) (A = input_transform(points)); shared MLP; "
            "tf.reduce_max over the points; head")
def classifier_call(lab, rng):
    """On the checks' stand-in T-Net (one fixed random matrix A): the logits for a shuffled
    cloud, the values, whether A is applied (as points @ A), and return_transform's A."""
    matrix = rng.normal(scale=0.8, size=(3, 3)) + np.eye(3)
    x = rng.normal(size=(3, 12, 3)).astype("float32")
    out = {}
    for name, start in (("logits", matrix), ("transposed", matrix.T), ("identity", np.eye(3))):
        model = stand_in_classifier(lab, rng, start)
        assign_random_weights(model, np.random.default_rng(7), 0.5)
        model.input_transform.matrix.assign(start.astype("float32"))
        out[name] = model(x)
        if name == "logits":
            out["logits_shuffled"] = model(x[:, rng.permutation(12)])
            out["logits_point_0_twice"] = model(with_point_0_twice(x))
            _, out["transform"] = model(x, return_transform=True)
    out["matrix"] = matrix
    return out


@classifier_call.verdict
def _(student, reference):
    what = "PointNetClassifier(4)(x) for x (3, 12, 3), on a stand-in T-Net"
    expect_shape(student["logits"], (3, 4), what)
    invariant(student, "logits", what)
    judge_max_pool(student, "logits", what, "PointNet pools by the MAX over the points "
                   "(tf.reduce_max(..., axis=1))")
    expect_close(student["transform"], np.tile(student["matrix"], (3, 1, 1)).astype(np.float32),
                 f"the transform {what.replace('(x)', '(x, return_transform=True)')} returns",
                 against="the stand-in T-Net's matrix")
    if np.allclose(student["logits"], student["identity"], rtol=1e-4, atol=1e-5):
        raise CheckFailed(f"{what} ignores the T-Net's transform: the shared MLP must see "
                          "tf.matmul(points, A)")
    expect_close_naming(student["logits"], reference["logits"], what, [
        (reference["transposed"], "multiplies by A^T: the aligned points are "
                                  "tf.matmul(points, A), each point a row")])


@check(points=2, uses="pointnet", task="`PointNetSegmenter.call`",
       hint="local = shared MLP (B, N, F); global = max over the points, tiled to every point; "
            "point_head(concat([local, global], axis=-1))")
def segmenter_call(lab, rng):
    """PointNetSegmenter(5) with random weights on 2 clouds of 9 points: shuffling the points
    shuffles the logits alike; a point's logits change when the OTHER points move (the global
    feature), not when a point is repeated (a max); the same in a tf.function with unknown
    sizes; values."""
    model = lab.pointnet.PointNetSegmenter(5, widths=(8, 12), head_units=(8,))
    x = rng.normal(size=(2, 9, 3)).astype("float32")
    model(x)
    assign_random_weights(model, rng, 0.5)
    order = rng.permutation(9)
    moved = x.copy()
    moved[:, 1:] = 2.0 * moved[:, 1:] + 0.5
    out = {"logits": model(x), "logits_shuffled": model(x[:, order]), "order": order,
           "others_moved": model(moved),
           "logits_point_0_twice": np.asarray(model(with_point_0_twice(x)))[:, :9]}
    out["logits_traced"], out["logits_error"] = unknown_points(model, x)
    # The first head layer with the halves of its kernel's rows swapped: a call that puts the
    # global feature first then gives what the right order gives with the kernel as it was.
    kernel = model.point_head[0].kernel
    rows = np.asarray(kernel)
    half = rows.shape[0] // 2
    kernel.assign(np.concatenate([rows[half:], rows[:half]]))
    out["halves_swapped"] = model(x)
    kernel.assign(rows)
    return out


@segmenter_call.verdict
def _(student, reference):
    what = "PointNetSegmenter(5, widths=(8, 12), head_units=(8,))(x) for x (2, 9, 3)"
    logits = expect_shape(student["logits"], (2, 9, 5), what)
    expect_close(student["logits_shuffled"], logits[:, student["order"]],
                 f"{what} on the shuffled points", rtol=1e-4, atol=1e-5,
                 against="its logits shuffled the same way (per-point outputs follow their "
                         "points)")
    if np.allclose(np.asarray(student["others_moved"])[:, 0], logits[:, 0], atol=1e-6):
        raise CheckFailed(f"{what}: point 0's logits do not change when every other point "
                          "moves: concatenate the cloud's global (max-pooled) feature to each "
                          "point's local one")
    judge_max_pool(student, "logits", what, "the global feature is the MAX over the points "
                   "(tf.reduce_max(local, axis=1))")
    judge_unknown_points(student, "logits", what, "tile the global feature over "
                         "tf.shape(points)[1] points, not points.shape[1]")
    expect_close_naming(logits, reference["logits"], what, [
        (reference["halves_swapped"], "puts the global feature BEFORE the local one: "
                                      "concat([local, global], axis=-1), local first")])
    expect_close(student["others_moved"], reference["others_moved"],
                 f"{what} with the other points moved")


@check(points=1, uses="pointnet", reference=False, task="`part_mean_iou`",
       hint="IoU per part = |label & prediction| / |label | prediction|, averaged over the parts "
            "in the labels OR the predictions")
def part_mean_iou(lab, rng):
    """Against scikit-learn's macro Jaccard score, with parts only in the labels and parts
    only in the predictions."""
    from sklearn.metrics import jaccard_score
    labels = rng.integers(0, 5, size=(4, 30))
    predictions = np.where(rng.uniform(size=labels.shape) < 0.6, labels,
                           rng.integers(2, 7, size=labels.shape))
    flat = (labels.ravel(), predictions.ravel())
    return {"iou": lab.pointnet.part_mean_iou(labels, predictions),
            "expected": jaccard_score(*flat, average="macro"),
            "labels_only": jaccard_score(*flat, labels=np.unique(labels), average="macro"),
            "accuracy": float(np.mean(labels == predictions))}


@part_mean_iou.verdict
def _(student, _reference):
    expect_close_naming(np.float64(student["iou"]), np.float64(student["expected"]),
                        "part_mean_iou(labels, predictions)", [
        (student["labels_only"], "averages over the parts in the labels only: a part that is "
         "only predicted counts too (its IoU is 0)"),
        (student["accuracy"], "is the accuracy, not the mean IoU")],
        against="scikit-learn's jaccard_score(average='macro')", rtol=1e-6, atol=1e-9)


@check(points=2, uses="pointnet", task="`PoolingByMultiheadAttention.call`",
       hint="the SEEDS are the queries: tile them to (B, num_seeds, D); H = seeds + "
            "attention(seeds, x, x); return H + feed_forward(H)")
def attention_pooling(lab, rng):
    """PMA with 2 seeds on 3 sets of 7 elements, random weights: the shape (B, 2, D), the
    same output for shuffled sets, values, and values with the feed-forward at 0."""
    layer = lab.pointnet.PoolingByMultiheadAttention(num_seeds=2, num_heads=2, key_dim=4)
    x = rng.normal(size=(3, 7, 6)).astype("float32")
    layer.build(x.shape)
    assign_random_weights(layer, rng, 0.5)
    out = {"out": layer(x), "out_shuffled": layer(x[:, rng.permutation(7)])}
    # With the feed-forward's weights at zero, it outputs 0: out = H.
    saved = [np.asarray(w) for w in layer.feed_forward.weights]
    for w in layer.feed_forward.weights:
        w.assign(np.zeros(w.shape, "float32"))
    out["no_feed_forward"] = layer(x)
    for w, value in zip(layer.feed_forward.weights, saved):
        w.assign(value)
    return out


@attention_pooling.verdict
def _(student, reference):
    what = "PoolingByMultiheadAttention(num_seeds=2)(x) for x (3, 7, 6)"
    out = np.asarray(student["out"])
    if out.shape == (3, 7, 6):
        raise CheckFailed(f"{what} has shape (3, 7, 6), one row per element: the learned seeds "
                          "are the queries (B, num_seeds, D), the set gives keys and values")
    expect_shape(out, (3, 2, 6), what)
    invariant(student, "out", what)
    if np.allclose(student["no_feed_forward"], 0.0) and not np.allclose(
            reference["no_feed_forward"], 0.0):
        raise CheckFailed(f"{what} is 0 when the feed-forward's weights are 0: the residual "
                          "around it is missing; return H + feed_forward(H)")
    expect_close(student["no_feed_forward"], reference["no_feed_forward"],
                 f"{what} with the feed-forward's weights at 0 (out = H)")
    expect_close(out, reference["out"], what)
