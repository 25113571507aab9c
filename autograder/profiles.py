"""Grading profiles: which checks run, and with what training budget, on which device.

- `cpu`: every check except those marked `requires_gpu`, which are reported as skipped.
  Budgets are the ones the stored references were made with (`lab.budget == 1`).
- `gpu`: the GPU checks run too, and their probes scale their training by `lab.budget`
  (more steps, larger models). Only GPU checks may read it: their references are always
  computed live from the solution, with the same budget.
- `auto` (the default) picks `gpu` when the worker sees a GPU, else `cpu`.
"""
from __future__ import annotations

from dataclasses import dataclass

CHOICES = ("auto", "cpu", "gpu")


@dataclass(frozen=True)
class Profile:
    name: str
    budget: float        # how many times the CPU training budget GPU checks get
    runs_gpu_checks: bool


CPU = Profile("cpu", 1.0, False)
GPU = Profile("gpu", 4.0, True)


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
