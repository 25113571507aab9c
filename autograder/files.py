"""Atomic file writes: a reader, or a grader killed halfway, never sees half a file."""
from __future__ import annotations

import contextlib
from pathlib import Path


@contextlib.contextmanager
def replacing(path: Path):
    """Yields a temporary path beside `path` to write to; it takes `path`'s name only once
    the block ends without an error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    yield temporary
    temporary.replace(path)


def write_atomic(path: Path, text: str) -> None:
    with replacing(path) as temporary:
        temporary.write_text(text)
