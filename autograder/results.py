"""What a grading produces: one result per check, and the report of a folder. The report,
JUnit, class summary, batch and merge modules all read this model."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CheckResult:
    name: str
    points: float
    max_points: float
    status: str                 # "passed", "failed" or "skipped"
    message: str = ""
    hint: str = ""
    trace: str = ""
    seconds: float = 0.0
    hidden: bool = False
    device: str = ""            # where a GPU check ran (its seconds are the wall time)


@dataclass
class Report:
    lab: str
    folder: str
    results: list[CheckResult] = field(default_factory=list)
    environment: dict = field(default_factory=dict)
    seeds: dict = field(default_factory=dict)
    seconds: float = 0.0
    files: dict = field(default_factory=dict)   # {graded file: sha256} of the code graded

    @property
    def score(self) -> float:
        return sum(r.points for r in self.results)

    @property
    def max_score(self) -> float:
        return sum(r.max_points for r in self.results if r.status != "skipped")

    def result(self, name: str) -> CheckResult:
        return next(r for r in self.results if r.name == name)
