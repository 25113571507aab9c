"""Each named mutant loses the points of the checks it is aimed at, with a message."""
from __future__ import annotations

import re

import pytest

from autograder import SOLUTIONS
from autograder.api import load_lab
from tests.conftest import LABS, by_lab, graded
from tests.mutants import mutants_of

CASES = [(lab, m) for lab in LABS for m in mutants_of(lab)]


@pytest.mark.parametrize("lab", LABS)
def test_every_lab_has_at_least_four_mutants_each_aimed_at_a_real_check(lab):
    mutants = mutants_of(lab)
    assert len(mutants) >= 4, f"{lab} has {len(mutants)} mutants"
    names = {c.name for c in load_lab(lab, hidden=True).checks}
    for mutant in mutants:
        assert mutant.breaks and set(mutant.breaks) <= names, mutant.name


@pytest.mark.slow
@pytest.mark.parametrize("lab,mutant", by_lab(CASES, lab_of=lambda case: case[0]),
                         ids=[f"{lab}-{m.name}" for lab, m in CASES])
def test_mutant_loses_the_points_of_its_checks(lab, mutant, tmp_path):
    # Only the named checks run: the solution's own grading shows every check passes on
    # correct code, and grading each mutant on all checks would cost the suite minutes.
    folder = mutant.apply(SOLUTIONS / lab, tmp_path / lab)
    report = graded(lab, folder, hidden=mutant.hidden, only=list(mutant.breaks), isolate=False)
    assert {r.name for r in report.results} == set(mutant.breaks)
    for result in report.results:
        assert result.status == "failed" and result.points == 0, (
            f"{mutant.name} should fail {result.name}, which passed")
        assert result.message.strip() and "Traceback" not in result.message, result.name
    if mutant.says:
        message = report.result(mutant.breaks[0]).message
        assert re.search(mutant.says, message, re.I), (
            f"{mutant.name}: the message of {mutant.breaks[0]} does not point at the mistake "
            f"(expected /{mutant.says}/): {message}")
