"""Generate the student skeletons in labs/ from the reference solutions in solutions/.

In a solution file, the lines between `# BEGIN SOLUTION <hint>` and `# END SOLUTION`
become, in the skeleton, `# TODO: <hint>` and `raise NotImplementedError(...)` at the
marker's indentation. Everything else is copied as it is. Regions must sit inside a
function body, so the skeleton stays importable and half a lab still gets graded.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

from autograder import LABS, SOLUTIONS

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?::|\s)?\s*(?P<hint>.*)$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
SKIP_NAMES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
SKIP_SUFFIXES = {".pyc"}


class MarkerError(ValueError):
    pass


def _enclosing_functions(source: str) -> list[tuple[int, int, str]]:
    tree = ast.parse(source)
    return [(node.lineno, node.end_lineno, node.name) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


def region_lines(source: str):
    """The lines inside the solution regions of one file, markers excluded."""
    inside = False
    for line in source.splitlines():
        if BEGIN.match(line):
            inside = True
        elif END.match(line):
            inside = False
        elif inside:
            yield line


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
        indent, hint = match["indent"], match["hint"].strip()
        todo = hint or f"implement {function}"
        out.append(f"{indent}# TODO: {todo}\n")
        out.append(f'{indent}raise NotImplementedError("{_escape(todo)}")\n')
        index = end + 1
    text = "".join(out)
    ast.parse(text, filename=name)  # the skeleton must stay valid Python
    return text


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _files(root: Path):
    for path in sorted(root.rglob("*")):
        if path.is_file() and not SKIP_NAMES.intersection(path.parts) \
                and path.suffix not in SKIP_SUFFIXES:
            yield path.relative_to(root)


def render(solutions: Path = SOLUTIONS) -> dict[Path, bytes]:
    """{relative path: bytes} of the whole labs/ tree."""
    rendered = {}
    for rel in _files(solutions):
        data = (solutions / rel).read_bytes()
        if rel.suffix == ".py":
            data = skeleton(data.decode("utf-8"), str(rel)).encode("utf-8")
        rendered[rel] = data
    return rendered


def differences(labs: Path = LABS, solutions: Path = SOLUTIONS) -> list[str]:
    """What `assign` would change in labs/: empty when labs/ is in sync."""
    wanted = render(solutions)
    present = set(_files(labs)) if labs.exists() else set()
    diffs = [f"missing: labs/{p}" for p in sorted(set(wanted) - present)]
    diffs += [f"extra: labs/{p}" for p in sorted(present - set(wanted))]
    diffs += [f"differs: labs/{p}" for p in sorted(present & set(wanted))
              if (labs / p).read_bytes() != wanted[p]]
    return diffs


def assign(labs: Path = LABS, solutions: Path = SOLUTIONS) -> list[str]:
    """Rewrite labs/ from solutions/; returns what changed."""
    changed = differences(labs, solutions)
    wanted = render(solutions)
    if labs.exists():
        for rel in set(_files(labs)) - set(wanted):
            (labs / rel).unlink()
    for rel, data in wanted.items():
        target = labs / rel
        if not target.exists() or target.read_bytes() != data:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    for folder in sorted(labs.rglob("*"), reverse=True):  # drop folders left empty
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return changed
