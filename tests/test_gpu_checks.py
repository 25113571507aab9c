"""Every lab whose models train has GPU checks (its gpu.py), within the budget, reading
data sets `python -m dlkit.data prepare all` gets. tests/test_labs.py runs them on the
solution (full marks) and the skeleton (0) in the smoke test, on a faked GPU."""
from __future__ import annotations

import re

import pytest

from autograder import KIT_ROOT
from autograder.api import load_lab
from dlkit.data.tfds_real import GPU_DATASETS
from tests.conftest import LABS

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


def test_the_readme_states_each_labs_gpu_minutes():
    section = (KIT_ROOT / "README.md").read_text().split("### GPU runners")[1].split("\n### ")[0]
    stated = dict(re.findall(r"^\| `(lab\w+)` \|.*\| ([\d.]+) \|$", section, re.M))
    assert stated == {lab: f"{sum(c.minutes for c in gpu_checks(lab)):g}" for lab in GPU_LABS}
