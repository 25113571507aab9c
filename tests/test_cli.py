"""The command-line contract instructors' scripts rely on."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from autograder import KIT_ROOT

LAB = "lab11_vae"


def run(*args):
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=KIT_ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_check_writes_gradescope_json_and_exits_zero_on_a_zero_score(tmp_path):
    out = tmp_path / "results.json"
    result = run("check", LAB, "--json", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "score 0 /" in result.stdout and "FAIL" in result.stdout
    assert "Traceback" not in result.stdout
    document = json.loads(out.read_text())
    assert document["score"] == 0 and document["execution_time"] > 0
    assert document["tests"], "no tests in results.json"
    for test in document["tests"]:
        if test["output"].startswith("SKIPPED: needs a GPU"):   # the GPU checks, here
            assert test["max_score"] == 0 and "status" not in test
            continue
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] == "failed" and "not implemented yet" in test["output"]
    assert document["extra_data"]["environment"]["tensorflow"]
    assert document["extra_data"]["seeds"]


@pytest.mark.slow
def test_verbose_shows_the_traces():
    result = run("check", LAB, "--verbose", "-k", "kl_divergence")
    assert result.returncode == 0
    assert "Traceback" in result.stdout and "NotImplementedError" in result.stdout


@pytest.mark.parametrize("args,needle", [
    (("check", "lab99_nothing"), "cannot grade"),
    (("check", LAB, "--impl", "/nonexistent/folder"), "is not a folder"),
])
def test_check_exits_nonzero_only_when_it_cannot_grade(args, needle):
    result = run(*args)
    assert result.returncode != 0 and needle in result.stdout


def test_workers_must_be_a_whole_number_of_at_least_one():
    result = run("check", LAB, "--workers", "0")
    assert result.returncode == 2 and "expected a whole number of at least 1" in result.stderr
