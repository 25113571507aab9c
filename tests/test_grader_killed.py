"""A submission whose code kills the grader, graded without the jail, as on a laptop.

`python -m autograder grade` runs as a subprocess, two students at a time. The attacker's
reverse.py kills the grader at import. Run 1 dies with the attacker and an honest student in
flight: both become suspects, nobody is scored. Run 2 grades the suspects one at a time,
the attacker first, and dies again. Run 3 scores the attacker 0 without running its code and
grades everyone else; run 4 has nothing to do.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys

import psutil
import pytest

from autograder import KIT_ROOT, SOLUTIONS
from autograder import LABS as LABS_DIR
from autograder.inflight import MARKER, STOPPED_MESSAGE

LAB = "lab02_autodiff"  # cheap to grade: the test is about the grader, not the lab
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grader_killed")]

# Any process running `autograder grade` on this class, whatever lies between it and the
# worker: never pytest, nor another grading on this machine.
ATTACK = """import psutil
for _process in psutil.process_iter(["cmdline"]):
    _command = _process.info["cmdline"] or []
    if (any(a.endswith("autograder") and b == "grade" for a, b in zip(_command, _command[1:]))
            and CLASS in _command):
        _process.kill()
"""


@pytest.fixture
def class_folder(tmp_path):
    root = tmp_path / "submissions"
    shutil.copytree(LABS_DIR / LAB, root / "aa_stopper")   # first in line: graded first
    shutil.copytree(SOLUTIONS / LAB, root / "bob")
    shutil.copytree(SOLUTIONS / LAB, root / "cy")
    graded = root / "aa_stopper" / "reverse.py"
    graded.write_text(ATTACK.replace("CLASS", repr(str(root))) + graded.read_text())
    yield root
    for process in psutil.process_iter(["cmdline"]):   # workers orphaned by a killed grader
        if any(str(root) in part for part in process.info["cmdline"] or []):
            try:
                process.kill()
            except psutil.Error:
                pass


def grade(root, out) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "autograder", "grade", str(root), "--lab", LAB,
               "--out", str(out), "--jobs", "2"]
    return subprocess.run(command, cwd=KIT_ROOT, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, DLKIT_SANDBOX="off"))


def marker(out, student) -> dict | None:
    path = out / "students" / student / MARKER
    return json.loads(path.read_text()) if path.exists() else None


def grade_json(out, student) -> dict:
    return json.loads((out / "students" / student / "grade.json").read_text())


def test_a_submission_that_kills_the_grader_is_scored_zero_and_the_class_is_graded(
        class_folder, tmp_path):
    out = tmp_path / "grades"

    first = grade(class_folder, out)
    assert first.returncode != 0, first.stdout
    assert first.stdout.count("No isolation") == 1 and "DLKIT_SANDBOX=off" in first.stdout
    assert marker(out, "aa_stopper")["alone"] is False
    assert marker(out, "bob")["alone"] is False   # in flight too: a suspect, not punished
    assert not list(out.glob("students/*/grade.json"))

    second = grade(class_folder, out)
    assert second.returncode != 0, second.stdout
    assert marker(out, "aa_stopper")["alone"] is True
    assert marker(out, "bob")["alone"] is False   # the attacker went first, alone

    third = grade(class_folder, out)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "scored 0, their code stopped the grading process: aa_stopper" in third.stdout
    assert "graded alone first (in flight when a grader died): bob" in third.stdout
    stopped = grade_json(out, "aa_stopper")["report"]["results"]
    assert stopped and all(r["points"] == 0 and r["status"] == "failed"
                           and r["message"] == STOPPED_MESSAGE for r in stopped)
    for name in ("results.json", "junit.xml"):
        assert STOPPED_MESSAGE in (out / "students" / "aa_stopper" / name).read_text()
    for honest in ("bob", "cy"):
        report = json.loads((out / "students" / honest / "results.json").read_text())
        assert report["score"] == report["extra_data"]["max_score"] > 0, report["tests"]
    assert not list(out.glob(f"students/*/{MARKER}"))
    rows = {row["student"]: row for row in csv.DictReader((out / "gradebook.csv").open())}
    assert sorted(rows) == ["aa_stopper", "bob", "cy"] and rows["aa_stopper"]["total"] == "0"
    assert rows["bob"]["total"] == rows["cy"]["total"] == rows["cy"]["max"]

    stamps = {p: p.stat().st_mtime_ns for p in out.glob("students/*/*")}
    fourth = grade(class_folder, out)
    assert fourth.returncode == 0, fourth.stdout + fourth.stderr
    assert "graded 0, unchanged 3" in fourth.stdout
    assert {p: p.stat().st_mtime_ns for p in out.glob("students/*/*")} == stamps
