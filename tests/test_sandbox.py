"""The worker survives every misbehaviour of code under test, one check at a time."""
from __future__ import annotations

from pathlib import Path

import pytest

from autograder.grading import grade
from autograder.sandbox import GiB, Limits

ENGINE_LAB = Path(__file__).parent / "engine_lab"
# One worker of pytest-xdist grades the fixture lab once for every test of this module.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("engine_lab")]

EXPECTED_MESSAGES = {
    "raises": "subject.py:15 in raise_error: IndexError: list index out of range",
    "not_implemented": "not implemented yet (subject.py:19 in not_done): write the forward pass",
    "sys_exit": "subject.py:23 in call_sys_exit called sys.exit(0) instead of returning",
    "os_exit": "exited with status 0 while running os_exit",
    "killed": "killed by signal SIGKILL while running killed",
    "hangs": "did not finish running hangs within 3 s",
    "memory": "used more than 2.5 GiB of memory",
    "floods": "printed more than 1024 KiB",
    "lies": "not a number, string, list, dict, array or tensor",
}


@pytest.fixture(scope="module")
def report():
    return grade("engine_lab", ENGINE_LAB / "impl", package="tests.engine_lab",
                 limits=Limits(memory_bytes=int(2.5 * GiB)))


@pytest.mark.parametrize("name", sorted(EXPECTED_MESSAGES))
def test_misbehaving_probe_fails_its_check_with_a_message(report, name):
    result = report.result(name)
    assert result.status == "failed" and result.points == 0
    assert EXPECTED_MESSAGES[name] in result.message, result.message


def test_grading_goes_on_after_each_misbehaviour(report):
    healthy = [r for r in report.results if r.name.startswith("healthy")]
    assert len(healthy) == 8
    assert all(r.status == "passed" for r in healthy), [(r.name, r.message) for r in healthy]


def test_gpu_check_is_skipped_with_a_reason_on_cpu(report):
    gpu_checks = [r for r in report.results if r.name in ("needs_gpu", "reads_a_dataset")]
    assert len(gpu_checks) == 2
    assert all(r.status == "skipped" and "needs a GPU" in r.message for r in gpu_checks)
    assert report.max_score == len(report.results) - 2  # skipped points are not counted
