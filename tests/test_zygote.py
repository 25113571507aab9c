"""The warm zygote: one TensorFlow import, a fresh forked worker per grading, and a zygote
that no submission can reach or stop."""
from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import psutil
import pytest

from autograder import zygote
from autograder.api import load_lab
from autograder.grading import grade
from autograder.sandbox import Limits, Worker

LAB = Path(__file__).parent / "zygote_lab"
PACKAGE = "tests.zygote_lab"
TAMPERING = ("import numpy, dlkit.backend\n"
             "numpy.pi = 3.0\n"
             "numpy.planted_by_a_submission = True\n"
             "dlkit.backend._tf = None\n")
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("zygote")]


@pytest.fixture
def tampering_copy(tmp_path):
    folder = tmp_path / "tampering"
    shutil.copytree(LAB / "impl", folder)
    subject = folder / "subject.py"
    subject.write_text(TAMPERING + subject.read_text())
    return folder


def test_the_zygote_forks_with_a_single_thread():
    grade("zygote_lab", LAB / "impl", package=PACKAGE)
    assert zygote.enabled()
    assert zygote._current is not None and zygote._current.hello["threads"] == 1


def test_a_submission_that_tampers_with_its_process_cannot_reach_the_next(tampering_copy):
    tampered = grade("zygote_lab", tampering_copy, package=PACKAGE)
    assert tampered.results[0].status == "failed"
    assert "tampered with" in tampered.results[0].message  # its own worker was
    zygote_pid = zygote._current.process.pid
    honest = grade("zygote_lab", LAB / "impl", package=PACKAGE)
    assert honest.results[0].status == "passed", honest.results[0].message
    assert zygote._current.process.pid == zygote_pid, "the zygote was restarted"


def test_a_dead_zygote_is_restarted_with_a_message_and_no_grade_is_lost(capfd):
    grade("zygote_lab", LAB / "impl", package=PACKAGE)
    old = zygote._current.process.pid
    os.kill(old, signal.SIGKILL)
    zygote._current.process.wait()
    report = grade("zygote_lab", LAB / "impl", package=PACKAGE)
    assert report.results[0].status == "passed", report.results[0].message
    assert zygote._current.process.pid != old
    assert "warm worker process died; starting a new one" in capfd.readouterr().err


def test_killing_its_parent_costs_a_submission_its_points_only(tmp_path):
    folder = tmp_path / "parricide"
    shutil.copytree(LAB / "impl", folder)
    subject = folder / "subject.py"
    subject.write_text("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
                       "os._exit(3)\n" + subject.read_text())
    report = grade("zygote_lab", folder, package=PACKAGE, isolate=False)
    assert report.results[0].status == "failed"
    # Without the jail its parent is the supervisor, whose death is reported as such.
    assert "kill its parent process" in report.results[0].message, report.results[0].message
    assert grade("zygote_lab", LAB / "impl", package=PACKAGE).results[0].status == "passed"


def test_without_the_zygote_workers_start_as_new_processes(monkeypatch):
    monkeypatch.setenv("DLKIT_ZYGOTE", "off")
    report = grade("zygote_lab", LAB / "impl", package=PACKAGE)
    assert report.results[0].status == "passed", report.results[0].message


def test_a_warm_zygote_and_two_workers_fit_in_3_gb():
    modules = load_lab("zygote_lab", package=PACKAGE).modules
    workers = [Worker(LAB / "impl", modules, Limits()) for _ in range(2)]
    try:
        for worker in workers:
            assert worker.request({"op": "import", "module": "subject"}, 30, "importing")["ok"]
        roots = [psutil.Process(zygote._current.process.pid)]
        roots += [psutil.Process(w.process.pid) for w in workers]
        processes = {p.pid: p for root in roots for p in [root, *root.children(recursive=True)]}
        # Proportional set size: pages the workers share with the zygote are counted once.
        total = sum(p.memory_full_info().pss for p in processes.values())
        assert total < 3 << 30, f"{total / (1 << 30):.2f} GiB"
    finally:
        for worker in workers:
            worker.close()
