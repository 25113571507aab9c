"""dlkit's autograder: grades a lab folder against the reference solution.

Student code runs only in worker subprocesses (`worker.py`), which send back plain data
(`wire.py`); the score is decided in the grading process (`grading.py`) by each check's
verdict. See README.md at the top of the kit for the commands.
"""
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = KIT_ROOT / "solutions"
LABS = KIT_ROOT / "labs"
