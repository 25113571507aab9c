"""The grading side of a worker: start it, ask it things, and enforce the limits.

Limits: wall time per request, resident memory of the worker and its children, and the
amount it may print. A worker that breaks a limit or dies is killed with its whole process
group, and the request fails with a message saying which limit; the next request starts a
fresh worker.
"""
from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from autograder import KIT_ROOT, gpu, memory_watch, wire, zygote
from autograder.jail import Jail

GiB = 1 << 30


@dataclass(frozen=True)
class Limits:
    startup_seconds: float = 90.0      # python + TensorFlow import, on a loaded machine
    import_seconds: float = 20.0       # importing one graded module
    memory_bytes: int = 6 * GiB        # resident memory of the worker and its children
    output_bytes: int = 1 << 20        # what the code under test may print
    max_answer_bytes: int = 64 << 20   # one answer on the protocol pipe


class WorkerDied(Exception):
    """The request got no answer: the message says why (limit, crash, exit)."""


def _scrubbed_env(scratch: Path) -> dict:
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT", "TFDS_DATA_DIR",
            "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "XLA_FLAGS", "DLKIT_FAKE_GPU")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.update(HOME=str(scratch), TMPDIR=str(scratch), PYTHONPATH=str(KIT_ROOT),
               PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg",
               KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore",
               # One BLAS thread: the zygote must not fork with a thread pool running, and
               # every worker computes the same sums whichever way it was started.
               OPENBLAS_NUM_THREADS="1",
               # Keras imports pandas when it is installed (shap needs it), pandas imports
               # pyarrow, and pyarrow's allocator would start a background thread.
               JE_ARROW_MALLOC_CONF="background_thread:false",
               # The grader's TFDS folder, whatever HOME the worker gets (GPU checks read it).
               TFDS_DATA_DIR=str(gpu.data_dir()))
    return env


class ForkedProcess:
    """A worker forked by the zygote. It is not this process's child, so its supervisor
    (the process group leader) reports its exit status on a pipe; Popen's interface."""

    def __init__(self, pid: int, status_fd: int, stdout):
        self.pid, self.stdout, self._status_fd = pid, stdout, status_fd
        self.returncode: int | None = None
        self.lost = False
        self._lock = threading.Lock()  # the memory watch polls while the grader waits

    def _read_status(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self.returncode is not None or self.lost:
                    return True
                wait = min(max(deadline - time.monotonic(), 0.0), 0.1)
                if select.select([self._status_fd], [], [], wait)[0]:
                    data = os.read(self._status_fd, 64)
                    if data.strip():
                        self.returncode = int(data)
                    else:
                        self.lost = True
                    os.close(self._status_fd)
                    return True
            if time.monotonic() >= deadline:
                return False

    def poll(self) -> int | None:
        self._read_status(0)
        return -signal.SIGKILL if self.lost else self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._read_status(1e6 if timeout is None else timeout):
            raise subprocess.TimeoutExpired("worker", timeout)
        return self.poll()


def _fork_from_zygote(folder: Path, modules: tuple[str, ...], env: dict, jail: Jail | None,
                      requests_read: int, answers_write: int,
                      startup_seconds: float) -> ForkedProcess:
    output_read, output_write = os.pipe()
    status_read, status_write = os.pipe()
    request = {"folder": str(folder), "modules": list(modules), "env": env,
               "jail": jail.plan if jail else None}
    fds = [requests_read, answers_write, output_write, status_write]
    try:
        pid = zygote.fork_worker(request, fds, startup_seconds)
    except zygote.ZygoteError:
        os.close(output_read)
        os.close(status_read)
        raise
    finally:
        os.close(output_write)
        os.close(status_write)
    return ForkedProcess(pid, status_read, os.fdopen(output_read, "rb"))


class _OutputCollector(threading.Thread):
    """Drains the worker's stdout/stderr, keeping the first bytes and counting the rest."""

    def __init__(self, stream, limit: int, on_overflow):
        super().__init__(daemon=True)
        self.stream, self.limit, self.on_overflow = stream, limit, on_overflow
        self.kept = bytearray()
        self.total = 0

    def run(self) -> None:
        for chunk in iter(lambda: self.stream.read1(65536), b""):
            self.total += len(chunk)
            if len(self.kept) < 4096:
                self.kept += chunk[: 4096 - len(self.kept)]
            if self.total > self.limit:
                self.on_overflow()
                break


class Worker:
    """One worker subprocess grading one folder of one lab."""

    def __init__(self, folder: Path, modules: tuple[str, ...], limits: Limits,
                 jail: Jail | None = None):
        self.limits, self.jail = limits, jail
        self.killed_for: str | None = None
        self.scratch = Path(tempfile.mkdtemp(prefix="dlkit-worker-"))
        requests_read, self._requests = os.pipe()
        self._answers, answers_write = os.pipe()
        folder = jail.submission if jail else Path(folder).resolve()
        env = _scrubbed_env(self.scratch)
        self.process = None
        if zygote.enabled():
            try:
                self.process = _fork_from_zygote(folder, modules, env, jail, requests_read,
                                                 answers_write, limits.startup_seconds)
            except zygote.ZygoteError as error:  # the machine's fault, not the submission's
                zygote.give_up(str(error))
        if self.process is None:
            worker_args = ["--impl", str(folder), "--modules", ",".join(modules),
                           "--requests-fd", str(requests_read),
                           "--answers-fd", str(answers_write)]
            command = (jail.command(worker_args, (requests_read, answers_write)) if jail
                       else [sys.executable, "-m", "autograder.worker", *worker_args])
            self.process = subprocess.Popen(
                command, cwd=self.scratch, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                pass_fds=(requests_read, answers_write), start_new_session=True)
        os.close(requests_read)
        os.close(answers_write)
        self._buffer = b""
        self.output = _OutputCollector(self.process.stdout, limits.output_bytes,
                                       lambda: self.kill("printed more than "
                                                         f"{limits.output_bytes >> 10} KiB"))
        self.output.start()
        # A forked worker's supervisor (and the jail's init below it) share the zygote's
        # pages and run no code under test: their memory is not the worker's.
        supervisors = (1 + bool(jail)) if isinstance(self.process, ForkedProcess) else 0
        self._memory = memory_watch.Watched(self.process.pid, limits.memory_bytes,
                                            self._memory_exceeded, supervisors)
        memory_watch.watch(self._memory)
        try:
            self.hello = self._receive(limits.startup_seconds, "starting the worker")
        except WorkerDied:
            self.close()  # its pipes, scratch folder and jail
            raise

    # -- limits ---------------------------------------------------------------------------
    def _memory_exceeded(self) -> None:
        self.kill(f"used more than {self.limits.memory_bytes / GiB:.1f} GiB of memory")

    def kill(self, reason: str) -> None:
        if self.killed_for is None:
            self.killed_for = reason
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # -- protocol -------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self.process.poll() is None and self.killed_for is None

    def send(self, message: dict) -> None:
        try:
            os.write(self._requests, wire.dumps(message))
        except (BrokenPipeError, OSError):
            pass  # the worker is gone; _receive says why

    def _receive(self, timeout: float, doing: str) -> dict:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill(f"did not finish {doing} within {timeout:.0f} s (an endless loop?)")
                raise WorkerDied(self.killed_for)
            ready, _, _ = select.select([self._answers], [], [], min(left, 0.5))
            if not ready:
                if self.killed_for:
                    raise WorkerDied(self.killed_for)
                continue
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise WorkerDied(self._death_reason(doing))
            self._buffer += chunk
            if len(self._buffer) > self.limits.max_answer_bytes:
                self.kill(f"returned more than {self.limits.max_answer_bytes >> 20} MiB of data")
                raise WorkerDied(self.killed_for)
        line, _, self._buffer = self._buffer.partition(b"\n")
        return wire.loads(line)

    def _death_reason(self, doing: str) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill("closed its answer pipe")
            code = None
        if self.killed_for:
            return self.killed_for
        if code is not None and self.jail is not None and code > 128:
            code = 128 - code  # the jail's init reports a death by signal N as 128 + N
        if isinstance(self.process, ForkedProcess) and self.process.lost:
            return (f"the process that started it was killed while {doing} (did the code "
                    "under test kill its parent process?)")
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else code
            return f"the process was killed by signal {name} while {doing} (a crash?)"
        tail = bytes(self.output.kept).decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        detail = f"; last output: {tail[0][:200]}" if tail[0] else ""
        return f"the process exited with status {code} while {doing} (os._exit or exit()?){detail}"

    def request(self, message: dict, timeout: float, doing: str) -> dict:
        self.send(message)
        return self._receive(timeout, doing)

    def close(self) -> None:
        if self.process.poll() is None:
            self.send({"op": "exit"})
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        memory_watch.unwatch(self._memory)
        self.kill("closed")
        self.process.wait()
        for fd in (self._requests, self._answers):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.scratch, ignore_errors=True)
        if self.jail is not None:
            self.jail.remove()
