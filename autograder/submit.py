"""`make submit LAB=...`: the zip a student hands in.

It holds the lab's graded modules and the results.json of their last `make check`, all at the
top of the zip: the layout `python -m autograder grade` (one unzipped folder per student) and
the Gradescope bundle both accept. The results must be of the very files zipped (their
hashes are in results.json); the CLI grades again first when they are not.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

from autograder.files import replacing
from autograder.grading import graded_files


class SubmitError(RuntimeError):
    pass


def results_path(lab: str) -> Path:
    """Where `make check` keeps a lab's last results: outputs/LAB/results.json."""
    from dlkit.training import outputs_root
    return outputs_root() / lab / "results.json"


def stale_results(results: Path, folder: Path, modules: tuple[str, ...]) -> str:
    """Why results.json does not describe the graded files of folder now ("" when it does)."""
    if not results.is_file():
        return f"{results} does not exist yet"
    try:
        graded = json.loads(results.read_text())["extra_data"]["files"]
    except (ValueError, KeyError, TypeError):
        return f"{results} does not say which files it graded"
    now = graded_files(folder, modules)
    changed = sorted(name for name in set(now) | set(graded) if now.get(name) != graded.get(name))
    return f"{', '.join(changed)} changed since the last grading" if changed else ""


def write_submission(folder: Path, modules: tuple[str, ...], results: Path, out: Path) -> list[str]:
    """Zip folder's graded modules and results (as results.json); returns the names zipped."""
    missing = [f"{m}.py" for m in modules if not (folder / f"{m}.py").is_file()]
    if missing:
        raise SubmitError(f"{folder} has no {', '.join(missing)}: nothing to submit for it")
    names = [f"{m}.py" for m in modules] + ["results.json"]
    with replacing(out) as temporary, \
            zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names[:-1]:
            archive.write(folder / name, name)
        archive.write(results, "results.json")
    return names
