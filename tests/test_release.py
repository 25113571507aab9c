"""The student release: what ships, that grading works inside it, and that no solution
code, hidden check or kit test is in it."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from autograder import SOLUTIONS
from autograder.release import leaks, release, solution_lines

LAB = "lab01_mlp_backprop"


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "dlkit"
    release(out)
    return out


def run(released, *args, **kwargs):
    return subprocess.run(args, cwd=released, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(released)}, **kwargs)


def test_release_holds_the_student_parts_only(released):
    names = {p.name for p in released.iterdir()}
    assert {"dlkit", "labs", "autograder", "README.md", "Makefile", "requirements.txt"} <= names
    assert not {"solutions", "tests", ".ci", ".git"} & names
    assert not list(released.rglob("hidden*.py"))
    assert (released / "autograder" / "references" / f"{LAB}.json").exists()
    assert (released / "labs" / LAB / "README.md").exists()
    # What students open in JupyterLab (`make notebook`), and what installs JupyterLab.
    assert (released / "labs" / LAB / "notebook.ipynb").exists()
    assert (released / "requirements-notebook.txt").exists()


def test_no_solution_region_appears_anywhere_in_the_release(released):
    secret = solution_lines()
    assert len(secret) > 100   # the scan has something to look for
    assert leaks(released, secret) == []


def test_the_leak_scan_finds_a_solution_file_copied_into_a_release(tmp_path):
    shutil.copytree(SOLUTIONS / LAB, tmp_path / "oops")
    assert leaks(tmp_path, solution_lines())


@pytest.mark.slow
def test_grading_works_inside_the_release(released):
    result = run(released, sys.executable, "-m", "autograder", "check", LAB, "--json", "r.json")
    assert result.returncode == 0, result.stdout + result.stderr
    tests = json.loads((released / "r.json").read_text())["tests"]
    # The GPU checks are skipped on a student's machine: no GPU, and no solution to compare to.
    graded = [t for t in tests if not t["output"].startswith("SKIPPED:")]
    assert graded and all(t["status"] == "failed" for t in graded)
    assert all("not implemented yet" in t["output"] for t in graded)


def test_instructor_commands_explain_what_is_missing(released):
    hidden = run(released, sys.executable, "-m", "autograder", "check", LAB, "--hidden")
    assert hidden.returncode == 2 and "no hidden checks in this copy" in hidden.stdout
    assign = run(released, sys.executable, "-m", "autograder", "assign")
    assert assign.returncode == 2 and "instructors' copy" in assign.stdout
    tests = run(released, "make", "-s", "test")
    assert tests.returncode != 0 and "not part of the student release" in tests.stdout


def test_release_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "something").write_text("keep me")
    with pytest.raises(Exception, match="not empty"):
        release(tmp_path)
    assert (tmp_path / "something").read_text() == "keep me"
