"""2-D toy distributions: densities for generative models, labelled sets for classifiers.

Every set is drawn with numpy from a seed, so the same (name, n, seed) gives the same points
on every machine. All sets are scaled to live roughly inside [-4, 4]^2, so one plot window
and one density grid fit them all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from dlkit.data.pipelines import arrays_dataset

# Mode geometry of the two mixture targets (GAN mode-collapse labs count covered modes).
RING_MODES = 8
RING_RADIUS = 2.0
GRID_SIDE = 5
GRID_SPACING = 1.5
MODE_STD = 0.05


def _balanced_labels(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    # Equal class counts (up to one) in random order: small sets stay balanced.
    return rng.permutation(np.arange(n) % k)


def _rotate(points: np.ndarray, angles: np.ndarray) -> np.ndarray:
    c, s = np.cos(angles), np.sin(angles)
    x, y = points[:, 0], points[:, 1]
    return np.stack([c * x - s * y, s * x + c * y], axis=1)


def _ring_centers() -> np.ndarray:
    angles = 2 * np.pi * np.arange(RING_MODES) / RING_MODES
    return RING_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _grid_centers() -> np.ndarray:
    ticks = (np.arange(GRID_SIDE) - (GRID_SIDE - 1) / 2) * GRID_SPACING
    gx, gy = np.meshgrid(ticks, ticks, indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


# Each generator: (rng, n, noise) -> (x float64 (n, 2), y int (n,)). `noise` is always the
# standard deviation of the Gaussian part, in the final (scaled) units.

def _moons(rng, n, noise):
    y = _balanced_labels(rng, n, 2)
    t = rng.uniform(0.0, np.pi, n)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    x = np.where(y[:, None] == 0, upper, lower)
    x = (x - [0.5, 0.25]) * 2.0  # centre the pair, then widen to about [-3, 3]
    return x + noise * rng.standard_normal((n, 2)), y


def _circles(rng, n, noise):
    y = _balanced_labels(rng, n, 2)
    radius = np.where(y == 0, 3.0, 1.5)
    t = rng.uniform(0.0, 2 * np.pi, n)
    x = radius[:, None] * np.stack([np.cos(t), np.sin(t)], axis=1)
    return x + noise * rng.standard_normal((n, 2)), y


def _ring(rng, n, noise):
    y = _balanced_labels(rng, n, RING_MODES)
    return _ring_centers()[y] + noise * rng.standard_normal((n, 2)), y


def _grid(rng, n, noise):
    y = _balanced_labels(rng, n, GRID_SIDE * GRID_SIDE)
    return _grid_centers()[y] + noise * rng.standard_normal((n, 2)), y


def _spirals(rng, n, noise):
    y = _balanced_labels(rng, n, 2)
    # sqrt spreads points evenly along the arm instead of crowding the centre.
    s = np.sqrt(rng.uniform(0.0, 1.0, n))
    angle = 3 * np.pi * s + np.pi * y  # 1.5 turns; the second arm is the first turned by pi
    x = 3.5 * s[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return x + noise * rng.standard_normal((n, 2)), y


def _checkerboard(rng, n, noise):
    # 4x4 board of side-2 cells on [-4, 4]^2; points fill the 8 cells where row+col is even.
    cell = rng.integers(0, 8, n)
    row = cell // 2
    col = 2 * (cell % 2) + row % 2
    corner = np.stack([-4.0 + 2.0 * col, -4.0 + 2.0 * row], axis=1)
    x = corner + 2.0 * rng.uniform(0.0, 1.0, (n, 2))
    return x + noise * rng.standard_normal((n, 2)), cell


def _pinwheel(rng, n, noise):
    arms = 5
    y = _balanced_labels(rng, n, arms)
    radial = rng.normal(1.0, 0.3, n)
    tangential = noise * rng.standard_normal(n)
    # The twist grows with the radius, bending each straight arm into a blade.
    angle = 2 * np.pi * y / arms + 0.4 * np.exp(radial)
    x = 2.0 * _rotate(np.stack([radial, tangential], axis=1), angle)
    return x, y


def _gaussian(rng, n, noise):
    return noise * rng.standard_normal((n, 2)), np.zeros(n, dtype=np.int64)


def _xor(rng, n, noise):
    # Class 0 in quadrants I and III, class 1 in II and IV: not linearly separable.
    y = _balanced_labels(rng, n, 2)
    sx = rng.choice([-1.0, 1.0], n)
    sy = np.where(y == 0, sx, -sx)
    x = 1.5 * np.stack([sx, sy], axis=1)
    return x + noise * rng.standard_normal((n, 2)), y


def _blobs(rng, n, noise):
    y = _balanced_labels(rng, n, 3)
    angles = np.pi / 2 + 2 * np.pi * np.arange(3) / 3
    centers = 2.5 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return centers[y] + noise * rng.standard_normal((n, 2)), y


@dataclass(frozen=True)
class _ToySet:
    generate: Callable
    default_noise: float
    labelled: bool  # do the labels name classes a classifier should learn?


_TOY_SETS = {
    "moons": _ToySet(_moons, 0.15, True),
    "circles": _ToySet(_circles, 0.1, True),
    "ring": _ToySet(_ring, MODE_STD, False),
    "grid": _ToySet(_grid, MODE_STD, False),
    "spirals": _ToySet(_spirals, 0.1, True),
    "checkerboard": _ToySet(_checkerboard, 0.0, False),
    "pinwheel": _ToySet(_pinwheel, 0.08, True),
    "gaussian": _ToySet(_gaussian, 1.0, False),
    "xor": _ToySet(_xor, 0.5, True),
    "blobs": _ToySet(_blobs, 0.5, True),
}
TOY2D_NAMES = tuple(_TOY_SETS)
CLASSIFICATION_NAMES = tuple(name for name, spec in _TOY_SETS.items() if spec.labelled)


def _draw(name: str, n: int, seed: int, noise: float | None):
    if name not in _TOY_SETS:
        raise ValueError(f"unknown 2-D toy set {name!r}; choose from {TOY2D_NAMES}")
    spec = _TOY_SETS[name]
    rng = np.random.default_rng(seed)
    x, y = spec.generate(rng, int(n), spec.default_noise if noise is None else float(noise))
    return x.astype(np.float32), y.astype(np.int32)


def sample_toy2d(name: str, n: int, *, seed: int = 0, noise: float | None = None) -> np.ndarray:
    """Draw n points from a 2-D toy density.

    name: one of TOY2D_NAMES; "ring" is 8 Gaussians (radius 2, std 0.05) and "grid" 5x5
    Gaussians, the usual mode-collapse targets. noise: std of the Gaussian part (None for
    the set's default). Returns float32 (n, 2).
    """
    return _draw(name, n, seed, noise)[0]


def toy2d_classification(name: str, n: int, *, seed: int = 0,
                         noise: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw a labelled 2-D set for classifiers, with balanced classes.

    name: one of CLASSIFICATION_NAMES (moons, circles, spirals, pinwheel: 5 classes,
    xor, blobs: 3 classes). Returns x float32 (n, 2) and y int32 (n,).
    """
    if name not in CLASSIFICATION_NAMES:
        raise ValueError(f"{name!r} has no class labels; choose from {CLASSIFICATION_NAMES}")
    return _draw(name, n, seed, noise)


def toy2d_modes(name: str) -> np.ndarray:
    """Mode centres of a mixture target: float32 (8, 2) for "ring", (25, 2) for "grid"."""
    if name == "ring":
        return _ring_centers().astype(np.float32)
    if name == "grid":
        return _grid_centers().astype(np.float32)
    raise ValueError(f"only 'ring' and 'grid' have discrete modes, got {name!r}")


def toy2d_mode_counts(samples: np.ndarray, name: str, *,
                      max_distance: float = 3 * MODE_STD) -> np.ndarray:
    """How many samples land on each mode of "ring" or "grid".

    samples: (N, 2). A sample counts for its nearest mode when it lies within max_distance
    of it (default 3 std: a "good" sample). Returns int64 (K,); a mode with count 0 is missed.
    """
    modes = toy2d_modes(name).astype(np.float64)
    samples = np.asarray(samples, dtype=np.float64).reshape(-1, 2)
    distances = np.linalg.norm(samples[:, None, :] - modes[None, :, :], axis=-1)
    nearest = distances.argmin(axis=1)
    close = distances[np.arange(len(samples)), nearest] <= max_distance
    return np.bincount(nearest[close], minlength=len(modes)).astype(np.int64)


def toy2d_dataset(name: str, n: int, *, batch_size: int = 256, seed: int = 0,
                  shuffle: bool = True, repeat: bool = False, noise: float | None = None):
    """n points of a toy density as a tf.data.Dataset of float32 (batch_size, 2) batches."""
    x = sample_toy2d(name, n, seed=seed, noise=noise)
    return arrays_dataset(x, batch_size=batch_size, shuffle=shuffle, seed=seed, repeat=repeat)
