"""Grading a class: both layouts, every output file, resuming after a crash."""
from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET

import pytest

from autograder.batch import find_submissions, grade_class
from tests.conftest import make_class

LAB = "lab02_autodiff"  # cheap to grade: the test is about the class files, not the lab
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("batch")]


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory):
    return make_class(tmp_path_factory.mktemp("submissions"), LAB)


def test_both_layouts_are_recognised_and_a_missing_lab_is_reported(class_folder):
    modules = ("reverse", "forward", "jacobians")
    found = {s.student: s for s in find_submissions(class_folder, LAB, modules)}
    assert found["ada"].folder == class_folder / "ada"
    assert found["cy"].folder == class_folder / "cy" / "labs" / LAB
    assert found["dee"].folder is None and "found no reverse.py" in found["dee"].problem


def test_class_files_and_resuming(class_folder, tmp_path):
    out = tmp_path / "grades"
    first = grade_class(class_folder, LAB, out, jobs=2)
    assert sorted(first.regraded) == ["ada", "ben", "cy", "dee"]
    scores = {s: r.score for s, r in first.graded.items()}
    full = first.graded["ada"].max_score
    assert scores == {"ada": full, "ben": 0, "cy": full, "dee": 0}

    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert [r["student"] for r in rows] == ["ada", "ben", "cy", "dee"]
    assert float(rows[0]["total"]) == full and "backward" in rows[0]
    summary = (out / "summary.md").read_text()
    assert "4 submissions" in summary and "Checks the class failed most" in summary
    assert (out / "histogram.png").read_bytes()[:4] == b"\x89PNG"
    results = json.loads((out / "students" / "ben" / "results.json").read_text())
    assert results["score"] == 0 and results["tests"][0]["status"] == "failed"
    suite = ET.parse(out / "students" / "ben" / "junit.xml").getroot()
    assert int(suite.get("failures")) == len(suite.findall("testcase")) > 0

    # Killed halfway: ben's grade.json never got written. cy changed her work meanwhile.
    (out / "students" / "ben" / "grade.json").unlink()
    changed = class_folder / "cy" / "labs" / LAB / "reverse.py"
    changed.write_text(changed.read_text() + "\n# one more comment\n")
    second = grade_class(class_folder, LAB, out, jobs=2)
    assert sorted(second.regraded) == ["ben", "cy"]
    assert sorted(second.reused) == ["ada", "dee"]
    assert {s: r.score for s, r in second.graded.items()} == scores
