"""Public checks of lab01_mlp_backprop."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.verdicts import (
    expect_at_least,
    expect_close,
    expect_equal,
    expect_finite,
    expect_true,
)

# ---- layers.py ------------------------------------------------------------------------------


def extreme_logits(rng, rows, classes):
    """Logits a naive softmax turns into NaN: ordinary rows shifted by +-1000, and rows
    spread over [-1000, 1000]."""
    ordinary = 3 * rng.normal(size=(rows, classes))
    spread = rng.uniform(-1000, 1000, size=(rows, classes))
    return np.concatenate([ordinary + 1000, ordinary - 1000, spread])


@check(points=2, uses="layers",
       hint="softmax(z) = softmax(z - max(z)) row by row: subtract the row maximum before "
            "exp, or exp(1000) overflows to inf and inf/inf is NaN")
def softmax(lab, rng):
    ordinary = 3 * rng.normal(size=(6, 5))
    return {"ordinary": lab.layers.softmax(ordinary),
            "extreme": lab.layers.softmax(extreme_logits(rng, 2, 5))}


@softmax.verdict
def _(student, reference):
    expect_close(student["ordinary"], reference["ordinary"], "softmax(logits)")
    expect_finite(student["extreme"], "softmax(logits) for logits near +-1000")
    expect_close(student["extreme"], reference["extreme"], "softmax(logits) for logits near +-1000")


@check(points=2, uses="layers",
       hint="the mean over the batch of -log softmax(logits)[n, label[n]], with log-softmax "
            "= z - max(z) - log(sum(exp(z - max(z)))); log(softmax(z)) is -inf where "
            "softmax underflows to 0")
def cross_entropy(lab, rng):
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


@check(points=2, uses="layers",
       hint="d loss / d logits = (softmax(logits) - onehot(labels)) / N: the loss is a mean "
            "over the N rows")
def cross_entropy_backward(lab, rng):
    logits = 3 * rng.normal(size=(8, 5))
    return {"dlogits": lab.layers.cross_entropy_backward(logits, rng.integers(0, 5, size=8))}


@cross_entropy_backward.verdict
def _(student, reference):
    expect_close(student["dlogits"], reference["dlogits"], "cross_entropy_backward(logits, labels)")


@check(points=1, uses="layers", hint="out = x @ w + b, with x (N, D), w (D, M), b (M,)")
def dense_forward(lab, rng):
    x, w, b = rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
    return {"out": lab.layers.dense_forward(x, w, b)}


@dense_forward.verdict
def _(student, reference):
    expect_close(student["out"], reference["out"], "dense_forward(x, w, b)")


@check(points=3, uses="layers",
       hint="dx = upstream @ w.T (N, D); dw = x.T @ upstream (D, M); db = upstream summed "
            "over the batch axis (M,); match each shape to its variable's")
def dense_backward(lab, rng):
    x, w = rng.normal(size=(5, 4)), rng.normal(size=(4, 3))
    upstream = rng.normal(size=(5, 3))
    dx, dw, db = lab.layers.dense_backward(upstream, x, w)
    return {"dx": dx, "dw": dw, "db": db}


@dense_backward.verdict
def _(student, reference):
    for name in ("dx", "dw", "db"):
        expect_close(student[name], reference[name], f"{name} of dense_backward(upstream, x, w)")


@check(points=1, uses="layers", hint="np.maximum(x, 0), elementwise")
def relu_forward(lab, rng):
    x = rng.normal(size=(4, 6))
    x[0, :3] = 0.0
    return {"out": lab.layers.relu_forward(x)}


@relu_forward.verdict
def _(student, reference):
    expect_close(student["out"], reference["out"], "relu_forward(x)")


@check(points=1, uses="layers",
       hint="the upstream gradient passes where x > 0 and is 0 where x <= 0 (at x == 0 too)")
def relu_backward(lab, rng):
    x = rng.normal(size=(4, 6))
    x[0, :3] = 0.0  # the kink: the derivative there is taken to be 0
    return {"dx": lab.layers.relu_backward(rng.normal(size=(4, 6)), x)}


@relu_backward.verdict
def _(student, reference):
    expect_close(student["dx"], reference["dx"], "relu_backward(upstream, x), with some x == 0,")


def wavy(x):
    return float(np.sum(np.sin(x) * x ** 2))


@check(points=2, uses="layers",
       hint="central differences (f(x + h e_i) - f(x - h e_i)) / (2h) for every entry i; a "
            "one-sided difference (f(x + h e_i) - f(x)) / h is only first-order accurate")
def numerical_gradient(lab, rng):
    x = rng.normal(size=(3, 4))
    a = rng.normal(size=(5, 3))
    original = x.copy()
    wavy_grad = lab.layers.numerical_gradient(wavy, x)
    # Not separable: each entry of w moves every term of the log-sum-exp.
    log_sum_exp_grad = lab.layers.numerical_gradient(
        lambda w: float(np.log(np.sum(np.exp(a @ w)))), x)
    return {"wavy": wavy_grad, "log_sum_exp": log_sum_exp_grad,
            "x_unchanged": bool(np.array_equal(x, original))}


@numerical_gradient.verdict
def _(student, reference):
    # Central differences with h = 1e-5 are accurate to ~1e-10 here; a one-sided
    # difference is off by ~h/2 * f'' ~ 1e-5.
    expect_close(student["wavy"], reference["wavy"],
                 "numerical_gradient(f, x) of f(x) = sum(sin(x) * x^2)", rtol=1e-6, atol=1e-8)
    expect_close(student["log_sum_exp"], reference["log_sum_exp"],
                 "numerical_gradient(f, w) of f(w) = log(sum(exp(a @ w)))", rtol=1e-6, atol=1e-8)
    expect_true(student["x_unchanged"],
                "numerical_gradient(f, x) changed the caller's x: perturb a copy, or restore it")


@check(points=1, uses="layers",
       hint="max over entries of |a - b| / max(|a| + |b|, eps): a single number")
def relative_error(lab, rng):
    a = rng.normal(size=(4, 3))
    b = a + 1e-3 * rng.normal(size=(4, 3))
    a[0, 0] = b[0, 0] = 0.0  # 0 / 0 must count as agreement, not NaN
    return {"error": lab.layers.relative_error(a, b),
            "equal": lab.layers.relative_error(b, b.copy())}


@relative_error.verdict
def _(student, reference):
    expect_close(student["error"], reference["error"], "relative_error(a, b)")
    expect_close(student["equal"], reference["equal"], "relative_error(b, b)")


# ---- mlp.py: by hand ------------------------------------------------------------------------

def random_mlp(rng, sizes, x):
    """Random parameters with non-zero biases (so a bias mistake shows), the last bias set
    so that half the logits of x are negative (so a ReLU on the logits shows too)."""
    params = [(rng.normal(size=(d_in, d_out)), rng.normal(size=d_out))
              for d_in, d_out in zip(sizes[:-1], sizes[1:])]
    hidden = x
    for w, b in params[:-1]:
        hidden = np.maximum(hidden @ w + b, 0.0)
    w, b = params[-1]
    params[-1] = (w, b - np.median(hidden @ w + b))
    return params


@check(points=1, uses="mlp",
       hint="dense_forward then relu_forward for each layer, except no ReLU after the last "
            "layer: the logits can be negative")
def mlp_forward(lab, rng):
    x = rng.normal(size=(7, 6))
    logits, _ = lab.mlp.mlp_forward(random_mlp(rng, (6, 5, 4, 3), x), x)
    return {"logits": logits}


@mlp_forward.verdict
def _(student, reference):
    expect_close(student["logits"], reference["logits"], "the logits of mlp_forward(params, x)")


@check(points=3, uses="mlp",
       hint="backprop: upstream = cross_entropy_backward(logits, labels); then for each layer, "
            "last to first, relu_backward at that layer's pre-activation (not after the last "
            "layer) and dense_backward, whose dx is the next upstream")
def mlp_gradients(lab, rng):
    x = rng.normal(size=(9, 6))
    params = random_mlp(rng, (6, 5, 4, 3), x)
    loss, grads = lab.mlp.mlp_loss_and_grads(params, x, rng.integers(0, 3, size=9))
    return {"loss": loss, "grads": [list(pair) for pair in grads]}


def expect_layer_grads(student, reference, what):
    expect_true(len(student) == len(reference),
                f"{what} has {len(student)} (dw, db) pairs, expected one per layer "
                f"({len(reference)})")
    for layer, (mine, theirs) in enumerate(zip(student, reference), start=1):
        expect_true(len(mine) == 2, f"{what}: layer {layer} must give a (dw, db) pair")
        expect_close(mine[0], theirs[0], f"{what}: dw of layer {layer}")
        expect_close(mine[1], theirs[1], f"{what}: db of layer {layer}")


@mlp_gradients.verdict
def _(student, reference):
    expect_close(student["loss"], reference["loss"], "the loss of mlp_loss_and_grads")
    expect_layer_grads(student["grads"], reference["grads"], "the grads of mlp_loss_and_grads")


# Training budgets: the same data, seeds and steps for the student and the reference.
ACCURACY_MARGIN = 0.03
MANUAL_BUDGET = dict(hidden=128, epochs=50, batch_size=16, learning_rate=0.1)
KERAS_BUDGET = dict(hidden=128, epochs=10, batch_size=64, learning_rate=1e-2)


@check(points=2, uses="mlp", timeout=60,
       hint="train_mlp_manual must update every (w, b) with w - learning_rate * dw on each "
            "batch; if mlp_gradients passes, look at the update")
def mlp_manual_training(lab, rng):
    from dlkit.data import load_digits
    x, y = load_digits("train", flatten=True)
    x_test, y_test = load_digits("test", flatten=True)
    seed = int(rng.integers(1 << 30))
    params = lab.mlp.init_mlp((64, MANUAL_BUDGET["hidden"], 10), seed=seed)
    params, losses = lab.mlp.train_mlp_manual(
        params, x.astype(np.float64), y, epochs=MANUAL_BUDGET["epochs"],
        batch_size=MANUAL_BUDGET["batch_size"], learning_rate=MANUAL_BUDGET["learning_rate"],
        seed=seed)
    # Predict with our own forward pass: this check grades the training, not mlp_forward.
    hidden = np.maximum(x_test @ params[0][0] + params[0][1], 0.0)
    predictions = np.argmax(hidden @ params[1][0] + params[1][1], axis=1)
    return {"test_accuracy": float(np.mean(predictions == y_test)),
            "losses": np.asarray(losses, dtype=np.float64)}


@mlp_manual_training.verdict
def _(student, reference):
    expect_finite(student["losses"], "the training losses of train_mlp_manual")
    expect_at_least(student["test_accuracy"], reference["test_accuracy"] - ACCURACY_MARGIN,
                    f"the digits test accuracy after train_mlp_manual (reference "
                    f"{reference['test_accuracy']:.3f}, margin {ACCURACY_MARGIN})")


# ---- mlp.py: with tf.GradientTape ----------------------------------------------------------

@check(points=2, uses="mlp",
       hint="record the forward pass (tf.matmul, + b, tf.nn.relu except after the last layer) "
            "and the mean sparse softmax cross-entropy under tf.GradientTape(); "
            "tape.gradient(loss, variables); then w.assign_sub(learning_rate * dw)")
def tape_train_step(lab, rng):
    import tensorflow as tf
    x = rng.normal(size=(9, 6)).astype("float32")
    variables = [(tf.Variable(w.astype("float32")), tf.Variable(b.astype("float32")))
                 for w, b in random_mlp(rng, (6, 5, 4, 3), x)]
    loss, grads = lab.mlp.tape_train_step(variables, x, rng.integers(0, 3, size=9), 0.5)
    return {"loss": loss, "grads": [list(pair) for pair in grads],
            "updated": [[w, b] for w, b in variables]}


@tape_train_step.verdict
def _(student, reference):
    expect_close(student["loss"], reference["loss"], "the loss of tape_train_step")
    expect_layer_grads(student["grads"], reference["grads"],
                       "the gradients of tape_train_step (they equal mlp_loss_and_grads')")
    for layer, (mine, theirs) in enumerate(zip(student["updated"], reference["updated"]), 1):
        expect_close(mine[0], theirs[0], f"w of layer {layer} after tape_train_step")
        expect_close(mine[1], theirs[1], f"b of layer {layer} after tape_train_step")


# ---- mlp.py: with Keras ---------------------------------------------------------------------

@check(points=2, uses="mlp",
       hint="build: self.add_weight for a (D, units) kernel, then a (units,) bias; call: "
            "self.activation(keras.ops.matmul(x, self.kernel) + self.bias)")
def keras_linear_layer(lab, rng):
    x = rng.normal(size=(5, 4)).astype("float32")
    kernel = rng.normal(size=(4, 3)).astype("float32")
    bias = rng.normal(size=3).astype("float32")
    outputs = {}
    for activation in ("relu", None):
        layer = lab.mlp.Linear(3, activation=activation)
        layer(x)  # builds the weights
        shapes = [list(v.shape) for v in layer.weights]
        if shapes != [[4, 3], [3]]:
            raise ValueError(f"Linear(3) on (5, 4) inputs has weights of shapes {shapes}, "
                             "expected [[4, 3], [3]] (kernel, then bias)")
        layer.set_weights([kernel, bias])
        outputs[str(activation)] = layer(x)
    return outputs


@keras_linear_layer.verdict
def _(student, reference):
    expect_close(student["None"], reference["None"], "Linear(3)(x) without activation")
    expect_close(student["relu"], reference["relu"], 'Linear(3, activation="relu")(x)')


@check(points=2, uses="mlp", timeout=60,
       hint="a Linear(units, 'relu') per hidden width, then Linear(num_classes) with no "
            "activation (logits); compile with Adam(learning_rate) and "
            "SparseCategoricalCrossentropy(from_logits=True)")
def keras_mlp_training(lab, rng):
    from dlkit.data import load_digits
    x, y = load_digits("train", flatten=True)
    x_test, y_test = load_digits("test", flatten=True)
    model = lab.mlp.build_keras_mlp(64, (KERAS_BUDGET["hidden"],), 10,
                                    learning_rate=KERAS_BUDGET["learning_rate"])
    model.fit(x, y, epochs=KERAS_BUDGET["epochs"], batch_size=KERAS_BUDGET["batch_size"],
              verbose=0)
    logits = model.predict(x_test, batch_size=512, verbose=0)
    return {"test_accuracy": float(np.mean(np.argmax(logits, axis=1) == y_test))}


@keras_mlp_training.verdict
def _(student, reference):
    expect_at_least(student["test_accuracy"], reference["test_accuracy"] - ACCURACY_MARGIN,
                    f"the digits test accuracy of build_keras_mlp after model.fit (reference "
                    f"{reference['test_accuracy']:.3f}, margin {ACCURACY_MARGIN})")


@check(points=1, uses="mlp", reference=False,
       hint="the model must map (N, D) to (N, C) logits and reload from .keras: build creates "
            "the weights with add_weight, and Linear stays registered as serializable")
def keras_model_saves(lab, rng):
    import keras
    model = lab.mlp.build_keras_mlp(8, (6, 5), 3)
    x = rng.normal(size=(4, 8)).astype("float32")
    path = lab.tmpdir / "mlp.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    return {"before": model(x), "after": reloaded(x)}


@keras_model_saves.verdict
def _(student, _reference):
    before = np.asarray(student["before"])
    expect_true(before.shape == (4, 3), f"build_keras_mlp(8, (6, 5), 3) maps (4, 8) inputs "
                                        f"to shape {before.shape}, expected (4, 3)")
    expect_close(student["after"], before, "the outputs of the model reloaded from .keras",
                 against="the outputs before saving")


# ---- regions.py -----------------------------------------------------------------------------

def random_relu_network(rng, sizes):
    weights = [rng.normal(size=(d_in, d_out)) for d_in, d_out in zip(sizes[:-1], sizes[1:])]
    return weights, [rng.normal(size=d_out) for d_out in sizes[1:]]


@check(points=2, uses="regions",
       hint="on an interval where earlier layers are fixed, a pre-activation is slope * t + "
            "offset and crosses zero at t = -offset / slope: split there, then zero slope "
            "and offset of the units that are off on each piece before the next layer")
def activation_breakpoints(lab, rng):
    weights, biases = random_relu_network(rng, (1, 8, 8, 1))
    return {"breakpoints": lab.regions.activation_breakpoints(weights, biases, -3.0, 3.0)}


@activation_breakpoints.verdict
def _(student, reference):
    found = np.asarray(student["breakpoints"], dtype=np.float64).reshape(-1)
    expected = reference["breakpoints"]
    if len(found) != len(expected):
        raise CheckFailed(f"activation_breakpoints found {len(found)} breakpoints in (-3, 3) "
                          f"for a 1-8-8-1 network, expected {len(expected)}")
    expect_close(np.sort(found), expected, "activation_breakpoints (sorted)",
                 rtol=1e-7, atol=1e-9)


@check(points=1, uses="regions", hint="B breakpoints cut [lo, hi] into B + 1 regions")
def count_linear_regions(lab, rng):
    weights, biases = random_relu_network(rng, (1, 10, 10, 2))
    return {"count": lab.regions.count_linear_regions(weights, biases, -4.0, 4.0)}


@count_linear_regions.verdict
def _(student, reference):
    expect_equal(student["count"], reference["count"],
                 "count_linear_regions on [-4, 4] for a 1-10-10-2 network")
