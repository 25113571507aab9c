"""Build the student release: the folder students receive.

It holds dlkit, the lab skeletons, the engine with every lab's public checks and stored
reference outputs, the README and what `make` needs. It leaves out the reference solutions,
the hidden checks, the kit's own tests and the instructors' CI templates. Before writing
anything it makes sure labs/ is in sync with solutions/, and after copying it searches
every file for code from a solution region: a leak fails the release.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from autograder import KIT_ROOT, SOLUTIONS
from autograder.assign import BEGIN, differences, region_lines

SHIPPED = ("README.md", "Makefile", "pyproject.toml", "requirements.in", "requirements.txt",
           "requirements-notebook.in", "requirements-notebook.txt", ".gitignore", "dlkit",
           "labs", "autograder")
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "hidden*.py",
                                  "ci_templates", ".ipynb_checkpoints")
# Shorter lines ("return x", "else:") are too common to say anything about a leak.
SECRET_MIN_CHARS = 24


class ReleaseError(RuntimeError):
    pass


def solution_lines(solutions: Path = SOLUTIONS, skeletons: Path = KIT_ROOT / "labs") -> set[str]:
    """Lines of solution regions that a student must not see.

    Every stripped, non-comment line of at least SECRET_MIN_CHARS characters inside a region
    of one lab, unless the skeletons show it anyway. A line found in the regions of several
    labs is an idiom of the libraries (`return self.trackers.results()`), not an answer.
    """
    public = set()
    for path in skeletons.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".md"):
            public.update(line.strip() for line in path.read_text().splitlines())
    labs_of: dict[str, set[str]] = {}
    for path in solutions.rglob("*.py"):
        lab = path.relative_to(solutions).parts[0]
        for line in map(str.strip, region_lines(path.read_text())):
            if len(line) >= SECRET_MIN_CHARS and not line.startswith("#") and line not in public:
                labs_of.setdefault(line, set()).add(lab)
    return {line for line, labs in labs_of.items() if len(labs) == 1}


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


def release(out: Path) -> list[str]:
    """Write the student release to `out` (new or empty); returns the top-level entries."""
    out = Path(out)
    if not SOLUTIONS.is_dir():
        raise ReleaseError("a release is built from the instructors' copy (with solutions/)")
    if out.exists() and any(out.iterdir()):
        raise ReleaseError(f"{out} is not empty: choose a new folder")
    if out.resolve().is_relative_to(KIT_ROOT):
        raise ReleaseError(f"{out} is inside the kit: choose a folder outside it")
    stale = differences()
    if stale:
        raise ReleaseError("labs/ is out of date with solutions/ (run `python -m autograder "
                           f"assign`): {', '.join(stale[:5])}")
    out.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED:
        source = KIT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=LEFT_OUT)
        elif source.exists():
            shutil.copy2(source, out / name)
    found = leaks(out, solution_lines())
    if found:
        shutil.rmtree(out)
        raise ReleaseError("solution code would ship in the release, at "
                           f"{', '.join(found[:10])}; nothing was written")
    return sorted(p.name for p in out.iterdir())
