"""Public checks of lab10_autoencoders, part 2: the linear, dense and convolutional
autoencoders (autoencoders.py).

A model check compares the student's layers (class, output shape, activation) and weight
shapes with the reference's, then gives both the same random weights: the same layers must
then compute the same function, which the check compares tightly. The training checks
measure what a trained model does, with plain numpy: the principal angles between the
subspace a linear autoencoder's reconstructions live in and the PCA subspace, and test
MSEs. They never compare trained weights, which no two correct solutions share.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import build_for_fit
from autograder.checks.lab10_autoencoders.probes import (
    ANGLE_MARGIN_DEGREES,
    CONV,
    DENSE,
    LINEAR,
    MODELS,
    construct,
    digits,
    judge_model,
    judge_training,
    largest_angle,
    model_probe,
    mse,
    pca_test_mse,
    principal_angles_np,
    top_directions,
    train_probe,
)
from autograder.verdicts import expect_at_most, expect_close, expect_true


def judge_built(student):
    if student.get("error"):
        raise CheckFailed(student["error"])


# ---------------------------------------------------------------------------------------------
# The linear autoencoder
# ---------------------------------------------------------------------------------------------

@check(points=1, uses=MODELS, task="`LinearAutoencoder` (`make_encoder`, `make_decoder`)",
       hint="one Dense(code_dim) in the encoder, one Dense(input_dim) in the decoder, both with "
            "their biases, no activation anywhere")
def linear_autoencoder_model(lab, rng):
    """`LinearAutoencoder(10, 3)`: one Dense with bias each way, no activation (the model is
    affine), the reference's outputs for the same weights, and a `.keras` round trip."""
    what = "LinearAutoencoder(10, 3)"
    model, error = construct(lambda: lab.autoencoders.LinearAutoencoder(input_dim=10, code_dim=3),
                             what)
    if error:
        return {"error": error}
    x1, x2 = (rng.normal(size=(5, 10)).astype("float32") for _ in range(2))
    out = model_probe(lab, rng, model, x1, "linear")
    return {**out, "error": "", "mix": model(0.3 * x1 + 0.7 * x2), "parts": [model(x1), model(x2)]}


@linear_autoencoder_model.verdict
def _(student, reference):
    what = "LinearAutoencoder(10, 3)"
    judge_built(student)
    first, second = (np.asarray(p, np.float64) for p in student["parts"])
    expect_close(student["mix"], (0.3 * first + 0.7 * second).astype(np.float32),
                 f"{what}(0.3 x1 + 0.7 x2) against 0.3 model(x1) + 0.7 model(x2) (a linear "
                 "autoencoder is affine: is there an activation somewhere?)", atol=1e-4)
    judge_model(student, reference, what, "LinearAutoencoder", (5, 10), 3)


@check(points=3, uses=MODELS, timeout=40, task="`LinearAutoencoder` (training)",
       hint=f"a LinearAutoencoder(64, 4) trained on the MSE must reconstruct within "
            f"{ANGLE_MARGIN_DEGREES:g} degrees of the PCA subspace (as close as the reference); "
            "it needs biases to centre the data")
def linear_autoencoder_recovers_pca(lab, rng):
    """After 500 full-batch Adam steps (learning rate 0.05), code size 4: the largest
    principal angle between the subspace of the reconstructions and the PCA subspace is
    within 5° of the reference's."""
    import keras
    import tensorflow as tf
    x_train, x_test = digits("train"), digits("test")
    model, error = construct(lambda: lab.autoencoders.LinearAutoencoder(
        input_dim=64, code_dim=LINEAR["code_dim"]), "LinearAutoencoder(64, 4)")
    if error:
        return {"error": error}
    model.compile(optimizer=keras.optimizers.Adam(LINEAR["learning_rate"]), loss="mse",
                  steps_per_execution=100)
    build_for_fit(model, x_train[:1])  # one trace of train_step, not two
    full_batch = tf.data.Dataset.from_tensors((x_train, x_train)).repeat()
    model.fit(full_batch, steps_per_epoch=LINEAR["steps"], epochs=1, verbose=0)
    x_hat = np.asarray(model(x_test), dtype=np.float64)
    if not np.all(np.isfinite(x_hat)):
        return {"angles": [float("inf")] * LINEAR["code_dim"], "mse": float("inf"), "pca": 0.0,
                "error": ""}
    # The subspace the reconstructions live in, against the PCA subspace of the training data.
    angles = principal_angles_np(top_directions(x_hat, LINEAR["code_dim"]),
                                 top_directions(x_train, LINEAR["code_dim"]))
    return {"angles": np.degrees(angles), "mse": mse(x_hat, x_test),
            "pca": pca_test_mse(x_train, x_test, LINEAR["code_dim"]), "error": ""}


@linear_autoencoder_recovers_pca.verdict
def _(student, reference):
    judge_built(student)
    angles = np.asarray(student["angles"], dtype=np.float64)
    expect_true(np.all(np.isfinite(angles)), "after training, the linear autoencoder's "
                "reconstructions are NaN or inf")
    expect_at_most(largest_angle(student), largest_angle(reference) + ANGLE_MARGIN_DEGREES,
                   "the largest principal angle between the subspace of the linear autoencoder's "
                   f"reconstructions and the PCA subspace (all angles: "
                   f"{np.round(angles, 1).tolist()}; test MSE {student['mse']:.4f}, PCA's "
                   f"{student['pca']:.4f}; the reference: {largest_angle(reference):.2f} degrees)",
                   unit=" degrees")


# ---------------------------------------------------------------------------------------------
# The deep and convolutional autoencoders
# ---------------------------------------------------------------------------------------------

@check(points=1, uses=MODELS, task="`DenseAutoencoder`",
       hint="encoder: Dense(h, relu) for h in hidden_units, then a linear Dense(code_dim); "
            "decoder: the mirror image, ending in Dense(input_dim, sigmoid)")
def dense_autoencoder_model(lab, rng):
    """`DenseAutoencoder(20, 3, hidden_units=(16, 8))`: its layers (class, output shape,
    activation), a linear code, outputs in [0, 1], the reference's outputs for the same
    weights, and a `.keras` round trip."""
    what = "DenseAutoencoder(20, 3, hidden_units=(16, 8))"
    model, error = construct(lambda: lab.autoencoders.DenseAutoencoder(
        input_dim=20, code_dim=3, hidden_units=(16, 8)), what)
    if error:
        return {"error": error}
    x = (4.0 * rng.normal(size=(6, 20))).astype("float32")  # large inputs, to test the ranges
    return {**model_probe(lab, rng, model, x, "dense"), "error": ""}


@dense_autoencoder_model.verdict
def _(student, reference):
    what = "DenseAutoencoder(20, 3, hidden_units=(16, 8))"
    judge_built(student)
    codes = np.asarray(student["codes"])
    expect_true(codes.ndim != 2 or np.any(codes < 0), f"{what}.encode gives no negative code "
                "on 6 random inputs: the code layer must be linear (no relu on Dense(code_dim))")
    x_hat = np.asarray(student["x_hat"])
    expect_true(np.all((x_hat >= 0) & (x_hat <= 1)), f"{what}(x) must give pixels in [0, 1] "
                f"(got {x_hat.min():.3g} to {x_hat.max():.3g}): end the decoder with a sigmoid")
    judge_model(student, reference, what, "DenseAutoencoder", (6, 20), 3)


@check(points=2, uses=MODELS, timeout=40, task="`DenseAutoencoder` (training)",
       hint="DenseAutoencoder(64, 4) trained with compile(loss='mse') must come within 25% of "
            "the reference's test MSE")
def dense_autoencoder_trains(lab, rng):
    """Code size 4, hidden (128, 64), Adam 1e-2, 300 steps of 64: test MSE within 25 % of the
    reference's."""
    return train_probe(lab, rng, lambda: lab.autoencoders.DenseAutoencoder(
        input_dim=64, code_dim=DENSE["code_dim"], hidden_units=DENSE["hidden_units"]), DENSE)


dense_autoencoder_trains.verdict(lambda s, r: judge_training(s, r, "DenseAutoencoder(64, 4)"))


# Not square, and not 8 x 8: the decoder's Reshape must follow image_shape.
CONV_SHAPE = (12, 8, 2)


@check(points=2, uses=MODELS, task="`ConvAutoencoder`",
       hint="encoder: two Conv2D(3x3, strides=2, padding='same', relu), Flatten, Dense(code_dim); "
            "decoder: Dense(H/4 * W/4 * f2, relu), Reshape((H/4, W/4, f2)), Conv2DTranspose(f1, "
            "3x3, strides=2, padding='same', relu), Conv2DTranspose(C, ..., sigmoid)")
def conv_autoencoder_model(lab, rng):
    """`ConvAutoencoder((12, 8, 2), code_dim=5, filters=(4, 6))`: its layers (class, output
    shape, activation), outputs in [0, 1], the reference's outputs for the same weights, and a
    `.keras` round trip."""
    what = f"ConvAutoencoder({CONV_SHAPE}, code_dim=5, filters=(4, 6))"
    model, error = construct(lambda: lab.autoencoders.ConvAutoencoder(
        image_shape=CONV_SHAPE, code_dim=5, filters=(4, 6)), what)
    if error:
        return {"error": error + " (are H/4, W/4 and C taken from image_shape?)"}
    x = (4.0 * rng.normal(size=(3, *CONV_SHAPE))).astype("float32")
    return {**model_probe(lab, rng, model, x, "conv"), "error": ""}


@conv_autoencoder_model.verdict
def _(student, reference):
    what = f"ConvAutoencoder({CONV_SHAPE}, code_dim=5, filters=(4, 6))"
    judge_built(student)
    x_hat = np.asarray(student["x_hat"])
    expect_true(np.all((x_hat >= 0) & (x_hat <= 1)), f"{what}(x) must give pixels in [0, 1] "
                f"(got {x_hat.min():.3g} to {x_hat.max():.3g}): the last Conv2DTranspose needs "
                "a sigmoid")
    judge_model(student, reference, what, "ConvAutoencoder", (3, *CONV_SHAPE), 5)


@check(points=2, uses=MODELS, timeout=40, task="`ConvAutoencoder` (training)",
       hint="ConvAutoencoder((8, 8, 1), 4) trained with compile(loss='mse') must come within 25% "
            "of the reference's test MSE")
def conv_autoencoder_trains(lab, rng):
    """Code size 4, filters (16, 32), Adam 1e-2, 300 steps of 64 on (8, 8, 1) digits: test
    MSE within 25 % of the reference's."""
    return train_probe(lab, rng, lambda: lab.autoencoders.ConvAutoencoder(
        image_shape=(8, 8, 1), code_dim=CONV["code_dim"], filters=CONV["filters"]), CONV,
        images=True)


conv_autoencoder_trains.verdict(
    lambda s, r: judge_training(s, r, "ConvAutoencoder((8, 8, 1), 4)"))
