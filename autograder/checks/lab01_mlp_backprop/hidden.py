"""Hidden checks of lab01_mlp_backprop: fresh shapes and inputs, gradients against autodiff,
and the linear regions checked as a partition of the interval rather than against numbers."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import standing_in
from autograder.checks.lab01_mlp_backprop import probes
from autograder.checks.lab01_mlp_backprop.probes import (
    expect_layer_grads,
    extreme_logits,
    layer_pairs,
    network_name,
    random_mlp,
    random_relu_network,
)
from autograder.verdicts import expect_at_least, expect_close, expect_finite, expect_true


def pre_activations(weights, biases, t):
    """Every hidden unit's pre-activation (M, hidden units) at inputs t (M,)."""
    out, pre = np.asarray(t, dtype=np.float64).reshape(-1, 1), []
    for w, b in zip(weights[:-1], biases[:-1]):
        pre.append(out @ w + b)
        out = np.maximum(pre[-1], 0.0)
    return np.concatenate(pre, axis=1)


def pattern(weights, biases, t):
    """Activation pattern (M, hidden units) of the network at inputs t (M,)."""
    return pre_activations(weights, biases, t) > 0


def backprop(params, x, labels):
    """A correct mlp_loss_and_grads, for train_mlp_manual on the digits (hidden checks only:
    the student release does not ship it)."""
    inputs, pre, out = [], [], x
    for index, (w, b) in enumerate(params):
        inputs.append(out)
        pre.append(out @ w + b)
        out = pre[-1] if index == len(params) - 1 else np.maximum(pre[-1], 0.0)
    shifted = out - out.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(labels))
    upstream = np.exp(log_probs)
    upstream[rows, labels] -= 1.0
    upstream /= len(labels)
    grads = []
    for index in range(len(params) - 1, -1, -1):
        if index != len(params) - 1:
            upstream = upstream * (pre[index] > 0)
        grads.insert(0, (inputs[index].T @ upstream, upstream.sum(axis=0)))
        upstream = upstream @ params[index][0].T
    return float(-log_probs[rows, labels].mean()), grads


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
        for layer, (w, b) in enumerate(variables):
            out = out @ w + b
            out = tf.nn.relu(out) if layer < len(variables) - 1 else out
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


MANUAL_BUDGET = dict(hidden=128, epochs=50, batch_size=16, learning_rate=0.1)
ACCURACY_MARGIN = 0.03


@check(points=1, uses="mlp", timeout=60,
       hint="train_mlp_manual must train: on each batch, mlp_loss_and_grads on that batch, "
            "then every w and b moves by -learning_rate times its gradient")
def mlp_manual_training_digits(lab, rng):
    """SGD on the digits with correct gradients (a 64-128-10 MLP, 50 epochs): the test
    accuracy is 0.03 or less below the reference's."""
    x, y, x_test, y_test = probes.digits()
    seed = int(rng.integers(1 << 30))
    initial = lab.mlp.init_mlp((64, MANUAL_BUDGET["hidden"], 10), seed=seed)
    with standing_in(lab.mlp, mlp_loss_and_grads=backprop):
        params, _ = lab.mlp.train_mlp_manual(
            initial, x, y, epochs=MANUAL_BUDGET["epochs"],
            batch_size=MANUAL_BUDGET["batch_size"],
            learning_rate=MANUAL_BUDGET["learning_rate"], seed=seed)
    (w1, b1), (w2, b2) = [(np.asarray(w, np.float64), np.asarray(b, np.float64))
                          for w, b in params]
    logits = np.maximum(x_test @ w1 + b1, 0.0) @ w2 + b2
    return {"test_accuracy": float(np.mean(np.argmax(logits, axis=1) == y_test))}


@mlp_manual_training_digits.verdict
def _(student, reference):
    expect_at_least(student["test_accuracy"], reference["test_accuracy"] - ACCURACY_MARGIN,
                    "the digits test accuracy after train_mlp_manual with correct gradients "
                    f"(reference {reference['test_accuracy']:.3f}, margin {ACCURACY_MARGIN})")
