"""Procedural sequences for contrastive predictive coding (CPC), drawn with numpy (offline).

Each sequence is a class-dependent mixture of two sinusoids whose phase drifts slowly (a
random walk), plus Gaussian noise. The class (which pair of frequencies) and the phase are
the slowly changing latent: they make the next steps predictable from the past, while the
noise is not. A model that predicts the future from the past must therefore learn the class
and the phase, which is what a linear probe on its features reads back.
"""
from __future__ import annotations

import numpy as np

# The two angular frequencies (radians per step) of each class.
SEQUENCE_FREQUENCIES = ((0.20, 0.45), (0.30, 0.75), (0.55, 0.25), (0.80, 0.40))


def make_sequences(
    n: int,
    *,
    length: int = 64,
    noise: float = 0.15,
    drift: float = 0.05,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw `n` sequences, classes balanced and shuffled.

    Returns x: float32 (n, length, 1), the signal; labels: int32 (n,), the class in
    0..len(SEQUENCE_FREQUENCIES)-1; phase: float32 (n, length), the drifting phase (the
    latent). x[t] = 0.6 sin(w1 t + phase_t) + 0.4 sin(w2 t + 2 phase_t) + noise, with
    phase_t a random walk of step std `drift` started uniformly in [0, 2 pi).
    """
    if n < 1 or length < 2:
        raise ValueError(f"need n >= 1 and length >= 2, got n={n}, length={length}")
    rng = np.random.default_rng(seed)
    classes = len(SEQUENCE_FREQUENCIES)
    labels = rng.permutation(np.arange(n) % classes).astype(np.int32)
    steps = np.arange(length, dtype=np.float64)
    start = rng.uniform(0.0, 2.0 * np.pi, size=(n, 1))
    walk = np.cumsum(rng.normal(scale=drift, size=(n, length)), axis=1)
    phase = start + walk - walk[:, :1]
    freqs = np.asarray(SEQUENCE_FREQUENCIES, dtype=np.float64)[labels]   # (n, 2)
    signal = (0.6 * np.sin(freqs[:, :1] * steps + phase)
              + 0.4 * np.sin(freqs[:, 1:] * steps + 2.0 * phase))
    signal += rng.normal(scale=noise, size=signal.shape)
    return (signal[..., None].astype(np.float32), labels,
            np.mod(phase, 2.0 * np.pi).astype(np.float32))
