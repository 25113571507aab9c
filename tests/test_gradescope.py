"""The Gradescope bundle: what the zip holds, and its run_autograder on the uploads students
make, in a scratch root laid out like Gradescope's /autograder."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from autograder import KIT_ROOT, LABS, SOLUTIONS
from autograder.gradescope import BundleError, build
from autograder.gradescope_run import add_lab_files, find_lab_folder
from autograder.release import leaks, solution_lines

LAB = "lab02_autodiff"   # its solution grades fastest with one worker
MODULES = ("reverse", "forward", "jacobians")
pytestmark = pytest.mark.xdist_group("gradescope")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    build(LAB, out, hidden=True)
    return out


def unpack(bundle: Path, root: Path) -> None:
    """Unzip into root/source as Gradescope does, keeping each file's mode."""
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            path = Path(archive.extract(info, root / "source"))
            path.chmod(info.external_attr >> 16 or 0o644)
    (root / "submission").mkdir()
    (root / "results").mkdir()


def run_autograder(root: Path, python: str = sys.executable) -> dict:
    # The kit's .venv python stands in for the venv that setup.sh makes.
    env = dict(os.environ, DLKIT_GRADESCOPE_ROOT=str(root), DLKIT_GRADESCOPE_PYTHON=python)
    subprocess.run([str(root / "run_autograder")], env=env, capture_output=True,
                   timeout=300, check=False)
    return json.loads((root / "results" / "results.json").read_text())


def upload_solution(submission: Path) -> None:
    """What `make submit` zips: the graded modules and results.json at the top, and extras."""
    for module in MODULES:
        shutil.copy2(SOLUTIONS / LAB / f"{module}.py", submission)
    (submission / "notebook.py").write_text("print('explored')\n")
    (submission / "results.json").write_text('{"score": 1000}\n')


def upload_skeleton(submission: Path) -> None:
    shutil.copytree(LABS / LAB, submission / "my lab 02")


def upload_syntax_error(submission: Path) -> None:
    """A copy of the kit whose reverse.py does not parse, on its last line."""
    folder = submission / "labs" / LAB
    shutil.copytree(LABS / LAB, folder)
    with (folder / "reverse.py").open("a") as module:
        module.write("def broken(:\n")


def upload_no_module(submission: Path) -> None:
    (submission / "answers.txt").write_text("see attached\n")
    (submission / "report").mkdir()
    (submission / "report" / "notes.md").write_text("no code\n")


UPLOADS = {"solution": upload_solution, "skeleton": upload_skeleton,
           "syntax_error": upload_syntax_error, "no_module": upload_no_module}


@pytest.fixture(scope="module")
def graded(bundle, tmp_path_factory) -> dict[str, dict]:
    """Every upload graded by the bundle's run_autograder, all at once."""
    roots = {}
    for name, make_upload in UPLOADS.items():
        roots[name] = tmp_path_factory.mktemp(f"gradescope-{name}")
        unpack(bundle, roots[name])
        make_upload(roots[name] / "submission")
        # Gradescope runs its copy at /autograder/run_autograder, outside source/.
        shutil.copy2(roots[name] / "source" / "run_autograder", roots[name] / "run_autograder")
    with ThreadPoolExecutor(len(roots)) as pool:
        return dict(zip(roots, pool.map(run_autograder, roots.values())))


def checks_of(results: dict) -> dict[str, dict]:
    return {t["name"]: t for t in results["tests"]}


def test_the_zip_holds_this_labs_grading_and_no_solution(bundle, tmp_path):
    names = zipfile.ZipFile(bundle).namelist()
    assert {"setup.sh", "run_autograder", "requirements.txt"} <= set(names)
    tops = {n.split("/")[0] for n in names}
    assert tops == {"setup.sh", "run_autograder", "requirements.txt", "autograder", "dlkit"}
    labs = {n.split("/")[2] for n in names if n.startswith("autograder/checks/lab")}
    assert labs == {LAB}
    assert sorted(n for n in names if n.startswith("autograder/references/")) == [
        f"autograder/references/{LAB}.hidden.json", f"autograder/references/{LAB}.json"]
    assert f"autograder/checks/{LAB}/hidden.py" in names
    assert not [n for n in names if "ci_templates" in n or "gradescope_files" in n]
    unpack(bundle, tmp_path)
    assert leaks(tmp_path, solution_lines()) == []


def test_setup_installs_python_311_and_the_pinned_requirements(bundle):
    setup = zipfile.ZipFile(bundle).read("setup.sh").decode()
    assert "apt-get install -y --no-install-recommends python3.11 python3.11-venv" in setup
    assert '-r "$ROOT/source/requirements.txt"' in setup
    assert zipfile.ZipFile(bundle).getinfo("run_autograder").external_attr >> 16 & 0o111


def test_the_solution_at_the_top_scores_full_marks_hidden_checks_included(graded):
    results = graded["solution"]
    assert results["score"] == results["extra_data"]["max_score"] > 0
    assert "output" not in results and results["extra_data"]["skipped"] == []
    tests = checks_of(results)
    hidden = [t for t in tests.values() if t["visibility"] == "after_published"]
    assert len(hidden) >= 5, "the hidden checks did not run"
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] > 0 for t in hidden)
    assert results["extra_data"]["environment"]["profile"] == "cpu"


def test_the_skeleton_inside_a_folder_fails_every_check_as_not_implemented(graded):
    results = graded["skeleton"]
    assert results["score"] == 0 and results["extra_data"]["folder"].endswith("my lab 02")
    assert all(t["status"] == "failed" and "not implemented yet" in t["output"]
               for t in results["tests"])


def test_a_syntax_error_in_a_kit_copy_names_the_file_and_line(graded):
    results = graded["syntax_error"]
    assert results["score"] == 0
    last = len((LABS / LAB / "reverse.py").read_text().splitlines()) + 1
    tests = checks_of(results)
    says = f"cannot import reverse.py: reverse.py:{last}: SyntaxError"
    assert says in tests["backward"]["output"]
    assert all(t["status"] == "failed" for t in tests.values())


def test_an_upload_without_the_graded_modules_scores_zero_and_says_what_was_expected(graded):
    results = graded["no_module"]
    assert results["score"] == 0
    message = results["output"]
    assert "Found no reverse.py" in message and "reverse.py, forward.py, jacobians.py" in message
    assert "answers.txt, report/" in message
    assert all(t["output"].startswith(message) for t in results["tests"])


def test_an_interpreter_that_cannot_start_still_leaves_a_results_file(bundle, tmp_path):
    unpack(bundle, tmp_path)
    shutil.copy2(tmp_path / "source" / "run_autograder", tmp_path / "run_autograder")
    results = run_autograder(tmp_path, python=str(tmp_path / "no-such-python"))
    assert results["score"] == 0 and "stopped before writing its results" in results["output"]


def test_a_grader_error_scores_zero_and_each_check_says_so(bundle, tmp_path):
    unpack(bundle, tmp_path)
    shutil.copy2(tmp_path / "source" / "run_autograder", tmp_path / "run_autograder")
    (tmp_path / "source" / "autograder" / "references" / f"{LAB}.hidden.json").write_text("{")
    upload_solution(tmp_path / "submission")
    results = run_autograder(tmp_path)
    assert results["score"] == 0 and "could not grade this submission" in results["output"]
    assert "JSONDecodeError" in results["output"]
    assert all(t["output"].startswith(results["output"]) for t in results["tests"])


@pytest.mark.parametrize("layout,found", [
    ("reverse.py", "."),
    ("work/reverse.py", "work"),
    ("__MACOSX/x/._reverse.py|work/reverse.py", "work"),
    (f"dlkit-student/labs/{LAB}/reverse.py", f"dlkit-student/labs/{LAB}"),
    (f"labs/{LAB}/forward.py", f"labs/{LAB}"),
    ("a/reverse.py|b/reverse.py", None),      # two folders: which one?
    ("deep/er/reverse.py", None),
])
def test_the_layouts_students_upload(tmp_path, layout, found):
    for file in layout.split("|"):
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / file).write_text("")
    folder = find_lab_folder(tmp_path, LAB, MODULES)
    assert folder == (None if found is None else tmp_path / found)


@pytest.mark.parametrize("lab,out,says", [
    ("lab99_nothing", "a.zip", "no lab 'lab99_nothing'"),
    (LAB, "a.tar", "should end in .zip"),
    (LAB, "missing/a.zip", "is not a folder"),
])
def test_build_refuses_with_a_reason(tmp_path, lab, out, says):
    with pytest.raises(BundleError, match=says):
        build(lab, tmp_path / out)
    assert not list(tmp_path.iterdir())


def test_a_labs_data_files_ship_and_fill_in_what_the_upload_left_out(tmp_path):
    build("lab06_rnn", tmp_path / "autograder.zip")
    assert "lab_files/corpus.txt" in zipfile.ZipFile(tmp_path / "autograder.zip").namelist()
    lab_files, upload = tmp_path / "lab_files", tmp_path / "upload"
    lab_files.mkdir()
    upload.mkdir()
    (lab_files / "corpus.txt").write_text("the lab's text")
    (lab_files / "mine.txt").write_text("the lab's")
    (upload / "mine.txt").write_text("the student's own")
    add_lab_files(upload, lab_files)
    assert (upload / "corpus.txt").read_text() == "the lab's text"
    assert (upload / "mine.txt").read_text() == "the student's own"


def test_every_labs_checks_hidden_ones_included_hold_no_solution_lines():
    """`gradescope LAB --hidden` ships the hidden checks into a container where student code
    runs (and may read them without a jail): none may hold a line of any lab's answers."""
    assert leaks(KIT_ROOT / "autograder" / "checks", solution_lines()) == []
