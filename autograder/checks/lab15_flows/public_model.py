"""Public checks of lab15_flows, part 3: the flow model (FlowModel, FlowBijector, train_step,
test_step, RealNVP.get_config).

Each check runs the student's FlowModel code on the checks' own flow layers (stand_ins.py:
a linear map, sinh-arcsinh maps and an additive shear, TFP bijectors with random weights,
so order and log-determinants matter), and takes the right answer from TFP (tfb.Chain,
tfd.TransformedDistribution): a wrong coupling or ActNorm costs its own checks, not these.
log_prob runs with a stand-in for change_of_variables_log_prob, distribution() with one for
FlowBijector; train_step and test_step get TFP's density, so only the training step itself
is graded there; the training check is relative to the reference, which trains the same
stand-in model with the same seed.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import (
    assign_random_weights,
    constructor_arguments,
    judge_config,
    largest_change,
    snapshot,
    standing_in,
    tensor,
)
from autograder.checks.lab15_flows.probes import MARGIN_NATS, judge_training, pair, train_probe
from autograder.checks.lab15_flows.stand_ins import (
    expected_forward,
    expected_inverse,
    expected_log_prob,
    mixed_layers,
    own_forward_flow,
    stand_in_bijector,
    stand_in_change_of_variables,
    stand_in_flow,
)
from autograder.verdicts import expect_close, expect_shape, expect_true

# The training budget of train_step_lowers_nll, stated in the handout: the checks' own
# stack of one block [linear, shear (hidden (64,)), sinh-arcsinh]. The check grades
# train_step, not the model: one block of the three kinds of layer is enough, and tracing
# train_step through TFP's bijectors, not running it, is the check's cost (about 0.9 s of
# CPU a block).
TRAIN = {"model": "stand_in", "layers": 1, "hidden_units": (64,), "learning_rate": 1e-2,
         "batch_size": 256, "steps": 200, "train_size": 1024, "test_size": 1024}
DIM = 3
STACK = f"FlowModel({DIM}) holding the checks' layers [linear, sinh-arcsinh, shear, sinh-arcsinh]"


def random_stack(lab, rng, own_density=False):
    """The student's FlowModel with the checks' 4 layers (dimension 3), random weights."""
    layers = mixed_layers(DIM, hidden_units=(8,))
    model = stand_in_flow(lab, DIM, layers, own_density=own_density)
    assign_random_weights(model, rng, 0.4)
    return model, layers


def judge_named(got, expected, what, mistakes, **tolerances):
    """expect_close, but name a known slip (a list of (wrong value, message)) when the
    answer matches it."""
    try:
        expect_close(got, expected, what, **tolerances)
    except CheckFailed:
        got = np.asarray(got, dtype=np.float64)
        for wrong, message in mistakes:
            if got.shape == np.shape(wrong) and np.allclose(got, wrong, rtol=1e-4, atol=1e-4):
                raise CheckFailed(f"{what} {message}") from None
        raise


@check(points=2, uses=("made", "flows"), reference=False,
       task="`FlowModel.forward`, `log_prob`",
       hint="forward chains the layers' forward in order (data side first) and adds up their "
            "log_dets; log_prob = change_of_variables_log_prob(x, self.forward, "
            "standard_normal(D))")
def flow_log_prob(lab, rng):
    """z and the summed log_det of forward on the checks' own 4 layers with random weights,
    against TFP's chain of them; log_prob passes x, self.forward and standard_normal(D) to
    change_of_variables_log_prob (a stand-in that records them) or computes the density
    itself."""
    model, layers = random_stack(lab, rng)
    x = rng.normal(size=(9, DIM)).astype("float32")
    z, log_det = pair(model.forward(x), "FlowModel.forward(x)")
    density_model = own_forward_flow(lab, DIM, layers)
    with standing_in(lab.flows, change_of_variables_log_prob=stand_in_change_of_variables):
        log_prob, call = density_model.log_prob(x), density_model(x)
        called = stand_in_change_of_variables(x, density_model.forward,
                                              lab.flows.standard_normal(DIM))
    return {"z": z, "log_det": log_det, "log_prob": log_prob, "call": call,
            "expected": list(expected_forward(layers, x)),
            "reversed": expected_forward(layers[::-1], x)[0],
            "last_log_det": np.asarray(layers[-1].forward(
                expected_forward(layers[:-1], x)[0])[1]),
            "stand_in_log_prob": np.asarray(called),
            "density": expected_log_prob(layers, x)}


@flow_log_prob.verdict
def _(student, _reference):
    (z, log_det), reversed_z = student["expected"], student["reversed"]
    judge_named(student["z"], z, f"the z of {STACK}.forward(x)", [
        (reversed_z, "is what the layers give in REVERSED order: forward goes through "
             "self.flow_layers in order, data side first")], against="TFP's chain of the layers")
    judge_named(student["log_det"], log_det, f"the log_det of {STACK}.forward(x)", [
        (student["last_log_det"], "is the last layer's log_det alone: add up every layer's"),
        (-log_det, "has the wrong sign: forward's log_det is +log|det dz/dx|")],
        against="the sum of the layers' log_dets")
    log_prob = np.asarray(student["log_prob"], dtype=np.float64)
    right_density = (log_prob.shape == np.shape(student["density"])
                     and np.allclose(log_prob, student["density"], rtol=1e-4, atol=1e-4))
    if not right_density:
        expect_close(student["log_prob"], student["stand_in_log_prob"], f"{STACK}.log_prob(x)",
                     against="change_of_variables_log_prob(x, self.forward, standard_normal(D)) "
                             "(a stand-in here, that shows what log_prob passed it)")
    expect_close(student["call"], student["log_prob"], f"{STACK}(x)", against="its log_prob(x)")


@check(points=1, uses=("made", "flows"), reference=False,
       task="`FlowModel.inverse`, `sample`",
       hint="inverse runs the layers' inverse in REVERSED order and adds up their log_dets; "
            "sample draws z = keras.random.normal((n, D), seed=seed) and returns inverse(z)'s x")
def flow_inverse_and_sample(lab, rng):
    """inverse and its log_det on the checks' own 4 layers, against TFP's chain of them;
    samples are the inverse of keras.random.normal((n, D), seed), reproducible by seed."""
    import keras
    model, layers = random_stack(lab, rng)
    z = rng.normal(size=(7, DIM)).astype("float32")
    x, log_det = pair(model.inverse(z), "FlowModel.inverse(z)")
    base = keras.random.normal((6, DIM), seed=3)
    return {"x": x, "log_det": log_det, "expected": list(expected_inverse(layers, z)),
            "unreversed": expected_inverse(layers[::-1], z)[0],
            "samples": model.sample(6, seed=3), "again": model.sample(6, seed=3),
            "other_seed": model.sample(6, seed=4),
            "expected_samples": expected_inverse(layers, base)[0]}


@flow_inverse_and_sample.verdict
def _(student, _reference):
    x, log_det = student["expected"]
    judge_named(student["x"], x, f"the x of {STACK}.inverse(z)", [
        (student["unreversed"], "is what the layers' inverses give in the forward order: "
                                "the inverse runs them last layer first")],
        against="TFP's chain of the layers")
    expect_close(student["log_det"], log_det, f"the log_det of {STACK}.inverse(z)",
                 against="the sum of the layers' inverse log_dets")
    what = f"{STACK}.sample(6, seed=3)"
    samples = expect_shape(student["samples"], (6, DIM), what)
    expect_close(student["again"], samples, f"{what} called twice (same seed)")
    expect_true(not np.allclose(student["other_seed"], samples),
                f"{STACK}.sample gives the same points for seeds 3 and 4: pass the seed on")
    expect_close(samples, student["expected_samples"], what,
                 against="inverse(keras.random.normal((6, D), seed=3))")


@check(points=2, uses=("made", "flows"), reference=False,
       task="`FlowBijector`, `FlowModel.distribution`",
       hint="FlowBijector's methods return the layer's (values or log_det) at the point they "
            "are given; distribution() is TransformedDistribution(standard_normal(D), "
            "tfb.Invert(tfb.Chain([... reversed ...]))): tfb.Chain applies its LAST bijector "
            "first")
def tfp_distribution(lab, rng):
    """FlowBijector's four methods against the layer's own (on a sinh-arcsinh layer, whose
    log_dets depend on the point); distribution()'s log_prob and samples, with each layer's
    own TFP bijector standing in for FlowBijector(layer), against TFP's chain of the 4
    layers."""
    model, layers = random_stack(lab, rng)
    x, z = (rng.normal(size=(8, DIM)).astype("float32") for _ in range(2))
    elementwise = layers[1]
    bijector = lab.flows.FlowBijector(elementwise)
    with standing_in(lab.flows, FlowBijector=stand_in_bijector):
        distribution = model.distribution()
    seed = tuple(int(s) for s in rng.integers(0, 2**30, size=2))  # a stateless TFP seed
    base_draw = lab.flows.standard_normal(DIM).sample(5, seed=seed)
    return {
        "bijector": {"forward": bijector.forward(x), "inverse": bijector.inverse(z),
                     "fldj": bijector.forward_log_det_jacobian(x, event_ndims=1),
                     "ildj": bijector.inverse_log_det_jacobian(z, event_ndims=1)},
        "layer": {"forward": elementwise.forward(x)[0], "inverse": elementwise.inverse(z)[0],
                  "fldj": elementwise.forward(x)[1], "ildj": elementwise.inverse(z)[1]},
        "log_prob": distribution.log_prob(x), "expected_log_prob": expected_log_prob(layers, x),
        "unreversed_log_prob": expected_log_prob(layers[::-1], x),
        "samples": distribution.sample(5, seed=seed),
        "expected_samples": expected_inverse(layers, base_draw)[0]}


@tfp_distribution.verdict
def _(student, _reference):
    for method, (call, layer_call) in {
            "forward": ("forward(x)", "forward(x)'s z"),
            "inverse": ("inverse(z)", "inverse(z)'s x"),
            "fldj": ("forward_log_det_jacobian(x)", "forward(x)'s log_det"),
            "ildj": ("inverse_log_det_jacobian(z)", "inverse(z)'s log_det")}.items():
        expect_close(student["bijector"][method], student["layer"][method],
                     f"FlowBijector(layer).{call}", against=f"the layer's {layer_call}")
    judge_named(student["log_prob"], student["expected_log_prob"],
                f"{STACK}.distribution().log_prob(x)", [
        (student["unreversed_log_prob"], "is the density of the layers chained in the wrong "
         "order: tfb.Chain applies its LAST bijector first, so list the layers' bijectors "
         "reversed (latent side first), then tfb.Invert the chain")],
        against="TFP's density of the layers")
    expect_close(student["samples"], student["expected_samples"],
                 f"{STACK}.distribution().sample(5, seed)",
                 against="the layers' inverse of the base draw z with that seed (the "
                         "distribution must map z to x: tfb.Invert)")


def own_nll(model, x):
    """-mean(log_prob(x)) of a stand-in model with TFP's density."""
    return -float(np.mean(np.asarray(model.log_prob(tensor(x)))))


@check(points=1, uses=("made", "flows"), reference=False, task="`FlowModel.train_step`",
       hint="loss = -mean(log_prob(x)) (the batch MEAN, in nats) inside a GradientTape; "
            "optimizer.apply; the tracker logs the loss itself, not the scaled one")
def train_step_logs_the_nll(lab, rng):
    """Two train_steps on batches of 50 and 30 points: each logs the running mean of the
    batch-mean NLL before its step, and the weights move."""
    import keras
    model, layers = random_stack(lab, rng, own_density=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.optimizer.build(model.trainable_variables)
    batches = [rng.normal(size=(n, DIM)).astype("float32") for n in (50, 30)]
    nlls, logged, moved = [], [], []
    for batch in batches:
        nlls.append(own_nll(model, batch))
        before = snapshot(model.trainable_variables)
        logs = model.train_step(tensor(batch))
        moved.append(largest_change(before, model.trainable_variables))
        if not isinstance(logs, dict):
            raise ValueError(f"train_step returned {type(logs).__name__}, expected a dict "
                             "{'loss': ...}")
        logged.append({str(k): float(v) for k, v in logs.items()})
    return {"nlls": nlls, "logged": logged, "moved": moved}


@train_step_logs_the_nll.verdict
def _(student, _reference):
    first, second = student["logged"]
    nll_1, nll_2 = student["nlls"]
    expect_true(list(first) == ["loss"], f"train_step returned {sorted(first)}; it must return "
                "exactly {'loss': ...} (the tracker's result)")
    expect_true(student["moved"][0] > 0, "one train_step left every weight unchanged: apply "
                "the gradients with self.optimizer.apply")
    what = "the loss train_step logs for a batch of 50 points"
    logged = first["loss"]
    if nll_1 and abs(logged / nll_1 - 50) < 0.5:
        raise CheckFailed(f"{what} is {logged:.5g}, 50 times the batch's mean NLL {nll_1:.5g}: "
                          "the loss is the batch SUM; use -mean(log_prob(x))")
    expect_close(np.float32(logged), np.float32(nll_1), what,
                 against="-mean(log_prob(x)) before the step", rtol=1e-4, atol=1e-4)
    expect_close(np.float32(second["loss"]), np.float32((nll_1 + nll_2) / 2),
                 "the loss logged after a second train_step (batch of 30)",
                 against="the mean of the two batches' NLLs (the tracker's running mean)",
                 rtol=1e-4, atol=1e-4)


@check(points=4, timeout=40, uses=("made", "flows"), task="`FlowModel.train_step`",
       hint=f"train_step: loss = -mean(log_prob(x)) inside a GradientTape, optimizer.scale_loss, "
            f"tape.gradient w.r.t. self.trainable_variables, optimizer.apply; must come within "
            f"{MARGIN_NATS} nats of the reference's held-out NLL")
def train_step_lowers_nll(lab, rng):
    """`fit` on two moons (the checks' own RealNVP-like layers and density): `fit` logs the
    same `loss` as the reference, and the held-out NLL after the budget below is within
    0.03 nats of the reference's."""
    return train_probe(lab, rng, TRAIN)


@train_step_lowers_nll.verdict
def _(student, reference):
    judge_training(student, reference)


@check(points=1, uses=("made", "flows"), reference=False, task="`FlowModel.test_step`",
       hint="test_step: loss = -mean(log_prob(x)), no gradient step; update and return the tracker")
def test_step_evaluates(lab, rng):
    """`evaluate` logs the batch-mean NLL and changes no weight."""
    import keras
    model, layers = random_stack(lab, rng, own_density=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x = rng.normal(size=(40, DIM)).astype("float32")
    weights = snapshot(model.weights)
    logged = model.evaluate(x, batch_size=40, verbose=0, return_dict=True)
    return {"names": json.dumps(sorted(logged)), "loss": float(logged.get("loss", np.nan)),
            "changed": largest_change(weights, model.weights),
            "own_nll": own_nll(model, x)}


@test_step_evaluates.verdict
def _(student, _reference):
    names = json.loads(student["names"])
    expect_true(names == ["loss"], f"evaluate() returned {names}; test_step must return exactly "
                "{'loss': ...}")
    expect_true(student["changed"] == 0.0, "evaluate() changed the weights: test_step must not "
                "apply gradients")
    loss, nll = student["loss"], student["own_nll"]
    if nll and abs(loss / nll - 40) < 0.5:
        raise CheckFailed(f"evaluate() logs {loss:.5g}, 40 times the mean NLL {nll:.5g} of the "
                          "batch of 40: the loss is the batch SUM; use -mean(log_prob(x))")
    expect_close(np.float32(loss), np.float32(nll), "the loss evaluate() reports",
                 against="-mean(log_prob(x))", rtol=1e-4)


SAVED = {"RealNVP": {"dim": 2, "num_couplings": 3, "hidden_units": [8, 8],
                     "log_scale_bound": 1.5, "actnorm": True},
         "MAF": {"dim": 3, "num_layers": 2, "hidden_units": [8], "log_scale_bound": 1.25}}


@check(points=2, uses=("made", "flows"), reference=False, task="`RealNVP.get_config`",
       hint="get_config returns every constructor argument, so that keras.saving.load_model "
            "rebuilds the same RealNVP and restores its weights (ActNorm's too)")
def save_load_round_trip(lab, rng):
    """Save RealNVP and MAF (no default arguments) to `.keras` and reload: the config holds
    every constructor argument, and the weights and the optimizer state come back."""
    import keras
    out = {}
    for name, given in SAVED.items():
        cls = getattr(lab.flows, name)
        model = cls(**given)
        assign_random_weights(model, rng, 0.3)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        # Optimizer state to save, without the cost of tracing a training step (graded elsewhere).
        model.optimizer.build(model.trainable_variables)
        model.optimizer.iterations.assign(int(rng.integers(2, 50)))
        path = str(lab.tmpdir / f"{name}.keras")
        model.save(path)
        try:
            loaded = keras.saving.load_model(path)
        except Exception as error:  # the message goes to the student
            out[name] = {"error": f"{type(error).__name__}: {error}"[:600]}
            continue
        out[name] = {
            "error": "", "class": type(loaded).__name__,
            "arguments": constructor_arguments(cls),
            "config": json.dumps(model.get_config(), default=str),
            "weights": snapshot(model.weights), "loaded_weights": snapshot(loaded.weights),
            "steps": int(model.optimizer.iterations.numpy()),
            "loaded_steps": int(loaded.optimizer.iterations.numpy())}
    return out


@save_load_round_trip.verdict
def _(student, _reference):
    for name, given in SAVED.items():
        what = f"{name}({', '.join(f'{k}={v}' for k, v in given.items())})"
        got = student[name]
        if got["error"]:
            raise CheckFailed(f"keras.saving.load_model could not rebuild the saved {what}: "
                              + got["error"])
        expect_true(got["class"] == name, f"load_model returned a {got['class']}, not a {name}")
        judge_config(got["config"], {k: given[k] for k in got["arguments"] if k in given}, what)
        expect_true(len(got["loaded_weights"]) == len(got["weights"]),
                    f"the reloaded {what} has {len(got['loaded_weights'])} weights, the saved "
                    f"one {len(got['weights'])}: it was rebuilt with other arguments")
        for index, (after, before) in enumerate(zip(got["loaded_weights"], got["weights"])):
            expect_close(after, before, f"weight {index} of the reloaded {what}",
                         against="the saved model's")
        expect_true(got["loaded_steps"] == got["steps"],
                    f"the reloaded {what}'s optimizer has done {got['loaded_steps']} steps, the "
                    f"saved one {got['steps']}: its state was not restored")
