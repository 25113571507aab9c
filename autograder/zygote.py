"""A warm zygote: TensorFlow, Keras and dlkit imported once, a fresh worker forked per folder.

Importing TensorFlow costs about 4 s of CPU, which used to be paid by every worker, so most
of a skeleton's grading was import time. The zygote pays it once per grading process and
forks. Forking after the import is safe because the import runs no op and starts no thread:
the zygote reports its thread count before its first fork and refuses to fork with more
than one (OpenBLAS's pool is kept at one thread for that; TensorFlow's pools start at the
first op, in the worker). Each worker is as fresh as a new process: the zygote never runs a
probe, never imports a lab's checks or code under test, and nothing flows back to it.

Per worker the zygote forks a small supervisor that calls setsid, optionally builds the jail
(jail.run), forks the worker, waits for it and writes its exit status on a pipe, since the
worker is not the grading process's child. The grading side (sandbox.Worker) passes the
worker's pipes over a Unix socket with each request.

DLKIT_ZYGOTE=off starts every worker as a new Python process instead (the measurements in
the README compare both).
"""
from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

PER_WORKER_ENV = ("HOME", "TMPDIR", "DLKIT_FAKE_GPU", "TFDS_DATA_DIR")  # read after the import, per worker


_unusable: str | None = None  # why this process stopped using the zygote, if it did


def enabled() -> bool:
    return os.environ.get("DLKIT_ZYGOTE", "on") != "off" and _unusable is None


def give_up(reason: str) -> None:
    """Start workers as new processes from now on: this machine's zygote cannot work."""
    global _unusable
    if _unusable is None:
        _unusable = reason
        print(f"dlkit: workers start as new processes ({reason})", file=sys.stderr)


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


# -- the zygote process ------------------------------------------------------------------

def _close_fds_except(keep: list[int]) -> None:
    start = 3
    for fd in sorted(keep):
        if fd >= start:
            os.closerange(start, fd)
            start = fd + 1
    os.closerange(start, 1 << 16)


def _start_worker(request: dict, requests_fd: int, answers_fd: int, output_fd: int) -> None:
    """In the worker process: plug in the pipes and serve; never returns."""
    from autograder import worker
    code = 0
    try:
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.close(output_fd)
        jailed = dict(os.environ) if request["jail"] else {}
        os.environ.clear()
        os.environ.update(request["env"], **{k: v for k, v in jailed.items()
                                              if k in ("HOME", "TMPDIR")})
        tempfile.tempdir = None
        worker.serve(Path(request["folder"]), tuple(request["modules"]), requests_fd, answers_fd)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _supervise(request: dict, fds: list[int]) -> None:
    """In the supervisor process: start the worker, wait for it, report its status."""
    from autograder import jail
    code = 70
    try:
        os.setsid()
        requests_fd, answers_fd, output_fd, status_fd = fds
        _close_fds_except(fds)
        worker_fds = [requests_fd, answers_fd, output_fd]

        def start() -> None:
            os.close(status_fd)
            _start_worker(request, requests_fd, answers_fd, output_fd)

        if request["jail"]:
            status = jail.run(request["jail"], start, worker_fds)
        else:
            pid = os.fork()
            if pid == 0:
                start()
            for fd in worker_fds:
                os.close(fd)
            status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            # The grading side removes it too, unless it was killed: then only this can.
            shutil.rmtree(request["env"]["HOME"], ignore_errors=True)
        os.write(status_fd, f"{status}\n".encode())
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def serve(control: socket.socket) -> None:
    from autograder import worker
    worker.prepare()
    threads = thread_count()
    control.send(json.dumps({"pid": os.getpid(), "threads": threads}).encode())
    if threads != 1:
        return  # forking now could copy a lock held by another thread; the client falls back
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 << 20, 8)
        except OSError:
            return
        if not message:  # the grading process is gone (and may not clean up after us)
            shutil.rmtree(os.getcwd(), ignore_errors=True)
            return
        while True:  # reap supervisors that have ended
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        pid = os.fork()
        if pid == 0:
            control.close()
            _supervise(json.loads(message), fds)
        for fd in fds:
            os.close(fd)
        control.send(json.dumps({"pid": pid}).encode())


# -- the grading side --------------------------------------------------------------------

class ZygoteError(RuntimeError):
    """The zygote could not start or answer."""


class Zygote:
    """One zygote process and the socket that asks it for workers."""

    def __init__(self, env: dict, startup_seconds: float):
        self.env = env
        self.scratch = Path(tempfile.mkdtemp(prefix="dlkit-zygote-"))
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.log = open(self.scratch / "zygote.log", "w+b")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder.zygote", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), cwd=self.scratch, env=dict(env, HOME=str(self.scratch),
                                                                    TMPDIR=str(self.scratch)),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, start_new_session=True)
        theirs.close()
        self.hello = self._receive(startup_seconds, "importing TensorFlow")
        if self.hello.get("threads") != 1:
            self.close()
            raise ZygoteError(f"{self.hello.get('threads')} threads run after the imports; "
                              "forking is not safe")

    def _receive(self, timeout: float, doing: str) -> dict:
        ready, _, _ = select.select([self.control], [], [], timeout)
        message = self.control.recv(1 << 16) if ready else b""
        if not message:
            self.log.seek(0)
            tail = self.log.read().decode("utf-8", "replace").strip().splitlines()[-3:]
            raise ZygoteError(f"the warm worker process stopped answering while {doing}"
                              + (f": {' / '.join(tail)}" if tail else ""))
        return json.loads(message)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def fork(self, request: dict, fds: list[int], timeout: float) -> int:
        try:
            socket.send_fds(self.control, [json.dumps(request).encode()], fds)
        except OSError as error:
            raise ZygoteError(f"the warm worker process is gone ({error})") from None
        return int(self._receive(timeout, "forking a worker")["pid"])

    def close(self) -> None:
        self.control.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


_lock = threading.Lock()
_current: Zygote | None = None


def fork_worker(request: dict, fds: list[int], startup_seconds: float) -> int:
    """Fork a worker from this process's zygote (started, or restarted, as needed); returns
    the pid of its supervisor. `request["env"]` is the worker's whole environment."""
    global _current
    import_env = {k: v for k, v in request["env"].items() if k not in PER_WORKER_ENV}
    deadline = time.monotonic() + startup_seconds
    with _lock:
        for attempt in range(2):
            if _current is not None and (not _current.alive or _current.env != import_env):
                if not _current.alive:
                    print("dlkit: the warm worker process died; starting a new one",
                          file=sys.stderr)
                _current.close()
                _current = None
            if _current is None:
                _current = Zygote(import_env, max(1.0, deadline - time.monotonic()))
            try:
                return _current.fork(request, fds, max(1.0, deadline - time.monotonic()))
            except ZygoteError:
                if attempt:
                    raise
                _current.process.kill()  # restarted by the next attempt


@atexit.register
def shutdown() -> None:
    global _current
    with _lock:
        if _current is not None:
            _current.close()
            _current = None


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
