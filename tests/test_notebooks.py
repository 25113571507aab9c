"""Every notebook companion opens as a notebook and, run on the solution in quick mode,
trains and writes its pictures and TensorBoard logs. One of them runs as students run it:
as notebook.ipynb, cell by cell, in a Jupyter kernel."""
from __future__ import annotations

import base64
import multiprocessing
import os
import shutil

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from autograder import KIT_ROOT, SOLUTIONS
from autograder.ipynb import paired_notebook
from tests import notebook_runner
from tests.conftest import LABS

# The notebook that costs least to run in a Jupyter kernel rather than as a script, and
# shows its pictures through dlkit.plots; its kernel run also covers its run as a script.
IN_JUPYTER = "lab02_autodiff"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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
@pytest.mark.parametrize("lab", [lab for lab in LABS if lab != IN_JUPYTER])
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
    assert pictures and all(p.read_bytes()[:8] == PNG_SIGNATURE for p in pictures)
    assert list(tmp_path.rglob("events.out.tfevents.*")), "no TensorBoard logs written"


@pytest.mark.slow
def test_notebook_ipynb_runs_in_a_jupyter_kernel_and_shows_the_pictures_it_saves(tmp_path):
    folder = tmp_path / IN_JUPYTER  # a scratch copy: the kernel runs next to the graded modules
    shutil.copytree(SOLUTIONS / IN_JUPYTER, folder)
    script, ipynb = paired_notebook((folder / "notebook.py").read_text())
    (folder / "notebook.py").write_bytes(script)
    (folder / "notebook.ipynb").write_bytes(ipynb)
    notebook = nbformat.read(folder / "notebook.ipynb", as_version=4)
    outputs = tmp_path / "outputs"
    env = {**os.environ, "DLKIT_QUICK": "1", "DLKIT_OUTPUT_DIR": str(outputs),
           "PYTHONPATH": str(KIT_ROOT)}  # this checkout's dlkit, whatever .venv points at
    env.pop("MPLBACKEND", None)  # the kernel's own inline backend, as in JupyterLab
    # A failing cell raises CellExecutionError, which shows the cell and its traceback
    # (without colour codes, for CI logs).
    NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(folder)}},
                   extra_arguments=["--InteractiveShell.colors=nocolor"]).execute(env=env)
    saved = {path.read_bytes() for path in outputs.rglob("*.png")}
    shown = [base64.b64decode(output.data["image/png"])
             for cell in notebook.cells if cell.cell_type == "code"
             for output in cell.outputs if "image/png" in output.get("data", {})]
    assert saved and all(picture[:8] == PNG_SIGNATURE for picture in saved)
    assert shown, "no cell shows a picture"
    assert set(shown) == saved, "the pictures shown are not the ones saved under outputs/"
    assert list(outputs.rglob("events.out.tfevents.*")), "no TensorBoard logs written"
