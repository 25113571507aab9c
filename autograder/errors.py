"""Turn an exception raised by code under test into one line that says what and where."""
from __future__ import annotations

import linecache
import re
import traceback
from pathlib import Path

MAX_MESSAGE = 300
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Keras re-raises an error from a layer's call() with this frame around the original text.
KERAS_FRAME = re.compile(r"^Exception encountered when calling (?P<call>[\w.]+\(\))\.\s*"
                         r"(?P<message>.*?)\s*(?:Arguments received by .*)?$", re.S)


def _text(error: BaseException) -> str:
    """The error's own message, without Keras's frame and terminal colour codes."""
    text = ANSI.sub("", str(error))
    framed = KERAS_FRAME.match(text)
    return framed["message"] if framed else text


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _innermost_frame_in(tb, folder: Path):
    """The deepest traceback frame whose file lies in `folder` (the student's code)."""
    found = None
    for frame in traceback.extract_tb(tb):
        try:
            path = Path(frame.filename).resolve()
        except (OSError, ValueError):
            continue
        if path.is_relative_to(folder):
            found = (path.relative_to(folder), frame.lineno, frame.name)
    return found


def _raised_in(tb, folder: Path) -> bool:
    """Whether a `raise` statement of code in `folder` raised the error: a library's own
    NotImplementedError (numpy() on a symbolic tensor...) is not a TODO left open, even
    when TensorFlow's and Keras's traceback filtering hides the library's frames."""
    frames = traceback.extract_tb(tb)
    try:
        inside = bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False
    return inside and (frames[-1].line or "").lstrip().startswith("raise")


def _todo_above(path: Path, line: int) -> str:
    """The `# TODO: ...` comment (wrapped over several lines or not) right above a line of a
    skeleton, as one line of text; empty when there is none."""
    block = []
    for number in range(line - 1, 0, -1):
        text = linecache.getline(str(path), number).strip()
        if not text.startswith("#"):
            break
        block.insert(0, text.lstrip("#").strip())
        if text.startswith("# TODO:"):
            return " ".join(block)[len("TODO:"):].strip()
    return ""


def describe(error: BaseException, folder: Path) -> str:
    """`vae.py:42 in kl_divergence: ValueError: ...`, or the closest we can say."""
    folder = folder.resolve()
    if isinstance(error, SyntaxError) and error.filename:
        path = Path(error.filename)
        name = path.relative_to(folder) if path.resolve().is_relative_to(folder) else path.name
        return _one_line(f"{name}:{error.lineno}: {type(error).__name__}: {error.msg}")
    where = _innermost_frame_in(error.__traceback__, folder)
    location = f"{where[0]}:{where[1]} in {where[2]}" if where else None
    if isinstance(error, NotImplementedError) and _raised_in(error.__traceback__, folder):
        todo = (_todo_above(folder / where[0], where[1]) if where else "") or _text(error)
        todo = f": {todo}" if todo else ""
        return _one_line(f"not implemented yet ({location or 'unknown place'}){todo}")
    if isinstance(error, SystemExit):
        return _one_line(f"{location or 'the code'} called sys.exit({error.code!r}) "
                         "instead of returning")
    if isinstance(error, ModuleNotFoundError) and error.name:
        return _one_line(f"{location or 'the code'} imports {error.name!r}, "
                         "which is not installed here")
    if "OptionalFromValue" in _text(error):
        # Keras's fit wraps the step's logs in an Optional: a step returning None fails there.
        return _one_line("train_step returned None: it must return its logs, a dict of "
                         "metric names to values (a `pass` left in it, or a missing `return`?)")
    if where is None and "NoneType" in _text(error):
        # Raised in the check's own code, on a value the student's code gave back.
        return _one_line("a function under test returned None where a value was expected "
                         "(a `pass` left in it, or a missing `return`?): "
                         f"{type(error).__name__}: {_text(error)}")
    prefix = f"{location}: " if location else ""
    return _one_line(f"{prefix}{type(error).__name__}: {_text(error)}")


def trace(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))
