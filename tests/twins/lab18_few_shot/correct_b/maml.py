"""Optimisation-based meta-learning: MAML (second order, through nested tapes), first-order
MAML and Reptile, on models written as functions of their parameters.

A model here is `forward(params, x) -> predictions`, with `params` a list of tensors, and a
task loss `loss_fn(predictions, y) -> scalar`. A task is (support_x, support_y, query_x,
query_y): adapt on the support set, judge the adapted parameters on the query set.
"""
from __future__ import annotations

import numpy as np

from dlkit import backend

keras = backend.keras()
tf = backend.tensorflow()


def mlp_forward(params, x):
    """A tanh MLP as a function of its parameters [W1, b1, W2, b2, ...]. Given."""
    h = x
    for i in range(0, len(params), 2):
        h = tf.matmul(h, params[i]) + params[i + 1]
        if i + 2 < len(params):
            h = tf.tanh(h)
    return h


def mlp_params(sizes, seed: int = 0):
    """Glorot-uniform weights and zero biases for mlp_forward, as tf.Variables. Given."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        params.append(tf.Variable(rng.uniform(-limit, limit, (fan_in, fan_out)), dtype=tf.float32))
        params.append(tf.Variable(np.zeros(fan_out), dtype=tf.float32))
    return params


def mse(predictions, y):
    """Mean squared error. Given."""
    return tf.reduce_mean(tf.square(predictions - y))


def inner_adapt(forward, loss_fn, params, x, y, inner_lr: float, steps: int = 1,
                first_order: bool = False):
    """`steps` steps of plain gradient descent on loss_fn(forward(params, x), y).

    Returns the adapted parameters (a new list; `params` is not changed). With
    first_order=False the steps stay differentiable: a tape recording the caller's
    computation sees how the adapted parameters depend on `params`, second derivatives
    included. With first_order=True each inner gradient is a constant (tf.stop_gradient),
    so the adapted parameters depend on `params` through the identity only."""
    fast = [tf.convert_to_tensor(p) if not isinstance(p, tf.Variable) else p for p in params]
    step = 0
    while step < steps:
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            for p in fast:
                tape.watch(p)
            loss = loss_fn(forward(fast, x), y)
        grads = tape.gradient(loss, fast)
        new = []
        for p, g in zip(fast, grads):
            if first_order:
                g = tf.stop_gradient(g)
            new.append(p - inner_lr * g)
        fast = new
        step += 1
    return list(fast)


def maml_meta_gradient(forward, loss_fn, params, tasks, inner_lr: float, inner_steps: int = 1,
                       first_order: bool = False):
    """The MAML meta-loss and its gradient with respect to `params`.

    meta-loss = the mean over tasks of loss_fn(forward(adapted, query_x), query_y), with
    adapted = inner_adapt(..., support_x, support_y, ...). Second order (the default): the
    gradient flows back through the inner steps, second derivatives included (nested tapes).
    First order: the inner gradients are constants, so the meta-gradient is the mean of the
    query-loss gradients at the adapted parameters.

    Returns (meta_loss scalar, [gradient per parameter])."""
    with tf.GradientTape(watch_accessed_variables=False) as outer:
        for p in params:
            outer.watch(p)
        total = 0.0
        for task in tasks:
            sx, sy, qx, qy = task
            adapted = inner_adapt(forward, loss_fn, params, sx, sy, inner_lr, inner_steps,
                                  first_order=first_order)
            total = total + loss_fn(forward(adapted, qx), qy)
        meta_loss = total / len(tasks)
    grads = outer.gradient(meta_loss, list(params))
    return meta_loss, grads


def reptile_update(forward, loss_fn, params, x, y, inner_lr: float, inner_steps: int,
                   epsilon: float):
    """One Reptile meta-update on one task (x, y): adapt by `inner_steps` plain gradient steps
    on the whole task, then move the parameters a fraction epsilon of the way to the
    adapted ones: new = params + epsilon * (adapted - params). Returns the new list."""
    adapted = inner_adapt(forward, loss_fn, params, x, y, inner_lr, inner_steps, first_order=True)
    return [(1.0 - epsilon) * tf.convert_to_tensor(p) + epsilon * a
            for p, a in zip(params, adapted)]


def meta_train(params, sample_tasks, steps: int, *, method: str = "maml", inner_lr: float = 0.01,
               inner_steps: int = 1, meta_lr: float = 1e-3, epsilon: float = 0.1,
               forward=mlp_forward, loss_fn=mse):
    """Meta-train `params` (tf.Variables) in place. sample_tasks(step) returns a list of tasks
    (support_x, support_y, query_x, query_y). method: "maml", "fomaml" or "reptile" (Reptile
    adapts on support and query together). Returns the meta-losses (MAML) or the query losses
    after adaptation (Reptile), one per step. Given."""
    optimizer = keras.optimizers.Adam(meta_lr)
    history = []
    for step in range(steps):
        tasks = sample_tasks(step)
        if method == "reptile":
            losses = []
            for sx, sy, qx, qy in tasks:
                x, y = tf.concat([sx, qx], 0), tf.concat([sy, qy], 0)
                new = reptile_update(forward, loss_fn, params, x, y, inner_lr, inner_steps,
                                     epsilon)
                for p, value in zip(params, new):
                    p.assign(value)
                losses.append(float(loss_fn(forward(params, qx), qy)))
            history.append(float(np.mean(losses)))
            continue
        loss, grads = maml_meta_gradient(forward, loss_fn, params, tasks, inner_lr, inner_steps,
                                         first_order=(method == "fomaml"))
        optimizer.apply(grads, params)
        history.append(float(loss))
    return history
