"""Shared helpers of the kit's tests. Tests never import TensorFlow in this process unless
they test dlkit itself: gradings run in worker subprocesses."""
from __future__ import annotations

import pytest

from autograder.api import all_labs
from autograder.grading import grade

LABS = all_labs()


def graded(lab, folder, **kwargs):
    return grade(lab, folder, **kwargs)


def failures(report) -> dict[str, str]:
    return {r.name: r.message for r in report.results if r.status != "passed"}


@pytest.fixture(params=LABS)
def lab(request):
    return request.param
