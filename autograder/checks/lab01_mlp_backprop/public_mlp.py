"""Public checks of lab01_mlp_backprop, part 2: mlp.py, the MLP by hand, with
tf.GradientTape and with Keras.

The model-level code runs on the check's own stand-ins (check_helpers.standing_in): the
pieces of layers.py computed by TensorFlow and scipy for mlp_forward and
mlp_loss_and_grads, simple gradients of known value for train_mlp_manual, Keras's Dense for
build_keras_mlp. Each check judges one graded unit.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights, build_for_fit, scalar, standing_in
from autograder.checks.lab01_mlp_backprop import probes
from autograder.checks.lab01_mlp_backprop.probes import (
    expect_layer_grads,
    layer_pairs,
    random_mlp,
)
from autograder.verdicts import expect_at_least, expect_close, expect_finite, expect_true

# ---- By hand --------------------------------------------------------------------------------


@check(points=1, uses="mlp", task="`mlp_forward`",
       hint="dense_forward then relu_forward for each layer, except no ReLU after the last "
            "layer: the logits can be negative")
def mlp_forward(lab, rng):
    """The logits of a 6-5-4-3 MLP with random weights and biases, half of them negative."""
    x = rng.normal(size=(7, 6))
    params = random_mlp(rng, (6, 5, 4, 3), x)
    with standing_in(lab.mlp, **probes.LAYERS):
        logits, _ = lab.mlp.mlp_forward(params, x)
    return {"logits": logits}


@mlp_forward.verdict
def _(student, reference):
    expect_close(student["logits"], reference["logits"], "the logits of mlp_forward(params, x)")


@check(points=3, uses="mlp", task="`mlp_loss_and_grads`",
       hint="backprop: upstream = cross_entropy_backward(logits, labels); then for each layer, "
            "last to first, relu_backward at that layer's pre-activation (not after the last "
            "layer) and dense_backward, whose dx is the next upstream")
def mlp_gradients(lab, rng):
    """The loss and every (dw, db) of a 6-5-4-3 MLP (three dense layers), by backprop."""
    x = rng.normal(size=(9, 6))
    params = random_mlp(rng, (6, 5, 4, 3), x)
    with standing_in(lab.mlp, **probes.LAYERS):
        loss, grads = lab.mlp.mlp_loss_and_grads(params, x, rng.integers(0, 3, size=9))
    return {"loss": scalar(loss, "the loss of mlp_loss_and_grads", "float64"),
            "grads": layer_pairs(grads)}


@mlp_gradients.verdict
def _(student, reference):
    expect_close(student["loss"], reference["loss"], "the loss of mlp_loss_and_grads")
    expect_layer_grads(student["grads"], reference["grads"],
                       "the grads of mlp_loss_and_grads for a 6-5-4-3 MLP")


# Training budgets: the same data, seeds and steps for the student and the reference.
ACCURACY_MARGIN = 0.03
MANUAL_REPLAY = dict(samples=120, sizes=(6, 5, 3), epochs=3, batch_size=16, learning_rate=0.1)
KERAS_BUDGET = dict(hidden=128, epochs=10, batch_size=64, learning_rate=1e-2)


@check(points=2, uses="mlp", task="`train_mlp_manual`",
       hint="on each batch: loss, grads = mlp_loss_and_grads(params, x[batch], labels[batch]); "
            "then params = [(w - learning_rate * dw, b - learning_rate * db) for (w, b), "
            "(dw, db) in zip(params, grads)], the weights AND the biases")
def mlp_manual_training(lab, rng):
    """Three epochs of minibatch SGD replayed on the check's own mlp_loss_and_grads (simple
    gradients of known value, not the MLP's): the loss of every epoch and the trained
    weights and biases match the reference's."""
    budget = MANUAL_REPLAY
    x = rng.normal(size=(budget["samples"], budget["sizes"][0]))
    y = rng.integers(0, budget["sizes"][-1], size=budget["samples"])
    seed = int(rng.integers(1 << 30))
    initial = lab.mlp.init_mlp(budget["sizes"], seed=seed)
    with standing_in(lab.mlp, mlp_loss_and_grads=probes.pull_gradients):
        params, losses = lab.mlp.train_mlp_manual(
            [(w.copy(), b.copy()) for w, b in initial], x, y, epochs=budget["epochs"],
            batch_size=budget["batch_size"], learning_rate=budget["learning_rate"], seed=seed)
    params = [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in params]
    shapes = [[list(w.shape), list(b.shape)] for w, b in params]
    expected = [[list(w.shape), list(b.shape)] for w, b in initial]
    if shapes != expected:
        raise ValueError(f"train_mlp_manual returned parameters of shapes {shapes}, expected "
                         f"{expected}: a list of (w, b) pairs")
    return {"losses": np.asarray(losses, dtype=np.float64), "params": layer_pairs(params),
            "moved": [[float(np.abs(w - w0).max()), float(np.abs(b - b0).max())]
                      for (w, b), (w0, b0) in zip(params, initial)]}


@mlp_manual_training.verdict
def _(student, reference):
    what = "train_mlp_manual (on the check's own mlp_loss_and_grads)"
    for layer, (w_moved, b_moved) in enumerate(student["moved"], start=1):
        expect_true(w_moved > 0, f"{what} returned the initial w of layer {layer}: assign the "
                                 "updated pairs to params on every batch")
        expect_true(b_moved > 0, f"{what} never changed b of layer {layer}: the biases must be "
                                 "updated too, b - learning_rate * db")
    expect_finite(student["losses"], f"the epoch losses of {what}")
    expect_close(student["losses"], reference["losses"], f"the epoch losses of {what}",
                 rtol=1e-6, atol=1e-9)
    for layer, (mine, theirs) in enumerate(zip(student["params"], reference["params"]), 1):
        expect_close(mine[0], theirs[0], f"w of layer {layer} after {what}", rtol=1e-6, atol=1e-9)
        expect_close(mine[1], theirs[1], f"b of layer {layer} after {what}", rtol=1e-6, atol=1e-9)


# ---- With tf.GradientTape -------------------------------------------------------------------

@check(points=2, uses="mlp", task="`tape_train_step`",
       hint="record the forward pass (tf.matmul, + b, tf.nn.relu except after the last layer) "
            "and the mean sparse softmax cross-entropy under tf.GradientTape(); "
            "tape.gradient(loss, variables); then w.assign_sub(learning_rate * dw)")
def tape_train_step(lab, rng):
    """One SGD step of a 6-5-4-3 MLP: the loss before it, the gradients and the updated
    weights and biases."""
    import tensorflow as tf
    x = rng.normal(size=(9, 6)).astype("float32")
    variables = [(tf.Variable(w.astype("float32")), tf.Variable(b.astype("float32")))
                 for w, b in random_mlp(rng, (6, 5, 4, 3), x)]
    loss, grads = lab.mlp.tape_train_step(variables, x, rng.integers(0, 3, size=9), 0.5)
    return {"loss": scalar(loss, "the loss of tape_train_step"), "grads": layer_pairs(grads),
            "updated": [[w, b] for w, b in variables]}


@tape_train_step.verdict
def _(student, reference):
    expect_close(student["loss"], reference["loss"], "the loss of tape_train_step")
    expect_layer_grads(student["grads"], reference["grads"],
                       "the gradients of tape_train_step (they equal mlp_loss_and_grads')")
    for layer, (mine, theirs) in enumerate(zip(student["updated"], reference["updated"]), 1):
        expect_close(mine[0], theirs[0], f"w of layer {layer} after tape_train_step")
        expect_close(mine[1], theirs[1], f"b of layer {layer} after tape_train_step")


# ---- With Keras -----------------------------------------------------------------------------

@check(points=2, uses="mlp", task="`Linear.build`, `Linear.call`",
       hint="build: self.add_weight for a Glorot-uniform (D, units) kernel, then a zero "
            "(units,) bias; call: self.activation(keras.ops.matmul(x, self.kernel) + self.bias)")
def keras_linear_layer(lab, rng):
    """The weights a Linear layer builds (a Glorot-uniform kernel, then a zero bias), and its
    outputs with and without a ReLU for given weights."""
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
    wide = lab.mlp.Linear(40)
    wide(np.zeros((1, 24), "float32"))
    outputs["initial"] = [v.numpy() for v in wide.weights]
    return outputs


@keras_linear_layer.verdict
def _(student, reference):
    kernel, bias = (np.asarray(v) for v in student["initial"])
    limit = np.sqrt(6 / (24 + 40))
    expect_true(not bias.any(), "Linear(40) builds a bias that is not all zeros: "
                                'initializer="zeros"')
    expect_true(np.abs(kernel).max() <= limit * (1 + 1e-6) and kernel.std() > limit / 4,
                f"Linear(40) on 24 inputs builds a kernel with values in "
                f"[{kernel.min():.3g}, {kernel.max():.3g}], std {kernel.std():.3g}: "
                f'initializer="glorot_uniform" draws from [-{limit:.3g}, {limit:.3g}]')
    expect_close(student["None"], reference["None"], "Linear(3)(x) without activation")
    expect_close(student["relu"], reference["relu"], 'Linear(3, activation="relu")(x)')


KERAS_WEIGHT_SHAPES = [[6, 7], [7], [7, 5], [5], [5, 4], [4]]


@check(points=2, uses="mlp", task="`build_keras_mlp`",
       hint="a Linear(units, 'relu') per hidden width, then Linear(num_classes) with no "
            "activation (logits); compile with keras.optimizers.Adam(learning_rate), "
            "SparseCategoricalCrossentropy(from_logits=True) and metrics=['accuracy']", eager=True)
def keras_mlp_compiled(lab, rng):
    """The 6-7-5-4 model build_keras_mlp makes (with Keras's Dense as Linear) outputs logits, is
    compiled with Adam at the given learning rate and the cross-entropy on logits, and its
    first three training steps match the reference's."""
    x = rng.normal(size=(16, 6)).astype("float32")
    y = rng.integers(0, 4, size=16)
    with standing_in(lab.mlp, Linear=probes.linear_layer()):
        model = lab.mlp.build_keras_mlp(6, (7, 5), 4, learning_rate=0.05)
    model(x[:1])  # builds the weights, with or without a keras.Input
    shapes = [list(v.shape) for v in model.trainable_weights]
    if shapes != KERAS_WEIGHT_SHAPES:
        raise ValueError(f"build_keras_mlp(6, (7, 5), 4) has weights of shapes {shapes}, "
                         f"expected {KERAS_WEIGHT_SHAPES}: a Linear per hidden width, then "
                         "Linear(num_classes)")
    assign_random_weights(model, rng, scale=0.5)
    outputs = model(x)
    optimizer = model.optimizer
    steps = [model.train_on_batch(x, y, return_dict=True) for _ in range(3)]
    return {"outputs": outputs, "optimizer": type(optimizer).__name__,
            "learning_rate": float(np.asarray(optimizer.learning_rate)),
            "losses": [float(step["loss"]) for step in steps],
            "metrics": sorted(steps[0]), "trained": list(model.trainable_weights)}


@keras_mlp_compiled.verdict
def _(student, reference):
    outputs = np.asarray(student["outputs"], dtype=np.float64)
    if np.all(outputs >= 0) and np.allclose(outputs.sum(axis=1), 1, atol=1e-4):
        raise CheckFailed("build_keras_mlp's model outputs probabilities (each row of "
                          "model(x) sums to 1), not logits: no activation on the last Linear")
    expect_close(outputs, reference["outputs"], "model(x) of build_keras_mlp(6, (7, 5), 4) "
                 "with given weights (ReLU after each hidden layer, none after the last)")
    expect_true(student["optimizer"] == "Adam",
                f"build_keras_mlp compiles with {student['optimizer']}, expected Adam")
    expect_true(np.isclose(student["learning_rate"], reference["learning_rate"]),
                f"build_keras_mlp(..., learning_rate=0.05) compiles with a learning rate of "
                f"{student['learning_rate']:.4g}: pass learning_rate to "
                "keras.optimizers.Adam")
    expect_close(student["losses"][0], reference["losses"][0],
                 "the compiled loss of build_keras_mlp's model on a batch (the mean "
                 "cross-entropy of its logits: from_logits=True)")
    expect_true(any("accuracy" in name for name in student["metrics"]),
                f"build_keras_mlp's model reports {student['metrics']} while training: "
                "compile with metrics=['accuracy']")
    expect_close(student["losses"], reference["losses"],
                 "the losses of three train_on_batch steps of build_keras_mlp's model")
    for mine, theirs, shape in zip(student["trained"], reference["trained"], KERAS_WEIGHT_SHAPES):
        expect_close(mine, theirs, f"the weight of shape {tuple(shape)} after three "
                                   "train_on_batch steps of build_keras_mlp's model")


@check(points=1, uses="mlp", timeout=60, task="`build_keras_mlp`",
       hint="a Linear(units, 'relu') per hidden width, then Linear(num_classes) with no "
            "activation (logits); compile with Adam(learning_rate) and "
            "SparseCategoricalCrossentropy(from_logits=True)")
def keras_mlp_training(lab, rng):
    """The model of build_keras_mlp (with Keras's Dense as Linear), fitted on the digits,
    reaches the reference's test accuracy minus 0.03."""
    x, y, x_test, y_test = probes.digits()
    with standing_in(lab.mlp, Linear=probes.linear_layer()):
        model = lab.mlp.build_keras_mlp(64, (KERAS_BUDGET["hidden"],), 10,
                                        learning_rate=KERAS_BUDGET["learning_rate"])
    build_for_fit(model, x[:1].astype("float32"))  # a student's model may have no keras.Input
    model.fit(x.astype("float32"), y, epochs=KERAS_BUDGET["epochs"],
              batch_size=KERAS_BUDGET["batch_size"], verbose=0)
    logits = model.predict(x_test.astype("float32"), batch_size=512, verbose=0)
    return {"test_accuracy": float(np.mean(np.argmax(logits, axis=1) == y_test))}


@keras_mlp_training.verdict
def _(student, reference):
    expect_at_least(student["test_accuracy"], reference["test_accuracy"] - ACCURACY_MARGIN,
                    f"the digits test accuracy of build_keras_mlp after model.fit (reference "
                    f"{reference['test_accuracy']:.3f}, margin {ACCURACY_MARGIN})")


@check(points=1, uses="mlp", reference=False, task="`Linear`, `build_keras_mlp`",
       hint="the model must map (N, D) to (N, C) logits and reload from .keras: build creates "
            "the weights with add_weight, and Linear stays registered as serializable")
def keras_model_saves(lab, rng):
    """The model of Linear layers maps (4, 8) inputs to (4, 3) and reloads from `.keras` with
    the same outputs."""
    import keras
    model = lab.mlp.build_keras_mlp(8, (6, 5), 3)
    if not model.weights:
        raise ValueError("build_keras_mlp(8, (6, 5), 3) returns a model without weights until "
                         "its first call, which saves none: start the Sequential with "
                         "keras.Input((input_dim,))")
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
