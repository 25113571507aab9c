"""Generate the student skeletons in labs/ from the reference solutions in solutions/.

In a solution file, the lines between `# BEGIN SOLUTION <hint>` and `# END SOLUTION`
become, in the skeleton, `# TODO: <hint>` (wrapped under 100 columns) and
`raise NotImplementedError(...)` at the marker's indentation. A hint may go on over the
comment lines right after the marker written `#   more of the hint` (two or more spaces
after the `#`). Everything else is copied as it is. Regions must sit inside a function body, so the
skeleton stays importable and half a lab still gets graded. The grader shows the TODO
comment above the `raise` as the message of a check that reaches it. Each lab's notebook.py
becomes, in labs/, a pair: notebook.ipynb, which students open in JupyterLab, and
notebook.py with the pair's header (autograder/ipynb.py).
"""
from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

from autograder import LABS, SOLUTIONS
from autograder.ipynb import NotebookError, ipynb_path, paired_notebook, refuse_handwritten

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?::|\s)?\s*(?P<hint>.*)$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
HINT_GOES_ON = re.compile(r"^\s*#\s{2,}(?P<more>\S.*)$")
WIDTH = 100
TODO = "# TODO: "
NOT_DONE = "fill in the TODO above"
SKIP_NAMES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
SKIP_SUFFIXES = {".pyc"}


class MarkerError(ValueError):
    pass


def _enclosing_functions(source: str) -> list[tuple[int, int, str]]:
    tree = ast.parse(source)
    return [(node.lineno, node.end_lineno, node.name) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


def region_lines(source: str):
    """The lines inside the solution regions of one file, markers and hints excluded."""
    inside = in_hint = False
    for line in source.splitlines():
        if BEGIN.match(line):
            inside = in_hint = True
        elif END.match(line):
            inside = False
        elif inside:
            in_hint = in_hint and bool(HINT_GOES_ON.match(line))
            if not in_hint:
                yield line


def _hint(lines: list[str], begin: int) -> str:
    """The hint of the region whose marker is lines[begin], continuation lines included."""
    parts = [BEGIN.match(lines[begin].rstrip("\n"))["hint"].strip()]
    index = begin + 1
    while index < len(lines) and (more := HINT_GOES_ON.match(lines[index].rstrip("\n"))):
        parts.append(more["more"].strip())
        index += 1
    return " ".join(p for p in parts if p)


def todo_comment(hint: str, indent: str) -> list[str]:
    """`# TODO: hint`, wrapped under WIDTH columns with its continuation lines aligned."""
    wrapped = textwrap.wrap(hint, width=WIDTH - len(indent) - len(TODO),
                            break_long_words=False, break_on_hyphens=False)
    return [f"{indent}{TODO if i == 0 else '#' + ' ' * (len(TODO) - 1)}{text}\n"
            for i, text in enumerate(wrapped)]


def skeleton(source: str, name: str = "<solution>") -> str:
    """The student version of one solution file."""
    if "# BEGIN SOLUTION" not in source and "# END SOLUTION" not in source:
        return source
    functions = _enclosing_functions(source)
    lines = source.splitlines(keepends=True)
    out, index = [], 0
    while index < len(lines):
        match = BEGIN.match(lines[index].rstrip("\n"))
        if not match:
            if END.match(lines[index]):
                raise MarkerError(f"{name}:{index + 1}: END SOLUTION without BEGIN")
            out.append(lines[index])
            index += 1
            continue
        start = index + 1
        end = next((i for i in range(index + 1, len(lines)) if END.match(lines[i])), None)
        if end is None:
            raise MarkerError(f"{name}:{start}: BEGIN SOLUTION without END SOLUTION")
        inside = [f for f in functions if f[0] < start < f[1]]  # start: the BEGIN line
        if not inside:
            raise MarkerError(f"{name}:{start}: a solution region must be inside a function")
        function = max(inside, key=lambda f: f[0])[2]
        hint = _hint(lines, index)
        out += todo_comment(hint or f"implement {function}", match["indent"])
        out.append(f'{match["indent"]}raise NotImplementedError("{NOT_DONE}")\n')
        index = end + 1
    text = "".join(out)
    ast.parse(text, filename=name)  # the skeleton must stay valid Python
    return text


def _files(root: Path):
    for path in sorted(root.rglob("*")):
        if path.is_file() and not SKIP_NAMES.intersection(path.parts) \
                and path.suffix not in SKIP_SUFFIXES:
            yield path.relative_to(root)


def _with_checks_table(rel: Path, data: bytes) -> bytes:
    """A lab's handout gets its table of checks regenerated (see handout.py)."""
    from autograder import handout
    from autograder.api import all_labs
    if rel.name != "README.md" or len(rel.parts) != 2 or rel.parts[0] not in all_labs():
        return data
    text = data.decode("utf-8")
    if not handout.has_table(text):
        return data   # the kit's tests require the table of every lab (tests/test_labs.py)
    return handout.refresh(text, rel.parts[0]).encode("utf-8")


def render(solutions: Path = SOLUTIONS) -> dict[Path, bytes]:
    """{relative path: bytes} of the whole labs/ tree, each notebook.py paired with a
    generated notebook.ipynb. Raises HandoutError when a handout has no place for its table
    of checks, NotebookError for an .ipynb in solutions/."""
    rendered = {}
    for rel in _files(solutions):
        refuse_handwritten(rel)
        data = (solutions / rel).read_bytes()
        if rel.suffix == ".py":
            data = skeleton(data.decode("utf-8"), str(rel)).encode("utf-8")
        if notebook := ipynb_path(rel):
            # Written before its .py, as jupytext saves a pair: the .py is the newer file.
            data, rendered[notebook] = paired_notebook(data.decode("utf-8"))
        rendered[rel] = _with_checks_table(rel, data)
    return rendered


def differences(labs: Path = LABS, solutions: Path = SOLUTIONS) -> list[str]:
    """What `assign` would change in labs/ (and in the handouts' tables of checks): empty
    when everything is in sync."""
    from autograder.handout import HandoutError
    try:
        wanted = render(solutions)
    except (HandoutError, NotebookError) as error:
        return [str(error)]
    present = set(_files(labs)) if labs.exists() else set()
    diffs = [f"missing: labs/{p}" for p in sorted(set(wanted) - present)]
    diffs += [f"extra: labs/{p}" for p in sorted(present - set(wanted))]
    diffs += [f"differs: labs/{p}" for p in sorted(present & set(wanted))
              if (labs / p).read_bytes() != wanted[p]]
    diffs += [f"table of checks out of date: solutions/{p}" for p in sorted(wanted)
              if p.name == "README.md" and (solutions / p).read_bytes() != wanted[p]]
    return diffs


def assign(labs: Path = LABS, solutions: Path = SOLUTIONS) -> list[str]:
    """Rewrite labs/ from solutions/, and the handouts' tables of checks in both; returns
    what changed."""
    changed = differences(labs, solutions)
    wanted = render(solutions)
    if labs.exists():
        for rel in set(_files(labs)) - set(wanted):
            (labs / rel).unlink()
    for rel, data in wanted.items():
        # Of solutions/, only the handouts change: their tables of checks.
        for target in [labs / rel] + ([solutions / rel] if rel.name == "README.md" else []):
            if not target.exists() or target.read_bytes() != data:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
    for folder in sorted(labs.rglob("*"), reverse=True):  # drop folders left empty
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return changed
