"""Runs a notebook companion in a process forked from one that has imported TensorFlow.

The notebook tests import this module in a multiprocessing fork server, once per test
process; every notebook then starts with TensorFlow imported instead of paying the 4 s
import again, and otherwise runs as `python notebook.py` would: fresh globals, as __main__,
from its own folder, with the graded modules next to it first on sys.path.
"""
from __future__ import annotations

import os
import runpy
import sys

from dlkit.backend import tensorflow

tensorflow()  # in the fork server: its children inherit the import


def run(folder: str, env: dict, log: str) -> None:
    """In the child: run folder/notebook.py; its output goes to `log`."""
    os.environ.update(env)
    with open(log, "w") as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
    os.chdir(folder)
    sys.path.insert(0, folder)
    sys.argv = ["notebook.py"]
    runpy.run_path("notebook.py", run_name="__main__")
