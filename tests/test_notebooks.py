"""Every notebook companion opens as a notebook and, run on the solution in quick mode,
trains and writes its pictures and TensorBoard logs."""
from __future__ import annotations

import os
import subprocess
import sys

import jupytext
import pytest

from autograder import KIT_ROOT, SOLUTIONS
from tests.conftest import LABS


@pytest.mark.parametrize("lab", LABS)
def test_notebook_is_a_jupytext_notebook_with_markdown_and_code(lab):
    notebook = jupytext.read(SOLUTIONS / lab / "notebook.py")
    kinds = {cell.cell_type for cell in notebook.cells}
    assert kinds == {"markdown", "code"} and len(notebook.cells) >= 6


@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_notebook_runs_on_the_solution_and_saves_pictures_and_logs(lab, tmp_path):
    env = dict(os.environ, DLKIT_QUICK="1", DLKIT_OUTPUT_DIR=str(tmp_path), MPLBACKEND="Agg",
               PYTHONPATH=str(KIT_ROOT))
    result = subprocess.run([sys.executable, "notebook.py"], cwd=SOLUTIONS / lab, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    pictures = list(tmp_path.rglob("*.png"))
    assert pictures and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pictures)
    assert list(tmp_path.rglob("events.out.tfevents.*")), "no TensorBoard logs written"
