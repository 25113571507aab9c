"""Small data sets in TFDS's on-disk format, written by the tests themselves.

They stand in for the real ones (same names, features, shapes and splits) so that the GPU
checks' data path runs for real here, offline: `find_prepared`, `builder_from_directory`,
the jail's view of the TFDS folder. The images are scikit-learn's digits, scaled up.

    python -m tests.tfds_fixture DIR    # writes every stand-in into DIR
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SPLITS = {"train": 128, "test": 64}
TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
        * 60)


def write(data_dir: Path, name: str, features, examples: dict[str, list[dict]],
          supervised_keys: tuple[str, str] | None = ("image", "label")) -> Path:
    """Write `examples` (split -> feature dicts) as data set `name`, version 1.0.0."""
    from dlkit.backend import tensorflow
    tf = tensorflow()
    import tensorflow_datasets as tfds
    version_dir = Path(data_dir) / name / "1.0.0"
    version_dir.mkdir(parents=True, exist_ok=True)
    for split, rows in examples.items():
        shard = version_dir / f"{name}-{split}.tfrecord-00000-of-00001"
        with tf.io.TFRecordWriter(str(shard)) as writer:
            for row in rows:
                writer.write(features.serialize_example(row))
    tfds.folder_dataset.write_metadata(
        data_dir=str(version_dir), features=features, split_infos=None,
        filename_template="{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}",
        supervised_keys=supervised_keys)
    return version_dir


def _digits(size: int, channels: int, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    digits = load_digits()
    scale = size // 8
    images = np.kron(digits.images, np.ones((scale, scale))) * (255.0 / 16.0)
    pad = (size - 8 * scale) // 2
    images = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))
    if flip:
        images = images[:, :, ::-1]
    tints = np.linspace(1.0, 0.6, channels)
    images = np.stack([images * t for t in tints], axis=-1)
    return images.round().astype(np.uint8), digits.target.astype(np.int64)


def write_images(data_dir: Path, name: str, size: int, channels: int, *,
                 flip: bool = False) -> Path:
    import tensorflow_datasets as tfds
    images, labels = _digits(size, channels, flip)
    features = tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(size, size, channels)),
        "label": tfds.features.ClassLabel(num_classes=10)})
    examples, start = {}, 0
    for split, count in SPLITS.items():
        examples[split] = [{"image": images[i], "label": int(labels[i])}
                           for i in range(start, start + count)]
        start += count
    return write(data_dir, name, features, examples)


def write_text(data_dir: Path, name: str) -> Path:
    import tensorflow_datasets as tfds
    features = tfds.features.FeaturesDict({"text": tfds.features.Text()})
    third = len(TEXT) // 3
    examples = {"train": [{"text": TEXT[:third]}], "validation": [{"text": TEXT[third:2 * third]}],
                "test": [{"text": TEXT[2 * third:]}]}
    return write(data_dir, name, features, examples, supervised_keys=None)


def write_all(data_dir: Path) -> None:
    """Every data set the GPU checks read, and the engine's fixture lab's tiny_digits."""
    from dlkit.backend import tensorflow
    tensorflow()
    write_images(data_dir, "mnist", 28, 1)
    write_images(data_dir, "fashion_mnist", 28, 1, flip=True)
    write_images(data_dir, "cifar10", 32, 3)
    write_images(data_dir, "tiny_digits", 8, 1)
    write_text(data_dir, "tiny_shakespeare")


if __name__ == "__main__":
    write_all(Path(sys.argv[1]))
