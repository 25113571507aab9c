"""Source and shifted target domains for transfer learning and domain adaptation (offline).

Built from scikit-learn's 8x8 digits (dlkit.data.digits). Two settings:

- transfer_task: a SOURCE task (digits 0-4, many labels) to pretrain a backbone on, and a
  TARGET task (digits 5-9, relabelled 0-4) with a few labelled images per class and a test
  set: feature extraction against fine-tuning.
- make_domains: one task (all ten digits) in two domains. The source domain is the digits as
  they are, labelled; the target domain is the same kind of digits after a SHIFT
  (SHIFTS below), unlabelled for training, labelled for testing. The training halves of the
  two domains hold different images (a seeded split), as real domain adaptation has no
  pairs of one image seen in both domains.

Numpy only; every draw is seeded.
"""
from __future__ import annotations

import numpy as np

from dlkit.data.digits import load_digits

SHIFTS = ("invert", "rotate", "contrast", "texture")
SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)


def shift_images(x: np.ndarray, shift: str, *, seed: int = 0) -> np.ndarray:
    """The images x (N, H, W, 1) in [0, 1] moved to a target domain, as float32 in [0, 1].

    invert:   1 - x (white digits on black become black on white)
    rotate:   every image rotated by 90 degrees (counter-clockwise)
    contrast: x * c + b with a per-image contrast c in [0.3, 0.6] and background b in
              [0.3, 0.4], plus pixel noise (std 0.05): faint digits on a grey background
    texture:  a random stripe pattern of amplitude 0.5 added under each digit (seeded)
    """
    x = np.asarray(x, dtype=np.float32)
    rng = np.random.default_rng(seed)
    n, height, width = x.shape[:3]
    if shift == "invert":
        out = 1.0 - x
    elif shift == "rotate":
        out = np.rot90(x, k=1, axes=(1, 2))
    elif shift == "contrast":
        c = rng.uniform(0.3, 0.6, (n, 1, 1, 1))
        b = rng.uniform(0.3, 0.4, (n, 1, 1, 1))
        out = x * c + b + 0.05 * rng.standard_normal(x.shape)
    elif shift == "texture":
        rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
        angle = rng.uniform(0, np.pi, (n, 1, 1))
        period = rng.uniform(2.0, 4.0, (n, 1, 1))
        phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
        wave = np.sin(2 * np.pi * (np.cos(angle) * cols + np.sin(angle) * rows) / period + phase)
        out = x + 0.25 * (1.0 + wave[..., None])
    else:
        raise ValueError(f"shift must be one of {SHIFTS}, got {shift!r}")
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _few_per_class(labels: np.ndarray, per_class: int, rng) -> np.ndarray:
    """Sorted positions of `per_class` items of every class present in labels."""
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(chosen))


def transfer_task(*, labelled_per_class: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    """A source task to pretrain on and a small target task to transfer to.

    Returns float32 images (N, 8, 8, 1) in [0, 1] and int32 labels 0-4:
      source_x, source_y   training digits 0-4 (about 680 images), labels = the digit
      target_x, target_y   `labelled_per_class` training digits of each of 5-9, label = digit - 5
      test_x, test_y       the test digits 5-9 (about 225), label = digit - 5
    The train/test split is load_digits' (seed 0); `seed` picks the few target labels.
    """
    rng = np.random.default_rng(seed)
    train_x, train_y = load_digits("train")
    test_x, test_y = load_digits("test")
    source = np.isin(train_y, SOURCE_CLASSES)
    target = np.flatnonzero(np.isin(train_y, TARGET_CLASSES))
    few = target[_few_per_class(train_y[target], labelled_per_class, rng)]
    test = np.isin(test_y, TARGET_CLASSES)
    return {"source_x": train_x[source], "source_y": train_y[source],
            "target_x": train_x[few], "target_y": (train_y[few] - 5).astype(np.int32),
            "test_x": test_x[test], "test_y": (test_y[test] - 5).astype(np.int32)}


def make_domains(shift: str = "invert", *, labelled_per_class: int = 3,
                 seed: int = 0) -> dict[str, np.ndarray]:
    """A labelled source domain and a shifted target domain of the ten digits.

    The training digits are split at random (seeded) into two halves: the source half as it
    is, the target half shifted by shift_images(..., shift). The test digits are shifted too.
    Returns float32 images (N, 8, 8, 1) in [0, 1], int32 labels 0-9:
      source_x, source_y   about 673 source images and their labels
      target_x, target_y   about 674 target images; target_y is for evaluation only (an
                           unsupervised adaptation method never reads it)
      few_x, few_y         `labelled_per_class` target images per class, from target_x
      test_x, test_y       the 450 shifted test digits
    """
    rng = np.random.default_rng(seed)
    train_x, train_y = load_digits("train")
    test_x, test_y = load_digits("test")
    order = rng.permutation(len(train_x))
    half = len(order) // 2
    source, target = np.sort(order[:half]), np.sort(order[half:])
    target_x = shift_images(train_x[target], shift, seed=seed + 1)
    target_y = train_y[target]
    few = _few_per_class(target_y, labelled_per_class, rng)
    return {"source_x": train_x[source], "source_y": train_y[source],
            "target_x": target_x, "target_y": target_y,
            "few_x": target_x[few], "few_y": target_y[few],
            "test_x": shift_images(test_x, shift, seed=seed + 2), "test_y": test_y}


def paired_domains(source_x: np.ndarray, source_y: np.ndarray, target_x: np.ndarray, *,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Each source image paired with a target image drawn at random (with replacement), for
    a model that sees both domains in every batch (DANN).

    Returns x: float32 (N, 2, H, W, 1) with x[:, 0] the source images and x[:, 1] the target
    images, and y: the source labels (N,)."""
    rng = np.random.default_rng(seed)
    partner = rng.integers(0, len(target_x), len(source_x))
    x = np.stack([np.asarray(source_x, np.float32), np.asarray(target_x, np.float32)[partner]],
                 axis=1)
    return x, np.asarray(source_y, dtype=np.int32)
