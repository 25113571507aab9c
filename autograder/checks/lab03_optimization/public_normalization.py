"""Public checks of lab03_optimization, part 4: BatchNorm (batchnorm.py), against
keras.layers.BatchNormalization holding the same weights, in training (output, input
gradient, on (N, C) inputs and on feature maps) and at inference."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.checks.lab03_optimization.probes import (
    batchnorm_training_probe,
    features,
    judge_batchnorm_gradients,
    judge_batchnorm_output,
    moving_statistics,
    twin_batchnorms,
)
from autograder.verdicts import expect_close, expect_true

FEATURE_MAPS = (5, 3, 4, 6)   # (N, H, W, C): statistics over N, H and W


@check(points=2, uses="batchnorm", task="`BatchNorm.build`, `call` (batchnorm.py)",
       hint="training=True: per-channel mean and (biased) variance of the batch, over every "
            "axis but the last; y = gamma * (x - mean) / sqrt(var + epsilon) + beta")
def batchnorm_training(lab, rng):
    """The weights `build` makes, and `BatchNorm(x, training=True)` on (N, C) inputs and on
    (N, H, W, C) feature maps, against `keras.layers.BatchNormalization`."""
    x = features(rng, (32, 6))
    mine, theirs = twin_batchnorms(lab, rng, x.shape)
    out = {"trainable": sorted(w.name for w in mine.trainable_weights),
           "non_trainable": sorted(w.name for w in mine.non_trainable_weights),
           "student": mine(x, training=True), "keras": theirs(x, training=True)}
    out["feature_maps"] = batchnorm_training_probe(lab, rng, FEATURE_MAPS, ("training",),
                                                   catch=True)
    return out


@batchnorm_training.verdict
def _(student, reference):
    expect_true(student["trainable"] == ["beta", "gamma"]
                and student["non_trainable"] == ["moving_mean", "moving_variance"],
                f"BatchNorm's trainable weights are {student['trainable']} and its "
                f"non-trainable ones {student['non_trainable']}; expected ['beta', 'gamma'] "
                "and ['moving_mean', 'moving_variance']")
    expect_close(student["student"], reference["keras"],
                 "BatchNorm()(x, training=True) for x (32, 6), against "
                 "keras.layers.BatchNormalization with the same gamma and beta")
    judge_batchnorm_output(student["feature_maps"], reference["feature_maps"],
                           f"for feature maps x {FEATURE_MAPS}")


@check(points=1, uses="batchnorm", task="`BatchNorm.call` in training: its gradient",
       hint="in training the output depends on x through the batch mean and variance too: "
            "compute them with keras.ops from x (no stop_gradient, no numpy), and the tape "
            "differentiates through them")
def batchnorm_input_gradient(lab, rng):
    """The gradients of sum(upstream * `BatchNorm(x, training=True)`) with respect to x,
    gamma and beta, against Keras's: the gradient flows through the batch statistics."""
    return batchnorm_training_probe(lab, rng, (24, 5), ("gradients", "connected"))


@batchnorm_input_gradient.verdict
def _(student, reference):
    judge_batchnorm_gradients(student, reference, "for x (24, 5)")


@check(points=2, uses="batchnorm", task="`BatchNorm.call` at inference",
       hint="training=False: normalise with moving_mean and moving_variance, not with the "
            "batch's statistics, and do not update them")
def batchnorm_inference(lab, rng):
    """`BatchNorm(x, training=False)` and `BatchNorm(x)` use the moving statistics, change
    nothing, and do not depend on the rest of the batch."""
    x = features(rng, (16, 5))
    mine, theirs = twin_batchnorms(lab, rng, x.shape)
    before = moving_statistics(mine)
    out = mine(x, training=False)
    return {"student": out, "keras": theirs(x, training=False),
            "batch_statistics": theirs(x, training=True), "default": mine(x),
            "alone": mine(x[:1], training=False),
            "moved": max(float(np.max(np.abs(a - b)))
                         for a, b in zip(before, moving_statistics(mine)))}


@batchnorm_inference.verdict
def _(student, reference):
    if np.allclose(student["student"], reference["batch_statistics"], rtol=1e-3, atol=1e-4):
        raise CheckFailed("BatchNorm()(x, training=False) normalises with the batch's own mean "
                          "and variance: at inference use moving_mean and moving_variance")
    expect_close(student["student"], reference["keras"],
                 "BatchNorm()(x, training=False) for x (16, 5), against "
                 "keras.layers.BatchNormalization with the same weights and moving statistics")
    expect_close(student["default"], reference["keras"],
                 "BatchNorm()(x) (training defaults to False: inference)")
    expect_close(student["alone"], np.asarray(reference["keras"])[:1],
                 "BatchNorm()(x[:1], training=False): at inference an example's output must "
                 "not depend on the rest of its batch")
    expect_true(student["moved"] == 0.0, "a call with training=False changed moving_mean or "
                f"moving_variance (by up to {student['moved']:.3g}): only training updates them")


@check(points=2, uses="batchnorm", task="the moving averages in `BatchNorm.call`",
       hint="each training call: moving <- momentum * moving + (1 - momentum) * batch "
            "statistic, for the mean and the (biased) variance")
def batchnorm_moving_statistics(lab, rng):
    """`moving_mean` and `moving_variance` after 5 training calls with momentum 0.8, against
    Keras's."""
    import keras
    mine, theirs = twin_batchnorms(lab, rng, (24, 4), momentum=0.8)
    # What momentum and 1 - momentum swapped give, for the diagnosis.
    swapped = keras.layers.BatchNormalization(momentum=0.2)
    swapped.build((24, 4))
    swapped.set_weights(theirs.get_weights())
    for _ in range(5):
        x = features(rng, (24, 4))
        for layer in (mine, theirs, swapped):
            layer(x, training=True)
    return {"student": moving_statistics(mine), "keras": moving_statistics(theirs),
            "swapped": moving_statistics(swapped)}


@batchnorm_moving_statistics.verdict
def _(student, reference):
    if all(np.allclose(a, b, rtol=1e-3, atol=1e-4)
           for a, b in zip(student["student"], reference["swapped"])):
        raise CheckFailed("after 5 training calls of BatchNorm(momentum=0.8), the moving "
                          "statistics are those of momentum=0.2: momentum weighs the OLD "
                          "moving value, (1 - momentum) the batch's")
    for index, name in enumerate(("moving_mean", "moving_variance")):
        expect_close(student["student"][index], reference["keras"][index],
                     f"{name} after 5 training calls of BatchNorm(momentum=0.8), against "
                     "keras.layers.BatchNormalization")


@check(points=1, uses="batchnorm", reference=False, task="`BatchNorm.get_config`",
       hint="get_config returns {**super().get_config(), 'momentum': ..., 'epsilon': ...}, so "
            "a model with BatchNorm reloads from .keras with its moving statistics")
def batchnorm_saves(lab, rng):
    """A model ending in BatchNorm, saved to `.keras` and reloaded: its class, momentum,
    epsilon and outputs."""
    import keras
    norm = lab.batchnorm.BatchNorm(momentum=0.7, epsilon=0.01)
    norm.build((None, 4))  # here, so that an error in build is reported as it is
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4), norm])
    for _ in range(3):
        model(features(rng, (16, 5)), training=True)
    x = features(rng, (8, 5))
    path = lab.tmpdir / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    layer = loaded.layers[-1]
    return {"outputs": model(x), "loaded_outputs": loaded(x), "class": type(layer).__name__,
            "config": [float(getattr(layer, "momentum", -1)), float(getattr(layer, "epsilon", -1))]}


@batchnorm_saves.verdict
def _(student, _reference):
    expect_true(student["class"] == "BatchNorm",
                f"the reloaded model's last layer is a {student['class']}, not a BatchNorm")
    expect_close(student["config"], np.array([0.7, 0.01]),
                 "(momentum, epsilon) of BatchNorm(momentum=0.7, epsilon=0.01) after reloading")
    expect_close(student["loaded_outputs"], student["outputs"],
                 "a model with BatchNorm, reloaded from .keras, at inference")
