"""Every lab: the solution scores full marks, the skeleton scores 0 with a message on every
check (the GPU checks included, run in the smoke test on a faked GPU), labs/ is generated
from solutions/, and the stored references are fresh."""
from __future__ import annotations

import pytest

from autograder import KIT_ROOT, SOLUTIONS, handout, references
from autograder import LABS as LABS_DIR
from autograder.api import load_lab
from tests.conftest import LABS, by_lab, failures, graded


@pytest.mark.slow
@pytest.mark.parametrize("lab", by_lab(LABS))
def test_solution_scores_full_marks_on_public_hidden_and_gpu_checks(lab, faked_gpu_smoke_test):
    report = graded(lab, SOLUTIONS / lab, hidden=True)
    assert report.environment["gpu_checks"]["smoke"]
    assert failures(report) == {}
    assert report.score == report.max_score > 0
    assert any(r.hidden for r in report.results), f"{lab} has no hidden checks"


@pytest.mark.slow
@pytest.mark.parametrize("lab", by_lab(LABS))
def test_skeleton_scores_zero_with_a_message_on_every_check(lab, faked_gpu_smoke_test):
    report = graded(lab, LABS_DIR / lab, hidden=True)
    assert report.score == 0
    for result in report.results:
        assert result.status == "failed", result.name
        assert result.message.strip(), f"{result.name} failed without a message"
        assert "Traceback" not in result.message, result.name


@pytest.mark.parametrize("lab", LABS)
def test_stored_references_are_fresh(lab):
    assert references.stored_stamp(lab) == references.stamp(lab), (
        f"autograder/references/{lab}.json is stale: run `python -m autograder references {lab}`")


@pytest.mark.parametrize("lab", LABS)
def test_every_lab_has_a_handout_a_notebook_and_enough_checks(lab):
    spec = load_lab(lab, hidden=True)
    folder = SOLUTIONS / lab
    assert (folder / "README.md").exists(), "handout missing"
    assert list(folder.glob("notebook*.py")), "notebook companion missing"
    for module in spec.modules:
        assert (folder / f"{module}.py").exists()
    for chk in spec.checks:
        assert chk.points > 0 and chk.hint, f"{chk.name} needs points and a hint"


@pytest.mark.parametrize("lab", LABS)
def test_handout_has_the_generated_table_of_checks(lab):
    assert handout.has_table((SOLUTIONS / lab / "README.md").read_text()), (
        f"solutions/{lab}/README.md needs the two marker lines of autograder/handout.py")


@pytest.mark.parametrize("lab", LABS)
def test_check_files_stay_readable(lab):
    folder = KIT_ROOT / "autograder" / "checks" / lab
    for file in folder.glob("*.py"):
        lines = len(file.read_text().splitlines())
        assert lines <= 470, f"{file.relative_to(KIT_ROOT)} has {lines} lines: split it"
