"""One class from its shards: `python -m autograder merge SHARD_DIR... --out DIR`.

Each shard's out folder (written by `grade --shard K/N`) holds its students' files and a
shard.json naming the lab, the grading fingerprint, the slice and its students. The merge
refuses shards of different labs or grading setups, an incomplete set of slices, and a
student found twice with different results; then it copies every student's files and writes
the class files, as one unsharded run would have.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from autograder.batch import report_from_dict
from autograder.files import write_atomic
from autograder.results import Report
from autograder.shards import SHARD_FILE, write_shard_file
from autograder.summary import write_class_files

STUDENT_FILES = ("results.json", "junit.xml", "grade.json")   # grade.json last


class MergeError(Exception):
    """The shards cannot be merged; the message says which folder and why."""


@dataclass
class Shard:
    folder: Path
    lab: str
    fingerprint: str
    index: int
    count: int
    options: dict
    students: list[str]


@dataclass
class Graded:
    shard: Shard
    grade: dict          # the student's grade.json


def read_shard(folder: Path) -> Shard:
    folder = Path(folder)
    if not folder.is_dir():
        raise MergeError(f"{folder} is not a folder")
    path = folder / SHARD_FILE
    if not path.exists():
        why = ("it is empty (did the shard's artifact download?)" if not any(folder.iterdir())
               else "its grading did not finish, or it is not an out folder of `grade`")
        raise MergeError(f"{folder} has no {SHARD_FILE}: {why}")
    try:
        data = json.loads(path.read_text())
        index, count = (int(n) for n in data["shard"])
        return Shard(folder, str(data["lab"]), str(data["fingerprint"]), index, count,
                     dict(data.get("options", {})), [str(s) for s in data["students"]])
    except (ValueError, KeyError, TypeError) as error:
        raise MergeError(f"{path} is not a shard record ({type(error).__name__}: {error})") from None


def _same_grading(shards: list[Shard]) -> None:
    first = shards[0]
    for other in shards[1:]:
        if other.lab != first.lab:
            raise MergeError(f"{other.folder} was graded for {other.lab}, {first.folder} for "
                             f"{first.lab}: merge the shards of one lab at a time")
        if other.fingerprint != first.fingerprint:
            differs = [f"--{key} {first.options.get(key)} vs {other.options.get(key)}"
                       for key in sorted(set(first.options) | set(other.options))
                       if first.options.get(key) != other.options.get(key)]
            raise MergeError(
                f"{other.folder} and {first.folder} were graded with different setups ("
                + (", ".join(differs) if differs else
                   "different checks, references or engine: another copy of the kit")
                + "): grade every shard with the same kit and options")


def _complete(shards: list[Shard]) -> None:
    counts = sorted({s.count for s in shards})
    if len(counts) > 1:
        raise MergeError(f"the shards cut the class into different numbers of slices "
                         f"({', '.join(map(str, counts))}): grade them all with --shard K/N, "
                         f"one N")
    count = counts[0]
    missing = sorted(set(range(1, count + 1)) - {s.index for s in shards})
    if missing:
        raise MergeError(f"shard {', '.join(f'{k}/{count}' for k in missing)} missing: the "
                         f"class is graded by {count} shards and all are needed")


def _outcome(grade: dict) -> tuple:
    """What two gradings of one student must agree on (not their timings)."""
    results = grade["report"]["results"]
    return grade.get("hash"), [(r["name"], r["status"], r["points"], r["max_points"],
                                r["message"]) for r in results]


def _read_grade(shard: Shard, student: str) -> dict:
    folder = shard.folder / "students" / student
    for name in STUDENT_FILES:
        if not (folder / name).exists():
            raise MergeError(f"{shard.folder} lists {student} but has no "
                             f"students/{student}/{name}")
    try:
        return json.loads((folder / "grade.json").read_text())
    except ValueError as error:
        raise MergeError(f"{folder / 'grade.json'} is not JSON: {error}") from None


def collect(shards: list[Shard]) -> dict[str, Graded]:
    found: dict[str, Graded] = {}
    for shard in shards:
        for student in shard.students:
            graded = Graded(shard, _read_grade(shard, student))
            before = found.get(student)
            if before is not None and _outcome(before.grade) != _outcome(graded.grade):
                raise MergeError(f"{student} is in {before.shard.folder} and {shard.folder} "
                                 f"with different results: grade them again with one kit "
                                 f"and the same submissions")
            found.setdefault(student, graded)
    return found


def merge(folders: list[Path], out: Path) -> dict[str, Report]:
    """Check the shards, copy their students' files into `out`, write the class files."""
    if not folders:
        raise MergeError("no shard folders given")
    out = Path(out)
    if any(Path(f).resolve() == out.resolve() for f in folders):
        raise MergeError(f"--out {out} is one of the shards: merge into a folder of its own")
    shards = [read_shard(f) for f in folders]
    _same_grading(shards)
    _complete(shards)
    found = collect(shards)
    for student, graded in sorted(found.items()):
        source = graded.shard.folder / "students" / student
        for name in STUDENT_FILES:
            write_atomic(out / "students" / student / name, (source / name).read_text())
    reports = {s: report_from_dict(dict(found[s].grade["report"])) for s in sorted(found)}
    first = shards[0]
    write_class_files(out, first.lab, reports)
    write_shard_file(out, lab=first.lab, fingerprint=first.fingerprint, shard=(1, 1),
                     students=list(reports), options=first.options)
    return reports
