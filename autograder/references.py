"""Stored reference outputs: the public probes run on the solution, saved as plain JSON.

Students grade against these files, so the student release needs no solution code. Each
file carries a stamp (a hash of the sources it came from) so a kit test can tell when it is
stale; `python -m autograder references LAB` makes it fresh.
"""
from __future__ import annotations

import hashlib
import json

from autograder import KIT_ROOT, SOLUTIONS, wire
from autograder.session import PUBLIC_SEED, GradingError, ProbeFailed, Session, check_seed

STORE = KIT_ROOT / "autograder" / "references"


def path(lab: str):
    return STORE / f"{lab}.json"


def stamp(lab: str) -> str:
    """A hash of everything the public probes run: the graded modules, every check file but
    the hidden and GPU ones (whose references are never stored), the cross-lab check helpers
    and dlkit (but its command-line entry points)."""
    from autograder.api import checks_package, is_hidden_module, load_lab
    spec = load_lab(lab)
    checks_dir = KIT_ROOT / checks_package(lab).replace(".", "/")
    sources = [SOLUTIONS / lab / f"{m}.py" for m in spec.modules]
    sources += sorted(f for f in checks_dir.glob("*.py")
                      if not is_hidden_module(f.stem) and f.stem != "gpu")
    sources += [KIT_ROOT / "autograder" / "check_helpers.py"]
    sources += sorted(f for f in (KIT_ROOT / "dlkit").rglob("*.py") if f.name != "__main__.py")
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.relative_to(KIT_ROOT).as_posix().encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def load(lab: str) -> dict:
    """{check name: reference output}; raises GradingError when the file is missing."""
    file = path(lab)
    if not file.exists():
        raise GradingError(f"no stored references for {lab} ({file.relative_to(KIT_ROOT)}); "
                           f"run `python -m autograder references {lab}`")
    stored = json.loads(file.read_text())
    return {name: wire.from_plain(output) for name, output in stored["checks"].items()}


def stored_stamp(lab: str) -> str | None:
    file = path(lab)
    return json.loads(file.read_text()).get("stamp") if file.exists() else None


def generate(lab: str) -> dict:
    """Run the public probes on the solution and store their outputs."""
    from autograder.api import load_lab
    from autograder.sandbox import Limits
    spec = load_lab(lab)
    session = Session(spec, SOLUTIONS / lab, Limits())
    outputs = {}
    try:
        environment = session.start()
        for chk in spec.checks:
            if not chk.needs_reference:
                continue
            if chk.requires_gpu:
                continue  # computed live on GPU runners, with the profile's budget
            seed = check_seed(PUBLIC_SEED, lab, chk.name)
            try:
                outputs[chk.name] = wire.to_plain(session.probe(chk, seed))
            except ProbeFailed as failure:
                raise GradingError(f"the solution of {lab} fails {chk.name}: {failure.message}\n"
                                   f"{failure.trace}") from None
    finally:
        session.close()
    STORE.mkdir(parents=True, exist_ok=True)
    document = {"lab": lab, "stamp": stamp(lab), "environment": environment, "checks": outputs}
    path(lab).write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    return document


def hidden_path(lab: str):
    """The solution's outputs on the hidden checks: only a Gradescope bundle holds this file."""
    return STORE / f"{lab}.hidden.json"


def load_hidden(lab: str) -> dict:
    """The stored hidden outputs as grading.References' cache ({"check:seed": output});
    empty when this copy has none."""
    file = hidden_path(lab)
    if not file.exists():
        return {}
    return {key: wire.from_plain(output) for key, output in json.loads(file.read_text()).items()}
