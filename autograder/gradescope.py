"""Build a lab's Gradescope autograder bundle: the zip of its "autograder configuration".

    python -m autograder gradescope LAB --out autograder.zip [--hidden]

At the top of the zip: setup.sh (Python 3.11 and the pinned requirements, run once when
Gradescope builds the image), run_autograder (grades each submission: gradescope_run.py),
requirements.txt, and lab_files/ when the lab folder holds data files. Then dlkit/ and the
engine with this lab's checks and stored references only. With --hidden the hidden check files ship too, with the solution's outputs on them for
the default hidden seed, computed now: the bundle never holds solution code, since student
code shares Gradescope's container and, without a jail, could read any file of it. Every
file is searched for solution lines before the zip is written, as for the student release.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path

from autograder import KIT_ROOT, LABS, SOLUTIONS, references, wire
from autograder.api import all_labs, checks_package, load_lab
from autograder.files import replacing
from autograder.gradescope_run import LAB_FILES
from autograder.grading import References, seeds_of
from autograder.release import leaks, solution_lines
from autograder.sandbox import Limits
from autograder.session import DEFAULT_HIDDEN_SEED

TEMPLATES = KIT_ROOT / "autograder" / "gradescope_files"
# The engine without any lab's checks or references (this lab's are copied on their own),
# the instructors' CI templates, or the files that make up the top of the bundle.
ENGINE_LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.pyc", "checks", "references",
                                         "ci_templates", "gradescope_files")


class BundleError(RuntimeError):
    pass


def lab_data_files(lab: str) -> list[Path]:
    """Files of the lab folder that the graded modules read (lab06's corpus.txt): an upload
    of the graded modules alone leaves them out, so the bundle brings them. Not the code,
    the handout or the notebook (.ipynb), which no check reads."""
    return sorted(p for p in (LABS / lab).iterdir()
                  if p.is_file() and p.suffix not in (".py", ".md", ".ipynb"))


def hidden_outputs(lab: str) -> dict:
    """The solution's outputs on the hidden checks for the default hidden seed, as JSON-ready
    data keyed the way grading.References caches them."""
    try:
        spec = load_lab(lab, hidden=True)
    except LookupError as error:
        raise BundleError(str(error)) from None
    refs = References(spec, Limits())
    seeds = seeds_of(spec.checks, lab, DEFAULT_HIDDEN_SEED)
    try:
        for chk in spec.checks:
            # GPU checks are skipped under the cpu profile that Gradescope grades with.
            if chk.hidden and refs.is_live(chk) and not chk.requires_gpu:
                refs.live(chk, seeds[chk.name])
    finally:
        refs.close()
    return {key: wire.to_plain(output) for key, output in refs.cache.items()}


def _stage(lab: str, staging: Path, hidden: bool) -> None:
    for name in ("setup.sh", "run_autograder"):
        text = (TEMPLATES / name).read_text()
        text = text.replace("@LAB@", lab).replace("@OPTIONS@", "--hidden" if hidden else "")
        (staging / name).write_text(text)
        (staging / name).chmod(0o755)
    shutil.copy2(KIT_ROOT / "requirements.txt", staging / "requirements.txt")
    for data in lab_data_files(lab):
        (staging / LAB_FILES).mkdir(exist_ok=True)
        shutil.copy2(data, staging / LAB_FILES / data.name)
    shutil.copytree(KIT_ROOT / "dlkit", staging / "dlkit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    engine = staging / "autograder"
    shutil.copytree(KIT_ROOT / "autograder", engine, ignore=ENGINE_LEFT_OUT)
    checks = KIT_ROOT / checks_package(lab).replace(".", "/")
    left_out = ["__pycache__", "*.pyc"] + ([] if hidden else ["hidden*.py"])
    shutil.copytree(checks, engine / "checks" / lab, ignore=shutil.ignore_patterns(*left_out))
    shutil.copy2(checks.parent / "__init__.py", engine / "checks" / "__init__.py")
    (engine / "references").mkdir()
    shutil.copy2(references.path(lab), engine / "references" / references.path(lab).name)


def _refuse_leaks(staging: Path, secret: set[str]) -> None:
    found = leaks(staging, secret)
    if not found:
        return
    advice = ("; the hidden checks ship with --hidden: make those lines differ from the "
              "solution's, or build without --hidden"
              if any("/hidden" in f for f in found) else "")
    raise BundleError("solution code would ship in the bundle, at "
                      f"{', '.join(found[:10])}{advice}; nothing was written")


def _zip(staging: Path, out: Path) -> None:
    """ZipInfo.from_file keeps each file's mode, so run_autograder stays executable."""
    with replacing(out) as temporary, \
            zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                bundle.write(path, path.relative_to(staging).as_posix())


def build(lab: str, out: Path, *, hidden: bool = False) -> list[str]:
    """Write the bundle of `lab` to the zip file `out`; returns the names at its top."""
    out = Path(out)
    if lab not in all_labs():
        raise BundleError(f"no lab {lab!r}; the labs are {', '.join(all_labs())}")
    if not (SOLUTIONS / lab).is_dir():
        raise BundleError("a bundle is built from the instructors' copy (with solutions/)")
    if out.suffix != ".zip":
        raise BundleError(f"{out} should end in .zip: Gradescope takes a zip file")
    if not out.parent.is_dir():
        raise BundleError(f"{out.parent} is not a folder: create it first")
    if references.stored_stamp(lab) != references.stamp(lab):
        raise BundleError(f"the stored references of {lab} are out of date with its solution "
                          f"or checks: run `python -m autograder references {lab}` first")
    with tempfile.TemporaryDirectory(prefix="dlkit-gradescope-") as staging:
        staging = Path(staging)
        _stage(lab, staging, hidden)
        secret = solution_lines()
        _refuse_leaks(staging, secret)   # before the solution runs, which takes a while
        if hidden:
            stored = staging / "autograder" / "references" / references.hidden_path(lab).name
            stored.write_text(json.dumps(hidden_outputs(lab), sort_keys=True) + "\n")
            _refuse_leaks(staging, secret)
        _zip(staging, out)
        return sorted(p.name for p in staging.iterdir())
