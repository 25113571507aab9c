"""Grade one folder of one lab: run each check's probe in a worker, judge it here."""
from __future__ import annotations

import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from autograder import SOLUTIONS, references, wire
from autograder.api import Check, CheckFailed, LabSpec, load_lab
from autograder.sandbox import Limits, Worker, WorkerDied

PUBLIC_SEED = 0          # public checks: the stored references were made with it
DEFAULT_HIDDEN_SEED = 2026


class GradingError(RuntimeError):
    """The grader itself cannot grade (unknown lab, missing references...)."""


class ProbeFailed(Exception):
    def __init__(self, message: str, trace: str = ""):
        super().__init__(message)
        self.message, self.trace = message, trace


def check_seed(base: int, lab: str, name: str) -> int:
    """One seed per check, stable across runs and machines."""
    return zlib.crc32(f"{base}:{lab}:{name}".encode()) & 0x7FFFFFFF


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


@dataclass
class Report:
    lab: str
    folder: str
    results: list[CheckResult] = field(default_factory=list)
    environment: dict = field(default_factory=dict)
    seeds: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(r.points for r in self.results)

    @property
    def max_score(self) -> float:
        return sum(r.max_points for r in self.results if r.status != "skipped")

    def result(self, name: str) -> CheckResult:
        return next(r for r in self.results if r.name == name)


class Session:
    """A folder under test: a live worker (restarted after a death) and its import record."""

    def __init__(self, spec: LabSpec, folder: Path, limits: Limits):
        self.spec, self.folder, self.limits = spec, Path(folder), limits
        self.worker: Worker | None = None
        self.import_errors: dict[str, tuple[str, str]] = {}
        self.imported: set[str] = set()
        self.environment: dict = {}

    def _worker(self) -> Worker:
        if self.worker is None or not self.worker.alive:
            if self.worker is not None:
                self.worker.close()
            try:
                self.worker = Worker(self.folder, self.spec.modules, self.limits)
            except WorkerDied as death:
                self.worker = None
                raise ProbeFailed(f"the grading worker could not start: {death}") from None
            self.environment = self.worker.hello.get("hello", {})
            for module in sorted(self.imported):   # cheap: they imported before
                self._import(module)
        return self.worker

    def _import(self, module: str) -> None:
        worker = self.worker
        try:
            answer = worker.request({"op": "import", "module": module},
                                    self.limits.import_seconds, f"importing {module}.py")
        except WorkerDied as death:
            answer = {"ok": False, "error": f"importing {module}.py {death}", "trace": ""}
        if answer["ok"]:
            self.imported.add(module)
        else:
            self.import_errors[module] = (answer["error"], answer.get("trace", ""))

    def start(self) -> dict:
        """Start the worker and import every graded module once; returns the device summary."""
        try:
            self._worker()
        except ProbeFailed:
            return {}
        for module in self.spec.modules:
            if module not in self.imported and module not in self.import_errors:
                self._worker()
                self._import(module)
        return self.environment

    def probe(self, chk: Check, seed: int):
        for module in self.spec.modules_of(chk):
            if module in self.import_errors:
                message, trace = self.import_errors[module]
                raise ProbeFailed(f"cannot import {module}.py: {message}", trace)
        worker = self._worker()
        try:
            answer = worker.request({"op": "probe", "check": chk.key, "seed": seed},
                                    chk.timeout, f"running {chk.name}")
        except WorkerDied as death:
            raise ProbeFailed(f"the code under test {death}") from None
        if not answer["ok"]:
            raise ProbeFailed(answer["error"], answer.get("trace", ""))
        return wire.from_plain(answer["result"])

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None


def _judge(chk: Check, student, reference) -> tuple[str, str]:
    """(status, message) from the check's verdict; never raises."""
    try:
        chk.judge(student, reference)
    except CheckFailed as failure:
        return "failed", str(failure)
    except Exception as error:  # the output had an unexpected structure
        return "failed", ("the output could not be judged (does it return what the docstring "
                          f"says?): {type(error).__name__}: {error}")
    return "passed", ""


def grade(lab: str, folder: Path, *, hidden: bool = False, seed: int = DEFAULT_HIDDEN_SEED,
          limits: Limits = Limits(), only: list[str] | None = None,
          progress: Callable[[int, int, str], None] | None = None,
          package: str | None = None) -> Report:
    """Grade `folder` on the public checks of `lab` (and the hidden ones with `hidden`).

    `package` overrides where the lab's checks live (used by the kit's own tests).
    """
    started = time.perf_counter()
    try:
        spec = load_lab(lab, hidden=hidden, package=package)
    except LookupError as error:
        raise GradingError(str(error)) from None
    checks = [c for c in spec.checks if only is None or c.name in only]
    stored = references.load(lab) if any(c.needs_reference and not c.hidden for c in checks) else {}
    report = Report(lab=lab, folder=str(folder))
    student = Session(spec, folder, limits)
    solution = Session(spec, SOLUTIONS / lab, limits) if hidden else None
    pool = ThreadPoolExecutor(max_workers=2)
    try:
        starts = [pool.submit(student.start)]
        if solution is not None and any(c.hidden and c.needs_reference for c in checks):
            starts.append(pool.submit(solution.start))
        environment = starts[0].result()
        for other in starts[1:]:
            other.result()
        has_gpu = bool(environment.get("gpus"))
        for index, chk in enumerate(checks):
            if progress:
                progress(index, len(checks), chk.name)
            seed_base = seed if chk.hidden else PUBLIC_SEED
            chk_seed = check_seed(seed_base, lab, chk.name)
            report.seeds[chk.name] = chk_seed
            report.results.append(_run_one(chk, chk_seed, student, solution, stored, has_gpu, pool))
        if progress:
            progress(len(checks), len(checks), "")
    finally:
        student.close()
        if solution is not None:
            solution.close()
        pool.shutdown()
    report.environment = student.environment
    report.seconds = time.perf_counter() - started
    return report


def _run_one(chk: Check, seed: int, student: Session, solution: Session | None,
             stored: dict, has_gpu: bool, pool: ThreadPoolExecutor) -> CheckResult:
    result = CheckResult(name=chk.name, points=0.0, max_points=chk.points, status="failed",
                         hint=chk.hint, hidden=chk.hidden)
    if chk.requires_gpu and not has_gpu:
        result.status = "skipped"
        result.message = "needs a GPU; this machine has none (graded on GPU runners)"
        return result
    started = time.perf_counter()
    reference = None
    if chk.needs_reference and chk.hidden:
        future = pool.submit(solution.probe, chk, seed)
    try:
        output = student.probe(chk, seed)
    except ProbeFailed as failure:
        result.message, result.trace = failure.message, failure.trace
        output = failure
    if chk.needs_reference:
        if chk.hidden:
            try:
                reference = future.result()
            except ProbeFailed as failure:
                raise GradingError(f"the reference solution fails {chk.name}: {failure.message}")
        else:
            if chk.name not in stored:
                raise GradingError(f"no stored reference for {chk.name}; run "
                                   f"`python -m autograder references {student.spec.name}`")
            reference = stored[chk.name]
    if not isinstance(output, ProbeFailed):
        result.status, result.message = _judge(chk, output, reference)
        if result.status == "passed":
            result.points = chk.points
    result.seconds = time.perf_counter() - started
    return result
