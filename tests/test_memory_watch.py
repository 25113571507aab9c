"""The memory watcher adds up a worker's tree from one read of the process table."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

from autograder import memory_watch

HOLD_200_MB = ("import sys; block = bytearray(200 << 20); block[::4096] = b'x' * (200 << 8); "
               "print('ready', flush=True); sys.stdin.read()")


def test_a_tree_counts_its_descendants_and_leaves_out_its_top_generations():
    holder = subprocess.Popen([sys.executable, "-c", HOLD_200_MB], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        table = memory_watch.process_table()
        me = os.getpid()
        assert table[holder.pid][0] == me
        children = memory_watch.children_of(table)
        assert memory_watch.tree_bytes(table, children, me) >= table[me][1] + (200 << 20)
        assert memory_watch.tree_bytes(table, children, holder.pid) >= 200 << 20
        assert memory_watch.tree_bytes(table, children, holder.pid, skip_levels=1) == 0
    finally:
        holder.stdin.close()
        holder.wait()


def test_the_watcher_calls_back_once_when_a_tree_passes_its_limit():
    holder = subprocess.Popen([sys.executable, "-c", HOLD_200_MB], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    exceeded = threading.Event()
    try:
        assert holder.stdout.readline().strip() == "ready"
        watched = memory_watch.Watched(holder.pid, 100 << 20, exceeded.set)
        memory_watch.watch(watched)
        assert exceeded.wait(timeout=10), "a 200 MB process passed a 100 MB limit unseen"
        assert watched not in memory_watch._watched  # reported once, then let go
    finally:
        holder.stdin.close()
        holder.wait()
