"""Public checks of lab10_autoencoders, part 4: the sparse and contractive autoencoders
(regularized.py).

The penalties are compared with independent computations: the L1 penalty and its gradient
with numpy, the contractive penalty of a sigmoid layer with its closed form
sum_j (h_j (1 - h_j))^2 sum_i W_ij^2 (its gradient with respect to the weights by a tape on
that formula). The models run on the checks' own encoder and decoder stacks; the model
checks replace the student's penalty by a stand-in of known, different value, so that they
judge `call` and `train_step` alone. The training checks compare what a trained model does
(the share of silent code units, the Jacobian norm in closed form, test MSE) with the
reference trained the same way and with the same stacks trained without a penalty.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import standing_in
from autograder.checks.lab10_autoencoders.probes import digits, judge_round_trip, mse, round_trip
from autograder.checks.lab10_autoencoders.probes_regularized import (
    CONTRACTIVE,
    JACOBIAN_FACTOR,
    MSE_FACTOR,
    PLAIN_JACOBIAN,
    REGULARIZED,
    SILENT_MARGIN,
    SPARSE,
    elu_sigmoid_jacobian_norms,
    fit_digits,
    judge_logged_means,
    plain_autoencoder,
    sigmoid_penalty_closed_form,
    silent_share,
    stacks,
)
from autograder.verdicts import expect_at_least, expect_at_most, expect_close_naming, expect_true


def _float(value):
    return np.float64(np.asarray(value, np.float64).reshape(()))


# ---------------------------------------------------------------------------------------------
# The sparse autoencoder
# ---------------------------------------------------------------------------------------------

@check(points=1, uses=REGULARIZED, reference=False, task="`l1_penalty` (regularized.py)",
       hint="weight * mean over the batch of the sum over the code units of |codes|, in float32")
def l1_penalty(lab, rng):
    """Value and gradient (by a tape) on random codes (6, 5) of both signs, weight 0.3,
    against numpy: weight · mean over the batch of Σ_k |h_k|, gradient weight · sign(h) / N;
    and for float16 codes (4, 5), a float32 value."""
    import tensorflow as tf
    codes = rng.normal(size=(6, 5)).astype("float32")
    variable = tf.Variable(codes)
    with tf.GradientTape() as tape:
        value = lab.regularized.l1_penalty(variable, 0.3)
    gradient = tape.gradient(value, variable)
    half = (rng.normal(size=(4, 5)) * 3).astype("float16")
    value16 = lab.regularized.l1_penalty(tf.constant(half), 0.3)
    return {"value": np.asarray(value, np.float64), "codes": codes,
            "gradient": None if gradient is None else np.asarray(gradient, np.float64),
            "half": half.astype(np.float64), "value16": np.asarray(value16, np.float64),
            "dtype16": str(getattr(value16, "dtype", type(value16).__name__))}


@l1_penalty.verdict
def _(student, _reference):
    what = "l1_penalty(codes, 0.3) for codes (6, 5)"
    codes = np.asarray(student["codes"], np.float64)
    n, k = codes.shape
    norms = np.abs(codes).sum(axis=1)
    expected = 0.3 * norms.mean()
    value = np.asarray(student["value"])
    expect_true(value.size == 1, f"{what} returned shape {value.shape}: one number, the mean "
                "over the batch")
    expect_close_naming(_float(value), expected, what, mistakes=(
        (0.3 * norms.sum(), "it sums over the batch: take the MEAN over the N codes"),
        (0.3 * np.abs(codes).mean(), "it averages over the code units too: SUM |h_k| over "
                                     "the units, average over the batch only"),
        (0.3 * np.square(codes).sum(axis=1).mean(), "that is an L2 penalty: the L1 norm sums "
                                                    "the ABSOLUTE values"),
        (0.3 * codes.sum(axis=1).mean(), "the absolute value is missing"),
        (norms.mean(), "the weight is missing")), rtol=1e-5)
    gradient = student["gradient"]
    expect_true(gradient is not None, f"{what} has no gradient with respect to the codes: "
                "compute it with TensorFlow ops, not numpy")
    expect_close_naming(np.asarray(gradient, np.float32), (0.3 * np.sign(codes) / n).astype(np.float32),
                        f"the gradient of {what} with respect to the codes",
                        advice="it must be weight * sign(codes) / N")
    what = "l1_penalty(codes, 0.3) for float16 codes (4, 5)"
    if "float32" not in student["dtype16"]:
        raise CheckFailed(f"{what} returned a {student['dtype16']} value: cast the codes to "
                          "float32 first (l1_penalty returns a float32 scalar, whatever the "
                          "codes' dtype, as under mixed precision)")
    expect_close_naming(_float(student["value16"]),
                        0.3 * np.abs(student["half"]).sum(axis=1).mean(), what, rtol=1e-5)


def _stand_in_penalty(codes, weight):
    """Not the L1 penalty: a check-defined value the model must add to its losses as given."""
    import tensorflow as tf
    shifted = tf.cast(codes, tf.float32) - 0.25
    return weight * tf.reduce_mean(tf.square(shifted)) + 0.125


@check(points=2, uses=REGULARIZED, task="`SparseAutoencoder.call`",
       hint="codes = self.encoder(x); self.add_loss(l1_penalty(codes, self.sparsity_weight)); "
            "return self.decoder(codes)")
def sparse_autoencoder_call(lab, rng):
    """With a stand-in `l1_penalty`: `model(x)` is `decoder(encoder(x))`, `model.losses` holds
    the penalty of the codes (with `sparsity_weight`) once, `evaluate` with `loss="mse"` adds
    it to the MSE, and a `.keras` round trip."""
    import keras

    from autograder.check_helpers import assign_random_weights
    encoder, decoder = stacks(12, 5, 8, "relu")
    plain = plain_autoencoder(encoder, decoder)
    assign_random_weights(plain, rng)
    x = rng.random((10, 12)).astype("float32")
    model = lab.regularized.SparseAutoencoder(encoder, decoder, sparsity_weight=0.7)
    with standing_in(lab.regularized, l1_penalty=_stand_in_penalty):
        x_hat = model(x)
        losses = [np.asarray(loss, np.float64).reshape(-1) for loss in model.losses]
        model.compile(loss="mse", optimizer=keras.optimizers.SGD(0.0))
        evaluated = model.evaluate(x, x, batch_size=10, verbose=0)
        trip = round_trip(lab, model, x, "sparse")
    return {"x_hat": None if x_hat is None else np.asarray(x_hat, np.float64),
            "plain": np.asarray(plain(x), np.float64),
            "losses": json.dumps([loss.tolist() for loss in losses]),
            "penalty": np.asarray(_stand_in_penalty(encoder(x), 0.7), np.float64),
            "unweighted": np.asarray(_stand_in_penalty(encoder(x), 1.0), np.float64),
            "of_output": np.asarray(_stand_in_penalty(plain(x), 0.7), np.float64),
            "mse": mse(plain(x), x), "evaluated": float(np.asarray(evaluated).reshape(-1)[0]),
            "round_trip": trip}


@sparse_autoencoder_call.verdict
def _(student, _reference):
    what = "SparseAutoencoder(encoder, decoder, sparsity_weight=0.7)"
    expect_true(student["x_hat"] is not None, f"{what}(x) returned None: return the decoded codes")
    expect_close_naming(np.asarray(student["x_hat"], np.float32),
                        np.asarray(student["plain"], np.float32),
                        f"{what}(x) against decoder(encoder(x))")
    losses = json.loads(student["losses"])
    penalty = float(student["penalty"])
    expect_true(len(losses) > 0, f"after {what}(x), model.losses is empty: call "
                "self.add_loss(l1_penalty(codes, self.sparsity_weight)) in call")
    expect_true(len(losses) == 1, f"after one call of {what}, model.losses holds {len(losses)} "
                "losses: add the penalty once per call")
    got = np.asarray(losses[0], np.float64)
    expect_close_naming(got.reshape(-1)[:1], np.float64([penalty]),
                        f"the loss {what}(x) adds (l1_penalty replaced by a stand-in)", mistakes=(
                            (np.float64([float(student['unweighted'])]), "l1_penalty must get self.sparsity_weight "
                             "as its weight"),
                            (np.float64([float(student['of_output'])]), "that is the penalty of "
                             "the OUTPUT x_hat: penalise the codes, l1_penalty(self.encoder(x), "
                             "self.sparsity_weight)"),), rtol=1e-5)
    expect_close_naming(np.float32(student["evaluated"]), np.float32(student["mse"] + penalty),
                        f"evaluate(x, x) of {what} compiled with loss='mse'",
                        advice="the loss must be the MSE plus the penalty added in call",
                        rtol=1e-4)
    judge_round_trip(student["round_trip"], "SparseAutoencoder", "SparseAutoencoder")


@check(points=2, uses=REGULARIZED, timeout=40, task="`SparseAutoencoder` (training)",
       hint="trained with compile(loss='mse'), the L1 penalty added in call must silence as many "
            "code units as the reference's, at a test MSE within 25 % of its")
def sparse_autoencoder_trains(lab, rng):
    """ReLU code of 16, sparsity weight 1e-3, Adam 1e-2, 100 steps of 64: the share of silent
    code units (below 1e-3) on the test digits within 0.1 of the reference's (the same stacks
    trained without the penalty leave about 0.43 silent), and a test MSE within 25 %
    of the reference's."""
    x_train, x_test = digits("train"), digits("test")
    encoder, decoder = stacks(64, SPARSE["code_dim"], SPARSE["hidden"], "relu")
    model = lab.regularized.SparseAutoencoder(encoder, decoder, SPARSE["sparsity_weight"])
    fit_digits(model, x_train, SPARSE, int(rng.integers(1 << 30)), loss="mse")
    return {"share": silent_share(encoder(x_test)), "mse": mse(model(x_test), x_test)}


@sparse_autoencoder_trains.verdict
def _(student, reference):
    expect_true(np.isfinite(student["mse"]), "after training, the sparse autoencoder's outputs "
                "are NaN or inf")
    expect_at_least(student["share"], reference["share"] - SILENT_MARGIN,
                    f"the share of silent code units on the test digits after training (the "
                    f"reference: {reference['share']:.2f}; without the penalty the same stacks "
                    "leave about 0.43 silent)")
    try:
        expect_at_most(student["mse"], MSE_FACTOR * reference["mse"],
                       f"the sparse autoencoder's test MSE after training (the reference: "
                       f"{reference['mse']:.4f})")
    except CheckFailed as failure:
        raise CheckFailed(f"{failure}, with {student['share']:.2f} of the code units silent "
                          f"(the reference: {reference['share']:.2f}): a penalty far too "
                          "strong? l1_penalty is a MEAN over the batch, weighted by "
                          "self.sparsity_weight") from None


# ---------------------------------------------------------------------------------------------
# The contractive autoencoder
# ---------------------------------------------------------------------------------------------

@check(points=2, uses=REGULARIZED, reference=False, task="`contractive_penalty`",
       hint="under a GradientTape that watches x: codes = encoder(x); J = tape.batch_jacobian("
            "codes, x) (N, K, D); the squares of J summed per example, then the mean over N")
def contractive_penalty(lab, rng):
    """For an encoder Dense(4, sigmoid) on inputs (5, 7): the value against the closed form
    mean_n Σ_j (h_j (1 − h_j))² Σ_i W_ij², and its gradient with respect to the kernel and the
    bias against a tape on that formula; the value for images (3, 4, 2, 1) and an encoder
    Flatten-Dense(3, sigmoid), by the same closed form."""
    import keras
    import tensorflow as tf
    encoder = keras.Sequential([keras.Input((7,)), keras.layers.Dense(4, activation="sigmoid")])
    kernel, bias = encoder.layers[0].kernel, encoder.layers[0].bias
    kernel.assign(rng.normal(scale=0.8, size=(7, 4)).astype("float32"))
    bias.assign(rng.normal(scale=0.5, size=4).astype("float32"))
    x = rng.normal(size=(5, 7)).astype("float32")
    with tf.GradientTape() as tape:
        value = lab.regularized.contractive_penalty(encoder, x)
    grads = tape.gradient(value, [kernel, bias]) if value is not None else [None, None]
    with tf.GradientTape() as tape:
        expected = sigmoid_penalty_closed_form(kernel, bias, x)
    expected_grads = tape.gradient(expected, [kernel, bias])
    # Slips, each computed independently: the gradient of the summed codes (tape.gradient),
    # the norm not squared, the sum over the batch.
    h = np.asarray(encoder(x), np.float64)
    w = np.asarray(kernel, np.float64)
    jacobian = (h * (1 - h))[:, :, None] * w.T[None, :, :]            # (N, K, D)
    per_example = np.sum(jacobian ** 2, axis=(1, 2))
    images = rng.normal(size=(3, 4, 2, 1)).astype("float32")
    image_encoder = keras.Sequential([keras.Input((4, 2, 1)), keras.layers.Flatten(),
                                      keras.layers.Dense(3, activation="sigmoid")])
    image_kernel, image_bias = image_encoder.layers[-1].kernel, image_encoder.layers[-1].bias
    image_kernel.assign(rng.normal(scale=0.8, size=(8, 3)).astype("float32"))
    image_value = lab.regularized.contractive_penalty(image_encoder, images)
    flat = images.reshape(3, 8)
    codes = np.asarray(image_encoder(images), np.float64)
    blocks = ((codes * (1 - codes))[:, :, None] * np.asarray(image_kernel, np.float64).T[None])
    blocks = blocks.reshape(3, 3, 4, 2, 1)                              # (N, K, H, W, C)
    return {"value": None if value is None else np.asarray(value, np.float64),
            "image_value": None if image_value is None else np.asarray(image_value, np.float64),
            "image_expected": np.asarray(sigmoid_penalty_closed_form(
                image_kernel, image_bias, flat), np.float64),
            "image_two_axes": np.mean(np.sum(blocks ** 2, axis=(1, 2))),
            "expected": np.asarray(expected, np.float64),
            "grads": [None if g is None else np.asarray(g, np.float64) for g in grads],
            "expected_grads": [np.asarray(g, np.float64) for g in expected_grads],
            "summed_codes": np.mean(np.sum(jacobian.sum(axis=1) ** 2, axis=1)),
            "not_squared": np.mean(np.sqrt(per_example)), "batch_sum": np.sum(per_example)}


@contractive_penalty.verdict
def _(student, _reference):
    what = "contractive_penalty(encoder, x) for a Dense(4, sigmoid) encoder and x (5, 7)"
    expect_true(student["value"] is not None, f"{what} returned None")
    value = np.asarray(student["value"])
    expect_true(value.size == 1, f"{what} returned shape {value.shape}: one number, the mean "
                "over the batch")
    expect_close_naming(_float(value), student["expected"], what, mistakes=(
        (student["summed_codes"], "that is the squared gradient of the SUM of the codes "
         "(tape.gradient): take the Jacobian of every code unit, tape.batch_jacobian"),
        (student["not_squared"], "the Frobenius norm is not squared: sum the SQUARES of the "
         "Jacobian's entries"),
        (student["batch_sum"], "it sums over the batch: take the MEAN over the N examples")),
        rtol=1e-4)
    for name, got, expected in zip(("kernel", "bias"), student["grads"], student["expected_grads"]):
        if got is None:
            raise CheckFailed(f"{what} has no gradient with respect to the encoder's {name}: "
                              "compute the Jacobian with TensorFlow (a tape), never in numpy or "
                              "behind tf.stop_gradient; train_step differentiates it again")
        expect_close_naming(np.asarray(got, np.float32), np.asarray(expected, np.float32),
                            f"the gradient of {what} with respect to the encoder's {name}",
                            advice="the penalty must stay differentiable in the weights", rtol=1e-3,
                            atol=1e-6)
    what = ("contractive_penalty(encoder, x) for images x (3, 4, 2, 1) and a Flatten-Dense(3, "
            "sigmoid) encoder")
    expect_true(student["image_value"] is not None, f"{what} returned None")
    value = np.asarray(student["image_value"])
    expect_true(value.size == 1, f"{what} returned shape {value.shape}: one number, the mean "
                "over the batch")
    expect_close_naming(_float(value), student["image_expected"], what, mistakes=(
        (student["image_two_axes"], "it sums the squared Jacobian over axes 1 and 2 only: for "
         "images J is (N, K, H, W, C), sum over EVERY axis but the batch"),),
        advice="for images the Jacobian is (N, K, H, W, C): sum its squares over every axis but "
               "the batch (axes 1 to the last), then take the mean over N", rtol=1e-4)


def _stand_in_contraction(encoder, x):
    """Not the contractive penalty: the mean squared code, a value of known gradient."""
    import tensorflow as tf
    return tf.reduce_mean(tf.square(tf.cast(encoder(x), "float32")))


STEP = {"learning_rate": 0.5, "batch_size": 16, "batches": 3, "contraction_weight": 2.0}


@check(points=2, uses=REGULARIZED, task="`ContractiveAutoencoder.train_step`",
       hint="loss = MSE(self(x), x) + self.contraction_weight * contractive_penalty(self.encoder, "
            "x) under a GradientTape; the gradient of self.optimizer.scale_loss(loss); "
            "self.optimizer.apply; update the trackers loss, reconstruction (the MSE) and "
            "contraction (the penalty UNWEIGHTED)")
def contractive_train_step_exact(lab, rng):
    """Three SGD steps (wrapped in a LossScaleOptimizer) with a stand-in penalty: the weights
    move as the reference's do, and `fit` logs `loss`, `reconstruction` and `contraction`
    as the means of their batch values."""
    import keras

    from autograder.check_helpers import assign_random_weights, snapshot
    size = STEP["batch_size"]
    x = rng.random((size * STEP["batches"], 10)).astype("float32")
    encoder, decoder = stacks(10, 3, 6, "sigmoid")
    plain = plain_autoencoder(encoder, decoder)
    assign_random_weights(plain, rng, scale=0.6)
    model = lab.regularized.ContractiveAutoencoder(encoder, decoder,
                                                   STEP["contraction_weight"])
    model.compile(optimizer=keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(STEP["learning_rate"])))
    before = snapshot(plain.trainable_variables)
    batches = {"loss": [], "reconstruction": [], "contraction": []}

    def measure(batch, logs):
        xb = x[batch * size:(batch + 1) * size]
        reconstruction = mse(plain(xb), xb)
        contraction = float(_stand_in_contraction(encoder, xb))
        batches["reconstruction"].append(reconstruction)
        batches["contraction"].append(contraction)
        batches["loss"].append(reconstruction + STEP["contraction_weight"] * contraction)
    record = keras.callbacks.LambdaCallback(on_train_batch_begin=measure)
    with standing_in(lab.regularized, contractive_penalty=_stand_in_contraction):
        history = model.fit(x, batch_size=size, epochs=1, shuffle=False, verbose=0,
                            callbacks=[record]).history
    after = snapshot(plain.trainable_variables)
    return {"update": np.concatenate([(a - b).ravel() for a, b in zip(after, before)]),
            "logged": json.dumps(sorted(history)), "batches": batches,
            "epoch": {name: float(np.asarray(values[-1])) for name, values in history.items()}}


@contractive_train_step_exact.verdict
def _(student, reference):
    what = "ContractiveAutoencoder.train_step"
    update, expected = (np.asarray(r["update"], np.float64) for r in (student, reference))
    moved, wanted = float(np.linalg.norm(update)), float(np.linalg.norm(expected))
    expect_true(moved > 0, f"three SGD steps of {what} changed no weight: are the losses "
                "computed inside the tape, and the gradients applied with self.optimizer.apply?")
    if 2.0 ** 15 / 10 < wanted / moved < 2.0 ** 15 * 10:
        raise CheckFailed(f"three SGD steps of {what} behind a LossScaleOptimizer moved the "
                          f"weights {wanted / moved:.0f} times less than the reference's: take "
                          "the gradient of self.optimizer.scale_loss(loss), not of the loss")
    expect_close_naming(update.astype(np.float32), expected.astype(np.float32),
                        f"the weight updates of three SGD steps of {what} with a stand-in "
                        f"penalty and contraction_weight {STEP['contraction_weight']:g} (the norm "
                        f"of the update: {moved:.4g}, the reference's {wanted:.4g})",
                        advice="loss = reconstruction MSE + contraction_weight * "
                               "contractive_penalty(self.encoder, x), all under the tape",
                        rtol=1e-3, atol=1e-6)
    judge_logged_means(student, ("loss", "reconstruction", "contraction"), what, mistakes={
        "contraction": [(STEP["contraction_weight"], "it logs the penalty times "
                         "contraction_weight: the 'contraction' log is the UNWEIGHTED penalty, "
                         "contractive_penalty(self.encoder, x) as it is")]})


@check(points=2, uses=REGULARIZED, timeout=40, task="`ContractiveAutoencoder` (training)",
       hint="the penalty must flatten the encoder: a trained ContractiveAutoencoder's Jacobian "
            "norm near the reference's, far below a plain autoencoder's")
def contractive_autoencoder_trains(lab, rng):
    """Sigmoid code of 8, contraction weight 0.01, Adam 1e-2, 100 steps of 64: the mean
    squared Frobenius norm of the encoder's Jacobian on the test digits (in closed form)
    within 1.5 times the reference's (a plain autoencoder trained the same way lands at least
    twice as high as that bound); test MSE within 25 % of the reference's."""
    x_train, x_test = digits("train"), digits("test")
    encoder, decoder = stacks(64, CONTRACTIVE["code_dim"], CONTRACTIVE["hidden"], "sigmoid")
    model = lab.regularized.ContractiveAutoencoder(encoder, decoder,
                                                   CONTRACTIVE["contraction_weight"])
    logs = fit_digits(model, x_train, CONTRACTIVE, int(rng.integers(1 << 30)), paired=False)
    return {"jacobian": float(np.mean(elu_sigmoid_jacobian_norms(encoder, x_test))),
            "mse": mse(model(x_test), x_test), "logged": json.dumps(sorted(logs))}


@contractive_autoencoder_trains.verdict
def _(student, reference):
    jacobian = student["jacobian"]
    expect_true(np.isfinite(jacobian) and np.isfinite(student["mse"]),
                "after training, the contractive autoencoder's outputs are NaN or inf")
    context = (f"(the reference: {reference['jacobian']:.3f} at a test MSE of "
               f"{reference['mse']:.4f}; {PLAIN_JACOBIAN})")
    expect_at_most(jacobian, JACOBIAN_FACTOR * reference["jacobian"],
                   f"the mean squared Frobenius norm of the trained encoder's Jacobian on the "
                   f"test digits {context}: is the penalty in the loss, and differentiable in "
                   "the weights?")
    expect_at_most(student["mse"], MSE_FACTOR * reference["mse"],
                   f"the contractive autoencoder's test MSE {context}")
