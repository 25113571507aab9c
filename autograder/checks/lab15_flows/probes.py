"""Helpers that the checks of lab15_flows share: probes run in the worker (they import
TensorFlow inside), verdicts in the grader.

The layer checks run the student's layers and judge them by invariants: a layer's inverse
undoes its forward, and its log-determinant matches the one autodiff computes from the full
Jacobian (tf.GradientTape.batch_jacobian, then tf.linalg.slogdet, in the probe).

The model checks run the student's FlowModel code on the checks' own flow layers
(stand_ins.py: TFP bijectors of known behaviour, not the lab's layers), so FlowModel,
FlowBijector, train_step and test_step are graded even when a layer is wrong, and a wrong
layer costs its own checks only.
"""
from __future__ import annotations

import json

import numpy as np

from autograder.api import CheckFailed
from autograder.check_helpers import pair
from autograder.checks.lab15_flows.stand_ins import stand_in_flow, training_layers
from autograder.verdicts import (
    expect_at_most,
    expect_close,
    expect_equal,
    expect_shape,
    expect_true,
)

# Log-determinants from float32 Jacobians agree with the layer's own to about 1e-5.
LOG_DET = {"rtol": 1e-4, "atol": 1e-4}
# inverse(forward(x)) == x up to float32 rounding through a few exp() and MLPs.
ROUND_TRIP = {"rtol": 1e-4, "atol": 1e-4}
# The held-out NLL caps each point's -log p(x) at this many nats, so one test point that
# falls in a hole of the density (seen: 179 nats) cannot decide the average.
NLL_CAP = 10.0
# How much worse than the reference's held-out NLL a student's training may end up (nats),
# and how far its logged training loss may be from the reference's. train_step draws no
# randomness and the model is the checks' own, so a correct train_step trains exactly like
# the reference up to float rounding (equivalent rewrites move the result by less than
# 0.002 nats).
MARGIN_NATS = 0.03


def autodiff_log_det(fn, x):
    """log |det d fn(x) / dx| per row, from the full Jacobian. x: (N, D). Returns (N,) float64."""
    import tensorflow as tf
    x = tf.constant(np.asarray(x, dtype="float32"))
    # A persistent tape without pfor: a loop of D backward passes, several times faster than
    # pfor's graph conversion for these few small inputs.
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = fn(x)
    jacobian = tape.batch_jacobian(y, x, experimental_use_pfor=False)
    if jacobian is None:
        raise ValueError("the output does not depend on the input through TensorFlow ops "
                         "(numpy inside the flow?), so autodiff cannot take its Jacobian")
    return tf.linalg.slogdet(tf.cast(jacobian, tf.float64))[1].numpy()


def flow_invariants(layer, x, z, what, round_trips=True, log_dets=True):
    """forward/inverse of a flow layer at x and z; with round_trips, inverse of the forward
    and forward of the inverse; with log_dets, the autodiff log-dets too."""
    fz, f_log_det = pair(layer.forward(x), f"{what}.forward(x)")
    ix, i_log_det = pair(layer.inverse(z), f"{what}.inverse(z)")
    out = {"x": x, "z": z, "forward": fz, "forward_log_det": f_log_det,
           "inverse": ix, "inverse_log_det": i_log_det}
    if round_trips:
        out["round_trip_x"] = pair(layer.inverse(fz), f"{what}.inverse(z)")[0]
        out["round_trip_z"] = pair(layer.forward(ix), f"{what}.forward(x)")[0]
    if log_dets:
        out["autodiff_forward"] = autodiff_log_det(lambda t: layer.forward(t)[0], x)
        out["autodiff_inverse"] = autodiff_log_det(lambda t: layer.inverse(t)[0], z)
    return out


def judge_round_trips(out, what):
    n, d = np.shape(out["x"])
    expect_shape(out["forward"], (n, d), f"the z of {what}.forward(x) for x ({n}, {d})")
    expect_shape(out["inverse"], (n, d), f"the x of {what}.inverse(z) for z ({n}, {d})")
    expect_close(out["round_trip_x"], out["x"], f"{what}.inverse(forward(x)) (must give x back)",
                 **ROUND_TRIP)
    expect_close(out["round_trip_z"], out["z"], f"{what}.forward(inverse(z)) (must give z back)",
                 **ROUND_TRIP)


def judge_log_dets(out, what):
    n = len(out["x"])
    for direction, jac in (("forward", "dz/dx"), ("inverse", "dx/dz")):
        log_det = expect_shape(out[f"{direction}_log_det"], (n,),
                               f"the log_det of {what}.{direction} (one value per example)")
        expect_close(log_det.astype(np.float32), out[f"autodiff_{direction}"].astype(np.float32),
                     f"the log_det of {what}.{direction}, against log|det {jac}| from the "
                     "autodiff Jacobian", **LOG_DET)


def judge_list(student, reference, what):
    expect_true(len(student) == len(reference),
                f"{what} returned {len(student)} arrays, expected {len(reference)}")
    for index, (got, expected) in enumerate(zip(student, reference)):
        expect_equal(got, expected, f"array {index} of {what}")


# ---- MADE -----------------------------------------------------------------------------------

def made_dependencies(made, rng, n=6):
    """Which inputs each MADE output depends on: max |d output / d input| over a batch.
    Returns (2D, D): rows 0..D-1 the shifts, D..2D-1 the raw log-scales.

    Positive weights and inputs keep every ReLU active and every path's contribution
    positive, so an allowed connection can neither die nor cancel out: a zero is a missing
    connection."""
    import tensorflow as tf
    for weight in made.trainable_weights:
        weight.assign(np.abs(rng.normal(scale=0.5, size=tuple(weight.shape))).astype("float32"))
    x = tf.constant(rng.uniform(0.1, 1.0, size=(n, made.dim)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        shift, raw_log_scale = made(x)
        outputs = tf.concat([shift, raw_log_scale], axis=-1)
    jacobian = tape.batch_jacobian(outputs, x, experimental_use_pfor=False)
    return np.abs(jacobian.numpy()).max(axis=0)


def judge_autoregressive(dependencies, dim, order, what):
    """Output i (shift or log-scale of dimension i) depends on every earlier input, and on
    no other (itself included)."""
    position = np.arange(dim) if order == "left-to-right" else np.arange(dim)[::-1]
    allowed = position[None, :] < position[:, None]  # (output dim, input dim)
    dependencies = expect_shape(dependencies, (2 * dim, dim),
                                f"the Jacobian of {what}'s (shift, raw_log_scale)")
    for half, name in ((dependencies[:dim], "shift"), (dependencies[dim:], "raw log-scale")):
        leaks = np.argwhere((half > 1e-7) & ~allowed)
        if len(leaks):
            i, j = (int(v) for v in leaks[0])
            raise CheckFailed(f"{what} ({order}) is not autoregressive: the {name} of dimension "
                              f"{i} depends on input {j}" + (" (itself)" if i == j else "") +
                              f" ({len(leaks)} forbidden dependencies in all). Are the masks "
                              "applied, and is the output mask strict?")
        missing = np.argwhere((half <= 1e-7) & allowed)
        if len(missing):
            i, j = (int(v) for v in missing[0])
            raise CheckFailed(f"the {name} of dimension {i} of {what} ({order}) ignores input "
                              f"{j}, which comes before it: each output must see every earlier "
                              "input (are the hidden degrees 1..D-1 all present?)")


# ---- The student's layers ---------------------------------------------------------------------

def coupling_probe(lab, rng, mask, n, scale=0.4, with_layer=False, **checks):
    """An AffineCoupling with random weights, probed by flow_invariants; with_layer, also
    the layer itself (for more probing)."""
    from autograder.check_helpers import assign_random_weights
    d = len(mask)
    coupling = lab.flows.AffineCoupling(mask, hidden_units=(8, 8), log_scale_bound=1.5)
    coupling.build((None, d))
    assign_random_weights(coupling, rng, scale)
    x = rng.normal(size=(n, d)).astype("float32")
    z = rng.normal(size=(n, d)).astype("float32")
    out = flow_invariants(coupling, x, z, "AffineCoupling", **checks)
    out["mask"] = np.asarray(mask, dtype="float32")
    return (out, coupling) if with_layer else out


def maf_probe(lab, rng, dim, n, order, **checks):
    from autograder.check_helpers import assign_random_weights
    layer = lab.flows.MaskedAutoregressiveFlow(dim, hidden_units=(12, 12), order=order)
    layer.build((None, dim))
    assign_random_weights(layer, rng, 0.4)
    x, z = (rng.normal(size=(n, dim)).astype("float32") for _ in range(2))
    return flow_invariants(layer, x, z, f"MaskedAutoregressiveFlow({dim}, order={order!r})",
                           **checks)


# ---- Training -------------------------------------------------------------------------------

def toy_data(name, budget, seed):
    from dlkit.data import sample_toy2d
    return (sample_toy2d(name, budget["train_size"], seed=seed),
            sample_toy2d(name, budget["test_size"], seed=seed + 1))


def heldout_nll(model, x):
    """The mean NLL of x in nats, each point's capped at NLL_CAP, from the model's z and the
    AUTODIFF log-determinant: it does not trust the model's own log_det or log_prob."""
    import tensorflow as tf
    x = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        z = model.forward(x)[0]
        columns = [z[:, i] for i in range(x.shape[1])]
    # Row n of z depends on row n of x only: the gradient of column i of z is row i of each
    # example's Jacobian (D backward passes: faster than batch_jacobian for 1024 points).
    jacobian = tf.stack([tape.gradient(column, x) for column in columns], axis=1)
    log_det = tf.linalg.slogdet(tf.cast(jacobian, tf.float64))[1].numpy()
    z = np.asarray(z, dtype=np.float64)
    log_pz = -0.5 * np.sum(z ** 2, axis=1) - 0.5 * z.shape[1] * np.log(2 * np.pi)
    return float(np.mean(np.minimum(-(log_pz + log_det), NLL_CAP)))


def train_probe(lab, rng, budget, data="moons"):
    """Train a fresh flow with fit() for `budget`: budget["steps"] Adam steps on batches
    drawn from the training set, the learning rate decaying to 0 on a cosine. "stand_in":
    the checks' own layers and TFP density (only train_step is the student's); "maf": the
    student's MAF. Returns the held-out NLL before and after, and what fit logged."""
    import keras
    x_train, x_test = toy_data(data, budget, seed=int(rng.integers(0, 1000)))
    if budget["model"] == "stand_in":
        model = stand_in_flow(lab, 2, training_layers(budget["layers"], budget["hidden_units"]),
                              own_density=True)
    else:
        model = lab.flows.MAF(2, num_layers=budget["layers"], hidden_units=budget["hidden_units"])
        model.initialize(x_train)
    schedule = keras.optimizers.schedules.CosineDecay(budget["learning_rate"], budget["steps"])
    model.compile(optimizer=keras.optimizers.Adam(schedule), steps_per_execution=25)
    # Create the optimizer's slots before fit: created inside the first step, they make
    # TensorFlow trace train_step twice (seconds on a CPU).
    model.optimizer.build(model.trainable_variables)
    before = heldout_nll(model, x_test)
    # One epoch over copies of the training set: each execution runs 25 steps, and Keras's
    # per-epoch work (a new iterator, the callbacks) happens once.
    size = budget["steps"] * budget["batch_size"]
    x_steps = np.tile(x_train, (-(-size // len(x_train)), 1))[:size]
    history = model.fit(x_steps, batch_size=budget["batch_size"], epochs=1, shuffle=True,
                        verbose=0).history
    return {"before": before, "after": heldout_nll(model, x_test),
            "logged": json.dumps(sorted(history)),
            "logged_loss": float(history.get("loss", [np.nan])[-1])}


def judge_training(student, reference, margin=MARGIN_NATS):
    logged = json.loads(student["logged"])
    expect_true(logged == ["loss"], f"fit() logged {logged}; train_step must return exactly "
                "{'loss': ...} (the tracker's result)")
    after = student["after"]
    expect_true(np.isfinite(after), f"after training, the held-out NLL is {after} (NaN or inf): "
                "training diverged (a sign? gradients of the wrong loss?)")
    fallen = student["before"] - after
    expect_true(fallen >= 0.5 * (reference["before"] - reference["after"]),
                f"training did not lower the held-out NLL enough: from {student['before']:.3f} "
                f"to {after:.3f} nats, where the reference goes from {reference['before']:.3f} "
                f"to {reference['after']:.3f}. Is the gradient of -mean(log_prob(x)) applied to "
                "all trainable variables?")
    expect_at_most(after, reference["after"] + margin,
                   f"the held-out NLL after training (the reference reaches "
                   f"{reference['after']:.3f})", unit=" nats")
    logged_loss, expected = student["logged_loss"], reference["logged_loss"]
    if not abs(logged_loss - expected) <= margin:
        ratio = logged_loss / expected if expected else np.inf
        why = (f" ({ratio:.4g} times it: the batch SUM of the NLL? log the batch mean)"
               if abs(ratio) > 10 else "")
        raise CheckFailed(f"fit() logged loss = {logged_loss:.4g} for the epoch, where the "
                          f"reference's train_step logs {expected:.4g} for the same training"
                          f"{why}: log the batch-mean NLL, -mean(log_prob(x)), in nats")
