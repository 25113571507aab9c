"""`make submit`: the zip holds the graded modules and the results of exactly those files, in
the layout the class grader reads."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile

import pytest

from autograder import KIT_ROOT, LABS
from autograder.batch import find_submissions
from autograder.submit import SubmitError, stale_results, write_submission

LAB, MODULES = "lab23_nngp_ntk", ("kernels",)


def submit(folder, outputs, out):
    return subprocess.run([sys.executable, "-m", "autograder", "submit", LAB, "--impl",
                           str(folder), "--out", str(out)], cwd=KIT_ROOT, capture_output=True,
                          text=True, timeout=300, env={"PATH": "/usr/bin:/bin",
                                                       "DLKIT_OUTPUT_DIR": str(outputs)})


def results_of(tmp_path, files):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"score": 0, "extra_data": {"files": files}}))
    return results


def test_results_are_stale_unless_they_name_the_very_files(tmp_path):
    folder = tmp_path / "work"
    shutil.copytree(LABS / LAB, folder)
    assert "does not exist" in stale_results(tmp_path / "none.json", folder, MODULES)
    (tmp_path / "old.json").write_text('{"score": 3}')
    assert "does not say" in stale_results(tmp_path / "old.json", folder, MODULES)
    from autograder.grading import graded_files
    results = results_of(tmp_path, graded_files(folder, MODULES))
    assert stale_results(results, folder, MODULES) == ""
    with (folder / "kernels.py").open("a") as module:
        module.write("# edited\n")
    assert stale_results(results, folder, MODULES) == "kernels.py changed since the last grading"


def test_a_folder_without_a_graded_module_is_refused(tmp_path):
    with pytest.raises(SubmitError, match="has no kernels.py"):
        write_submission(tmp_path, MODULES, results_of(tmp_path, {}), tmp_path / "s.zip")
    assert not (tmp_path / "s.zip").exists()


@pytest.mark.slow
def test_submit_grades_when_needed_and_zips_what_the_class_grader_reads(tmp_path):
    folder, outputs, out = tmp_path / "work", tmp_path / "outputs", tmp_path / "s.zip"
    shutil.copytree(LABS / LAB, folder)
    first = submit(folder, outputs, out)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "does not exist yet: grading" in first.stdout and "score 0 / 18" in first.stdout
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["kernels.py", "results.json"]
        archive.extractall(tmp_path / "class" / "alice")
    kept = json.loads((outputs / LAB / "results.json").read_text())
    assert json.loads((tmp_path / "class" / "alice" / "results.json").read_text()) == kept
    assert (tmp_path / "class" / "alice" / "kernels.py").read_bytes() == \
        (folder / "kernels.py").read_bytes()
    [found] = find_submissions(tmp_path / "class", LAB, MODULES)
    assert found.folder == tmp_path / "class" / "alice"

    again = submit(folder, outputs, out)    # nothing changed: no grading
    assert again.returncode == 0 and "grading" not in again.stdout, again.stdout
