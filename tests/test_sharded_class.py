"""A class graded in three shards and merged equals the same class graded in one run."""
from __future__ import annotations

import json
import shutil

import pytest

from autograder import LABS as LABS_DIR
from autograder.batch import grade_class
from autograder.cli import main
from autograder.shards import SHARD_FILE, shard_of
from tests.conftest import make_class

LAB = "lab02_autodiff"  # cheap to grade: the test is about the grader, not the lab
SHARDS = 3
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sharded_class")]


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory):
    # Names chosen so that each of the 3 shards gets someone: ada | lou | ben, cy, dee.
    root = make_class(tmp_path_factory.mktemp("submissions"), LAB)
    shutil.copytree(LABS_DIR / LAB, root / "lou")
    return root


def scores(out) -> dict[str, list]:
    """Per student, every check's (name, status, points, message) as grade.json has it."""
    found = {}
    for path in sorted((out / "students").glob("*/grade.json")):
        results = json.loads(path.read_text())["report"]["results"]
        found[path.parent.name] = [(r["name"], r["status"], r["points"], r["message"])
                                   for r in results]
    return found


def test_three_shards_merged_equal_one_run(class_folder, tmp_path):
    students = sorted(p.name for p in class_folder.iterdir())
    slices = {k: [s for s in students if shard_of(s, SHARDS) == k] for k in (1, 2, 3)}
    assert all(slices.values()), f"a shard would be empty: {slices}"

    whole = tmp_path / "whole"
    grade_class(class_folder, LAB, whole, jobs=2)
    for k in (1, 2, 3):
        result = grade_class(class_folder, LAB, tmp_path / f"shard{k}", jobs=2, shard=(k, SHARDS))
        assert sorted(result.graded) == slices[k]
        assert sorted(p.name for p in (tmp_path / f"shard{k}" / "students").iterdir()) == slices[k]
        record = json.loads((tmp_path / f"shard{k}" / SHARD_FILE).read_text())
        assert record["shard"] == [k, SHARDS] and record["students"] == slices[k]

    merged = tmp_path / "merged"
    shards = [str(tmp_path / f"shard{k}") for k in (3, 1, 2)]   # any order
    assert main(["merge", *shards, "--out", str(merged)]) == 0
    assert (merged / "gradebook.csv").read_text() == (whole / "gradebook.csv").read_text()
    assert (merged / "summary.md").read_text() == (whole / "summary.md").read_text()
    assert scores(merged) == scores(whole)
    assert sorted(scores(merged)) == students
    full = json.loads((merged / "students" / "ada" / "results.json").read_text())
    assert full["score"] == full["extra_data"]["max_score"] > 0   # the class was really graded
