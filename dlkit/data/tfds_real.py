"""Real datasets (MNIST, CIFAR-10, ...) from the local TFDS data folder, never from the network.

A lab may offer a real dataset next to its embedded one. It is read only when it has
already been prepared in the TFDS folder; otherwise `DatasetNotAvailable` says where we
looked and how to put it there. The folder is checked with plain file-system calls before
tensorflow_datasets is imported, so a missing dataset fails in milliseconds.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

# The real data sets the labs' GPU checks read: `python -m dlkit.data prepare all`.
GPU_DATASETS = ("mnist", "fashion_mnist", "cifar10", "tiny_shakespeare")


class DatasetNotAvailable(RuntimeError):
    """The requested dataset is not prepared in the local TFDS data folder."""


_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def default_data_dir() -> Path:
    """$TFDS_DATA_DIR if set, else ~/tensorflow_datasets (TFDS's own default)."""
    return Path(os.environ.get("TFDS_DATA_DIR") or Path.home() / "tensorflow_datasets")


def _parse_name(name: str) -> tuple[str, str | None, str | None]:
    """'mnist', 'mnist:3.0.1' or 'cifar10_corrupted/fog_1:1.0.0' -> (dataset, config, version)."""
    base, _, version = name.partition(":")
    dataset, _, config = base.partition("/")
    return dataset, config or None, version or None


def _versions_in(folder: Path) -> list[Path]:
    """Prepared version folders (those with dataset_info.json), newest first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir()
             if _VERSION.match(p.name) and (p / "dataset_info.json").is_file()]
    return sorted(found, key=lambda p: tuple(int(part) for part in p.name.split(".")), reverse=True)


def _how_to_get(name: str, data_dir: Path) -> str:
    return (
        "On a machine with network access, prepare it with\n"
        f"    python -m dlkit.data prepare {name} --data-dir {data_dir}\n"
        f"then copy that machine's {data_dir}/{_parse_name(name)[0]} folder to the same place here "
        "(or point $TFDS_DATA_DIR at a folder holding it)."
    )


def find_prepared(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Locate <data_dir>/<dataset>[/<config>]/<version>/ for `name`, without any network.

    Without a version, the newest prepared one is used. Raises DatasetNotAvailable when
    nothing is prepared, ValueError when several configs are and none was named.
    """
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    dataset, config, version = _parse_name(name)
    folder = data_dir / dataset / config if config else data_dir / dataset
    candidates = _versions_in(folder)
    if version is not None:
        candidates = [p for p in candidates if p.name == version]
    if not candidates and config is None and folder.is_dir():
        configs = sorted(p.name for p in folder.iterdir() if _versions_in(p))
        if len(configs) > 1:
            raise ValueError(f"{dataset!r} is prepared in several configs {configs}; "
                             f"name one, e.g. '{dataset}/{configs[0]}'")
        if configs:
            return find_prepared(f"{dataset}/{configs[0]}" + (f":{version}" if version else ""),
                                 data_dir)
    if not candidates:
        others = [p.name for p in _versions_in(folder)]
        found = f" Prepared versions there: {others}." if others else ""
        raise DatasetNotAvailable(
            f"TFDS dataset {name!r} is not prepared in {folder} (searched for "
            f"<version>/dataset_info.json there; data folder: {data_dir}).{found} dlkit "
            f"never downloads at run time.\n{_how_to_get(name, data_dir)}"
        )
    return candidates[0]


def load_tfds(
    name: str,
    split: str,
    *,
    data_dir: str | os.PathLike | None = None,
    as_supervised: bool = True,
    with_info: bool = False,
):
    """Read split `split` of a prepared TFDS dataset as a tf.data.Dataset (unbatched).

    name: 'mnist', 'mnist:3.0.1', 'dataset/config[:version]'. data_dir: defaults to
    $TFDS_DATA_DIR or ~/tensorflow_datasets. as_supervised: (input, label) tuples instead of
    feature dicts. with_info: also return the DatasetInfo (class names, split sizes).
    Raises DatasetNotAvailable when it is not prepared locally.
    """
    version_dir = find_prepared(name, data_dir)
    from dlkit.backend import tensorflow

    tensorflow()  # quiet TF import first; tensorflow_datasets would import it loudly
    import tensorflow_datasets as tfds

    # Reads only the prepared files and their metadata: no dataset code, no network.
    builder = tfds.builder_from_directory(str(version_dir))
    ds = builder.as_dataset(split=split, as_supervised=as_supervised, shuffle_files=False)
    return (ds, builder.info) if with_info else ds
