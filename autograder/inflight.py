"""Who was being graded when the grader died: a marker per student in flight.

Without the jail, code under test runs as the grader's user and can kill the grader itself.
Before a student's code runs, students/NAME/grading.json records the submission's hash; it is
removed once grade.json is written. A marker found by the next run means the grader died
while that student was in flight: the student is a suspect. Suspects are graded first, one
at a time, and their marker says so (`alone`). A marker that says `alone` and still matches
the submission means the grader died twice with this student in flight, the second time with
no other student running: that student is scored 0 instead of being graded again.

A first death never scores anyone 0, whatever --jobs is: an interrupted run (Ctrl-C, a
cancelled CI job, the machine running out of memory) only makes its students suspects.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.files import write_atomic

MARKER = "grading.json"
STOPPED_MESSAGE = "its code stopped the grading process"


@dataclass(frozen=True)
class Marker:
    hash: str        # the submission (and grading setup) being graded
    alone: bool      # graded by itself, as a suspect


def mark(folder: Path, digest: str, *, alone: bool) -> None:
    write_atomic(Path(folder) / MARKER, json.dumps({
        "hash": digest, "alone": alone, "grader_pid": os.getpid(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n")


def read(folder: Path) -> Marker | None:
    path = Path(folder) / MARKER
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return Marker(hash=str(data["hash"]), alone=bool(data["alone"]))
    except (ValueError, KeyError, TypeError):
        return Marker(hash="", alone=False)   # unreadable: still a suspect, never scored 0


def clear(folder: Path) -> None:
    (Path(folder) / MARKER).unlink(missing_ok=True)
