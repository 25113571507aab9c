"""Named mutants: common student mistakes written as small edits of a solution.

Each lab has a module here with `MUTANTS`, a list of `Mutant`. The kit's tests apply each
edit to a copy of the solution, grade it on the checks in `breaks` (the first is the check
written for that mistake; any others are checks that necessarily use the broken function)
and require that every one of them fails, with a message. `says`, when given, is a
regular expression the first check's message must match (case-insensitive): the message
points the student at the mistake, not only at a wrong number.
"""
from __future__ import annotations

import importlib
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str            # relative to the lab folder
    find: str            # must occur exactly once in the solution file
    replace: str
    breaks: tuple[str, ...]
    hidden: bool = False  # grade hidden checks too (when the target check is hidden)
    says: str = ""

    def apply(self, solution: Path, target: Path) -> Path:
        shutil.copytree(solution, target, ignore=shutil.ignore_patterns("__pycache__"))
        file = target / self.file
        source = file.read_text()
        count = source.count(self.find)
        if count != 1:
            raise AssertionError(f"mutant {self.name}: {self.find!r} occurs {count} times "
                                 f"in {self.file}, expected once")
        file.write_text(source.replace(self.find, self.replace))
        return target


def mutants_of(lab: str) -> list[Mutant]:
    try:
        module = importlib.import_module(f"tests.mutants.{lab}")
    except ModuleNotFoundError:
        return []
    return list(module.MUTANTS)
