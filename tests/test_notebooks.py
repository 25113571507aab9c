"""Every notebook companion opens as a notebook and, run on the solution in quick mode,
trains and writes its pictures and TensorBoard logs."""
from __future__ import annotations

import multiprocessing

import jupytext
import pytest

from autograder import SOLUTIONS
from tests import notebook_runner
from tests.conftest import LABS


@pytest.mark.parametrize("lab", LABS)
def test_notebook_is_a_jupytext_notebook_with_markdown_and_code(lab):
    notebook = jupytext.read(SOLUTIONS / lab / "notebook.py")
    kinds = {cell.cell_type for cell in notebook.cells}
    assert kinds == {"markdown", "code"} and len(notebook.cells) >= 6


@pytest.fixture(scope="module")
def fork_server():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([notebook_runner.__name__])
    return context


@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_notebook_runs_on_the_solution_and_saves_pictures_and_logs(lab, tmp_path, fork_server):
    env = {"DLKIT_QUICK": "1", "DLKIT_OUTPUT_DIR": str(tmp_path), "MPLBACKEND": "Agg"}
    log = tmp_path / "notebook.log"
    run = fork_server.Process(target=notebook_runner.run,
                              args=(str(SOLUTIONS / lab), env, str(log)))
    run.start()
    run.join(timeout=240)
    if run.is_alive():
        run.kill()
        run.join()
    output = log.read_text() if log.exists() else ""
    assert run.exitcode == 0, f"exit status {run.exitcode}:\n{output[-3000:]}"
    pictures = list(tmp_path.rglob("*.png"))
    assert pictures and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pictures)
    assert list(tmp_path.rglob("events.out.tfevents.*")), "no TensorBoard logs written"
