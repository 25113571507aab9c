"""The notebook.ipynb students open in JupyterLab, generated from a lab's notebook.py.

`assign` writes it next to the lab's notebook.py in labs/, and `assign --check` compares it
byte for byte, so the same notebook.py and the same pinned jupytext must give the same
bytes: cells get ids from their position (nbformat would draw random ones), and the file
holds no outputs. Its jupytext metadata pairs it with notebook.py (`ipynb,py:percent`), so
JupyterLab with jupytext rewrites both when a student saves.
"""
from __future__ import annotations

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
    """solutions/ holds notebook.py only: an .ipynb there would be copied over the generated one."""
    if rel.suffix == ".ipynb":
        raise NotebookError(
            f"solutions/{rel}: the notebooks in labs/ are generated from notebook.py; "
            f"move your edits into solutions/{rel.with_suffix('.py')} and delete this file")


def notebook_ipynb(source: str) -> bytes:
    """The .ipynb (nbformat 4 JSON, no outputs) of a jupytext percent-format script."""
    import jupytext  # only `assign` needs it, not grading

    notebook = jupytext.reads(source, fmt="py:percent")
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index}"
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata.setdefault("jupytext", {})["formats"] = PAIRING
    return (jupytext.writes(notebook, fmt="ipynb") + "\n").encode("utf-8")
