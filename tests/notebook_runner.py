"""Runs a notebook companion in a process forked from one that has imported TensorFlow.

The notebook tests import this module in a multiprocessing fork server, once per test
process; every notebook then starts with TensorFlow imported instead of paying the 4 s
import again, and otherwise runs as `python notebook.py` would: fresh globals, as __main__,
from its own folder, with the graded modules next to it first on sys.path.
"""
from __future__ import annotations

import gc
import os
import runpy
import sys

from dlkit.backend import tensorflow

tensorflow()  # in the fork server: its children inherit the import
# TensorFlow's import leaves a huge heap of long-lived objects: kept out of the collections
# that each reset_keras() (keras' clear_session) runs, 0.3 s each otherwise, as in the
# grading workers.
gc.freeze()


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
