"""Broken submissions still get graded: 0 where it applies, a clear message, bounded time."""
from __future__ import annotations

import shutil
import time

import pytest

from autograder import SOLUTIONS
from autograder.api import load_lab
from autograder.sandbox import Limits
from tests.conftest import at_the_top, graded

# A lab with one graded module: every check depends on it, so every check must fail.
LAB = "lab23_nngp_ntk"
MODULE, = load_lab(LAB).modules


def submission(tmp_path, prefix: str):
    folder = tmp_path / LAB
    shutil.copytree(SOLUTIONS / LAB, folder, ignore=shutil.ignore_patterns("__pycache__"))
    graded_file = folder / f"{MODULE}.py"
    graded_file.write_text(at_the_top(graded_file.read_text(), prefix))
    return folder


def assert_all_failed_with(report, *needles):
    assert report.score == 0
    for result in report.results:
        if result.status == "skipped":   # a GPU check, on this machine without a GPU
            assert "needs a GPU" in result.message
            continue
        assert result.status == "failed"
        for needle in needles:
            assert needle in result.message, (result.name, result.message)


@pytest.mark.slow
def test_syntax_error_names_the_file_and_line(tmp_path):
    folder = submission(tmp_path, "def broken(:\n    pass\n")
    line = (folder / f"{MODULE}.py").read_text().splitlines().index("def broken(:") + 1
    report = graded(LAB, folder)
    assert_all_failed_with(report, f"{MODULE}.py:{line}", "SyntaxError")


@pytest.mark.slow
def test_missing_module_is_named(tmp_path):
    report = graded(LAB, submission(tmp_path, "import torchvision_not_installed\n"))
    assert_all_failed_with(report, "torchvision_not_installed", "not installed")


@pytest.mark.slow
def test_hang_at_import_costs_one_timeout_not_one_per_check(tmp_path):
    limit = 5.0   # a short import limit, for the test's time; one per check would be 55 s
    started = time.monotonic()
    report = graded(LAB, submission(tmp_path, "while True:\n    pass\n"),
                    limits=Limits(import_seconds=limit))
    elapsed = time.monotonic() - started
    assert_all_failed_with(report, f"did not finish importing {MODULE}.py within")
    assert len(report.results) * limit > 45 and elapsed < 30, f"took {elapsed:.0f} s"
