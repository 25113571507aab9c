"""Hidden checks of lab10_autoencoders: fresh shapes, sizes and seeds; references from the
solution, plus one invariant of PCA and the linear autoencoder at another code size."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import build_for_fit
from autograder.checks.lab10_autoencoders.probes import (
    ANGLE_MARGIN_DEGREES,
    LINEAR,
    MODELS,
    PCA,
    construct,
    correlated_data,
    digits,
    f32,
    judge_layers,
    judge_path,
    largest_angle,
    layer_table,
    pca_test_mse,
    principal_angles_np,
    top_directions,
)
from autograder.checks.lab10_autoencoders.public import as_float32, judge_components
from autograder.verdicts import expect_at_most, expect_close, expect_shape, expect_true


@check(points=1, uses=PCA, hint="PCA must work for any N > K, D and K: components are ROWS, "
       "the variances s^2 / (N - 1)")
def pca_fit_other_shapes(lab, rng):
    d = int(rng.integers(4, 11))
    n, k = int(rng.integers(3 * d, 80)), int(rng.integers(1, d))
    model = lab.pca.PCA(k).fit(correlated_data(rng, n, d, mean_scale=10.0))
    return {"mean": f32(model.mean_), "components": f32(model.components_),
            "singular_values": f32(model.singular_values_),
            "explained_variance": f32(model.explained_variance_),
            "explained_variance_ratio": f32(model.explained_variance_ratio_),
            "shape": [n, d, k]}


@pca_fit_other_shapes.verdict
def _(student, reference):
    n, d, k = reference["shape"]
    what = f"PCA({k}).fit(x) on x ({n}, {d})"
    judge_components(student, reference, what)
    for name in ("explained_variance", "explained_variance_ratio"):
        expect_close(as_float32(student[name], f"{name}_ after {what}"), reference[name],
                     f"{name}_ after {what}")


@check(points=1, uses=PCA, hint="the squared error of the rank-K reconstruction, summed and "
       "divided by N - 1, is the variance of the discarded components", reference=False)
def pca_reconstruction_error_is_discarded_variance(lab, rng):
    x = correlated_data(rng, 50, 8)
    model = lab.pca.PCA(3).fit(x)
    eigenvalues = np.sort(np.linalg.eigvalsh(np.cov(x, rowvar=False)))[::-1]
    error = np.sum((np.asarray(model.reconstruct(x), np.float64) - x) ** 2) / (len(x) - 1)
    return {"error": error, "discarded": eigenvalues[3:].sum(), "kept": eigenvalues[:3]}


@pca_reconstruction_error_is_discarded_variance.verdict
def _(student, _reference):
    expect_close(np.float32(student["error"]), np.float32(student["discarded"]),
                 "the squared reconstruction error of PCA(3) on x (50, 8), summed over the "
                 "examples and divided by N - 1, against the sum of the 5 smallest eigenvalues "
                 "of the covariance of x", rtol=1e-3)


@check(points=1, uses=PCA, hint="the number of angles is min(Ka, Kb), whichever basis is larger")
def principal_angles_other_dims(lab, rng):
    d = int(rng.integers(6, 12))
    a, b = rng.normal(size=(4, d)), rng.normal(size=(2, d))
    return {"wide_first": f32(lab.pca.principal_angles(a, b)),
            "narrow_first": f32(lab.pca.principal_angles(b, a))}


@principal_angles_other_dims.verdict
def _(student, reference):
    for key, what in (("wide_first", "principal_angles(a, b) for a (4, D), b (2, D)"),
                      ("narrow_first", "principal_angles(b, a) for b (2, D), a (4, D)")):
        expect_close(as_float32(student[key], what), reference[key], what, atol=1e-4)


@check(points=1, uses=MODELS, hint="ConvAutoencoder must follow image_shape (H, W, C) and "
       "filters: H/4 x W/4 after the encoder's convolutions, C channels out")
def conv_autoencoder_other_shape(lab, rng):
    model, error = construct(lambda: lab.autoencoders.ConvAutoencoder(
        image_shape=(12, 16, 3), code_dim=6, filters=(5, 7)), "ConvAutoencoder((12, 16, 3))")
    if error:
        return {"error": error}
    x = rng.random(size=(2, 12, 16, 3)).astype("float32")
    codes = model.encode(x)
    return {"x_hat": model(x), "encoder_layers": layer_table(model.encoder, x),
            "decoder_layers": layer_table(model.decoder, codes), "error": ""}


@conv_autoencoder_other_shape.verdict
def _(student, reference):
    what = "ConvAutoencoder((12, 16, 3), code_dim=6, filters=(5, 7))"
    if student["error"]:
        raise CheckFailed(student["error"])
    judge_layers(student["encoder_layers"], reference["encoder_layers"], f"{what}.encoder")
    judge_layers(student["decoder_layers"], reference["decoder_layers"], f"{what}.decoder")
    expect_shape(student["x_hat"], (2, 12, 16, 3), f"{what}(x) for x (2, 12, 16, 3)")


@check(points=1, uses=MODELS, hint="interpolate must work for any steps >= 2 and code size")
def interpolate_other_steps(lab, rng):
    start, end = (rng.normal(size=6).astype("float32") for _ in range(2))
    return {"two": lab.autoencoders.interpolate(start, end, 2),
            "nine": lab.autoencoders.interpolate(start, end, 9), "start": start, "end": end}


@interpolate_other_steps.verdict
def _(student, reference):
    for key, steps in (("two", 2), ("nine", 9)):
        judge_path(student[key], reference["start"], reference["end"], reference[key],
                   f"interpolate(code_start, code_end, steps={steps}) for codes of size 6")


@check(points=2, uses=MODELS, timeout=40, hint="a LinearAutoencoder(64, 3) must recover the "
       "3-dimensional PCA subspace as well as the reference")
def linear_autoencoder_other_code_size(lab, rng):
    import keras
    import tensorflow as tf
    code_dim = 3
    x_train, x_test = digits("train"), digits("test")
    model, error = construct(lambda: lab.autoencoders.LinearAutoencoder(input_dim=64,
                                                                        code_dim=code_dim),
                             "LinearAutoencoder(64, 3)")
    if error:
        return {"error": error}
    model.compile(optimizer=keras.optimizers.Adam(LINEAR["learning_rate"]), loss="mse",
                  steps_per_execution=100)
    build_for_fit(model, x_train[:1])  # one trace of train_step, not two
    model.fit(tf.data.Dataset.from_tensors((x_train, x_train)).repeat(),
              steps_per_epoch=LINEAR["steps"], epochs=1, verbose=0)
    x_hat = np.asarray(model(x_test), dtype=np.float64)
    if not np.all(np.isfinite(x_hat)):
        return {"angles": [float("inf")] * code_dim, "error": ""}
    angles = principal_angles_np(top_directions(x_hat, code_dim), top_directions(x_train, code_dim))
    return {"angles": np.degrees(angles), "pca": pca_test_mse(x_train, x_test, code_dim),
            "error": ""}


@linear_autoencoder_other_code_size.verdict
def _(student, reference):
    if student["error"]:
        raise CheckFailed(student["error"])
    angles = np.asarray(student["angles"], dtype=np.float64)
    expect_true(np.all(np.isfinite(angles)),
                "the trained LinearAutoencoder(64, 3) gives NaN or inf")
    expect_at_most(largest_angle(student), largest_angle(reference) + ANGLE_MARGIN_DEGREES,
                   "the largest principal angle between a trained LinearAutoencoder(64, 3)'s "
                   "reconstructions and the 3-dimensional PCA subspace", unit=" degrees")
