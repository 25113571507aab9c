"""How a lab's checks are written.

A check pairs a *probe* (runs in the worker, next to the code under test, and returns plain
data) with a *verdict* (runs in the grading process on that data and on the reference's):

    @check(points=2, hint="KL(N(mu, s^2) || N(0, 1)) = 0.5 * sum(mu^2 + s^2 - 1 - log s^2)")
    def kl_divergence(lab, rng):
        mean = rng.normal(size=(16, 4)).astype("float32")
        log_var = rng.normal(size=(16, 4)).astype("float32")
        return {"kl": lab.vae.kl_divergence(mean, log_var)}

    @kl_divergence.verdict
    def _(student, reference):
        expect_close(student["kl"], reference["kl"], "kl_divergence(mean, log_var)")

`lab.<module>` imports a graded module from the folder being graded; `rng` is a seeded
numpy Generator (the same seed for the student and the reference, so both see the same
inputs). A verdict raises `CheckFailed` with a message that says what is wrong.
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

DEFAULT_TIMEOUT = 30.0


class CheckFailed(AssertionError):
    """Raised by a verdict: the message is shown to the student."""


@dataclass
class Check:
    name: str
    points: float
    probe: Callable
    hint: str = ""
    timeout: float = DEFAULT_TIMEOUT
    requires_gpu: bool = False
    uses: tuple[str, ...] | None = None   # graded modules the probe imports; None: all of the lab's
    needs_reference: bool = True          # False: the verdict checks invariants only
    module: str = ""
    hidden: bool = False
    task: str = ""                        # what the student writes, for the handout's table
    datasets: tuple[str, ...] = ()        # TFDS data sets a GPU check reads (see gpu.py)
    minutes: float = 0.0                  # a GPU check's budget on a T4-class GPU
    eager: bool = False                   # the probe runs tf.functions eagerly (see check())
    judge: Callable | None = field(default=None, repr=False)

    def verdict(self, judge: Callable) -> Callable:
        """Decorator: `judge(student, reference)` raises CheckFailed or returns None."""
        self.judge = judge
        return judge

    @property
    def description(self) -> str:
        """What the check checks: the first paragraph of its probe's docstring."""
        return " ".join((self.probe.__doc__ or "").strip().split("\n\n")[0].split())

    @property
    def key(self) -> str:
        return f"{self.module}:{self.name}"


def check(points: float, *, hint: str = "", timeout: float = DEFAULT_TIMEOUT,
          requires_gpu: bool = False, uses: str | tuple[str, ...] | None = None,
          reference: bool = True, name: str | None = None,
          task: str = "", datasets: tuple[str, ...] = (),
          minutes: float = 0.0, eager: bool = False) -> Callable[[Callable], Check]:
    """Declare a check whose probe is the decorated function. `task` names what the student
    writes (`"`VAE.train_step`"`) and the probe's docstring says what is checked: both go
    into the handout's table.

    `eager`: the probe's tf.functions (those `fit`, `evaluate` and `train_on_batch` make)
    run eagerly. For a unit check that takes a step or two: tracing and setting up a graph
    costs a second or more, far more than the steps. Whether the code works in a graph is
    what the GPU-readiness and training checks judge."""
    def wrap(probe: Callable) -> Check:
        used = (uses,) if isinstance(uses, str) else uses
        return Check(name=name or probe.__name__, points=points, probe=probe, hint=hint,
                     timeout=timeout, requires_gpu=requires_gpu, uses=used,
                     needs_reference=reference, module=probe.__module__,
                     hidden=is_hidden_module(probe.__module__), task=task,
                     datasets=datasets, minutes=minutes, eager=eager)
    return wrap


@dataclass
class LabSpec:
    """What the grader knows of a lab: its graded modules and its checks, in order."""
    name: str
    modules: tuple[str, ...]
    checks: list[Check]
    package: str

    def modules_of(self, chk: Check) -> tuple[str, ...]:
        return chk.uses if chk.uses is not None else self.modules


def checks_package(lab: str) -> str:
    return f"autograder.checks.{lab}"


def collect_checks(module_name: str) -> list[Check]:
    """The checks a check module defines, in the order they are written."""
    module = importlib.import_module(module_name)
    found = [value for value in vars(module).values()
             if isinstance(value, Check) and value.module == module_name]
    for chk in found:
        if chk.judge is None:
            raise TypeError(f"{chk.key} has no verdict")
    return found


def is_hidden_module(module_name: str) -> bool:
    """hidden.py, hidden_training.py...: left out of the student release."""
    return module_name.rpartition(".")[2].startswith("hidden")


def check_modules(package: str) -> tuple[list[str], list[str]]:
    """(public, hidden) check modules of a lab's package, public.py first.

    A lab splits its checks over files named public*.py and hidden*.py, plus readiness.py and
    gpu.py (GPU-readiness and GPU checks, public too); other modules (probes.py...) hold the
    helpers those files share."""
    folder = importlib.util.find_spec(package).submodule_search_locations[0]
    names = sorted(p.stem for p in Path(folder).glob("*.py"))
    public = ([n for n in names if n.startswith("public")]
              + [n for n in ("readiness", "gpu") if n in names])
    hidden = [n for n in names if n.startswith("hidden")]
    return [f"{package}.{n}" for n in public], [f"{package}.{n}" for n in hidden]


def load_lab(lab: str, *, hidden: bool = False, package: str | None = None) -> LabSpec:
    """Load a lab's public checks, and its hidden ones too when `hidden`.

    `package` overrides where the checks live (the kit's own tests use a fixture lab).
    """
    package = package or checks_package(lab)
    try:
        config = importlib.import_module(package)
    except ModuleNotFoundError as error:
        raise LookupError(f"no checks for lab {lab!r} (looked for {package})") from error
    public, hidden_modules = check_modules(package)
    checks = [c for module in public for c in collect_checks(module)]
    if hidden:
        if not hidden_modules:
            raise LookupError(f"{lab} has no hidden checks in this copy of the kit: they ship "
                              "with the instructors' copy, not with the student release")
        checks += [c for module in hidden_modules for c in collect_checks(module)]
    names = [c.name for c in checks]
    if len(names) != len(set(names)):
        raise TypeError(f"{package} declares a check name twice: "
                        f"{sorted({n for n in names if names.count(n) > 1})}")
    return LabSpec(name=lab, modules=tuple(config.MODULES), checks=checks, package=package)


CHECK_ROOTS = ("autograder.checks.", "tests.")


def find_check(key: str) -> Check:
    """Used by the worker to find the probe a request names."""
    module_name, _, name = key.partition(":")
    if not module_name.startswith(CHECK_ROOTS):
        raise LookupError(f"{key} is not a check module")
    for chk in collect_checks(module_name):
        if chk.name == name:
            return chk
    raise LookupError(f"no check {key}")


def all_labs() -> list[str]:
    """Every lab that has checks, in course order."""
    from autograder import KIT_ROOT
    root = KIT_ROOT / "autograder" / "checks"
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and p.name.startswith("lab") and any(p.glob("public*.py")))
