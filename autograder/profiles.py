"""Grading profiles: which checks run, and how, on which device.

- `cpu`: every check except those marked `requires_gpu`, which are reported as skipped.
- `gpu`: the GPU checks (each lab's `gpu.py`) run too: real data sets, larger models, longer
  training, under the `mixed_float16` policy and compiled with XLA, as a GPU runner trains.
  Their references are always computed live from the solution, on the same device.
- `auto` (the default) picks `gpu` when the worker sees a GPU, else `cpu`.

`DLKIT_GPU_SMOKE=1` shrinks every GPU check to a few steps on a few examples, without the
XLA compile (seconds per model on a CPU): the kit's own tests use it, with a faked GPU, to
run every lab's GPU checks in seconds. Its grades mean nothing; never grade with it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

CHOICES = ("auto", "cpu", "gpu")


@dataclass(frozen=True)
class Profile:
    name: str
    runs_gpu_checks: bool
    mixed_precision: bool = False   # GPU checks train under the mixed_float16 policy
    xla: bool = False               # GPU checks compile with jit_compile=True

    def gpu_settings(self) -> dict:
        """What a GPU check's probe is told (`lab.gpu`, see autograder/gpu.py)."""
        smoke = smoke_test()
        return {"mixed_precision": self.mixed_precision, "xla": self.xla and not smoke,
                "smoke": smoke}


CPU = Profile("cpu", runs_gpu_checks=False)
GPU = Profile("gpu", runs_gpu_checks=True, mixed_precision=True, xla=True)


def smoke_test() -> bool:
    return os.environ.get("DLKIT_GPU_SMOKE", "") not in ("", "0")


class ProfileError(ValueError):
    """The requested profile cannot run on this machine."""


def select(requested: str, gpus: list[str]) -> Profile:
    """The profile to grade with, given the request and the GPUs the worker reports."""
    if requested not in CHOICES:
        raise ProfileError(f"unknown profile {requested!r}; choose one of {', '.join(CHOICES)}")
    if requested == "gpu" and not gpus:
        raise ProfileError("the gpu profile needs a GPU, and the grading worker sees none "
                           "(check the runner's drivers and CUDA_VISIBLE_DEVICES)")
    if requested == "auto":
        return GPU if gpus else CPU
    return GPU if requested == "gpu" else CPU
