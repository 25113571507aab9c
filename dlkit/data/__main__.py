"""Real data sets in the local TFDS folder, prepared once on a machine with network.

    python -m dlkit.data prepare mnist cifar10     # download and prepare these
    python -m dlkit.data prepare all               # every data set a GPU check reads
    python -m dlkit.data list                      # what is prepared here

The folder is $TFDS_DATA_DIR, else ~/tensorflow_datasets (or --data-dir). Nothing else in
the kit downloads: grading and the labs only read what this command prepared. Without
network it stops at once and says so, instead of waiting on TFDS's retries.
"""
from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from dlkit.data.tfds_real import (
    GPU_DATASETS,
    DatasetNotAvailable,
    default_data_dir,
    find_prepared,
)

# TFDS fetches prepared copies from its Cloud Storage mirror first.
MIRROR = ("storage.googleapis.com", 443)


def network_error(address: tuple[str, int] | None = None, timeout: float = 5.0) -> str | None:
    """Why `address` (default: the mirror) cannot be reached, or None when it can."""
    address = address or MIRROR
    try:
        socket.create_connection(address, timeout=timeout).close()
    except OSError as error:
        return f"{address[0]}:{address[1]} cannot be reached ({error})"
    return None


def prepared(name: str, data_dir: Path) -> Path | None:
    try:
        return find_prepared(name, data_dir)
    except (DatasetNotAvailable, ValueError):
        return None


def prepare(names: list[str], data_dir: Path) -> int:
    todo = [n for n in names if prepared(n, data_dir) is None]
    for name in sorted(set(names) - set(todo)):
        print(f"{name}: prepared already, in {prepared(name, data_dir)}")
    if not todo:
        return 0
    reason = network_error()
    if reason:
        print(f"cannot prepare {' '.join(todo)}: {reason}. Run this command on a machine with "
              f"network, then copy its {data_dir}/<name> folders to the same place here (or "
              "point TFDS_DATA_DIR at a folder holding them).", file=sys.stderr)
        return 1
    from dlkit.backend import tensorflow
    tensorflow()   # quietly, before tensorflow_datasets imports it
    import tensorflow_datasets as tfds
    for name in todo:
        print(f"{name}: downloading and preparing into {data_dir} ...", flush=True)
        tfds.builder(name, data_dir=str(data_dir)).download_and_prepare()
        print(f"{name}: prepared, in {prepared(name, data_dir)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    folder = argparse.ArgumentParser(add_help=False)
    folder.add_argument("--data-dir", type=Path, default=None,
                        help="the TFDS folder (default: $TFDS_DATA_DIR, else ~/tensorflow_datasets)")
    parser = argparse.ArgumentParser(prog="python -m dlkit.data",
                                     description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    get = commands.add_parser("prepare", parents=[folder],
                              help="download and prepare TFDS data sets")
    get.add_argument("names", nargs="+", metavar="NAME",
                     help=f"TFDS names, or `all` for the GPU checks' ({', '.join(GPU_DATASETS)})")
    commands.add_parser("list", parents=[folder],
                        help="the GPU checks' data sets, and which are prepared here")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or default_data_dir()
    if args.command == "prepare":
        names = [n for name in args.names for n in (GPU_DATASETS if name == "all" else [name])]
        return prepare(names, data_dir)
    for name in GPU_DATASETS:
        where = prepared(name, data_dir)
        print(f"{name:18} {where if where else 'not prepared'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
