"""Turn in-memory numpy arrays into a seeded, batched, prefetched tf.data pipeline."""
from __future__ import annotations

from dlkit.backend import tensorflow


def arrays_dataset(
    arrays,
    *,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
    repeat: bool = False,
    drop_remainder: bool = False,
):
    """Build a tf.data.Dataset over the first axis of `arrays`.

    arrays: one array (N, ...), or a tuple/dict of arrays sharing N (e.g. (x, y)).
    Returns a Dataset of batches with the same structure: (batch_size, ...) each.

    The whole set is shuffled (the buffer holds all N: these sets are small), with a fixed
    seed so two runs see the same batches, and a new order each epoch.
    """
    tf = tensorflow()
    first = next(iter(arrays.values())) if isinstance(arrays, dict) else (
        arrays[0] if isinstance(arrays, tuple) else arrays)
    n = len(first)
    ds = tf.data.Dataset.from_tensor_slices(arrays)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)
