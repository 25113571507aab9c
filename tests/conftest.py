"""Shared helpers of the kit's tests. Tests never import TensorFlow in this process unless
they test dlkit itself: gradings run in worker subprocesses."""
from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from autograder import KIT_ROOT, SOLUTIONS
from autograder import LABS as LABS_DIR
from autograder.api import all_labs
from autograder.grading import grade

LABS = all_labs()
# Labs whose checks have not yet been through the fresh-eyes review (mistakes and two
# correct implementations written by someone who had not read the checks). Their twins test
# is expected to fail, strictly: a lab that has its twins must leave this set.
PENDING_REVIEW: set[str] = set()


def reviewed(lab: str):
    """`lab` as a parameter, expected to fail while it is pending review."""
    if lab in PENDING_REVIEW:
        return pytest.param(lab, marks=pytest.mark.xfail(
            strict=True, reason=f"{lab} awaits its fresh-eyes review"))
    return lab
# The solution's outputs on hidden checks, per lab, shared by every grading in this test
# process (the solution, the skeleton and the mutants all see the same fresh inputs).
_HIDDEN_REFERENCES: dict[tuple, dict] = defaultdict(dict)


def by_lab(cases, lab_of=lambda case: case):
    """Parameters that keep each lab's gradings on one test worker, so they share its cache."""
    return [pytest.param(*(case if isinstance(case, tuple) else (case,)),
                         marks=pytest.mark.xdist_group(f"lab-{lab_of(case)}")) for case in cases]


def graded(lab, folder, **kwargs):
    kwargs.setdefault("reference_cache", _HIDDEN_REFERENCES[lab, kwargs.get("package")])
    return grade(lab, folder, **kwargs)


def make_class(root: Path, lab: str) -> Path:
    """A small class: ada hands in the solution, ben the untouched skeleton, cy a copy of the
    whole kit holding the solution, and dee no lab at all."""
    shutil.copytree(SOLUTIONS / lab, root / "ada")
    shutil.copytree(LABS_DIR / lab, root / "ben")
    shutil.copytree(SOLUTIONS / lab, root / "cy" / "labs" / lab)
    (root / "dee").mkdir()
    (root / "dee" / "notes.txt").write_text("forgot to hand in")
    return root


def at_the_top(source: str, attack: str) -> str:
    """`attack` as the first code that runs: after the docstring and `__future__` imports,
    which must stay first."""
    head, future, rest = source.partition("from __future__ import annotations\n")
    return head + future + attack + rest if future else attack + source


def failures(report) -> dict[str, str]:
    return {r.name: r.message for r in report.results if r.status != "passed"}


@pytest.fixture(params=LABS)
def lab(request):
    return request.param


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory, worker_id):
    """Stand-ins for the real TFDS data sets (tests/tfds_fixture.py), written once per run
    and shared by the test workers."""
    base = tmp_path_factory.getbasetemp()
    root = (base if worker_id == "master" else base.parent) / "tfds"
    with open(root.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "written").exists():
            subprocess.run([sys.executable, "-m", "tests.tfds_fixture", str(root)], check=True,
                           cwd=KIT_ROOT, capture_output=True)
            (root / "written").touch()
    return root


@pytest.fixture
def faked_gpu_smoke_test(monkeypatch, tfds_dir):
    """Grading here runs the GPU checks too: on a faked GPU, in the smoke test (a few steps
    on a few examples of the stand-in data sets), where their numbers mean nothing but every
    line of them runs."""
    monkeypatch.setenv("DLKIT_FAKE_GPU", "Tesla T4")
    monkeypatch.setenv("DLKIT_GPU_SMOKE", "1")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tfds_dir))
