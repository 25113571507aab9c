"""Helpers that several labs' checks share. Probes (in the worker) and verdicts (in the
grader) may both import this module: its top level imports numpy only, and the jail ships it
with the engine, unlike another lab's check package.

Softmax, log-softmax and logsumexp in a check come from `scipy.special`, an independent
reference, not from numpy written again in each lab."""
from __future__ import annotations

import contextlib
import inspect
import json

import numpy as np


def tensor(array, dtype: str = "float32"):
    """A TensorFlow constant of `array` (probes only)."""
    import tensorflow as tf
    return tf.constant(np.asarray(array, dtype=dtype))


def scalar(value, what: str, dtype: str = "float32", expected: str = "a scalar"):
    """A loss or distance as one number of `dtype`; a clear error naming `what` when the
    student's function returned more than one number."""
    array = np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=dtype)
    if array.size != 1:
        raise ValueError(f"{what} returned shape {array.shape}, expected {expected}")
    return array.reshape(())


def trajectory(optimizer, initial, gradients):
    """Apply `optimizer` to fresh variables, one gradient list per step.
    Returns (steps, P): all variables, flattened and concatenated, after each step."""
    import keras
    # Distinct names, so slots keyed by variable name or path are distinct too.
    variables = [keras.Variable(value, name=f"weight_{i}") for i, value in enumerate(initial)]
    after = []
    for step in gradients:
        optimizer.apply([keras.ops.convert_to_tensor(g) for g in step], variables)
        after.append(np.concatenate([np.ravel(v.numpy()) for v in variables]))
    return np.stack(after)


def assign_random_weights(model, rng, scale: float = 0.3) -> None:
    """Overwrite every trainable weight with N(0, scale^2) draws, in the model's own order
    (fixed by the given __init__ and build code, so student and reference get the same
    weights from the same rng). Probes only."""
    for weight in model.trainable_weights:
        weight.assign(rng.normal(scale=scale, size=weight.shape).astype("float32"))


def build_for_fit(model, inputs=None) -> None:
    """Build the compiled model (on `inputs`, a slice of what it will be fit on, when its
    weights are not made yet) and then its optimizer, before fit: an optimizer first built
    inside the traced train step makes Keras trace that step twice, and the tracing, not the
    steps, is most of a small probe's training time. The same updates either way."""
    if inputs is not None:
        model(inputs)
    model.optimizer.build(model.trainable_variables)


def snapshot(variables) -> list[np.ndarray]:
    """Copies of the variables' values, to compare with `largest_change` later."""
    return [np.array(v.numpy() if hasattr(v, "numpy") else v) for v in variables]


def largest_change(before: list[np.ndarray], variables) -> float:
    """The largest absolute change of any value since `snapshot(variables)`."""
    return max(float(np.abs(b - a).max()) for b, a in zip(before, snapshot(variables)))


@contextlib.contextmanager
def standing_in(module, **replacements):
    """Names of a graded module replaced by check-defined stand-ins while the block runs, the
    originals put back afterwards (the worker keeps the module for the next check). Probes
    only. A stand-in is never the reference's code: either a component of known, different
    behaviour that the unit must use as the handout says, or an independent library
    computation, so that the student release ships no answers."""
    missing = object()
    saved = {name: getattr(module, name, missing) for name in replacements}
    for name, value in replacements.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                delattr(module, name)
            else:
                setattr(module, name, value)


def constructor_arguments(cls) -> list[str]:
    """The names of cls.__init__'s arguments, but self, *args and **kwargs."""
    return [name for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def judge_config(config_json: str, given: dict, what: str) -> None:
    """The verdict of a get_config probe: the config (as JSON) holds every constructor
    argument in `given`, with the value the object was built with."""
    from autograder.api import CheckFailed
    config = json.loads(config_json)
    missing = [name for name in given if name not in config]
    if missing:
        raise CheckFailed(f"{what}.get_config() leaves out {missing}: it must return every "
                          "constructor argument, or load_model rebuilds it with the defaults")
    for name, value in given.items():
        got = config[name]
        numeric = np.asarray(value).dtype.kind in "biuf" and np.shape(got) == np.shape(value)
        same = (np.allclose(np.asarray(got, dtype=float), np.asarray(value, dtype=float))
                if numeric else got == value)
        if not same:
            raise CheckFailed(f"{what}.get_config()[{name!r}] is {got!r}, it was built with "
                              f"{value!r}")


def judge_relative_training(reached: float, start: float, target: float, what: str, *,
                            improve_to: float = 0.5, factor: float = 3.0,
                            slack: float = 0.1) -> None:
    """The verdict of a training run whose result varies with the noise draws (a GAN's
    distance to the data, a held-out loss measured as a distance): lower is better.

    It fails when the student's `reached` is not below `improve_to * start` (training barely
    moved) or is above max(factor * target, target + slack), where `target` is the
    reference's result with the same networks and budget. `what` names the quantity."""
    from autograder.api import CheckFailed
    said = f"after training, {what} is {reached:.3g}"
    if not np.isfinite(reached):
        raise CheckFailed(f"{said}: training diverged")
    if reached > improve_to * start:
        raise CheckFailed(f"{said}, needs at most {improve_to * start:.3g} "
                          f"({improve_to:.0%} of its {start:.3g} before training): training "
                          "barely moved it")
    ceiling = max(factor * target, target + slack)
    if reached > ceiling:
        raise CheckFailed(f"{said}, needs at most {ceiling:.3g}: the reference reaches "
                          f"{target:.3g} with the same networks and budget")


def pair(result, call):
    """The (values, log_det) pair a flow method returns, as numpy arrays."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ValueError(f"{call} must return a pair (values, log_det), got "
                         f"{type(result).__name__}")
    return np.asarray(result[0]), np.asarray(result[1])


def mean_mask_iou(predicted, true) -> float:
    """The mean per-image IoU of (N, H, W, 1) masks, by scikit-learn's Jaccard index over
    each image's pixels (average="samples"); an image where both masks are empty counts 1."""
    from sklearn.metrics import jaccard_score
    n = len(true)
    return float(jaccard_score(np.reshape(true, (n, -1)) > 0.5,
                               np.reshape(predicted, (n, -1)) > 0.5,
                               average="samples", zero_division=1.0))


def quiet_sqrtm(matrix) -> np.ndarray:
    """scipy.linalg.sqrtm's real part, without the warning it gives on singular matrices
    (it names a check file and line: noise to a student)."""
    import warnings

    from scipy.linalg import sqrtm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sqrtm(np.asarray(matrix, dtype=np.float64)).real


def frechet_of_gaussians(mean_a, cov_a, mean_b, cov_b) -> float:
    """||mean_a - mean_b||^2 + Tr(A + B - 2 (A B)^(1/2)), the matrix root by scipy."""
    root = quiet_sqrtm(np.asarray(cov_a) @ np.asarray(cov_b))
    return float(np.sum((np.asarray(mean_a) - mean_b) ** 2)
                 + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root))


def frechet_distance(a, b) -> float:
    """Fréchet distance between Gaussians fitted to two sets of features (rows)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return frechet_of_gaussians(a.mean(0), np.cov(a, rowvar=False),
                                b.mean(0), np.cov(b, rowvar=False))


def energy_distance(x, y) -> float:
    """2 E|X - Y| - E|X - X'| - E|Y - Y'| of two 2-D samples: 0 exactly when the two
    distributions agree."""
    x, y = (np.asarray(a, dtype=np.float64).reshape(-1, 2) for a in (x, y))

    def mean_distance(a, b):
        return float(np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).mean())
    return 2 * mean_distance(x, y) - mean_distance(x, x) - mean_distance(y, y)
