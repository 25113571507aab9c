"""Build the student release: the folder students receive.

It holds dlkit, the lab skeletons, the engine with every lab's public checks and stored
reference outputs, the README and what `make` needs. It leaves out the reference solutions,
the hidden checks, the kit's own tests and the instructors' CI templates. Before writing
anything it makes sure labs/ is in sync with solutions/, and after copying it searches
every file for any lab's answers (lines of its solution regions): a leak fails the release.
`labs` releases some labs only, e.g. one more each week of the course.
"""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import NamedTuple

from autograder import KIT_ROOT, LABS, SOLUTIONS
from autograder.assign import BEGIN, differences, region_lines
from autograder.idioms import IDIOMS

SHIPPED = ("README.md", "Makefile", "pyproject.toml", "requirements.in", "requirements.txt",
           "requirements-notebook.in", "requirements-notebook.txt", ".gitignore", "dlkit",
           "labs", "autograder")
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "hidden*.py",
                                  "ci_templates", ".ipynb_checkpoints")
# Shorter lines ("return x", "else:") are too common to say anything about a leak.
SECRET_MIN_CHARS = 24


class ReleaseError(RuntimeError):
    pass


def _text_lines(folder: Path) -> set[str]:
    """The stripped lines of every text file under folder (none when it does not exist)."""
    lines = set()
    for path in folder.rglob("*"):
        try:
            lines.update(map(str.strip, path.read_text().splitlines()))
        except (IsADirectoryError, UnicodeDecodeError, PermissionError):
            continue  # folders, and binary files (PNG references, ...)
    return lines


def answers_by_lab(solutions: Path = SOLUTIONS, skeletons: Path = LABS,
                   idioms: frozenset[str] = IDIOMS) -> dict[str, set[str]]:
    """{lab: its answers}: the lines its students must write, which nothing may show them.

    Every stripped, non-comment line of at least SECRET_MIN_CHARS characters inside a region
    of the lab, unless the lab's own skeleton (any file under skeletons/LAB) shows it anyway.
    A line in the regions of several labs is left out: two labs asking for it make it an
    idiom of the libraries (`return self.trackers.results()`), not one lab's answer. So are
    the one-lab `idioms` (by default those listed, with the reasons, in idioms.py).
    """
    regions: dict[str, set[str]] = {}
    for path in sorted(solutions.rglob("*.py")):
        lab = path.relative_to(solutions).parts[0]
        regions.setdefault(lab, set()).update(
            line for line in map(str.strip, region_lines(path.read_text()))
            if len(line) >= SECRET_MIN_CHARS and not line.startswith("#"))
    labs_asking = Counter(line for lines in regions.values() for line in lines)
    return {lab: {line for line in lines if labs_asking[line] == 1 and line not in idioms}
            - _text_lines(skeletons / lab)
            for lab, lines in regions.items()}


def solution_lines(solutions: Path = SOLUTIONS, skeletons: Path = LABS) -> set[str]:
    """Every lab's answers (see answers_by_lab): no release may hold any of them, whichever
    labs it ships, since a lab released later must not give away an earlier lab's answers,
    nor a lab released now a later one's."""
    return set().union(*answers_by_lab(solutions, skeletons).values())


class CrossLabLeak(NamedTuple):
    answer_of: str   # the lab whose students must write the line
    skeleton: str    # the lab whose skeleton shows it
    where: str       # file:line under skeletons/<skeleton>


def cross_lab_leaks(solutions: Path = SOLUTIONS, skeletons: Path = LABS) -> list[CrossLabLeak]:
    """Every line of a lab's skeleton (any file under skeletons/B) that is another lab's
    answer, for every ordered pair of labs (A, B) with B a folder under skeletons. A solution
    marker left in B's skeleton counts as B's own answer."""
    answers = answers_by_lab(solutions, skeletons)
    # Each answer has one lab: a line that several labs ask for is not an answer.
    answer_of = {line: lab for lab, lines in answers.items() for line in lines}
    found = []
    for skeleton in sorted(p.name for p in skeletons.iterdir() if p.is_dir()):
        others = set(answer_of) - answers.get(skeleton, set())
        for where in leaks(skeletons / skeleton, others):
            file, number = where.rsplit(":", 1)
            line = (skeletons / skeleton / file).read_text().splitlines()[int(number) - 1]
            found.append(CrossLabLeak(answer_of.get(line.strip(), skeleton), skeleton, where))
    return found


def leaks(folder: Path, secret: set[str]) -> list[str]:
    """'file:line' of every solution line (or marker) found in a text file under folder."""
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, PermissionError):
            continue  # binary files (PNG references, ...) hold no source lines
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip() in secret or BEGIN.match(line):
                found.append(f"{path.relative_to(folder)}:{number}")
    return found


def _leave_out_other_labs(released: set[str]):
    """A copytree `ignore` that also drops, from labs/, autograder/checks/ and
    autograder/references/, every lab not in `released`."""
    lab_folders = {LABS, KIT_ROOT / "autograder" / "checks"}

    def ignore(folder: str, names: list[str]) -> set[str]:
        ignored = set(LEFT_OUT(folder, names))
        if Path(folder) in lab_folders:
            ignored |= {n for n in names if n.startswith("lab") and n not in released}
        elif Path(folder) == KIT_ROOT / "autograder" / "references":
            ignored |= {n for n in names if n.removesuffix(".json") not in released}
        return ignored
    return ignore


def release(out: Path, labs: list[str] | None = None) -> list[str]:
    """Write the student release to `out` (new or empty), with the labs named in `labs`
    (default: every lab); returns the top-level entries."""
    from autograder.api import all_labs
    out = Path(out)
    if not SOLUTIONS.is_dir():
        raise ReleaseError("a release is built from the instructors' copy (with solutions/)")
    unknown = [lab for lab in labs or [] if lab not in all_labs()]
    if unknown:
        raise ReleaseError(f"unknown lab {', '.join(unknown)}: the labs are "
                           f"{', '.join(all_labs())}")
    if out.exists() and any(out.iterdir()):
        raise ReleaseError(f"{out} is not empty: choose a new folder")
    if out.resolve().is_relative_to(KIT_ROOT):
        raise ReleaseError(f"{out} is inside the kit: choose a folder outside it")
    stale = differences()
    if stale:
        raise ReleaseError("labs/ is out of date with solutions/ (run `python -m autograder "
                           f"assign`): {', '.join(stale[:5])}")
    out.mkdir(parents=True, exist_ok=True)
    ignore = _leave_out_other_labs(set(labs or all_labs()))
    for name in SHIPPED:
        source = KIT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, out / name)
    found = leaks(out, solution_lines())
    if found:
        shutil.rmtree(out)
        raise ReleaseError("solution code would ship in the release, at "
                           f"{', '.join(found[:10])}; nothing was written")
    return sorted(p.name for p in out.iterdir())
