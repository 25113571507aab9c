"""A folder under test: its worker, the imports of its graded modules, and its probes.

Both the grading and the stored references run probes through a Session."""
from __future__ import annotations

import zlib
from pathlib import Path

from autograder import jail as jails
from autograder import wire
from autograder.api import Check, LabSpec
from autograder.jail import Jail
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


class Session:
    """A folder under test: a live worker (restarted after a death) and its import record."""

    def __init__(self, spec: LabSpec, folder: Path, limits: Limits, *,
                 isolate: bool = False, hide: tuple[Path, ...] = ()):
        self.spec, self.folder, self.limits = spec, Path(folder), limits
        self.isolate, self.hide = isolate, hide
        self.worker: Worker | None = None
        self.import_errors: dict[str, tuple[str, str]] = {}
        self.imported: set[str] = set()
        self.environment: dict = {}

    def _worker(self) -> Worker:
        if self.worker is None or not self.worker.alive:
            if self.worker is not None:
                self.worker.close()
            jail_mode = jails.mode() if self.isolate else None
            jail = (Jail.create(self.folder, self.spec.package, hide=self.hide,
                                with_hidden=any(c.hidden for c in self.spec.checks),
                                jail_mode=jail_mode)
                    if jail_mode else None)
            try:
                self.worker = Worker(self.folder, self.spec.modules, self.limits, jail)
            except WorkerDied as death:
                self.worker = None
                raise ProbeFailed(f"the grading worker could not start: {death}") from None
            self.environment = dict(self.worker.hello.get("hello", {}),
                                    sandbox=jails.DESCRIPTIONS[jail_mode] if jail else "none")
            for module in sorted(self.imported):   # cheap: they imported before
                self._import(module)
        return self.worker

    def _import(self, module: str) -> None:
        worker = self.worker
        try:
            answer = worker.request({"op": "import", "module": module},
                                    self.limits.import_seconds, f"importing {module}.py")
        except WorkerDied as death:
            answer = {"ok": False, "error": f"the code under test {death}", "trace": ""}
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

    def probe(self, chk: Check, seed: int, gpu: dict | None = None):
        """Run chk's probe; a GPU check gets the profile's `gpu` settings (`lab.gpu`)."""
        gpu = gpu if chk.requires_gpu else None
        for module in self.spec.modules_of(chk):
            if module in self.import_errors:
                message, trace = self.import_errors[module]
                raise ProbeFailed(f"cannot import {module}.py: {message}", trace)
        worker = self._worker()
        try:
            answer = worker.request({"op": "probe", "check": chk.key, "seed": seed,
                                     "gpu": gpu}, chk.timeout, f"running {chk.name}")
        except WorkerDied as death:
            raise ProbeFailed(f"the code under test {death}") from None
        if not answer["ok"]:
            raise ProbeFailed(answer["error"], answer.get("trace", ""))
        return wire.from_plain(answer["result"])

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None
