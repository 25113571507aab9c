"""The notebook students open in JupyterLab: notebook.ipynb, paired with notebook.py.

`assign` writes both into each lab of labs/ from the solution's notebook.py. They hold the
same cells and the same header (a python3 kernelspec, the jupytext pairing
`ipynb,py:percent`), so JupyterLab with jupytext opens the pair whichever file is newer and
rewrites both when a student saves; a save that changes no cell leaves their bytes as they
were. `assign --check` compares them byte for byte, so the same notebook.py and the same
pinned jupytext must give the same bytes: cells get ids from their position (nbformat
would draw random ones), and the .ipynb holds no outputs.
"""
from __future__ import annotations

import copy
from pathlib import Path

NOTEBOOK_SOURCE = "notebook.py"
PAIRING = "ipynb,py:percent"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


class NotebookError(ValueError):
    pass


def ipynb_path(rel: Path) -> Path | None:
    """Where the .ipynb of `rel` goes, when `rel` is a lab's notebook companion."""
    return rel.with_suffix(".ipynb") if rel.name == NOTEBOOK_SOURCE else None


def refuse_handwritten(rel: Path) -> None:
    """solutions/ holds notebook.py only: an .ipynb there would stand for the generated one."""
    if rel.suffix == ".ipynb":
        raise NotebookError(
            f"solutions/{rel}: the notebooks in labs/ are generated from notebook.py; "
            f"move your edits into solutions/{rel.with_suffix('.py')} and delete this file")


def paired_notebook(source: str) -> tuple[bytes, bytes]:
    """(notebook.py, notebook.ipynb) for students, from a jupytext percent-format script:
    the script with the pair's header, and the notebook (nbformat 4 JSON, no outputs)."""
    import jupytext  # only `assign` needs it, not grading

    notebook = jupytext.reads(source, fmt="py:percent")
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index}"
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata.setdefault("jupytext", {})["formats"] = PAIRING
    # The kernelspec names the language; JupyterLab drops this key at the first save.
    notebook.metadata["jupytext"].pop("main_language", None)
    # Each writer gets its own copy: jupytext adds format metadata to what it writes.
    script = jupytext.writes(copy.deepcopy(notebook), fmt="py:percent")
    ipynb = jupytext.writes(copy.deepcopy(notebook), fmt="ipynb") + "\n"
    return script.encode("utf-8"), ipynb.encode("utf-8")
