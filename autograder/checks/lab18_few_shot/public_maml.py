"""Public checks of lab18_few_shot, part 3: MAML, first-order MAML and Reptile (maml.py).

On a linear regression model with the MSE, everything has a closed form in numpy: the inner
gradient 2/n X^T (X θ - y), the Hessian 2/n X^T X, and the meta-gradient through k inner
steps, mean over tasks of (I - α H_s)^k ∇L_q(φ_k). That Hessian is not zero, so the
second-order meta-gradient differs from the first-order one. On a tanh MLP the second-order
meta-gradient is checked against central finite differences (float64) of the meta-loss,
whose inner step the probe computes with one tf.GradientTape."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import standing_in
from autograder.checks.lab18_few_shot.probes import flat_gradients, judge_no_none_gradient
from autograder.verdicts import expect_close, expect_close_naming, expect_true


def linear_forward(params, x):
    """The checks' linear model: x @ W + b."""
    import tensorflow as tf
    return tf.matmul(x, params[0]) + params[1]


def mse(predictions, y):
    import tensorflow as tf
    return tf.reduce_mean(tf.square(predictions - y))


def _linear_task(rng, n=6, d=3):
    x = rng.normal(size=(n, d)).astype("float32")
    y = rng.normal(size=(n, 1)).astype("float32")
    return x, y


def _theta(rng, d=3):
    return [rng.normal(size=(d, 1)).astype("float32"), rng.normal(size=(1,)).astype("float32")]


def _flat(params):
    return np.concatenate([np.ravel(np.asarray(p, dtype=np.float64)) for p in params])


def _design(x):
    return np.hstack([np.asarray(x, np.float64), np.ones((len(x), 1))])


def _grad(theta, x, y):
    a = _design(x)
    return 2.0 / len(a) * a.T @ (a @ theta - np.ravel(y))


def _descend(theta, x, y, lr, steps):
    for _ in range(steps):
        theta = theta - lr * _grad(theta, x, y)
    return theta


@check(points=1, uses="maml", task="`inner_adapt`",
       hint="fast = list(params); per step: a tape watching fast, "
       "grads of loss_fn(forward(fast, x), y), fast = [p - inner_lr * g]")
def inner_adapt(lab, rng):
    """Three inner steps on a linear model, second and first order, against gradient descent
    in closed form; params are left unchanged."""
    theta = _theta(rng)
    x, y = _linear_task(rng)
    import tensorflow as tf
    out = {"theta": _flat(theta), "x": x, "y": y}
    for first_order in (False, True):
        # Fresh Variables per call: a call that changes them is reported by name, and does
        # not spoil the next call's values.
        params = [tf.Variable(p) for p in theta]
        adapted = lab.maml.inner_adapt(linear_forward, mse, params, x, y, 0.1, 3, first_order)
        out[f"adapted_{first_order}"] = _flat([tf.identity(a) for a in adapted])
        out[f"after_{first_order}"] = _flat(params)
    return out


@inner_adapt.verdict
def _(student, reference):
    theta, x, y = student["theta"], student["x"], student["y"]
    exact = _descend(theta, x, y, 0.1, 3)
    for first_order in (False, True):
        what = f"inner_adapt(..., inner_lr=0.1, steps=3, first_order={first_order})"
        expect_true(np.array_equal(student[f"after_{first_order}"], theta),
                    f"{what} changed the caller's params (tf.Variables) in place, by "
                    f"{np.abs(student[f'after_{first_order}'] - theta).max():.3g} at most: no "
                    "assign/assign_sub; build new tensors, fast = [p - inner_lr * g], and "
                    "leave params as they were (MAML differentiates through them)")
    for first_order in (False, True):
        what = f"inner_adapt(..., inner_lr=0.1, steps=3, first_order={first_order})"
        expect_close_naming(student[f"adapted_{first_order}"], exact, what,
                            [(_descend(theta, x, y, 0.1, 1), "one step only: take `steps` steps, "
                              "each from the parameters of the one before"),
                             (theta + (exact - theta) * -1, "the step goes UP the gradient: "
                              "p - inner_lr * g")],
                            against="gradient descent in closed form", rtol=1e-4, atol=1e-5)


@check(points=3, uses="maml", task="`maml_meta_gradient`",
       hint="an outer tape around inner_adapt and the query losses; the inner tape must be "
       "INSIDE the outer one and its gradients must not be stopped: the second-order term")
def maml_second_order_linear(lab, rng):
    """MAML's meta-loss and meta-gradient on 2 linear-regression tasks, 2 inner steps, second
    and first order, against the closed forms: mean (I - αH)² ∇L_q(φ) and mean ∇L_q(φ)."""
    theta = _theta(rng)
    tasks = [_linear_task(rng) + _linear_task(rng) for _ in range(2)]
    out = {"theta": _flat(theta)}
    for t, task in enumerate(tasks):
        for name, value in zip(("sx", "sy", "qx", "qy"), task):
            out[f"{name}{t}"] = value
    import tensorflow as tf
    for first_order in (False, True):
        params = [tf.Variable(p) for p in theta]
        loss, grads = lab.maml.maml_meta_gradient(linear_forward, mse, params, tasks, 0.05, 2,
                                                  first_order)
        out[f"loss_{first_order}"] = np.asarray(loss)
        out[f"grad_{first_order}"], out[f"grad_{first_order}_none"] = flat_gradients(grads, theta)
    return out


@maml_second_order_linear.verdict
def _(student, reference):
    theta, lr = student["theta"], 0.05
    second, first, losses = [], [], []
    for t in range(2):
        sx, sy, qx, qy = (student[f"{k}{t}"] for k in ("sx", "sy", "qx", "qy"))
        phi = _descend(theta, sx, sy, lr, 2)
        jac = np.linalg.matrix_power(np.eye(len(theta)) - lr * 2.0 / len(sx)
                                     * _design(sx).T @ _design(sx), 2)
        first.append(_grad(phi, qx, qy))
        second.append(jac @ first[-1])
        losses.append(np.mean((_design(qx) @ phi - np.ravel(qy)) ** 2))
    second, first = np.mean(second, 0), np.mean(first, 0)
    expect_true(np.abs(second - first).max() > 0.05, "internal: the probe's tasks do not tell "
                "second-order MAML from first-order")
    for first_order in (False, True):
        judge_no_none_gradient(student, f"grad_{first_order}",
                               f"maml_meta_gradient(first_order={first_order})")
    for first_order in (False, True):
        expect_close(student[f"loss_{first_order}"], np.mean(losses),
                     f"the meta-loss of maml_meta_gradient(first_order={first_order})",
                     against="the mean query loss after 2 closed-form inner steps", rtol=1e-4,
                     atol=1e-5)
    expect_close_naming(student["grad_False"], second,
                        "the second-order meta-gradient of maml_meta_gradient", [
                            (first, "it equals the FIRST-order meta-gradient: the second-order "
                             "term is missing (inner gradients stopped, or the inner tape "
                             "outside the outer one)"),
                            (2 * second, "twice the right value: the mean over tasks, not the "
                             "sum")],
                        against="mean (I - αH)² ∇L_q(φ) in closed form", rtol=1e-3, atol=1e-5)
    expect_close_naming(student["grad_True"], first,
                        "the meta-gradient of maml_meta_gradient(first_order=True)",
                        [(second, "it equals the SECOND-order one: first_order=True must stop "
                          "the inner gradients (tf.stop_gradient)")],
                        against="mean ∇L_q(φ) at the adapted parameters", rtol=1e-3, atol=1e-5)


def _mlp_forward(params, x):
    """The checks' tanh MLP (1 -> 6 -> 1)."""
    import tensorflow as tf
    return tf.matmul(tf.tanh(tf.matmul(x, params[0]) + params[1]), params[2]) + params[3]


SHAPES = ((1, 6), (6,), (6, 1), (1,))


def _meta_loss_float64(theta, tasks, lr):
    """The meta-loss at the flat parameters theta (float64), one inner step, the inner
    gradient from one tf.GradientTape (no nesting)."""
    import tensorflow as tf
    sizes = [int(np.prod(s)) for s in SHAPES]
    parts = np.split(theta, np.cumsum(sizes)[:-1])
    params = [tf.constant(p.reshape(s)) for p, s in zip(parts, SHAPES)]
    total = 0.0
    for sx, sy, qx, qy in tasks:
        sx, sy, qx, qy = (tf.constant(np.asarray(v, np.float64)) for v in (sx, sy, qx, qy))
        with tf.GradientTape() as tape:
            tape.watch(params)
            inner = mse(_mlp_forward(params, sx), sy)
        grads = tape.gradient(inner, params)
        adapted = [p - lr * g for p, g in zip(params, grads)]
        total += float(mse(_mlp_forward(adapted, qx), qy))
    return total / len(tasks)


@check(points=2, uses="maml", timeout=60, task="`maml_meta_gradient`",
       hint="the second-order term needs the inner gradients computed under the outer tape "
       "(nested tapes) and kept differentiable")
def maml_second_order_mlp(lab, rng):
    """On a tanh MLP (1-6-1, fixed weights) and 2 sinusoid tasks, one inner step: the
    second-order meta-gradient equals central finite differences of the meta-loss (float64),
    and the first-order one does not."""
    import tensorflow as tf

    from dlkit.data import sinusoid_tasks
    data = sinusoid_tasks(2, 10, seed=int(rng.integers(1000)))
    tasks = [(data["x"][t, :5], data["y"][t, :5], data["x"][t, 5:], data["y"][t, 5:])
             for t in range(2)]
    theta = [rng.normal(scale=0.8, size=s).astype("float32") for s in SHAPES]
    flat = _flat(theta)
    lr, step = 0.05, 1e-5
    finite = np.zeros_like(flat)
    for i in range(len(flat)):
        up, down = flat.copy(), flat.copy()
        up[i] += step
        down[i] -= step
        finite[i] = (_meta_loss_float64(up, tasks, lr) - _meta_loss_float64(down, tasks, lr)) / (
            2 * step)
    out = {"finite": finite}
    for first_order in (False, True):
        params = [tf.Variable(p) for p in theta]
        _, grads = lab.maml.maml_meta_gradient(_mlp_forward, mse, params, tasks, lr, 1,
                                               first_order)
        out[f"grad_{first_order}"], out[f"grad_{first_order}_none"] = flat_gradients(grads, theta)
    return out


@maml_second_order_mlp.verdict
def _(student, reference):
    for first_order in (False, True):
        judge_no_none_gradient(student, f"grad_{first_order}",
                               f"maml_meta_gradient(first_order={first_order}) on a tanh MLP")
    finite = student["finite"]
    scale = np.abs(finite).max()
    expect_close_naming(student["grad_False"], finite,
                        "the second-order meta-gradient of maml_meta_gradient on a tanh MLP",
                        [(student["grad_True"], "it equals your first-order meta-gradient: the "
                          "second-order term is missing")],
                        against="finite differences of the meta-loss", rtol=2e-3,
                        atol=2e-3 * scale)
    gap = np.abs(student["grad_True"] - finite).max()
    expect_true(gap > 0.02 * scale, "maml_meta_gradient(first_order=True) on a tanh MLP equals "
                "the true (second-order) meta-gradient: first order must stop the inner "
                "gradients")
    expect_close(student["grad_True"], reference["grad_True"],
                 "the first-order meta-gradient on a tanh MLP", rtol=1e-3, atol=1e-5)


@check(points=1, uses="maml", task="`reptile_update`",
       hint="adapted = inner_adapt(..., first_order=True); new = p + epsilon * (adapted - p)")
def reptile_update(lab, rng):
    """One Reptile update (4 inner steps, epsilon 0.3) on a linear model, against closed-form
    gradient descent and the interpolation; inner_adapt is replaced by gradient descent in
    closed form, so this check judges reptile_update alone; params are left unchanged."""
    theta = _theta(rng)
    x, y = _linear_task(rng, n=8)
    import tensorflow as tf
    params = [tf.Variable(p) for p in theta]
    maml = lab.maml
    with standing_in(maml, inner_adapt=_closed_form_inner_adapt):
        new = maml.reptile_update(linear_forward, mse, params, x, y, 0.05, 4, 0.3)
        new = _flat([tf.identity(p) for p in new])
    return {"theta": _flat(theta), "x": x, "y": y, "new": new, "after": _flat(params)}


def _closed_form_inner_adapt(forward, loss_fn, params, x, y, inner_lr, steps=1,
                             first_order=False):
    """Stand-in for inner_adapt in reptile_update's check: gradient descent on the checks'
    linear model with the MSE, in closed form in numpy (so reptile_update is judged even when
    inner_adapt is wrong)."""
    import tensorflow as tf
    phi = _descend(_flat(params), np.asarray(x), np.asarray(y), inner_lr, steps)
    sizes = [int(np.prod(np.shape(p))) for p in params]
    return [tf.constant(part.reshape(np.shape(p)), tf.float32)
            for part, p in zip(np.split(phi, np.cumsum(sizes)[:-1]), params)]


@reptile_update.verdict
def _(student, reference):
    theta = student["theta"]
    expect_true(np.array_equal(student["after"], theta),
                "reptile_update changed the caller's params (tf.Variables) in place: return the "
                "new values as a new list and leave params as they were (meta_train assigns)")
    adapted = _descend(theta, student["x"], student["y"], 0.05, 4)
    exact = theta + 0.3 * (adapted - theta)
    expect_close_naming(student["new"], exact, "reptile_update(..., inner_steps=4, epsilon=0.3)",
                        [(adapted, "that is the adapted parameters: move only epsilon of the way"),
                         (theta - 0.3 * (adapted - theta), "it moves AWAY from the adapted "
                          "parameters: params + epsilon * (adapted - params)"),
                         (theta + 0.3 * (_descend(theta, student["x"], student["y"], 0.05, 1)
                                         - theta), "one inner step only: take inner_steps")],
                        against="gradient descent and interpolation in closed form", rtol=1e-4,
                        atol=1e-5)
