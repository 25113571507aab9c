"""Each misbehaving probe is followed by a healthy one."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.verdicts import expect_close


def _healthy(lab, rng):
    a, b = rng.normal(size=(2, 3))
    return {"sum": lab.subject.add(a, b), "a": a, "b": b}


def _healthy_verdict(student, reference):
    expect_close(student["sum"], np.asarray(student["a"]) + student["b"], "add(a, b)")


def _expect_nothing(student, reference):
    """These probes must fail before returning; an answer means the misbehaviour went unseen."""
    raise CheckFailed(f"the probe returned {student!r} instead of failing")


def misbehaving(name, call, timeout=30.0):
    def probe(lab, rng):
        return {"value": getattr(lab.subject, call)()}
    probe.__name__ = name
    probe.__module__ = __name__
    chk = check(points=1, hint=f"{call} misbehaves", reference=False, timeout=timeout)(probe)
    chk.verdict(_expect_nothing)
    return chk


def healthy(name):
    probe = lambda lab, rng: _healthy(lab, rng)  # noqa: E731
    probe.__name__ = name
    probe.__module__ = __name__
    chk = check(points=1, hint="add two arrays", reference=False)(probe)
    chk.verdict(_healthy_verdict)
    return chk


raises = misbehaving("raises", "raise_error")
healthy_1 = healthy("healthy_1")
not_implemented = misbehaving("not_implemented", "not_done")
sys_exit = misbehaving("sys_exit", "call_sys_exit")
healthy_2 = healthy("healthy_2")
os_exit = misbehaving("os_exit", "call_os_exit")
healthy_3 = healthy("healthy_3")
killed = misbehaving("killed", "kill_self")
healthy_4 = healthy("healthy_4")
hangs = misbehaving("hangs", "loop_forever", timeout=3)
healthy_5 = healthy("healthy_5")
memory = misbehaving("memory", "eat_memory", timeout=60)
healthy_6 = healthy("healthy_6")
floods = misbehaving("floods", "print_flood", timeout=60)
healthy_7 = healthy("healthy_7")
lies = misbehaving("lies", "liar")
healthy_8 = healthy("healthy_8")
