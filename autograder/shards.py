"""Slicing a class into N shards that separate machines grade at the same time.

A student's shard depends only on the name of their folder (a CRC-32 of it, modulo N), so
adding or removing students never moves anyone else, and every machine agrees on the slices
without talking to the others.
"""
from __future__ import annotations

import argparse
import json
import re
import zlib
from pathlib import Path

from autograder.files import write_atomic

SHARD_FILE = "shard.json"   # what a shard's out folder says about how it was graded


def shard_of(student: str, count: int) -> int:
    """The 1-based shard, out of `count`, that grades `student`."""
    return zlib.crc32(student.encode("utf-8")) % count + 1


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` (1 <= K <= N) as (K, N); an argparse type, so bad input is a usage error."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected K/N, e.g. 2/4 for the second of four "
                                         f"shards; got {text!r}")
    index, count = int(match[1]), int(match[2])
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: N, the number of shards, must be at least 1")
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError(f"{text!r}: K must be between 1 and {count} (shards "
                                         f"are numbered from 1)")
    return index, count


def write_shard_file(out: Path, *, lab: str, fingerprint: str, shard: tuple[int, int],
                     students: list[str], options: dict) -> None:
    """What `merge` needs to trust a shard: the lab, the grading setup, the slice, who is in it.

    Written last, once the shard's class files are: a folder without it did not finish."""
    record = {"lab": lab, "fingerprint": fingerprint, "shard": list(shard),
              "options": options, "students": sorted(students)}
    write_atomic(Path(out) / SHARD_FILE, json.dumps(record, indent=1) + "\n")
