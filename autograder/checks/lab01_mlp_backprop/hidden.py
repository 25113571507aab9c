"""Hidden checks of lab01_mlp_backprop: fresh shapes and inputs, gradients against autodiff,
and the linear regions checked as a partition of the interval rather than against numbers."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.checks.lab01_mlp_backprop import probes
from autograder.checks.lab01_mlp_backprop.probes import (
    expect_layer_grads,
    extreme_logits,
    layer_pairs,
    network_name,
    pattern,
    pre_activations,
    random_mlp,
    random_relu_network,
    standing_in,
)
from autograder.verdicts import expect_close, expect_finite, expect_true


def fresh_shape(rng):
    return int(rng.integers(1, 12)), int(rng.integers(2, 12))


@check(points=1, uses="layers", hint="softmax must hold for any (N, C), also N == 1, and "
                                     "for logits near +-1000")
def softmax_fresh(lab, rng):
    n, c = fresh_shape(rng)
    logits = np.concatenate([rng.normal(size=(n, c)), extreme_logits(rng, n, c)])
    return {"probs": lab.layers.softmax(logits)}


@softmax_fresh.verdict
def _(student, reference):
    expect_finite(student["probs"], "softmax on fresh shapes with logits near +-1000")
    expect_close(student["probs"], reference["probs"], "softmax on fresh shapes")


@check(points=1, uses="layers", hint="cross_entropy is unchanged when every logit of a row "
                                     "moves by the same amount, however large, and stays exact "
                                     "when the logits of a row are hundreds apart")
def cross_entropy_fresh(lab, rng):
    """The loss on fresh shapes, with rows shifted by ±500..5000, and with logits spread over
    [-1000, 1000] (where log(softmax + eps) is far off)."""
    n, c = fresh_shape(rng)
    logits = 3 * rng.normal(size=(n, c))
    labels = rng.integers(0, c, size=n)
    shift = rng.choice([-1.0, 1.0], size=(n, 1)) * rng.uniform(500, 5000, size=(n, 1))
    spread = extreme_logits(rng, n, c)
    return {"plain": lab.layers.cross_entropy(logits, labels),
            "shifted": lab.layers.cross_entropy(logits + shift, labels),
            "spread": lab.layers.cross_entropy(spread, rng.integers(0, c, size=len(spread)))}


@cross_entropy_fresh.verdict
def _(student, reference):
    expect_close(student["plain"], reference["plain"], "cross_entropy on fresh shapes")
    expect_finite(student["spread"], "cross_entropy with logits spread over [-1000, 1000]")
    expect_close(student["spread"], reference["spread"],
                 "cross_entropy with logits spread over [-1000, 1000]")
    expect_finite(student["shifted"], "cross_entropy with every row shifted by +-500..5000")
    # float64 logits of size 5000 keep ~1e-12 absolute precision: the shift must not matter.
    expect_close(student["shifted"], reference["plain"],
                 "cross_entropy with every row shifted by +-500..5000", rtol=1e-9, atol=1e-9)


@check(points=2, uses="layers", reference=False,
       hint="dense_backward must equal what tf.GradientTape finds for sum(upstream * out)")
def dense_backward_matches_autodiff(lab, rng):
    import tensorflow as tf
    n, d, m = (int(v) for v in rng.integers(1, 9, size=3))
    x, w, b = rng.normal(size=(n, d)), rng.normal(size=(d, m)), rng.normal(size=m)
    upstream = rng.normal(size=(n, m))
    mine = lab.layers.dense_backward(upstream, x, w)
    tx, tw, tb = (tf.constant(v) for v in (x, w, b))
    with tf.GradientTape() as tape:
        tape.watch([tx, tw, tb])
        out = tf.reduce_sum(upstream * (tf.matmul(tx, tw) + tb))
    return {"mine": list(mine), "autodiff": tape.gradient(out, [tx, tw, tb]),
            "shape": [n, d, m]}


@dense_backward_matches_autodiff.verdict
def _(student, _reference):
    n, d, m = student["shape"]
    expect_true(len(student["mine"]) == 3, "dense_backward must return (dx, dw, db)")
    for name, mine, autodiff in zip(("dx", "dw", "db"), student["mine"], student["autodiff"]):
        expect_close(mine, autodiff, f"{name} of dense_backward for N={n}, D={d}, M={m} "
                                     "against tf.GradientTape", rtol=1e-7, atol=1e-9)


@check(points=2, uses="mlp", reference=False,
       hint="mlp_loss_and_grads must give tf.GradientTape's gradients for any depth and width")
def mlp_gradients_match_autodiff(lab, rng):
    """mlp_loss_and_grads (on correct layers) against tf.GradientTape, for MLPs of one to
    four dense layers of random widths."""
    import tensorflow as tf
    depth = int(rng.integers(0, 4))
    sizes = [int(v) for v in rng.integers(2, 9, size=depth + 2)]
    n = int(rng.integers(1, 12))
    x, labels = rng.normal(size=(n, sizes[0])), rng.integers(0, sizes[-1], size=n)
    params = random_mlp(rng, sizes, x)
    with standing_in(lab.mlp, **probes.LAYERS):
        loss, grads = lab.mlp.mlp_loss_and_grads(params, x, labels)
    variables = [(tf.Variable(w), tf.Variable(b)) for w, b in params]
    with tf.GradientTape() as tape:
        out = tf.constant(x)
        for index, (w, b) in enumerate(variables):
            out = tf.matmul(out, w) + b
            out = tf.nn.relu(out) if index < len(variables) - 1 else out
        tape_loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=out))
    autodiff = tape.gradient(tape_loss, variables)
    return {"loss": loss, "grads": layer_pairs(grads),
            "tape_loss": tape_loss,
            "tape_grads": [list(pair) for pair in autodiff], "sizes": sizes}


@mlp_gradients_match_autodiff.verdict
def _(student, _reference):
    sizes = "-".join(str(s) for s in student["sizes"])
    expect_close(student["loss"], student["tape_loss"],
                 f"the loss of mlp_loss_and_grads for a {sizes} MLP against TensorFlow's")
    expect_layer_grads(student["grads"], student["tape_grads"],
                       f"mlp_loss_and_grads for a {sizes} MLP against tf.GradientTape")


@check(points=1, uses="layers",
       hint="numerical_gradient must honour h and work for arrays of any shape")
def numerical_gradient_fresh(lab, rng):
    x = rng.normal(size=(2, 3, 2))
    q = rng.normal(size=(12, 12))
    f = lambda v: float(v.reshape(-1) @ q @ v.reshape(-1) + np.sum(np.tanh(3 * v)))  # noqa: E731
    return {"grad": lab.layers.numerical_gradient(f, x, h=1e-4)}


@numerical_gradient_fresh.verdict
def _(student, reference):
    expect_close(student["grad"], reference["grad"], "numerical_gradient(f, x, h=1e-4) on a "
                 "(2, 3, 2) array", rtol=1e-6, atol=1e-8)


@check(points=2, uses="regions",
       hint="every breakpoint must be a zero of a pre-activation where the activation pattern "
            "changes, the pattern must stay constant between consecutive breakpoints, and "
            "the breakpoints must be sorted")
def linear_regions_are_exact(lab, rng):
    """The breakpoints of three deeper random networks are exactly where the pattern
    changes: zeros of a pre-activation, with a constant pattern between them; and they are
    the reference's."""
    networks = []
    for _ in range(3):
        depth = int(rng.integers(2, 5))
        sizes = (1, *(int(v) for v in rng.integers(4, 9, size=depth)), 2)
        weights, biases = random_relu_network(rng, sizes)
        lo, hi = -float(rng.uniform(2, 5)), float(rng.uniform(2, 5))
        networks.append({
            "weights": weights, "biases": biases, "interval": [lo, hi],
            "breakpoints": lab.regions.activation_breakpoints(weights, biases, lo, hi),
            "count": lab.regions.count_linear_regions(weights, biases, lo, hi)})
    return {"networks": networks}


@linear_regions_are_exact.verdict
def _(student, reference):
    for mine, theirs in zip(student["networks"], reference["networks"]):
        judge_regions(mine, theirs)


def judge_regions(student, reference):
    weights, biases = student["weights"], student["biases"]
    lo, hi = student["interval"]
    where = f"for a {network_name(weights)} network on [{lo:.3g}, {hi:.3g}]"
    expect_true(student["breakpoints"] is not None,
                f"activation_breakpoints {where} returned None")
    points = np.asarray(student["breakpoints"], dtype=np.float64).reshape(-1)
    expect_true(np.all(np.diff(points) > 0) and np.all((points > lo) & (points < hi)),
                f"activation_breakpoints {where} must be sorted, distinct and inside the "
                "interval")
    # At a breakpoint some unit's pre-activation is exactly 0 (up to round-off).
    pre = np.abs(pre_activations(weights, biases, points))
    nearest, scale = pre.min(axis=1, initial=np.inf), 1 + pre.max(initial=0.0)
    if np.any(nearest > 1e-9 * scale):
        k = int(np.argmax(nearest))
        raise CheckFailed(f"activation_breakpoints {where}: at t = {points[k]:.6g} no unit's "
                          f"pre-activation is 0 (the nearest is {nearest[k]:.3g}), so it is "
                          "not where the pattern changes")
    edges = np.concatenate([[lo], points, [hi]])
    middles = pattern(weights, biases, (edges[:-1] + edges[1:]) / 2)
    same = np.all(middles[1:] == middles[:-1], axis=1)
    if same.any():
        raise CheckFailed(f"activation_breakpoints {where}: the pattern does not change at "
                          f"t = {points[np.argmax(same)]:.6g}, so it is no breakpoint")
    for left, right, expected in zip(edges[:-1], edges[1:], middles):
        inner = np.linspace(left, right, 402)[1:-1]
        if not np.all(pattern(weights, biases, inner) == expected):
            raise CheckFailed(f"activation_breakpoints {where} misses a breakpoint between "
                              f"{left:.6g} and {right:.6g}")
    expected = reference["breakpoints"]
    expect_true(len(points) == len(expected),
                f"activation_breakpoints {where} finds {len(points)} breakpoints, expected "
                f"{len(expected)}")
    expect_close(points, expected, f"activation_breakpoints {where}", rtol=1e-7, atol=1e-9)
    expect_true(int(student["count"]) == len(points) + 1,
                f"count_linear_regions {where} is {student['count']}, but the "
                f"{len(points)} breakpoints make {len(points) + 1} regions")
