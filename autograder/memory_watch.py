"""One thread watches the resident memory of every live worker.

Ten times a second it reads the process table once (/proc/PID/stat: parent and resident
pages of every process) and adds up each worker's tree. A thread per worker that asked
psutil for its children did the same scan once per worker, which cost a grading of a class
with two jobs about a tenth of a core.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Callable

import psutil

PAGE = os.sysconf("SC_PAGE_SIZE")
PERIOD = 0.1


def process_table() -> dict[int, tuple[int, int]]:
    """{pid: (parent pid, resident bytes)} of every process we may read."""
    if not os.path.isdir("/proc"):  # macOS: slower, through psutil
        return {p.pid: (p.info["ppid"], p.info["memory_info"].rss)
                for p in psutil.process_iter(["ppid", "memory_info"])
                if p.info["memory_info"] is not None}
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        table[int(entry)] = (int(fields[1]), int(fields[21]) * PAGE)
    return table


def children_of(table: dict[int, tuple[int, int]]) -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    return children


def tree_bytes(table: dict[int, tuple[int, int]], children: dict[int, list[int]], root: int,
               skip_levels: int = 0) -> int:
    """Resident bytes of `root` and its descendants, leaving out the top `skip_levels`
    generations (1: root itself; 2: root and its children)."""
    total, todo = 0, [(root, 0)]
    while todo:
        pid, depth = todo.pop()
        if pid in table and depth >= skip_levels:
            total += table[pid][1]
        todo.extend((child, depth + 1) for child in children.get(pid, ()))
    return total


class Watched:
    """What the watcher needs of a worker: its root pid, how many generations at the top
    of its tree run no code under test, its limit, and what to call past the limit."""

    def __init__(self, root: int, limit: int, on_exceeded: Callable[[], None],
                 skip_levels: int = 0):
        self.root, self.limit, self.on_exceeded = root, limit, on_exceeded
        self.skip_levels = skip_levels


_lock = threading.Lock()
_watched: set[Watched] = set()
_thread: threading.Thread | None = None


def watch(item: Watched) -> None:
    global _thread
    with _lock:
        _watched.add(item)
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, daemon=True, name="dlkit-memory-watch")
            _thread.start()


def unwatch(item: Watched) -> None:
    with _lock:
        _watched.discard(item)


def _run() -> None:
    while True:
        with _lock:
            items = list(_watched)
        if items:
            table = process_table()
            children = children_of(table)
            for item in items:
                if tree_bytes(table, children, item.root, item.skip_levels) > item.limit:
                    unwatch(item)
                    item.on_exceeded()
        time.sleep(PERIOD)
