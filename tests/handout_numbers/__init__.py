"""The numbers each handout promises, held against the reference solution.

A lab's module here lists `CLAIMS`: a number its handout states (the `phrase`, quoted
verbatim from `solutions/LAB/README.md`) and the bound the reference must meet on the output
of one public training check (`check`, `key`). The bound is read from the stored
references, which `test_labs` proves fresh (stamped) and reproduced live by the solution
(full marks), so holding the handout to its word costs no extra training.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Claim:
    check: str                   # a public check whose probe trains the reference
    key: str | Callable          # the entry of that probe's output holding the number, or
                                 # a function of the output computing it (a verdict's measure)
    phrase: str                  # the handout's words stating it, quoted verbatim
    at_least: float | None = None
    at_most: float | None = None


def claims_of(lab: str) -> list[Claim]:
    try:
        module = importlib.import_module(f"tests.handout_numbers.{lab}")
    except ModuleNotFoundError:
        return []
    return list(module.CLAIMS)


def measure(claim: Claim, output) -> float:
    value = claim.key(output) if callable(claim.key) else output[claim.key]
    return float(value)
