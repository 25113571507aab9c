"""labs/ is generated from solutions/, and the generator keeps skeletons valid."""
import ast
import subprocess
import sys

import pytest

from autograder import KIT_ROOT
from autograder.assign import MarkerError, assign, differences, skeleton
from autograder.errors import describe

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
