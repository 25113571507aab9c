"""Correct implementations written differently from the reference score full marks.

tests/twins/LAB/NAME/ holds the graded modules of one such implementation (a README.md says
how it differs); the test lays them over a copy of the solution and grades it on every
public and hidden check (the GPU checks are for GPU runners). A grader that fails correct
code is as broken as one that passes wrong code."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder import SOLUTIONS
from autograder.api import load_lab
from tests.conftest import LABS, by_lab, failures, graded, reviewed

TWINS = Path(__file__).parent / "twins"
CASES = [(lab, twin.name) for lab in LABS if (TWINS / lab).is_dir()
         for twin in sorted((TWINS / lab).iterdir()) if twin.is_dir()]


@pytest.mark.parametrize("lab", [reviewed(lab) for lab in LABS])
def test_every_lab_has_two_twins_that_differ_from_the_reference(lab):
    twins = [name for twin_lab, name in CASES if twin_lab == lab]
    assert len(twins) >= 2, f"tests/twins/{lab} holds {len(twins)} implementations"
    modules = set(load_lab(lab).modules)
    for name in twins:
        folder = TWINS / lab / name
        assert (folder / "README.md").read_text().strip(), f"{name}: say how it differs"
        files = [f for f in folder.glob("*.py")]
        assert files and {f.stem for f in files} <= modules, f"{name}: graded modules only"
        assert any(f.read_bytes() != (SOLUTIONS / lab / f.name).read_bytes() for f in files)


@pytest.mark.slow
@pytest.mark.parametrize("lab,name", by_lab(CASES, lab_of=lambda case: case[0]),
                         ids=[f"{lab}-{name}" for lab, name in CASES])
def test_twin_scores_full_marks_on_public_and_hidden_checks(lab, name, tmp_path):
    folder = tmp_path / lab
    shutil.copytree(SOLUTIONS / lab, folder, ignore=shutil.ignore_patterns("__pycache__"))
    for module in (TWINS / lab / name).glob("*.py"):
        shutil.copy2(module, folder / module.name)
    # Every check that compares with the reference. Not the GPU checks: in the smoke test
    # their few steps are noise that only the solution itself reproduces. Not the
    # GPU-readiness checks (XLA and mixed-precision compiles, 40 % of a lab's probe time):
    # they judge properties of the model alone, with no reference, and test_readiness.py,
    # the solution and the mutants hold their verdicts.
    checks = [c.name for c in load_lab(lab, hidden=True).checks
              if not c.requires_gpu and not c.module.endswith(".readiness")]
    report = graded(lab, folder, hidden=True, only=checks)
    assert failures(report) == {}, f"{lab} twin {name} is correct but lost points"
