"""The GPU path, on a machine without a GPU: profile selection; a GPU faked with
DLKIT_FAKE_GPU, under which GPU checks run (on the CPU) with mixed precision and XLA; the
smoke test; and GPU checks' data sets, skipped when absent and read inside the jail."""
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


def test_the_gpu_profile_trains_in_mixed_precision_with_xla_except_in_the_smoke_test(
        monkeypatch):
    monkeypatch.delenv("DLKIT_GPU_SMOKE", raising=False)
    assert profiles.GPU.gpu_settings() == {"mixed_precision": True, "xla": True, "smoke": False}
    monkeypatch.setenv("DLKIT_GPU_SMOKE", "1")
    assert profiles.GPU.gpu_settings() == {"mixed_precision": True, "xla": False, "smoke": True}


def _grade(profile, only=("needs_gpu", "healthy_1")):
    return grade("engine_lab", ENGINE_LAB / "impl", package="tests.engine_lab",
                 only=list(only), profile=profile)


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
def test_a_faked_gpu_runs_gpu_checks_in_mixed_precision_with_xla(monkeypatch):
    monkeypatch.setenv("DLKIT_FAKE_GPU", "Tesla T4")
    monkeypatch.delenv("DLKIT_GPU_SMOKE", raising=False)
    report = _grade("auto")
    assert report.environment["profile"] == "gpu"
    assert report.environment["gpu_checks"] == {"mixed_precision": True, "xla": True,
                                                "smoke": False}
    assert "Tesla T4 (faked" in report.environment["device"]
    result = report.result("needs_gpu")
    assert result.status == "passed", result.message
    assert "Tesla T4 (faked" in result.device and "GPU check:" in result.message
    assert report.score == report.max_score == 2

    cpu = _grade("cpu")   # a GPU runner may still grade with the cpu profile
    assert cpu.environment["profile"] == "cpu"
    assert cpu.result("needs_gpu").status == "skipped"
    assert "cpu profile" in cpu.result("needs_gpu").message


@pytest.mark.slow
def test_an_absent_data_set_skips_its_gpu_check_with_the_command_that_prepares_it(
        monkeypatch, tmp_path):
    monkeypatch.setenv("DLKIT_FAKE_GPU", "Tesla T4")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    report = _grade("auto", only=["reads_a_dataset"])
    result = report.result("reads_a_dataset")
    assert result.status == "skipped"
    assert "python -m dlkit.data prepare tiny_digits" in result.message
    assert str(tmp_path) in result.message and report.max_score == 0


@pytest.mark.slow
def test_a_prepared_data_set_is_read_inside_the_jail_in_the_smoke_test(monkeypatch, tfds_dir):
    monkeypatch.setenv("DLKIT_FAKE_GPU", "Tesla T4")
    monkeypatch.setenv("DLKIT_GPU_SMOKE", "1")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tfds_dir))
    report = _grade("auto", only=["reads_a_dataset", "needs_gpu"])
    assert report.environment["gpu_checks"]["smoke"]
    for result in report.results:
        assert result.status == "passed", (result.name, result.message)
