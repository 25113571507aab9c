"""The GPU path, on a machine without a GPU: profile selection, and a GPU faked with
DLKIT_FAKE_GPU so the gpu profile's checks run (on the CPU) with their larger budget."""
from __future__ import annotations

from pathlib import Path

import pytest

from autograder import profiles
from autograder.grading import grade
from autograder.session import GradingError

ENGINE_LAB = Path(__file__).parent / "engine_lab"


@pytest.mark.parametrize("requested,gpus,chosen", [
    ("auto", [], "cpu"), ("auto", ["Tesla T4"], "gpu"), ("cpu", ["Tesla T4"], "cpu"),
    ("gpu", ["Tesla T4"], "gpu"), ("cpu", [], "cpu")])
def test_profile_selection(requested, gpus, chosen):
    assert profiles.select(requested, gpus).name == chosen


def test_gpu_profile_without_a_gpu_is_refused_with_a_reason():
    with pytest.raises(profiles.ProfileError, match="needs a GPU"):
        profiles.select("gpu", [])
    with pytest.raises(profiles.ProfileError, match="unknown profile"):
        profiles.select("fast", [])


def _grade(profile):
    return grade("engine_lab", ENGINE_LAB / "impl", package="tests.engine_lab",
                 only=["needs_gpu", "healthy_1"], profile=profile)


@pytest.mark.slow
def test_without_a_gpu_auto_skips_gpu_checks_and_gpu_is_an_error(monkeypatch):
    monkeypatch.delenv("DLKIT_FAKE_GPU", raising=False)
    report = _grade("auto")
    assert report.environment["profile"] == "cpu" and report.environment["device"] == "CPU"
    assert report.result("needs_gpu").status == "skipped"
    assert "needs a GPU" in report.result("needs_gpu").message
    with pytest.raises(GradingError, match="needs a GPU"):
        _grade("gpu")


@pytest.mark.slow
def test_a_faked_gpu_selects_the_gpu_profile_and_its_budget(monkeypatch):
    monkeypatch.setenv("DLKIT_FAKE_GPU", "Tesla T4")
    report = _grade("auto")
    assert report.environment["profile"] == "gpu"
    assert report.environment["gpu_budget"] == profiles.GPU.budget > 1
    assert "Tesla T4 (faked" in report.environment["device"]
    result = report.result("needs_gpu")
    assert result.status == "passed", result.message
    assert report.score == report.max_score == 2

    cpu = _grade("cpu")   # a GPU runner may still grade with the CPU budgets
    assert cpu.environment["profile"] == "cpu"
    assert cpu.result("needs_gpu").status == "skipped"
    assert "cpu profile" in cpu.result("needs_gpu").message
