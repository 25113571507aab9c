"""Grade one Gradescope submission: what a bundle's run_autograder runs.

    python -m autograder.gradescope_run LAB [--hidden]

It finds the lab's graded modules in $ROOT/submission (ROOT is DLKIT_GRADESCOPE_ROOT, by
default /autograder): at the top of the upload, inside one folder of any name, or in a copy
of the kit (labs/LAB/); other files there (results.json, notebook.py...) are ignored, and the
lab's data files the upload leaves out come from the bundle. It grades them with one worker,
started as a new process, and the cpu profile (Gradescope's default container has half a CPU
and no GPU), and writes $ROOT/results/results.json. When it cannot grade at all, the file
still says why, with a score of 0.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import traceback
from pathlib import Path

from rich.console import Console

from autograder import KIT_ROOT, jail, references
from autograder.api import load_lab
from autograder.batch import failed_everywhere, lab_folder_in
from autograder.cli import NO_ISOLATION
from autograder.files import write_atomic
from autograder.grading import grade
from autograder.report import print_report, write_json
from autograder.results import Report

ROOT_ENV = "DLKIT_GRADESCOPE_ROOT"
LAB_FILES = "lab_files"   # in the bundle: the lab folder's data files (gradescope.py)
CANNOT_GRADE = ("The autograder could not grade this submission ({error}). This is not your "
                "code's fault: tell your instructor.")


def root() -> Path:
    return Path(os.environ.get(ROOT_ENV, "/autograder"))


def find_lab_folder(upload: Path, lab: str, modules: tuple[str, ...]) -> Path | None:
    """The folder of the upload that holds the graded modules, or None."""
    found = lab_folder_in(upload, lab, modules)
    # A zip of a folder unpacks into that folder (macOS adds __MACOSX/ beside it).
    inner = [p for p in upload.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))]
    if found is None and len(inner) == 1:
        found = lab_folder_in(inner[0], lab, modules)
    return found


def add_lab_files(folder: Path, lab_files: Path) -> None:
    """Put the lab's data files that the upload left out next to its graded modules."""
    for data in sorted(lab_files.glob("*")) if lab_files.is_dir() else []:
        if not (folder / data.name).exists():
            shutil.copy2(data, folder / data.name)


def not_found_message(upload: Path, lab: str, modules: tuple[str, ...]) -> str:
    files = ", ".join(f"{m}.py" for m in modules)
    held = sorted(p.name + ("/" if p.is_dir() else "") for p in upload.iterdir())
    return (f"Found no {modules[0]}.py in your upload, so nothing was graded. Upload {files} "
            f"(from labs/{lab}/) at the top of the upload or inside one folder, or a copy of "
            f"the kit holding labs/{lab}/. Your upload holds: {', '.join(held) or 'nothing'}.")


def grade_upload(lab: str, upload: Path, hidden: bool) -> tuple[Report, str]:
    """The report and a message for the top of the results (empty when all went well)."""
    modules = load_lab(lab).modules
    folder = find_lab_folder(upload, lab, modules) if upload.is_dir() else None
    if folder is None:
        message = not_found_message(upload, lab, modules) if upload.is_dir() else \
            f"Found no upload at {upload}: nothing was graded."
        return failed_everywhere(lab, hidden, message), message
    add_lab_files(folder, KIT_ROOT / LAB_FILES)
    try:
        cache = references.load_hidden(lab) if hidden else None
        return grade(lab, folder, hidden=hidden, profile="cpu", workers=1,
                     reference_cache=cache), ""
    except Exception as error:   # the grader's own failure: each check says so
        traceback.print_exc()
        message = CANNOT_GRADE.format(error=f"{type(error).__name__}: {error}")
        return failed_everywhere(lab, hidden, message), message


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope_run")
    parser.add_argument("lab")
    parser.add_argument("--hidden", action="store_true", help="run the hidden checks too")
    args = parser.parse_args(argv)
    # One submission per container: a warm zygote saves no import, and its pages that the
    # worker writes to are copied, about 50 MB more at the peak (README.md, Gradescope).
    os.environ.setdefault("DLKIT_ZYGOTE", "off")
    results = root() / "results" / "results.json"
    try:
        report, message = grade_upload(args.lab, root() / "submission", args.hidden)
    except Exception as error:   # not even the checks could be loaded
        traceback.print_exc()
        output = CANNOT_GRADE.format(error=f"{type(error).__name__}: {error}")
        write_atomic(results, json.dumps({"score": 0, "output": output}) + "\n")
        return 1
    console = Console(highlight=False, width=160)   # the log only instructors see
    if not jail.available():
        console.print(NO_ISOLATION.format(why=" in this container"), soft_wrap=True)
    print_report(report, console)
    write_json(report, results, output=message)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
