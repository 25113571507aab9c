"""Every lab's GPU checks (its gpu.py), run here on a faked GPU in the smoke test: a few
steps on a few examples of the stand-in data sets tests/tfds_fixture.py writes. The solution
gets their full marks and the skeleton 0 with a message; a GPU runner is where their
numbers mean something."""
from __future__ import annotations

import pytest

from autograder import LABS as LABS_DIR
from autograder import SOLUTIONS
from autograder.api import load_lab
from dlkit.data.tfds_real import GPU_DATASETS
from tests.conftest import LABS, by_lab, graded

# Labs whose models do not train have no GPU checks.
NOTHING_TO_TRAIN = {"lab02_autodiff"}
GPU_LABS = [lab for lab in LABS if lab not in NOTHING_TO_TRAIN]
MINUTES_PER_LAB = 10   # on one T4-class GPU, every GPU check of a lab together


def gpu_checks(lab):
    return [c for c in load_lab(lab, hidden=True).checks if c.requires_gpu]


@pytest.mark.parametrize("lab", GPU_LABS)
def test_every_lab_that_trains_has_gpu_checks_within_the_budget(lab):
    checks = gpu_checks(lab)
    assert checks, f"{lab} has no GPU checks (autograder/checks/{lab}/gpu.py)"
    assert sum(c.minutes for c in checks) <= MINUTES_PER_LAB
    for chk in checks:
        assert set(chk.datasets) <= set(GPU_DATASETS), (
            f"{chk.name} reads {chk.datasets}: `python -m dlkit.data prepare all` must get them")


@pytest.fixture
def faked_gpu_smoke_test(monkeypatch, tfds_dir):
    monkeypatch.setenv("DLKIT_FAKE_GPU", "Tesla T4")
    monkeypatch.setenv("DLKIT_GPU_SMOKE", "1")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tfds_dir))


@pytest.mark.slow
@pytest.mark.parametrize("lab", by_lab(GPU_LABS))
def test_solution_gets_full_marks_on_its_gpu_checks(lab, faked_gpu_smoke_test):
    names = [c.name for c in gpu_checks(lab)]
    report = graded(lab, SOLUTIONS / lab, hidden=True, only=names)
    assert report.environment["gpu_checks"]["smoke"]
    for result in report.results:
        assert result.status == "passed", f"{result.name}: {result.message}"
        assert "GPU check:" in result.message and "Tesla T4" in result.device
    assert report.score == report.max_score > 0


@pytest.mark.slow
@pytest.mark.parametrize("lab", by_lab(GPU_LABS))
def test_skeleton_scores_zero_on_its_gpu_checks(lab, faked_gpu_smoke_test):
    names = [c.name for c in gpu_checks(lab)]
    report = graded(lab, LABS_DIR / lab, hidden=True, only=names)
    assert report.max_score > 0 and report.score == 0
    for result in report.results:
        assert result.status == "failed", result.name
        assert result.message.strip() and "Traceback" not in result.message, result.name
