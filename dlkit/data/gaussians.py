"""Correlated Gaussian pairs with a known mutual information, and small discrete joints.

`correlated_gaussians(n, dim, rho, seed)` draws (X, Y) in R^d with X ~ N(0, I) and
Y = rho X + sqrt(1 - rho^2) E, E ~ N(0, I) independent of X: each coordinate pair is a
bivariate standard normal with correlation rho, the pairs independent of each other, so

    I(X; Y) = -d/2 * log(1 - rho^2) nats        (`gaussian_mutual_information`).

`random_joint(kx, ky, seed)` is a small discrete joint distribution P(X = i, Y = j) with
some dependence (and, with `zeros`, some impossible cells); `sample_joint` draws integer
pairs from it. numpy only, seeded: the same arguments give the same arrays everywhere.
"""
from __future__ import annotations

import numpy as np


def gaussian_mutual_information(dim: int, rho: float) -> float:
    """The true I(X; Y) of `correlated_gaussians(., dim, rho)`, in nats."""
    if not -1.0 < rho < 1.0:
        raise ValueError(f"rho must be in (-1, 1), got {rho}")
    return float(-0.5 * dim * np.log1p(-rho * rho))


def correlated_gaussians(n: int, dim: int = 2, rho: float = 0.8,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n pairs (x, y), each (n, dim) float32, correlation rho per coordinate."""
    if not -1.0 < rho < 1.0:
        raise ValueError(f"rho must be in (-1, 1), got {rho}")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim))
    y = rho * x + np.sqrt(1.0 - rho * rho) * rng.normal(size=(n, dim))
    return x.astype(np.float32), y.astype(np.float32)


def random_joint(kx: int, ky: int, seed: int = 0, *, zeros: int = 0,
                 dependence: float = 2.0) -> np.ndarray:
    """A (kx, ky) float64 joint distribution summing to 1, with `zeros` cells set to 0.

    dependence scales a random log-linear interaction: 0 gives independent X and Y."""
    rng = np.random.default_rng(seed)
    logits = (rng.normal(size=(kx, 1)) + rng.normal(size=(1, ky))
              + dependence * rng.normal(size=(kx, ky)))
    joint = np.exp(logits - logits.max())
    if zeros:
        cells = rng.choice(kx * ky, size=min(zeros, kx * ky - 1), replace=False)
        joint.ravel()[cells] = 0.0
    return joint / joint.sum()


def sample_joint(joint: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n draws (x, y) of int64 values from a (kx, ky) joint distribution."""
    joint = np.asarray(joint, dtype=np.float64)
    rng = np.random.default_rng(seed)
    cells = rng.choice(joint.size, size=n, p=joint.ravel() / joint.sum())
    x, y = np.unravel_index(cells, joint.shape)
    return x.astype(np.int64), y.astype(np.int64)
