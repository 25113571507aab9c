"""labs/ is generated from solutions/, and the generator keeps skeletons valid."""
import ast
import subprocess
import sys

import jupytext
import nbformat
import pytest

from autograder import KIT_ROOT
from autograder.assign import MarkerError, assign, differences, skeleton
from autograder.errors import describe
from autograder.ipynb import NotebookError

SOLUTION = '''
def area(r):
    """r: radius; returns the area."""
    # BEGIN SOLUTION pi times the radius squared
    import math
    return math.pi * r ** 2
    # END SOLUTION


class Box:
    def volume(self):
        # BEGIN SOLUTION
        return 1
        # END SOLUTION
'''

NOTEBOOK = '''# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Shapes

# %%
import shapes

# %%
print(shapes.area(2.0))
'''


def test_labs_folder_is_in_sync_with_solutions():
    result = subprocess.run([sys.executable, "-m", "autograder", "assign", "--check"],
                            cwd=KIT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + "\nrun `python -m autograder assign`"


def test_assign_writes_skeletons_and_reports_every_kind_of_drift(tmp_path):
    solutions, labs = tmp_path / "solutions", tmp_path / "labs"
    (solutions / "lab99_demo").mkdir(parents=True)
    (solutions / "lab99_demo" / "shapes.py").write_text(SOLUTION)
    (solutions / "lab99_demo" / "README.md").write_text("handout")
    assert differences(labs, solutions) == ["missing: labs/lab99_demo/README.md",
                                            "missing: labs/lab99_demo/shapes.py"]
    assign(labs, solutions)
    assert differences(labs, solutions) == []
    assert "math.pi" not in (labs / "lab99_demo" / "shapes.py").read_text()
    (labs / "lab99_demo" / "README.md").write_text("edited by hand")
    (labs / "lab99_demo" / "stray.py").write_text("")
    assert differences(labs, solutions) == ["extra: labs/lab99_demo/stray.py",
                                            "differs: labs/lab99_demo/README.md"]
    assign(labs, solutions)
    assert differences(labs, solutions) == []


def test_regions_become_todo_and_raise_at_the_marker_indent():
    text = skeleton(SOLUTION)
    assert "math.pi" not in text and "return 1" not in text
    assert '    # TODO: pi times the radius squared\n    raise NotImplementedError(' in text
    assert "        # TODO: implement volume\n" in text
    ast.parse(text)


def test_the_grader_quotes_the_todo_a_check_reaches(tmp_path):
    (tmp_path / "shapes.py").write_text(skeleton(SOLUTION))
    namespace = {}
    exec(compile((tmp_path / "shapes.py").read_text(), str(tmp_path / "shapes.py"), "exec"),
         namespace)
    with pytest.raises(NotImplementedError) as raised:
        namespace["area"](1.0)
    assert describe(raised.value, tmp_path) == (
        "not implemented yet (shapes.py:5 in area): pi times the radius squared")


def test_long_and_multi_line_hints_wrap_under_100_columns_and_appear_once():
    hint = " ".join(["word"] * 40)
    source = (f"def f():\n    # BEGIN SOLUTION {hint}\n    #   and a second line\n"
              "    # a comment of the solution\n    return 1\n    # END SOLUTION\n")
    text = skeleton(source)
    assert max(len(line) for line in text.splitlines()) <= 100
    comment = " ".join(line.strip().lstrip("#").strip() for line in text.splitlines()
                       if line.strip().startswith("#"))
    assert comment == f"TODO: {hint} and a second line"
    assert "a comment of the solution" not in text and text.count("second line") == 1


@pytest.mark.parametrize("source,needle", [
    ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "inside a function"),
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n", "without END"),
    ("def f():\n    return 1\n    # END SOLUTION\n", "without BEGIN"),
])
def test_marker_mistakes_are_reported_with_their_line(source, needle):
    with pytest.raises(MarkerError, match=needle):
        skeleton(source)


def test_files_without_markers_are_copied_verbatim():
    assert skeleton("print('hello')\n") == "print('hello')\n"


def test_assign_pairs_every_notebook_py_with_a_generated_ipynb(tmp_path):
    solutions, labs = tmp_path / "solutions", tmp_path / "labs"
    (solutions / "lab99_demo").mkdir(parents=True)
    (solutions / "lab99_demo" / "notebook.py").write_text(NOTEBOOK)
    assert differences(labs, solutions) == ["missing: labs/lab99_demo/notebook.ipynb",
                                            "missing: labs/lab99_demo/notebook.py"]
    assign(labs, solutions)
    ipynb = labs / "lab99_demo" / "notebook.ipynb"
    notebook = nbformat.read(ipynb, as_version=4)
    nbformat.validate(notebook)
    assert [cell.source for cell in notebook.cells] == [
        "# Shapes", "import shapes", "print(shapes.area(2.0))"]
    assert all(cell.outputs == [] for cell in notebook.cells if cell.cell_type == "code")
    assert notebook.metadata.kernelspec.name == "python3"
    assert notebook.metadata.jupytext.formats == "ipynb,py:percent"
    # JupyterLab's jupytext opens a pair whose .ipynb is the newer file only when both read
    # back as the same script; the .py comes with the pair's header for that.
    assert jupytext.writes(notebook, "py:percent") == jupytext.writes(
        jupytext.read(labs / "lab99_demo" / "notebook.py"), "py:percent")
    # The same input gives the same bytes, so `assign --check` can compare them.
    assign(tmp_path / "again", solutions)
    assert (tmp_path / "again" / "lab99_demo" / "notebook.ipynb").read_bytes() == \
        ipynb.read_bytes()
    (solutions / "lab99_demo" / "notebook.py").write_text(NOTEBOOK + "\n# %%\nprint(1)\n")
    assert differences(labs, solutions) == ["differs: labs/lab99_demo/notebook.ipynb",
                                            "differs: labs/lab99_demo/notebook.py"]


def test_an_ipynb_in_solutions_is_refused_with_what_to_do(tmp_path):
    solutions, labs = tmp_path / "solutions", tmp_path / "labs"
    (solutions / "lab99_demo").mkdir(parents=True)
    (solutions / "lab99_demo" / "notebook.py").write_text(NOTEBOOK)
    (solutions / "lab99_demo" / "notebook.ipynb").write_text("{}")
    message = ("solutions/lab99_demo/notebook.ipynb: the notebooks in labs/ are generated "
               "from notebook.py; move your edits into solutions/lab99_demo/notebook.py and "
               "delete this file")
    assert differences(labs, solutions) == [message]
    with pytest.raises(NotebookError, match="generated from notebook.py"):
        assign(labs, solutions)
    assert not labs.exists()
