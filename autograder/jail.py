"""Keep code under test away from everything but its own submission.

When the grader runs as root on Linux with `unshare` (CI containers, a grading VM), each
student's worker is jailed:

- it gets a fresh folder holding only a copy of the submission and of what the worker
  needs (dlkit, the engine, this lab's checks); hidden checks only when they are graded;
- it runs in new mount, network and PID namespaces: the kit checkout (solutions, tests,
  references), the grader's home, /tmp, the submissions and the results folder are covered by
  empty file systems; the only network interface is a loopback that is down; every
  process it starts dies with it;
- it runs as an unprivileged user id of its own (so the limit on its number of processes
  cannot be used up by, or use up, another submission graded at the same time).

Anywhere else (a student's laptop) the worker runs as the user, with the limits of
sandbox.py only; README.md says what instructors should do then.

The grading side calls `Jail.create`; the worker side is `python -m autograder.jail PLAN`,
which runs as root inside the new namespaces, mounts, drops privileges and becomes the
worker.
"""
from __future__ import annotations

import functools
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from autograder import KIT_ROOT

FIRST_UID, UID_COUNT = 200_000, 1_000_000   # ids no account uses: one per jail
MAX_PROCESSES = 1024            # threads count too: TensorFlow starts a few dozen
JAILS = Path("/tmp/dlkit-jails")  # root-owned, 0711: jails can be entered, not listed
UNSHARE = ["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child"]
RUNTIME_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "references", "checks")


@functools.cache
def available() -> bool:
    """Root, and namespaces that really work here."""
    if os.environ.get("DLKIT_SANDBOX", "auto") == "off" or sys.platform != "linux":
        return False
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    try:
        probe = subprocess.run([*UNSHARE, "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def _under(path: Path, folders: list[Path]) -> bool:
    return any(path == f or path.is_relative_to(f) for f in folders)


@dataclass
class Jail:
    """A prepared jail folder and the command that starts a worker inside it."""
    root: Path
    submission: Path
    plan: dict

    @classmethod
    def create(cls, folder: Path, checks_package: str, *, with_hidden: bool,
               hide: tuple[Path, ...] = ()) -> "Jail":
        JAILS.mkdir(mode=0o711, exist_ok=True)
        os.chmod(JAILS, 0o711)
        root = JAILS / secrets.token_hex(16)
        root.mkdir(mode=0o700)
        submission = root / "submission"
        shutil.copytree(folder, submission, symlinks=False,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        kit = root / "kit"
        for package in ("dlkit", "autograder"):
            shutil.copytree(KIT_ROOT / package, kit / package, ignore=RUNTIME_IGNORE)
        _copy_checks(checks_package, kit, with_hidden)
        for scratch in ("home", "tmp"):
            (root / scratch).mkdir()
        uid = FIRST_UID + secrets.randbelow(UID_COUNT)
        for path in [root, *root.rglob("*")]:
            os.chown(path, uid, uid, follow_symlinks=False)
        hidden = {Path(os.path.realpath(p)) for p in (KIT_ROOT, Path.home(), "/tmp", *hide)
                  if Path(p).exists()}
        # A folder inside another hidden one is covered already (and gone once it is).
        hidden = sorted(p for p in hidden if not any(p != q and p.is_relative_to(q) for q in hidden))
        needed = {Path(os.path.realpath(p)) for p in (sys.prefix, sys.base_prefix, root)}
        plan = {"hide": [str(p) for p in hidden],
                "keep": sorted(str(p) for p in needed if _under(p, hidden)),
                "root": str(root), "kit": str(kit), "uid": uid, "gid": uid}
        return cls(root=root, submission=submission, plan=plan)

    def command(self, worker_args: list[str], pass_fds: tuple[int, ...]) -> list[str]:
        plan = dict(self.plan, worker_args=worker_args, pass_fds=list(pass_fds))
        return [*UNSHARE, sys.executable, "-m", "autograder.jail", json.dumps(plan)]

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _copy_checks(package: str, kit: Path, with_hidden: bool) -> None:
    """The lab's check package, and the __init__ files of the packages above it."""
    parts = package.split(".")
    for depth in range(1, len(parts)):
        init = KIT_ROOT.joinpath(*parts[:depth], "__init__.py")
        target = kit.joinpath(*parts[:depth], "__init__.py")
        target.parent.mkdir(parents=True, exist_ok=True)
        if init.exists():
            shutil.copy2(init, target)
    source, target = KIT_ROOT.joinpath(*parts), kit.joinpath(*parts)
    skip = ["__pycache__", "*.pyc"] + ([] if with_hidden else ["hidden.py"])
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*skip), dirs_exist_ok=True)


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def enter(plan: dict) -> None:
    """Inside the new namespaces, as root: hide, keep, drop privileges, become the worker."""
    _mount("--make-rprivate", "/")
    stage = Path("/mnt")  # mounts here are private to this namespace
    _mount("-t", "tmpfs", "-o", "mode=0700,size=1m", "tmpfs", str(stage))
    keep = [Path(p) for p in plan["keep"]]
    for index, path in enumerate(keep):  # set aside what the worker needs from hidden places
        (stage / str(index)).mkdir()
        _mount("--bind", str(path), str(stage / str(index)))
    for path in plan["hide"]:
        _mount("-t", "tmpfs", "-o", "mode=0755,size=1m", "tmpfs", path)
    for index, path in enumerate(keep):
        path.mkdir(parents=True, exist_ok=True)
        _mount("--bind", str(stage / str(index)), str(path))
    resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))
    os.setgroups([])
    os.setgid(plan["gid"])
    os.setuid(plan["uid"])
    root = Path(plan["root"])
    env = dict(os.environ, PYTHONPATH=plan["kit"], HOME=str(root / "home"),
               TMPDIR=str(root / "tmp"))
    os.chdir(root / "tmp")
    worker = os.fork()
    if worker == 0:
        os.execve(sys.executable,
                  [sys.executable, "-m", "autograder.worker", *plan["worker_args"]], env)
    _init(worker, plan["pass_fds"])


def _init(worker: int, fds: list[int]) -> None:
    """PID 1 of the jail: reap orphans until the worker ends, then end with its status.

    The worker must not be PID 1 itself: PID 1 ignores the signals it sends itself, so a
    submission that kills its own process would survive. A death by signal N becomes the
    exit status 128 + N, which the grading side reads back as that signal.
    """
    for fd in fds:
        os.close(fd)
    while True:
        pid, status = os.wait()
        if pid == worker:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    enter(json.loads(sys.argv[1]))
