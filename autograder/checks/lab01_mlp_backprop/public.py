"""Public checks of lab01_mlp_backprop, part 1: the building blocks of layers.py, each on
its own."""
import numpy as np

from autograder.api import check
from autograder.checks.lab01_mlp_backprop.probes import extreme_logits
from autograder.verdicts import expect_close, expect_finite, expect_true


@check(points=2, uses="layers", task="`softmax`",
       hint="softmax(z) = softmax(z - max(z)) row by row: subtract the row maximum before "
            "exp, or exp(1000) overflows to inf and inf/inf is NaN")
def softmax(lab, rng):
    """Row-wise probabilities of ordinary logits, and finite, correct ones for logits near
    ±1000."""
    ordinary = 3 * rng.normal(size=(6, 5))
    return {"ordinary": lab.layers.softmax(ordinary),
            "extreme": lab.layers.softmax(extreme_logits(rng, 2, 5))}


@softmax.verdict
def _(student, reference):
    expect_close(student["ordinary"], reference["ordinary"], "softmax(logits)")
    expect_finite(student["extreme"], "softmax(logits) for logits near +-1000")
    expect_close(student["extreme"], reference["extreme"], "softmax(logits) for logits near +-1000")


@check(points=2, uses="layers", task="`cross_entropy`",
       hint="the mean over the batch of -log softmax(logits)[n, label[n]], with log-softmax "
            "= z - max(z) - log(sum(exp(z - max(z)))); log(softmax(z)) is -inf where "
            "softmax underflows to 0")
def cross_entropy(lab, rng):
    """The mean loss of ordinary logits, and a finite, exact one for logits near ±1000."""
    ordinary = 3 * rng.normal(size=(8, 5))
    extreme = extreme_logits(rng, 3, 5)
    return {"ordinary": lab.layers.cross_entropy(ordinary, rng.integers(0, 5, size=8)),
            "extreme": lab.layers.cross_entropy(extreme, rng.integers(0, 5, size=9))}


@cross_entropy.verdict
def _(student, reference):
    expect_close(student["ordinary"], reference["ordinary"], "cross_entropy(logits, labels)")
    expect_finite(student["extreme"], "cross_entropy(logits, labels) for logits near +-1000")
    expect_close(student["extreme"], reference["extreme"],
                 "cross_entropy(logits, labels) for logits near +-1000")


@check(points=2, uses="layers", task="`cross_entropy_backward`",
       hint="d loss / d logits = (softmax(logits) - onehot(labels)) / N: the loss is a mean "
            "over the N rows")
def cross_entropy_backward(lab, rng):
    """dL/dlogits of the mean cross-entropy for 8 rows of 5 classes."""
    logits = 3 * rng.normal(size=(8, 5))
    return {"dlogits": lab.layers.cross_entropy_backward(logits, rng.integers(0, 5, size=8))}


@cross_entropy_backward.verdict
def _(student, reference):
    expect_close(student["dlogits"], reference["dlogits"], "cross_entropy_backward(logits, labels)")


@check(points=1, uses="layers", task="`dense_forward`",
       hint="out = x @ w + b, with x (N, D), w (D, M), b (M,)")
def dense_forward(lab, rng):
    """x @ w + b for x (5, 4), w (4, 3), b (3,)."""
    x, w, b = rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
    return {"out": lab.layers.dense_forward(x, w, b)}


@dense_forward.verdict
def _(student, reference):
    expect_close(student["out"], reference["out"], "dense_forward(x, w, b)")


@check(points=3, uses="layers", task="`dense_backward`",
       hint="dx = upstream @ w.T (N, D); dw = x.T @ upstream (D, M); db = upstream summed "
            "over the batch axis (M,); match each shape to its variable's")
def dense_backward(lab, rng):
    """dx, dw and db for x (5, 4), w (4, 3) and a random upstream gradient (5, 3)."""
    x, w = rng.normal(size=(5, 4)), rng.normal(size=(4, 3))
    upstream = rng.normal(size=(5, 3))
    dx, dw, db = lab.layers.dense_backward(upstream, x, w)
    return {"dx": dx, "dw": dw, "db": db}


@dense_backward.verdict
def _(student, reference):
    for name in ("dx", "dw", "db"):
        expect_close(student[name], reference[name], f"{name} of dense_backward(upstream, x, w)")


@check(points=1, uses="layers", task="`relu_forward`", hint="np.maximum(x, 0), elementwise")
def relu_forward(lab, rng):
    """max(x, 0) elementwise, with some x exactly 0."""
    x = rng.normal(size=(4, 6))
    x[0, :3] = 0.0
    return {"out": lab.layers.relu_forward(x)}


@relu_forward.verdict
def _(student, reference):
    expect_close(student["out"], reference["out"], "relu_forward(x)")


@check(points=1, uses="layers", task="`relu_backward`",
       hint="the upstream gradient passes where x > 0 and is 0 where x <= 0 (at x == 0 too)")
def relu_backward(lab, rng):
    """The upstream gradient masked by x > 0, with some x exactly 0 (where it is 0)."""
    x = rng.normal(size=(4, 6))
    x[0, :3] = 0.0  # the kink: the derivative there is taken to be 0
    return {"dx": lab.layers.relu_backward(rng.normal(size=(4, 6)), x)}


@relu_backward.verdict
def _(student, reference):
    expect_close(student["dx"], reference["dx"], "relu_backward(upstream, x), with some x == 0,")


@check(points=2, uses="layers", task="`numerical_gradient`",
       hint="for every entry i: set x[i] = saved + h, evaluate f; set x[i] = saved - h, "
            "evaluate f; put x[i] = saved back; grad[i] = (f_plus - f_minus) / (2h). A "
            "one-sided difference (f(x + h e_i) - f(x)) / h is only first-order accurate")
def numerical_gradient(lab, rng):
    """Central differences of two functions (one not separable) to 1e-6, each evaluated at
    points that differ from x in one entry only, with the caller's x left unchanged."""
    x = rng.normal(size=(3, 4))
    a = rng.normal(size=(5, 3))
    original = x.copy()
    moved = []  # per call of f: how many entries of its argument differ from x

    def watched(f):
        def call(v):
            moved.append(int(np.sum(np.asarray(v).reshape(original.shape) != original)))
            return f(v)
        return call

    wavy = lab.layers.numerical_gradient(
        watched(lambda v: float(np.sum(np.sin(v) * v ** 2))), x)
    # Not separable: each entry of w moves every term of the log-sum-exp.
    log_sum_exp = lab.layers.numerical_gradient(
        watched(lambda w: float(np.log(np.sum(np.exp(a @ w))))), x)
    return {"wavy": wavy, "log_sum_exp": log_sum_exp, "moved": moved,
            "x_unchanged": bool(np.array_equal(x, original))}


@numerical_gradient.verdict
def _(student, reference):
    expect_true(student["x_unchanged"],
                "numerical_gradient(f, x) changed the caller's x: perturb a copy, or restore it")
    most = max(student["moved"], default=0)
    expect_true(most <= 1, f"numerical_gradient(f, x) called f at a point where {most} "
                           "entries of x had moved: after evaluating f at x[i] + h and x[i] - h, "
                           "put x[i] back to its saved value before moving to the next entry")
    # Central differences with h = 1e-5 are accurate to ~1e-10 here; a one-sided
    # difference is off by ~h/2 * f'' ~ 1e-5.
    expect_close(student["wavy"], reference["wavy"],
                 "numerical_gradient(f, x) of f(x) = sum(sin(x) * x^2)", rtol=1e-6, atol=1e-8)
    expect_close(student["log_sum_exp"], reference["log_sum_exp"],
                 "numerical_gradient(f, w) of f(w) = log(sum(exp(a @ w)))", rtol=1e-6, atol=1e-8)


@check(points=1, uses="layers", task="`relative_error`",
       hint="max over entries of |a - b| / max(|a| + |b|, eps): the sum of the absolute "
            "values (not the absolute value of the sum, which is ~0 where a ~ -b), one number")
def relative_error(lab, rng):
    """The largest relative error of nearly equal arrays (with a 0/0 entry), of arrays with
    entries of opposite signs, of an array against zeros, and of equal arrays."""
    a = rng.normal(size=(4, 3))
    close = a + 1e-3 * rng.normal(size=(4, 3))
    a[0, 0] = close[0, 0] = 0.0  # 0 / 0 must count as agreement, not NaN
    flipped = -a * rng.uniform(0.5, 2.0, size=(4, 3))
    flipped[1::2] = a[1::2] * rng.uniform(0.9, 1.1, size=(2, 3))  # half the rows same sign
    flipped[3, 2] = -a[3, 2]  # a + b == 0 exactly
    errors = {"close": (a, close), "opposite": (a, flipped), "zeros": (a, np.zeros_like(a)),
              "equal": (close, close.copy())}
    return {name: lab.layers.relative_error(*pair) for name, pair in errors.items()}


@relative_error.verdict
def _(student, reference):
    for name, what in (("close", "relative_error(a, b) for nearly equal a and b"),
                       ("opposite", "relative_error(a, b) where a and b have entries of "
                                    "opposite signs"),
                       ("zeros", "relative_error(a, zeros)"),
                       ("equal", "relative_error(b, b)")):
        expect_close(student[name], reference[name], what)
