"""scikit-learn's 8x8 handwritten digits: a real image set that ships inside sklearn (offline).

1797 images of the digits 0-9, 16 grey levels each. The train/test split is stratified and
seeded, so every lab (and the autograder) sees the same split for the same seed.
"""
from __future__ import annotations

import functools

import numpy as np

from dlkit.data.pipelines import arrays_dataset

SPLITS = ("train", "test", "all")


@functools.cache
def _raw_digits() -> tuple[np.ndarray, np.ndarray]:
    # Imported here: sklearn takes ~1 s to import and most labs never need digits.
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    return bunch.images.astype(np.float32), bunch.target.astype(np.int32)


def split_indices(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split of positions 0..N-1: each class gives `test_fraction` of its items.

    labels: (N,) int. Returns (train_idx, test_idx), disjoint, sorted, covering 0..N-1.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    test = []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        test.append(members[: int(round(test_fraction * len(members)))])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(len(labels)), test_idx)
    return train_idx, test_idx


def load_digits(
    split: str = "train",
    *,
    flatten: bool = False,
    binarize: bool = False,
    test_fraction: float = 0.25,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Load the digits as numpy arrays.

    Returns x: float32 (N, 8, 8, 1) in [0, 1] (pixel / 16), or (N, 64) if flatten;
    with binarize, x is 1.0 where the pixel is >= 0.5 and 0.0 elsewhere (for Bernoulli
    likelihoods). y: int32 (N,) digit labels 0-9.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    images, labels = _raw_digits()
    if split != "all":
        train_idx, test_idx = split_indices(labels, test_fraction, seed)
        keep = train_idx if split == "train" else test_idx
        images, labels = images[keep], labels[keep]
    x = images / np.float32(16.0)
    if binarize:
        x = (x >= 0.5).astype(np.float32)
    x = x.reshape(len(x), 64) if flatten else x[..., None]
    return x.astype(np.float32), labels.copy()


def digits_dataset(
    split: str = "train",
    *,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
    flatten: bool = False,
    binarize: bool = False,
    with_labels: bool = True,
    repeat: bool = False,
    test_fraction: float = 0.25,
):
    """The digits as a batched tf.data.Dataset.

    Elements: (x, y) with x (batch, 8, 8, 1) or (batch, 64) float32 and y (batch,) int32;
    only x when with_labels=False (autoencoders, VAEs, GANs). `seed` fixes both the split
    and the shuffling order.
    """
    x, y = load_digits(split, flatten=flatten, binarize=binarize,
                       test_fraction=test_fraction, seed=seed)
    arrays = (x, y) if with_labels else x
    return arrays_dataset(arrays, batch_size=batch_size, shuffle=shuffle, seed=seed, repeat=repeat)
