"""Grade one folder of one lab: run each check's probe in a worker, judge it here."""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from autograder import SOLUTIONS, gpu, profiles, references, zygote
from autograder import jail as jails
from autograder.api import Check, CheckFailed, LabSpec, load_lab
from autograder.results import CheckResult, Report
from autograder.sandbox import Limits
from autograder.session import (
    DEFAULT_HIDDEN_SEED,
    PUBLIC_SEED,
    GradingError,
    ProbeFailed,
    Session,
    check_seed,
)


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


class References:
    """Where each check's reference output comes from: the stored file for public checks, the
    solution run live on the same inputs for hidden and GPU ones. Live outputs are cached by
    (check, seed), so a whole class can share one run of the solution."""

    def __init__(self, spec: LabSpec, limits: Limits, cache: dict | None = None):
        self.spec, self.limits = spec, limits
        self.gpu: dict | None = None   # GPU checks' settings: from the profile, once a worker is up
        self.cache = {} if cache is None else cache
        self._stored: dict | None = None
        self._solution: Session | None = None
        self._lock = threading.RLock()  # one solution worker, asked by several check threads

    def stored(self, chk: Check):
        with self._lock:
            if self._stored is None:
                self._stored = references.load(self.spec.name)
        if chk.name not in self._stored:
            raise GradingError(f"no stored reference for {chk.name}; run "
                               f"`python -m autograder references {self.spec.name}`")
        return self._stored[chk.name]

    def _session(self) -> Session:
        with self._lock:
            if self._solution is None:
                self._solution = Session(self.spec, SOLUTIONS / self.spec.name, self.limits)
            return self._solution

    @property
    def has_solution(self) -> bool:
        return (SOLUTIONS / self.spec.name).is_dir()

    @staticmethod
    def is_live(chk: Check) -> bool:
        return chk.needs_reference and (chk.hidden or chk.requires_gpu)

    def warm_up(self, checks: list[Check], seeds: dict[str, int]) -> None:
        """Start the solution's worker early when some hidden reference is not cached yet."""
        # GPU checks are left out: whether they run is known once the student's worker is up.
        if self.has_solution and any(self.is_live(c) and not c.requires_gpu
                                     and not self.cached(c, seeds[c.name]) for c in checks):
            with self._lock:
                self._session().start()

    def _key(self, chk: Check, seed: int) -> str:
        if not chk.requires_gpu:
            return f"{chk.name}:{seed}"
        return f"{chk.name}:{seed}:" + ",".join(f"{k}={v}" for k, v in sorted(self.gpu.items()))

    def cached(self, chk: Check, seed: int) -> bool:
        return self._key(chk, seed) in self.cache

    def remember(self, chk: Check, seed: int, output) -> None:
        """The solution's output, when the folder graded is the solution itself."""
        with self._lock:
            self.cache.setdefault(self._key(chk, seed), output)

    def live(self, chk: Check, seed: int):
        key = self._key(chk, seed)
        with self._lock:
            if key not in self.cache:
                try:
                    self.cache[key] = self._session().probe(chk, seed, self.gpu)
                except ProbeFailed as failure:
                    raise GradingError(f"the reference solution fails {chk.name}: "
                                       f"{failure.message}") from None
            return self.cache[key]

    def get(self, chk: Check, seed: int):
        if not chk.needs_reference:
            return None
        return self.live(chk, seed) if self.is_live(chk) else self.stored(chk)

    def close(self) -> None:
        with self._lock:
            if self._solution is not None:
                self._solution.close()


def graded_files(folder: Path, modules: tuple[str, ...]) -> dict[str, str]:
    """{file name: sha256} of the graded modules present in folder: which code a report is of."""
    files = {f"{m}.py": folder / f"{m}.py" for m in modules}
    return {name: hashlib.sha256(path.read_bytes()).hexdigest()
            for name, path in files.items() if path.is_file()}


def seeds_of(checks: list[Check], lab: str, seed: int) -> dict[str, int]:
    """Public checks always use the seed their stored references were made with."""
    return {c.name: check_seed(seed if c.hidden else PUBLIC_SEED, lab, c.name) for c in checks}


def _profile_for(requested: str, environment: dict) -> profiles.Profile:
    try:
        return profiles.select(requested, environment.get("gpus", []))
    except profiles.ProfileError as error:
        raise GradingError(str(error)) from None


def grade(lab: str, folder: Path, *, hidden: bool = False, seed: int = DEFAULT_HIDDEN_SEED,
          limits: Limits = Limits(), only: list[str] | None = None,
          progress: Callable[[int, int, str], None] | None = None,
          package: str | None = None, reference_cache: dict | None = None,
          isolate: bool | None = None, hide: tuple[Path, ...] = (),
          profile: str = "auto", workers: int = 1,
          slots: threading.Semaphore | None = None,
          shared_references: References | None = None) -> Report:
    """Grade `folder` on the public checks of `lab` (and the hidden ones with `hidden`).

    `package` overrides where the lab's checks live (used by the kit's own tests);
    `reference_cache` shares the solution's hidden outputs between gradings, and
    `shared_references` the solution's worker too (the caller closes it). `isolate`
    jails the code under test (default: whenever this machine allows it, see jail.py),
    hiding the folders in `hide` from it as well as the kit and the grader's home.
    `profile` is auto, cpu or gpu (see profiles.py). `workers` > 1 spreads the checks over
    that many workers for the same folder (each probe still runs alone in a worker, on its
    own seed, so the results do not change); `slots`, shared by the gradings of a class,
    caps how many probes run at once.
    """
    started = time.perf_counter()
    try:
        spec = load_lab(lab, hidden=hidden, package=package)
    except LookupError as error:
        raise GradingError(str(error)) from None
    checks = [c for c in spec.checks if only is None or c.name in only]
    seeds = seeds_of(checks, lab, seed)
    report = Report(lab=lab, folder=str(folder), seeds=seeds,
                    files=graded_files(Path(folder), spec.modules))
    isolate = jails.available() if isolate is None else isolate
    if not zygote.enabled():
        workers = 1  # spreading pays only when a worker is a fork, not a TensorFlow import
    new_session = lambda: Session(spec, folder, limits, isolate=isolate, hide=hide)  # noqa: E731
    sessions = [new_session()]
    refs = shared_references or References(spec, limits, reference_cache)
    references_pool = ThreadPoolExecutor(max_workers=1 + workers)
    try:
        # Graded, the solution is its own reference: each live probe runs once, not twice.
        is_solution = package is None and Path(folder).resolve() == (SOLUTIONS / lab).resolve()
        warming = references_pool.submit(refs.warm_up, [] if is_solution else checks, seeds)
        environment = sessions[0].start()
        warming.result()
        chosen = _profile_for(profile, environment)
        refs.gpu = chosen.gpu_settings()
        sessions[0].environment.update(profile=chosen.name)
        if chosen.runs_gpu_checks:
            sessions[0].environment.update(gpu_checks=refs.gpu)
        # A folder whose modules do not import gains nothing from more workers.
        if not sessions[0].import_errors:
            sessions += [new_session() for _ in range(min(workers, len(checks)) - 1)]
        report.results = _run_checks(checks, seeds, sessions, refs, chosen, references_pool,
                                     progress, slots, is_solution)
        if progress:
            progress(len(checks), len(checks), "")
    finally:
        for session in sessions:
            session.close()
        if shared_references is None:
            refs.close()
        references_pool.shutdown()
    report.environment = sessions[0].environment
    report.seconds = time.perf_counter() - started
    return report


def _run_checks(checks: list[Check], seeds: dict[str, int], sessions: list[Session],
                refs: References, profile: profiles.Profile, references_pool: ThreadPoolExecutor,
                progress: Callable[[int, int, str], None] | None,
                slots: threading.Semaphore | None, is_solution: bool = False) -> list[CheckResult]:
    """Each session takes the next check not yet taken, so a slow check does not hold up
    the others; the results keep the checks' order."""
    results: list[CheckResult | None] = [None] * len(checks)
    order, lock = itertools.count(), threading.Lock()

    def work(session: Session) -> None:
        if session is not sessions[0]:
            session.start()
        while True:
            with lock:
                index = next(order)
                if index < len(checks) and progress:
                    progress(index, len(checks), checks[index].name)
            if index >= len(checks):
                return
            chk = checks[index]
            with slots if slots is not None else contextlib.nullcontext():
                results[index] = _run_one(chk, seeds[chk.name], session, refs, profile,
                                          references_pool, is_solution)

    with ThreadPoolExecutor(max_workers=len(sessions)) as runners:
        for future in [runners.submit(work, s) for s in sessions]:
            future.result()
    return results


def _run_one(chk: Check, seed: int, student: Session, refs: References,
             profile: profiles.Profile, pool: ThreadPoolExecutor,
             is_solution: bool = False) -> CheckResult:
    result = CheckResult(name=chk.name, points=0.0, max_points=chk.points, status="failed",
                         hint=chk.hint, hidden=chk.hidden)
    if chk.requires_gpu and not profile.runs_gpu_checks:
        result.status = "skipped"
        result.message = ("needs a GPU; this machine has none (graded on GPU runners)"
                          if not student.environment.get("gpus") else
                          "a GPU check, and this grading uses the cpu profile")
        return result
    if chk.requires_gpu and (missing := gpu.missing_datasets(chk.datasets)):
        result.status, result.message = "skipped", gpu.skip_message(missing)
        return result
    # A Gradescope bundle has no solution, only its outputs for the default hidden seed.
    if refs.is_live(chk) and not refs.cached(chk, seed) and not refs.has_solution:
        result.status = "skipped"
        result.message = ("its reference is computed from the solution, which this copy of "
                          "the kit does not have (graded on the instructors' runners)")
        return result
    started = time.perf_counter()
    own = is_solution and refs.is_live(chk) and not refs.cached(chk, seed)
    # The solution runs while the student does, unless the student is the solution.
    reference = None if own else pool.submit(refs.get, chk, seed)
    try:
        output = student.probe(chk, seed, refs.gpu)
    except ProbeFailed as failure:
        result.message, result.trace = failure.message, failure.trace
    else:
        if own:
            refs.remember(chk, seed, output)
        result.status, result.message = _judge(chk, output, output if own else reference.result())
        if result.status == "passed":
            result.points = chk.points
    if reference is not None:
        reference.result()  # a missing or failing reference is the grader's error, not the student's
    result.seconds = time.perf_counter() - started
    if chk.requires_gpu:
        result.device = student.environment.get("device", "")
        ran = f"GPU check: {result.seconds:.1f} s on {result.device or 'an unknown device'}"
        result.message = f"{result.message}\n{ran}" if result.message else ran
    return result
