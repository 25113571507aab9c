"""Shards without grading: the slicing, `--shard K/N` on the command line, and every reason
`merge` refuses (the slow proof that merged shards equal one run is test_sharded_class.py)."""
from __future__ import annotations

import csv
import json
import re

import pytest

from autograder.batch import write_student
from autograder.cli import _parser, main
from autograder.merge import MergeError, merge
from autograder.results import CheckResult, Report
from autograder.shards import SHARD_FILE, shard_of, write_shard_file

LAB = "lab11_vae"
OPTIONS = {"hidden": True, "seed": 2026, "profile": "cpu"}


def test_every_student_is_in_exactly_one_shard_and_shards_are_balanced():
    students = [f"student{i:03d}" for i in range(300)]
    for count in (1, 2, 3, 7):
        slices = {k: [s for s in students if shard_of(s, count) == k] for k in range(1, count + 1)}
        assert sorted(sum(slices.values(), [])) == students
        assert all(len(members) > 300 / count / 2 for members in slices.values()), slices


def test_adding_students_moves_nobody_else():
    before = [f"s{i}" for i in range(100)]
    after = before[:40] + [f"late{i}" for i in range(50)] + before[40:]
    for count in (2, 4, 5):
        assert {s: shard_of(s, count) for s in before} == \
               {s: shard_of(s, count) for s in after if s in before}


def test_a_shard_depends_on_the_name_only():
    # Fixed values: machines grading different shards must agree on them, whatever the
    # Python version or PYTHONHASHSEED.
    assert [shard_of(name, 3) for name in ("ada", "ben", "lou")] == [1, 3, 2]


@pytest.mark.parametrize("text,words", [
    ("0/3", "between 1 and 3"), ("4/3", "between 1 and 3"), ("1/0", "at least 1"),
    ("x", "expected K/N"), ("2", "expected K/N"), ("-1/3", "expected K/N"),
])
def test_bad_shards_are_usage_errors(text, words, capsys):
    with pytest.raises(SystemExit) as stop:
        _parser().parse_args(["grade", "subs", "--lab", LAB, "--out", "out", f"--shard={text}"])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert "argument --shard" in error and words in error


def test_shard_defaults_to_the_whole_class():
    args = _parser().parse_args(["grade", "subs", "--lab", LAB, "--out", "out"])
    assert args.shard == (1, 1)
    args = _parser().parse_args(["grade", "subs", "--lab", LAB, "--out", "out", "--shard", "2/4"])
    assert args.shard == (2, 4)


# -- merge, on shard folders written by the grader's own writers ---------------------------

def report(points: float) -> Report:
    return Report(lab=LAB, folder="x", results=[
        CheckResult("kl_divergence", points, 2, "passed" if points == 2 else "failed",
                    "" if points == 2 else "off by a factor 2"),
        CheckResult("elbo", 0.0, 3, "failed", "not implemented yet")])


def make_shard(folder, index, count, students: dict, *, lab=LAB, fingerprint="f1",
               options=OPTIONS):
    for student, points in students.items():
        write_student(folder / "students" / student, student, f"hash-{student}", report(points))
    write_shard_file(folder, lab=lab, fingerprint=fingerprint, shard=(index, count),
                     students=list(students), options=options)
    return folder


def test_merge_joins_students_and_writes_the_class_files(tmp_path):
    one = make_shard(tmp_path / "one", 1, 2, {"ada": 2, "cy": 0})
    two = make_shard(tmp_path / "two", 2, 2, {"ben": 2})
    assert main(["merge", str(one), str(two), "--out", str(tmp_path / "class")]) == 0
    out = tmp_path / "class"
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert [(r["student"], r["total"]) for r in rows] == [("ada", "2"), ("ben", "2"), ("cy", "0")]
    for student, source in (("ada", one), ("ben", two), ("cy", one)):
        for name in ("results.json", "junit.xml", "grade.json"):
            assert ((out / "students" / student / name).read_text()
                    == (source / "students" / student / name).read_text())
    assert "3 submissions" in (out / "summary.md").read_text()
    assert (out / "histogram.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / SHARD_FILE).read_text())["students"] == ["ada", "ben", "cy"]


def test_a_student_graded_twice_alike_is_kept_once(tmp_path):
    one = make_shard(tmp_path / "one", 1, 1, {"ada": 2})
    again = make_shard(tmp_path / "again", 1, 1, {"ada": 2})
    assert set(merge([one, again], tmp_path / "class")) == {"ada"}


@pytest.mark.parametrize("case,words", [
    ("mixed_labs", "was graded for lab12_gan"),
    ("other_kit", "different checks, references or engine"),
    ("other_options", "--profile cpu vs gpu"),
    ("conflict", "ada is in"),
    ("missing_shard", "shard 2/3 missing"),
    ("other_count", "different numbers of slices"),
    ("empty_folder", "it is empty"),
    ("unfinished", "did not finish"),
    ("no_folder", "is not a folder"),
    ("out_is_a_shard", "is one of the shards"),
    ("lost_student", "has no students/ben/grade.json"),
])
def test_merge_refuses_with_a_clear_message(tmp_path, capsys, case, words):
    one = make_shard(tmp_path / "one", 1, 3, {"ada": 2})
    three = make_shard(tmp_path / "three", 3, 3, {"cy": 0})
    second = {"mixed_labs": dict(lab="lab12_gan"), "other_kit": dict(fingerprint="f2"),
              "other_options": dict(fingerprint="f2", options=dict(OPTIONS, profile="gpu"))}
    out = tmp_path / "class"
    folders = [one, make_shard(tmp_path / "two", 2, 3, {"ben": 2}, **second.get(case, {})), three]
    if case == "conflict":
        folders.append(make_shard(tmp_path / "again", 1, 3, {"ada": 0}))
    elif case == "missing_shard":
        folders.pop(1)
    elif case == "other_count":
        folders.append(make_shard(tmp_path / "four", 1, 4, {"dee": 0}))
    elif case == "empty_folder":
        (tmp_path / "empty").mkdir()
        folders.append(tmp_path / "empty")
    elif case == "unfinished":
        (folders[1] / SHARD_FILE).unlink()
    elif case == "no_folder":
        folders.append(tmp_path / "nowhere")
    elif case == "out_is_a_shard":
        out = one
    elif case == "lost_student":
        (folders[1] / "students" / "ben" / "grade.json").unlink()
    with pytest.raises(MergeError, match=re.escape(words)):
        merge(folders, out)
    assert main(["merge", *map(str, folders), "--out", str(out)]) == 2
    assert "cannot merge" in capsys.readouterr().out
    if case != "out_is_a_shard":
        assert not (out / "gradebook.csv").exists()
