"""The student release: what ships, that grading works inside it, and that no solution
code, hidden check or kit test is in it."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from autograder import LABS, SOLUTIONS
from autograder.idioms import IDIOMS
from autograder.release import (
    CrossLabLeak,
    ReleaseError,
    answers_by_lab,
    cross_lab_leaks,
    leaks,
    release,
    solution_lines,
)

LAB = "lab01_mlp_backprop"
WEEK_TWO = [LAB, "lab02_autodiff"]   # a weekly release: the first two labs


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "dlkit"
    release(out)
    return out


@pytest.fixture(scope="module")
def released_week_two(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "dlkit"
    release(out, WEEK_TWO)
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


def test_release_of_some_labs_ships_those_labs_only(released_week_two):
    assert {p.name for p in (released_week_two / "labs").iterdir()} == set(WEEK_TWO)
    checks = released_week_two / "autograder" / "checks"
    assert {p.name for p in checks.iterdir() if p.is_dir()} == set(WEEK_TWO)
    references = released_week_two / "autograder" / "references"
    assert {p.name for p in references.iterdir()} == {f"{lab}.json" for lab in WEEK_TWO}
    assert (released_week_two / "dlkit").is_dir() and (checks / "__init__.py").exists()


def test_check_of_a_lab_not_in_the_release_says_so(released_week_two):
    result = run(released_week_two, sys.executable, "-m", "autograder", "check", "lab05_cnn")
    assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr
    assert "lab05_cnn is not in this release of the kit" in result.stdout
    assert "lab02_autodiff" in result.stdout   # what the release holds


def test_release_refuses_an_unknown_lab(tmp_path):
    with pytest.raises(ReleaseError, match="unknown lab lab5_cnn: the labs are lab01_mlp"):
        release(tmp_path / "out", [LAB, "lab5_cnn"])
    assert not (tmp_path / "out").exists()


def test_no_lab_skeleton_shows_another_labs_answers():
    assert cross_lab_leaks() == []


def test_the_pairwise_scan_finds_a_lab03_answer_planted_in_lab04(tmp_path):
    adam_update = "self.assign(m, beta_1 * m + (1.0 - beta_1) * gradient)"
    assert adam_update in answers_by_lab()["lab03_optimization"]
    for lab in ("lab03_optimization", "lab04_regularization"):
        shutil.copytree(LABS / lab, tmp_path / lab)
    module = tmp_path / "lab04_regularization" / "weight_decay.py"
    lines = module.read_text().splitlines() + [f"    {adam_update}"]
    module.write_text("\n".join(lines) + "\n")
    assert cross_lab_leaks(SOLUTIONS, tmp_path) == [CrossLabLeak(
        "lab03_optimization", "lab04_regularization", f"weight_decay.py:{len(lines)}")]


def test_every_listed_idiom_is_the_region_line_of_one_lab():
    """An idiom that no region holds any more, or that several labs ask for (an idiom by
    rule), is dropped from idioms.py, so the list never grows into a blanket."""
    answers = answers_by_lab()
    every_region_line = answers_by_lab(skeletons=SOLUTIONS / "none", idioms=frozenset())
    for idiom in IDIOMS:
        labs = [lab for lab, lines in every_region_line.items() if idiom in lines]
        assert len(labs) == 1, f"{idiom!r} is not the region line of one lab only: {labs}"
        assert idiom not in answers[labs[0]]
