"""Grade a whole class: one folder per student, unattended, resumable, in parallel.

    python -m autograder grade SUBMISSIONS --lab LAB --out DIR [--hidden] [--jobs N] [--shard K/N]

Per student, DIR/students/NAME/ gets results.json (Gradescope), junit.xml and grade.json
(what resuming reads). The class gets gradebook.csv, summary.md and histogram.png, and
shard.json (what `merge` checks). A student whose files and grading setup hash to what
grade.json recorded is not graded again, so a run that was killed halfway picks up where it
stopped; every file is written atomically. With --shard K/N only the K-th of N slices of the
class is graded (shards.py); a student whose code killed the grader is scored 0 (inflight.py).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from autograder import KIT_ROOT, inflight
from autograder.api import checks_package, load_lab
from autograder.files import write_atomic
from autograder.grading import References, grade
from autograder.inflight import STOPPED_MESSAGE
from autograder.junit import junit_xml
from autograder.report import write_json
from autograder.results import CheckResult, Report
from autograder.sandbox import Limits
from autograder.session import DEFAULT_HIDDEN_SEED
from autograder.shards import shard_of, write_shard_file
from autograder.summary import write_class_files

SKIP_PARTS = {"__pycache__", ".git", ".ipynb_checkpoints"}


@dataclass
class Submission:
    student: str
    folder: Path | None      # the lab folder to grade; None when none was found
    problem: str = ""


def lab_folder_in(entry: Path, lab: str, modules: tuple[str, ...]) -> Path | None:
    """The folder of `entry` that holds the lab's graded modules: `entry` itself (a copy of
    the lab folder), `entry/labs/LAB` (a copy of the kit) or `entry/LAB`; None if none does."""
    layouts = [entry, entry / "labs" / lab, entry / lab]
    return next((f for f in layouts if any((f / f"{m}.py").exists() for m in modules)), None)


def find_submissions(root: Path, lab: str, modules: tuple[str, ...]) -> list[Submission]:
    """One per sub-folder of `root`: a copy of the lab folder, or of the whole kit."""
    found = []
    for entry in sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith(".")):
        folder = lab_folder_in(entry, lab, modules)
        problem = "" if folder else (f"found no {modules[0]}.py in {entry.name}/ (expected a copy "
                                     f"of the lab folder, or of the kit with labs/{lab}/)")
        found.append(Submission(entry.name, folder, problem))
    return found


def _hash_tree(digest, folder: Path, base: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not SKIP_PARTS.intersection(path.parts):
            digest.update(path.relative_to(base).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")


def grading_fingerprint(lab: str, hidden: bool, seed: int, profile: str = "auto") -> str:
    """What else a grade depends on: the checks, the references, the engine, dlkit and the
    options."""
    digest = hashlib.sha256(f"{lab}|hidden={hidden}|seed={seed}|profile={profile}".encode())
    _hash_tree(digest, KIT_ROOT / checks_package(lab).replace(".", "/"), KIT_ROOT)
    for engine_file in sorted((KIT_ROOT / "autograder").glob("*.py")):
        digest.update(engine_file.read_bytes())
    _hash_tree(digest, KIT_ROOT / "dlkit", KIT_ROOT)   # the probes run it too
    references = KIT_ROOT / "autograder" / "references" / f"{lab}.json"
    if references.exists():
        digest.update(references.read_bytes())
    return digest.hexdigest()


def submission_hash(submission: Submission, fingerprint: str) -> str:
    digest = hashlib.sha256(fingerprint.encode())
    if submission.folder is not None:
        _hash_tree(digest, submission.folder, submission.folder)
    return digest.hexdigest()


def report_to_dict(report: Report) -> dict:
    return dataclasses.asdict(report)


def report_from_dict(data: dict) -> Report:
    results = [CheckResult(**r) for r in data.pop("results")]
    return Report(**data, results=results)


def failed_everywhere(lab: str, hidden: bool, message: str) -> Report:
    """Every check failed with the same message, for a student whose code was not run."""
    report = Report(lab=lab, folder="")
    for chk in load_lab(lab, hidden=hidden).checks:
        report.results.append(CheckResult(chk.name, 0.0, chk.points, "failed",
                                          message, chk.hint, hidden=chk.hidden))
    return report


def write_student(folder: Path, student: str, digest: str, report: Report) -> None:
    """The student's three files; grade.json last: a student without it is graded again."""
    write_json(report, folder / "results.json")
    write_atomic(folder / "junit.xml", junit_xml(report, student))
    write_atomic(folder / "grade.json", json.dumps({"hash": digest, "student": student,
                                                    "report": report_to_dict(report)}) + "\n")


def _stored_report(folder: Path, digest: str) -> Report | None:
    """The report in grade.json when it was made from this very submission and setup."""
    stored = folder / "grade.json"
    if not stored.exists():
        return None
    try:
        previous = json.loads(stored.read_text())
        if previous.get("hash") == digest:
            return report_from_dict(previous["report"])
    except (ValueError, KeyError, TypeError):
        pass  # unreadable: grade again
    return None


@dataclass
class ClassResult:
    graded: dict[str, Report]
    regraded: list[str]
    reused: list[str]
    seconds: float
    stopped: list[str] = dataclasses.field(default_factory=list)   # scored 0: killed the grader
    suspects: list[str] = dataclasses.field(default_factory=list)  # in flight at a grader's death


def grade_class(submissions_root: Path, lab: str, out: Path, *, hidden: bool = False,
                jobs: int = 1, seed: int = DEFAULT_HIDDEN_SEED, limits: Limits = Limits(),
                on_done: Callable[[str, Report], None] | None = None,
                profile: str = "auto", shard: tuple[int, int] = (1, 1)) -> ClassResult:
    """Grade the students of `shard` (K, N): the K-th of N slices of the class, see shards.py."""
    started = time.perf_counter()
    spec = load_lab(lab, hidden=hidden)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # Jailed code under test sees neither the class's submissions nor the results.
    hide = (Path(submissions_root), out)
    fingerprint = grading_fingerprint(lab, hidden, seed, profile)
    index, count = shard
    submissions = [s for s in find_submissions(submissions_root, lab, spec.modules)
                   if shard_of(s.student, count) == index]
    graded: dict[str, Report] = {}
    todo: list[tuple[Submission, str]] = []
    suspects: list[tuple[Submission, str]] = []
    stopped: list[tuple[Submission, str]] = []
    for submission in submissions:
        digest = submission_hash(submission, fingerprint)
        folder = out / "students" / submission.student
        previous, marker = _stored_report(folder, digest), inflight.read(folder)
        if previous is not None:
            graded[submission.student] = previous
            inflight.clear(folder)   # the grader died after writing grade.json
        elif marker is None:
            todo.append((submission, digest))
        elif marker.alone and marker.hash == digest:
            stopped.append((submission, digest))
        else:
            suspects.append((submission, digest))
    reused = sorted(graded)
    # The solution's outputs on hidden (and GPU) checks: one worker for the whole class,
    # computed the first time a student needs each, while other students are being graded.
    shared = References(spec, limits)
    # At most `jobs` probes run at once, but a student may use two workers, so the last
    # students of a run (or a lone suspect) still keep every core busy.
    slots = threading.BoundedSemaphore(max(1, jobs))

    def run(submission: Submission, digest: str, alone: bool) -> Report:
        folder = out / "students" / submission.student
        if submission.folder is None:
            report = failed_everywhere(lab, hidden, submission.problem)
        else:
            inflight.mark(folder, digest, alone=alone)
            try:
                report = grade(lab, submission.folder, hidden=hidden, seed=seed, limits=limits,
                               hide=hide, profile=profile, workers=min(jobs, 2), slots=slots,
                               shared_references=shared)
            except Exception:
                inflight.clear(folder)   # the grader survived: the student did not stop it
                raise
        write_student(folder, submission.student, digest, report)
        inflight.clear(folder)
        return report

    def done(student: str, report: Report) -> None:
        graded[student] = report
        if on_done:
            on_done(student, report)

    for submission, digest in stopped:
        report = failed_everywhere(lab, hidden, STOPPED_MESSAGE)
        write_student(out / "students" / submission.student, submission.student, digest, report)
        inflight.clear(out / "students" / submission.student)
        done(submission.student, report)
    try:
        # One at a time: should the grader die now, the marker names the one student in flight.
        for submission, digest in suspects:
            done(submission.student, run(submission, digest, alone=True))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(run, s, d, False): s.student for s, d in todo}
            for future in as_completed(futures):
                done(futures[future], future.result())
    finally:
        shared.close()
    write_class_files(out, lab, {s: graded[s] for s in sorted(graded)})
    write_shard_file(out, lab=lab, fingerprint=fingerprint, shard=shard, students=list(graded),
                     options={"hidden": hidden, "seed": seed, "profile": profile})
    return ClassResult(graded=graded, reused=reused, seconds=time.perf_counter() - started,
                       regraded=sorted(s.student for s, _ in todo + suspects),
                       stopped=sorted(s.student for s, _ in stopped),
                       suspects=sorted(s.student for s, _ in suspects))
