"""One check that reads the worker's process state."""
import os

from autograder.api import check
from autograder.verdicts import expect_true


@check(points=1, hint="report the process", reference=False)
def facts(lab, rng):
    import numpy
    return {"pid": os.getpid(), "parent": os.getppid(), "numpy_pi": float(numpy.pi),
            "tampered": lab.subject.tampered(), "threads": len(os.listdir("/proc/self/task"))}


@facts.verdict
def _(student, reference):
    expect_true(not student["tampered"], "the worker was tampered with")
