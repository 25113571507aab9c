"""One quiet TensorFlow import per process, seeding, and resets between experiments.

Every part of dlkit that needs TensorFlow gets it through `tensorflow()` (or `keras()`), so
the import happens once, lazily, with TF's C++ start-up chatter silenced. Modules that only
need numpy never trigger it: the autograder's grading process imports them without TF.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
import platform
import sys
import threading

_import_lock = threading.Lock()
_tf = None
_determinism_enabled = False


@contextlib.contextmanager
def _stderr_fd_silenced():
    """Point file descriptor 2 at /dev/null for the duration of the block.

    TF's C++ runtime writes start-up notes (oneDNN, CUDA probing, absl) straight to fd 2,
    past Python's sys.stderr, so only swapping the descriptor hides them. It is restored
    afterwards so later errors stay visible.
    """
    sys.stderr.flush()
    saved_fd = os.dup(2)
    devnull_fd = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull_fd, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        os.close(devnull_fd)


def tensorflow():
    """Return the `tensorflow` module, importing it quietly the first time.

    Sets TF_CPP_MIN_LOG_LEVEL=3 (unless the user chose a level) and KERAS_BACKEND=tensorflow
    before the import; TF_ENABLE_ONEDNN_OPTS is left as the user set it.
    """
    global _tf
    if _tf is not None:
        return _tf
    with _import_lock:
        if _tf is None:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
            # The kit is TensorFlow-only; a stray KERAS_BACKEND=jax would break every lab.
            os.environ["KERAS_BACKEND"] = "tensorflow"
            with _stderr_fd_silenced():
                import keras  # noqa: F401  (its first import also prints through absl)
                import tensorflow as tf
            # Python-side absl/TF loggers: keep warnings that matter, drop INFO noise.
            with contextlib.suppress(ImportError):
                import absl.logging

                absl.logging.set_verbosity(absl.logging.ERROR)
            logging.getLogger("tensorflow").setLevel(logging.ERROR)
            _tf = tf
    return _tf


def keras():
    """Return the `keras` (3.x) module, after the quiet TensorFlow import."""
    tensorflow()
    import keras

    return keras


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy, TensorFlow and Keras; optionally make TF ops deterministic.

    Op determinism is process-wide and cannot be switched off again; it is enabled the
    first time `deterministic=True` is asked for. On GPU a few ops have no deterministic
    kernel and then raise instead of silently varying between runs.
    """
    global _determinism_enabled
    tf = tensorflow()
    keras().utils.set_random_seed(int(seed))
    if deterministic and not _determinism_enabled:
        # Already enabled elsewhere, or unavailable in this TF build: seeding still holds.
        with contextlib.suppress(RuntimeError, ValueError, AttributeError):
            tf.config.experimental.enable_op_determinism()
        _determinism_enabled = True


def reset_keras(seed: int = 0, deterministic: bool = True) -> None:
    """Start the next experiment from a clean slate: no leftover layers/names, float32, seeded.

    A previous experiment may have switched the global policy to mixed precision or the
    float type to float64; both leak into every later model unless reset.
    """
    k = keras()
    k.backend.clear_session()
    k.mixed_precision.set_global_policy("float32")
    k.config.set_floatx("float32")
    seed_everything(seed, deterministic=deterministic)


def _installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def device_summary() -> dict:
    """Describe where computations run, for reports and logs.

    Returns {"device": "GPU: <name>" or "CPU", "gpus": [names], "tensorflow": str,
    "keras": str, "tensorflow_probability": str or None, "python": str, "numpy": str}.

    `DLKIT_FAKE_GPU=<name>` reports a GPU of that name that is not there (computations stay
    on the CPU): the kit's tests use it to exercise the GPU path on machines without one.
    """
    tf = tensorflow()
    import numpy as np

    gpu_names = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = {}
        with contextlib.suppress(Exception):  # details are best-effort on some drivers
            details = tf.config.experimental.get_device_details(gpu)
        gpu_names.append(details.get("device_name", gpu.name))
    if os.environ.get("DLKIT_FAKE_GPU"):
        gpu_names = [f"{os.environ['DLKIT_FAKE_GPU']} (faked by DLKIT_FAKE_GPU)"]
    return {
        "device": f"GPU: {gpu_names[0]}" if gpu_names else "CPU",
        "gpus": gpu_names,
        "tensorflow": tf.__version__,
        "keras": keras().__version__,
        # Read from package metadata: importing TFP costs seconds and needs tf-keras.
        "tensorflow_probability": _installed_version("tensorflow-probability"),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
