"""Hidden checks of regularized.py: fresh shapes and dtypes, references from the solution
(and from independent computations where they are cheap)."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.checks.lab10_autoencoders.probes_regularized import REGULARIZED
from autograder.verdicts import expect_close, expect_close_naming, expect_true


@check(points=1, uses=REGULARIZED, hint="contractive_penalty must take image inputs (N, H, W, C) "
       "and any encoder: sum the squared Jacobian over every axis but the batch")
def contractive_penalty_on_images(lab, rng):
    import keras
    import tensorflow as tf
    encoder = keras.Sequential([keras.Input((4, 3, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(6, activation="tanh"), keras.layers.Dense(3)])
    for weight in encoder.trainable_weights:
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype("float32"))
    x = tf.constant(rng.normal(size=(5, 4, 3, 1)).astype("float32"))
    value = lab.regularized.contractive_penalty(encoder, x)
    # Independently: the full Jacobian of the batch (5, 3, 5, 4, 3, 1); its diagonal blocks.
    with tf.GradientTape() as tape:
        tape.watch(x)
        codes = encoder(x)
    full = np.asarray(tape.jacobian(codes, x), np.float64).reshape(5, 3, 5, -1)
    blocks = full[np.arange(5), :, np.arange(5), :]
    return {"value": None if value is None else np.asarray(value, np.float64),
            "independent": np.mean(np.sum(blocks ** 2, axis=(1, 2)))}


@contractive_penalty_on_images.verdict
def _(student, reference):
    what = "contractive_penalty(encoder, x) for x (5, 4, 3, 1) and a Flatten-tanh-linear encoder"
    expect_true(student["value"] is not None, f"{what} returned None")
    expect_close_naming(np.float64(np.asarray(student["value"]).reshape(-1)[0]),
                        np.float64(student["independent"]), what, rtol=1e-4,
                        advice="J is (N, K, H, W, C) for images: sum its squares over every "
                               "axis but the batch (axes 1 to the last), then the mean over N")
    expect_close(np.float32(np.asarray(student["value"]).reshape(-1)[0]),
                 np.float32(reference["value"]), f"{what}, against the reference", rtol=1e-4)


@check(points=1, uses=REGULARIZED, hint="l1_penalty: cast the codes to float32; any batch size "
       "and code size")
def l1_penalty_float16_codes(lab, rng):
    import tensorflow as tf
    codes = tf.constant(rng.normal(size=(9, 3)).astype("float16"))
    value = lab.regularized.l1_penalty(codes, 0.05)
    return {"value": np.asarray(value, np.float64), "dtype": str(getattr(value, "dtype", "")),
            "independent": 0.05 * np.abs(np.asarray(codes, np.float64)).sum(axis=1).mean()}


@l1_penalty_float16_codes.verdict
def _(student, reference):
    what = "l1_penalty(codes, 0.05) for float16 codes (9, 3)"
    if "float16" in student["dtype"]:
        raise CheckFailed(f"{what} is float16: cast the codes to float32 first")
    expect_close(np.float32(np.asarray(student["value"]).reshape(-1)[0]),
                 np.float32(student["independent"]), what, rtol=1e-3)


@check(points=1, uses=REGULARIZED, hint="roc_auc must handle one positive among many negatives, "
       "ties between them, and labels given as any 0/1 array")
def roc_auc_lopsided(lab, rng):
    from sklearn.metrics import roc_auc_score
    scores = np.round(rng.normal(size=200), 1)
    labels = np.zeros(200, dtype=np.int32)
    labels[int(rng.integers(200))] = 1
    many = rng.random(300) ** 2
    many_labels = (rng.random(300) < many).astype(np.float32)
    return {"one": float(lab.regularized.roc_auc(scores, labels)),
            "one_sklearn": roc_auc_score(labels, scores),
            "many": float(lab.regularized.roc_auc(many, many_labels)),
            "many_sklearn": roc_auc_score(many_labels, many)}


@roc_auc_lopsided.verdict
def _(student, reference):
    for key, what in (("one", "one positive among 200 scores with ties"),
                      ("many", "300 scores with float 0/1 labels")):
        expect_close(np.float64(student[key]), np.float64(student[f"{key}_sklearn"]),
                     f"roc_auc(scores, labels) for {what}, against scikit-learn", rtol=1e-6)
