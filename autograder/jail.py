"""Keep code under test away from everything but its own submission.

On Linux, each student's worker is jailed whenever the machine allows it:

- it gets a fresh folder holding only a copy of the submission and of what the worker
  needs (dlkit, the engine, this lab's checks); hidden checks only when they are graded.
  That copy is what the worker sees at the kit's own path;
- it runs in new mount, network and PID namespaces: the kit checkout (solutions, tests,
  references), the grader's home, /tmp, the submissions and the results folder are covered by
  empty file systems; every other file system is read-only; the only network interface is
  a loopback that is down; every process it starts dies with it;
- as root ("root" mode: CI containers, a grading VM) it runs as an unprivileged user id of
  its own, so the limit on its number of processes cannot be used up by, or use up,
  another submission graded at the same time;
- without root ("userns" mode: a laptop or a CI runner that allows unprivileged user
  namespaces) the namespaces hang off a user namespace of its own, and the worker drops
  every capability before the code under test runs: it keeps the grader's user id but sees
  and signals nothing outside.

DLKIT_SANDBOX=off turns the jail off; DLKIT_SANDBOX=userns asks for the user-namespace jail
even as root (the kit's tests use it). Without a jail the worker runs as the user with the
limits of sandbox.py only; README.md says what instructors should do then.

The grading side calls `Jail.create`. The worker side calls `run` in the process that will
wait for the worker: the warm zygote's fork (zygote.py) or `python -m autograder.jail PLAN`.
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
from typing import Callable

from autograder import KIT_ROOT, gpu, namespaces

FIRST_UID, UID_COUNT = 200_000, 1_000_000   # ids no account uses: one per jail
MAX_PROCESSES = 1024            # threads count too: TensorFlow starts a few dozen
JAILS = Path(f"/tmp/dlkit-jails-{os.geteuid()}")  # 0711: jails can be entered, not listed
RUNTIME_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "references", "checks")
DESCRIPTIONS = {
    "root": "jail: own folder, mount/network/PID namespaces, unprivileged user",
    "userns": "jail: own folder, user/mount/network/PID namespaces, no capabilities",
}


def mode() -> str | None:
    """'root', 'userns', or None when this machine cannot jail the worker."""
    return _mode_for(os.environ.get("DLKIT_SANDBOX", "auto"))


@functools.cache
def _mode_for(setting: str) -> str | None:
    if setting == "off" or sys.platform != "linux":
        return None
    wanted = ["userns"] if setting == "userns" or os.geteuid() != 0 else ["root", "userns"]
    return next((m for m in wanted if _works(m)), None)


def available() -> bool:
    return mode() is not None


def _works(candidate: str) -> bool:
    try:
        probe = subprocess.run([sys.executable, "-m", "autograder.jail", "--probe", candidate],
                               capture_output=True, timeout=30, env=dict(
                                   os.environ, PYTHONPATH=str(KIT_ROOT)))
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def _under(path: Path, folders: list[Path]) -> bool:
    return any(path == f or path.is_relative_to(f) for f in folders)


@dataclass
class Jail:
    """A prepared jail folder and the plan that `run` carries out."""
    root: Path
    submission: Path
    plan: dict

    @classmethod
    def create(cls, folder: Path, checks_package: str, *, with_hidden: bool,
               hide: tuple[Path, ...] = (), jail_mode: str = "root") -> "Jail":
        JAILS.mkdir(mode=0o711, exist_ok=True)
        if JAILS.lstat().st_uid != os.geteuid() or JAILS.is_symlink():
            raise PermissionError(f"{JAILS} belongs to another user: remove it")
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
        uid, gid = os.geteuid(), os.getegid()
        if os.geteuid() == 0:  # root, or a root grader trying the user-namespace jail
            uid = gid = FIRST_UID + secrets.randbelow(UID_COUNT)
            for path in [root, *root.rglob("*")]:
                os.chown(path, uid, gid, follow_symlinks=False)
        real = lambda p: Path(os.path.realpath(p))  # noqa: E731
        hidden = {real(p) for p in (KIT_ROOT, Path.home(), "/tmp", *hide) if Path(p).exists()}
        # A folder inside another hidden one is covered already (and gone once it is).
        hidden = sorted(p for p in hidden if not any(p != q and p.is_relative_to(q) for q in hidden))
        # The TFDS folder goes back in, read-only like the rest, for the GPU checks' data.
        data = [gpu.data_dir()] if gpu.data_dir().is_dir() else []
        needed = {real(p) for p in (sys.prefix, sys.base_prefix, root, *data)}
        binds = [[str(p), str(p)] for p in sorted(needed) if _under(p, hidden)]
        # The worker sees the copy at the kit's own path, so modules a warm zygote imported
        # from the kit and the ones it imports later come from the same place.
        binds.append([str(kit), str(real(KIT_ROOT))])
        plan = {"mode": jail_mode, "hide": [str(p) for p in hidden], "binds": binds,
                "root": str(root), "uid": uid, "gid": gid}
        return cls(root=root, submission=submission, plan=plan)

    def command(self, worker_args: list[str], pass_fds: tuple[int, ...]) -> list[str]:
        """Starts a worker in a new process (the path without the warm zygote)."""
        plan = dict(self.plan, worker_args=worker_args, pass_fds=list(pass_fds))
        return [sys.executable, "-m", "autograder.jail", json.dumps(plan)]

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
    skip = ["__pycache__", "*.pyc"] + ([] if with_hidden else ["hidden*.py"])
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*skip), dirs_exist_ok=True)


def _enter_user_namespace(flags: int) -> None:
    uid, gid = os.getuid(), os.getgid()
    namespaces.unshare(flags | namespaces.CLONE_NEWUSER)
    namespaces.map_own_user(uid, gid)


def _switch_user(plan: dict) -> None:
    os.setgroups([])
    os.setgid(plan["gid"])
    os.setuid(plan["uid"])


def _enter_namespaces(plan: dict) -> None:
    """Leave for new namespaces, and build the worker's view of the file systems there."""
    others = namespaces.CLONE_NEWNET | namespaces.CLONE_NEWPID
    as_root = os.geteuid() == 0
    if plan["mode"] == "userns" and not as_root:
        _enter_user_namespace(namespaces.CLONE_NEWNS | others)
    else:
        namespaces.unshare(namespaces.CLONE_NEWNS | (others if plan["mode"] == "root" else 0))
    namespaces.make_private("/")
    _build_view(plan)
    if plan["mode"] == "userns" and as_root:
        # A root grader asking for this mode (the kit's tests do): the view is built as
        # root, then the jail's own user enters a user namespace, as a non-root grader would.
        _switch_user(plan)
        _enter_user_namespace(others)


def _build_view(plan: dict) -> None:
    """Hide, put back what the worker needs, and make everything else read-only."""
    # Opened before hiding covers them; a bind mount from /proc/self/fd/N needs no path.
    opened = {source: os.open(source, os.O_PATH | os.O_DIRECTORY)
              for source in sorted({source for source, _ in plan["binds"]})}
    for path in plan["hide"]:
        namespaces.tmpfs(path)
    for source, target in sorted(plan["binds"], key=lambda b: len(Path(b[1]).parts)):
        Path(target).mkdir(parents=True, exist_ok=True)
        namespaces.bind(f"/proc/self/fd/{opened[source]}", target)
    for fd in opened.values():
        os.close(fd)
    namespaces.tmpfs("/dev/shm", mode="1777", size="64m")
    if namespaces.set_read_only("/", True):
        # Its own folder, /dev/shm, and /proc (the user-namespace jail maps its user there).
        for writable in (plan["root"], "/dev/shm", "/proc"):
            namespaces.set_read_only(writable, False)


def _drop_privileges(plan: dict) -> None:
    resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))
    if plan["mode"] == "root":
        _switch_user(plan)
    else:  # already the jail's user: give up the namespace's capabilities
        namespaces.drop_capabilities()
    root = Path(plan["root"])
    os.environ.update(HOME=str(root / "home"), TMPDIR=str(root / "tmp"))
    os.chdir(root / "tmp")


def run(plan: dict, start_worker: Callable[[], None], worker_fds: list[int]) -> int:
    """Jail this process and start the worker inside; return the jail's exit status.

    This process stays outside the new PID namespace and waits. Its first child is the
    namespace's PID 1 (`_init`), whose child drops privileges and calls `start_worker`,
    which must not return. `worker_fds` are the worker's pipe ends, closed here and in init.
    """
    _enter_namespaces(plan)
    init = os.fork()
    if init == 0:
        try:
            namespaces.die_with_parent()
            worker = os.fork()
            if worker == 0:
                _drop_privileges(plan)
                start_worker()
            _init(worker, worker_fds)
        finally:
            os._exit(70)
    for fd in worker_fds:
        os.close(fd)
    _, status = os.waitpid(init, 0)
    return os.waitstatus_to_exitcode(status)


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


def _probe(candidate: str) -> None:
    """Exits 0 when this machine lets us build a jail of this mode."""
    plan = {"mode": candidate, "hide": [], "binds": [], "root": "/dev/shm",
            "uid": FIRST_UID, "gid": FIRST_UID}
    _enter_namespaces(plan)
    os._exit(0)


def _main(argv: list[str]) -> None:
    if argv[0] == "--probe":
        _probe(argv[1])
    plan = json.loads(argv[0])

    def exec_worker() -> None:
        os.environ["PYTHONPATH"] = str(KIT_ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "autograder.worker",
                                  *plan["worker_args"]])
    code = run(plan, exec_worker, plan["pass_fds"])
    os._exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    _main(sys.argv[1:])
