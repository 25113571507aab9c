"""A seeded tabular set whose feature effects are known, for the Shapley tasks of lab21.

Eight standard-normal features, independent. The noiseless target is a sum of additive
terms plus one interaction, and three features play no part at all:

    f(x) = 2 x0 - x1 + sin(2 x2) + 1.5 x3 x4        (x5, x6, x7 irrelevant)

so an explanation method can be held against the truth: an irrelevant feature must get zero
attribution (the dummy axiom), an additive term's attribution is its own centred effect, and
the interaction is split between x3 and x4.
"""
from __future__ import annotations

import numpy as np

TABULAR_FEATURES = ("linear_up", "linear_down", "wave", "pair_a", "pair_b",
                    "noise_a", "noise_b", "noise_c")
TABULAR_RELEVANT = (0, 1, 2, 3, 4)


def tabular_target(x) -> np.ndarray:
    """The noiseless target f(x) of `make_tabular`. x: (n, 8); returns float64 (n,)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(TABULAR_FEATURES):
        raise ValueError(f"x must have shape (n, {len(TABULAR_FEATURES)}), got {x.shape}")
    return 2.0 * x[:, 0] - x[:, 1] + np.sin(2.0 * x[:, 2]) + 1.5 * x[:, 3] * x[:, 4]


def make_tabular(n: int, *, task: str = "regression", noise: float = 0.1,
                 seed: int = 0) -> dict[str, np.ndarray]:
    """Draw `n` rows. Returns {"x": float32 (n, 8), "y": ...}: for task="regression", y is
    float32 (n,) = f(x) + N(0, noise^2); for task="classification", y is int32 (n,), 1 where
    f(x) + N(0, noise^2) > 0. "target" holds the noiseless f(x) (float32) in both cases."""
    if n < 1:
        raise ValueError(f"need n >= 1, got {n}")
    if task not in ("regression", "classification"):
        raise ValueError(f"task must be 'regression' or 'classification', got {task!r}")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(TABULAR_FEATURES)))
    target = tabular_target(x)
    noisy = target + noise * rng.normal(size=n)
    y = noisy.astype(np.float32) if task == "regression" else (noisy > 0).astype(np.int32)
    return {"x": x.astype(np.float32), "y": y, "target": target.astype(np.float32)}
