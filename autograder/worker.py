"""The worker: imports and runs code under test, answers with plain data only.

Forked by the warm zygote (zygote.py), or started as `python -m autograder.worker`.
Requests arrive as JSON lines on one pipe and answers leave on another, so whatever the code
under test prints on stdout/stderr cannot be mistaken for an answer.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from autograder import errors, wire
from autograder.api import find_check
from autograder.gpu import GpuRun, without_op_determinism


@contextlib.contextmanager
def functions_run_eagerly():
    """tf.functions run eagerly in the block (a check declared with eager=True)."""
    import warnings

    import tensorflow as tf
    tf.config.run_functions_eagerly(True)
    try:
        with warnings.catch_warnings():
            # tf.data's own functions stay traced, as they should: no need to say so.
            warnings.filterwarnings("ignore", message=".*does not apply to tf.data")
            yield
    finally:
        tf.config.run_functions_eagerly(False)


class LabModules:
    """`lab.vae` imports vae.py from the folder under test; `lab.tmpdir` is a scratch folder;
    `lab.gpu` tells a GPU check how to train (autograder/gpu.py), None for other checks."""

    def __init__(self, folder: Path, modules: tuple[str, ...], tmpdir: Path,
                 gpu: GpuRun | None = None):
        self._folder, self._modules, self.tmpdir = folder, modules, tmpdir
        self.gpu = gpu

    def __getattr__(self, name: str):
        if name.startswith("_") or name not in self._modules:
            raise AttributeError(f"{name!r} is not a graded module of this lab")
        return importlib.import_module(name)


class Worker:
    def __init__(self, folder: Path, modules: tuple[str, ...], answers_fd: int):
        self.folder, self.modules = folder, modules
        self.answers = os.fdopen(answers_fd, "wb", buffering=0)
        self.scratch = Path(tempfile.mkdtemp(prefix="dlkit-probe-"))

    def answer(self, message: dict) -> None:
        self.answers.write(wire.dumps(message))

    def failure(self, error: BaseException) -> dict:
        return {"ok": False, "error": errors.describe(error, self.folder),
                "trace": errors.trace(error)}

    def do_import(self, module: str) -> dict:
        if not (self.folder / f"{module}.py").exists():
            return {"ok": False, "error": f"{module}.py is missing from {self.folder.name}/",
                    "trace": ""}
        try:
            importlib.import_module(module)
        except BaseException as error:  # SystemExit and KeyboardInterrupt included
            return self.failure(error)
        return {"ok": True}

    def do_probe(self, key: str, seed: int, gpu: dict | None) -> dict:
        from dlkit.backend import keras, reset_keras
        started = time.perf_counter()
        workdir = Path(tempfile.mkdtemp(dir=self.scratch))
        os.chdir(workdir)
        try:
            chk = find_check(key)
            reset_keras(seed)
            run = GpuRun(**gpu) if gpu is not None else None
            if run is not None and run.mixed_precision:
                keras().mixed_precision.set_dtype_policy(run.policy())  # reset_keras undoes it
            # A GPU check trains as a GPU runner does: with XLA, which op determinism stops.
            with (without_op_determinism() if run and run.xla else contextlib.nullcontext(),
                  functions_run_eagerly() if chk.eager else contextlib.nullcontext()):
                result = chk.probe(LabModules(self.folder, self.modules, workdir, run),
                                   np.random.default_rng(seed))
            plain = wire.to_plain(result)
        except BaseException as error:
            return self.failure(error)
        finally:
            os.chdir(self.scratch)
        return {"ok": True, "result": plain, "seconds": time.perf_counter() - started}

    def serve(self, requests) -> None:
        from dlkit.backend import device_summary
        self.answer({"ok": True, "hello": device_summary()})
        for line in requests:
            request = wire.loads(line)
            if request["op"] == "import":
                self.answer(self.do_import(request["module"]))
            elif request["op"] == "probe":
                self.answer(self.do_probe(request["check"], int(request["seed"]),
                                          request.get("gpu")))
            elif request["op"] == "exit":
                return
            sys.stdout.flush()
            sys.stderr.flush()


def prepare() -> None:
    """Import what every worker needs, before any folder under test joins sys.path (so a
    file there cannot shadow them). The warm zygote calls it once and forks from it."""
    from dlkit.backend import tensorflow
    tensorflow()
    # TensorFlow's import leaves a huge heap of long-lived objects; keep them out of the
    # collections clear_session() runs before every probe (0.2 s each otherwise).
    import gc

    import dlkit.backend  # noqa: F401  (reset_keras, device_summary)
    gc.freeze()


def serve(folder: Path, modules: tuple[str, ...], requests_fd: int, answers_fd: int) -> None:
    """Answer requests about `folder` until told to exit or the grading side goes away."""
    importlib.invalidate_caches()  # a forked worker may sit in a jail with other files
    sys.path.insert(0, str(folder))
    worker = Worker(folder, modules, answers_fd)
    os.chdir(worker.scratch)
    with os.fdopen(requests_fd, "rb") as requests:
        worker.serve(requests)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--impl", required=True, type=Path)
    parser.add_argument("--modules", required=True)
    parser.add_argument("--requests-fd", required=True, type=int)
    parser.add_argument("--answers-fd", required=True, type=int)
    args = parser.parse_args()
    prepare()
    serve(args.impl.resolve(), tuple(args.modules.split(",")), args.requests_fd,
          args.answers_fd)


if __name__ == "__main__":
    main()
