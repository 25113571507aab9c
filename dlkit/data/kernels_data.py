"""Small seeded regression sets for kernel methods (lab23_nngp_ntk), drawn with numpy.

Inputs lie on the unit circle (angles), on the unit sphere in R^3, or on an interval; the
target is a smooth function of the input plus Gaussian noise. Inputs of unit norm keep the
NNGP and NTK kernels of ReLU networks functions of the angle between two inputs only, which
is what the lab plots.
"""
from __future__ import annotations

import numpy as np

KERNEL_DOMAINS = ("circle", "sphere", "interval")


def _inputs(n: int, domain: str, rng: np.random.Generator) -> np.ndarray:
    if domain == "circle":
        angle = rng.uniform(0.0, 2.0 * np.pi, size=n)
        return np.stack([np.cos(angle), np.sin(angle)], axis=1)
    if domain == "sphere":
        x = rng.normal(size=(n, 3))
        return x / np.linalg.norm(x, axis=1, keepdims=True)
    return rng.uniform(-1.0, 1.0, size=(n, 1))


def kernel_target(x: np.ndarray) -> np.ndarray:
    """The noiseless target f(x) of every domain: a smooth function of the first one or two
    coordinates (for the circle, sin(2 a) + 0.5 cos(3 a) of the angle a)."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[1] == 1:
        return np.sin(3.0 * x[:, 0]) + 0.3 * x[:, 0]
    angle = np.arctan2(x[:, 1], x[:, 0])
    value = np.sin(2.0 * angle) + 0.5 * np.cos(3.0 * angle)
    if x.shape[1] == 3:
        value = value * np.sqrt(np.clip(1.0 - x[:, 2] ** 2, 0.0, 1.0)) + 0.5 * x[:, 2]
    return value


def make_kernel_regression(
    n_train: int,
    n_test: int = 0,
    *,
    domain: str = "circle",
    noise: float = 0.1,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """A regression set: `n_train` noisy training points and `n_test` noiseless test points.

    Returns a dict of float32 arrays: x_train (n_train, d), y_train (n_train,),
    x_test (n_test, d), y_test (n_test,), with d = 2 (circle), 3 (sphere) or 1 (interval);
    y = kernel_target(x) + N(0, noise^2) on the training points, the target itself on the
    test points. The test points of the circle are evenly spaced angles (for line plots).
    """
    if domain not in KERNEL_DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose one of {KERNEL_DOMAINS}")
    if n_train < 1 or n_test < 0 or noise < 0:
        raise ValueError(f"need n_train >= 1, n_test >= 0, noise >= 0; got "
                         f"{n_train}, {n_test}, {noise}")
    rng = np.random.default_rng(seed)
    x_train = _inputs(n_train, domain, rng)
    y_train = kernel_target(x_train) + rng.normal(scale=noise, size=n_train)
    if domain == "circle":
        angle = np.linspace(-np.pi, np.pi, n_test, endpoint=False)
        x_test = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    elif domain == "interval":
        x_test = np.linspace(-1.0, 1.0, n_test)[:, None]
    else:
        x_test = _inputs(n_test, domain, rng)
    x_test = x_test.reshape(n_test, x_train.shape[1])
    return {"x_train": x_train.astype(np.float32), "y_train": y_train.astype(np.float32),
            "x_test": x_test.astype(np.float32),
            "y_test": kernel_target(x_test).astype(np.float32)}
