"""`check --watch`: grade once, then grade again after every save and show only what changed.

Three parts, each usable alone: `snapshot`/`wait_for_change` notice a save by polling the
size and modification time of the folder's .py files (no extra dependency, a few stat calls
per poll); `compare`/`print_changes` turn two reports into the lines a student reads; `watch`
is the loop. Grading runs through the `regrade` callable the CLI passes in.
"""
from __future__ import annotations

import faulthandler
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.markup import escape

from autograder.report import print_report
from autograder.results import CheckResult, Report
from autograder.session import GradingError

# The notebook companion imports the graded modules but is never graded: saving it while
# exploring would only cost a grading that changes nothing.
NOT_GRADED = frozenset({"notebook.py"})
POLL_SECONDS = 0.1     # a handful of stat calls: negligible even at ten per second
SETTLE_SECONDS = 0.3   # editors save in several writes; grade once the files stay put

Snapshot = dict[str, tuple[int, int, int]]


# -- noticing a save ----------------------------------------------------------------------

def watched_files(folder: Path) -> list[Path]:
    """The folder's Python modules: the graded ones and any helper they may import.
    Dot-files are editors' lock and backup files."""
    return sorted(p for p in Path(folder).glob("*.py")
                  if p.name not in NOT_GRADED and not p.name.startswith("."))


def snapshot(folder: Path) -> Snapshot:
    """(modification time, size, inode) of each watched file. The inode catches editors that
    save by writing a new file and renaming it over the old one."""
    state: Snapshot = {}
    for path in watched_files(folder):
        try:
            info = path.stat()
        except FileNotFoundError:   # removed between the listing and the stat
            continue
        state[path.name] = (info.st_mtime_ns, info.st_size, info.st_ino)
    return state


def changed_files(before: Snapshot, after: Snapshot) -> list[str]:
    return sorted(name for name in before.keys() | after.keys()
                  if before.get(name) != after.get(name))


def wait_for_change(folder: Path, last: Snapshot, *, poll: float = POLL_SECONDS,
                    settle: float = SETTLE_SECONDS) -> Snapshot:
    """Block until the watched files differ from `last` and then stay unchanged for `settle`
    seconds; return that stable snapshot."""
    while True:
        current = snapshot(folder)
        while current == last:
            time.sleep(poll)
            current = snapshot(folder)
        stable_since = time.monotonic()
        while time.monotonic() - stable_since < settle:
            time.sleep(poll)
            latest = snapshot(folder)
            if latest != current:
                current, stable_since = latest, time.monotonic()
        if current != last:   # else a file came and went again (an editor's temporary file)
            return current


# -- what changed between two gradings ----------------------------------------------------

@dataclass(frozen=True)
class Change:
    """One check whose status or message differs; `before` is None for a check that is new."""
    before: CheckResult | None
    after: CheckResult

    @property
    def status_changed(self) -> bool:
        return self.before is None or self.before.status != self.after.status


def compare(before: Report, after: Report) -> list[Change]:
    """The checks of `after` whose status or message is not what it was in `before`."""
    earlier = {r.name: r for r in before.results}
    changes = []
    for now in after.results:
        then = earlier.get(now.name)
        if then is None or (then.status, then.message) != (now.status, now.message):
            changes.append(Change(then, now))
    return changes


def _fraction(score: float, max_score: float) -> str:
    return f"{score:g}/{max_score:g}"


def score_line(before: Report, after: Report) -> str:
    then = _fraction(before.score, before.max_score)
    now = _fraction(after.score, after.max_score)
    return f"score {then} -> {now}" if then != now else f"score {now} (unchanged)"


def describe(change: Change) -> str:
    """The change's first line, in plain text: `kl_divergence  failed -> passed (+2)`."""
    after, before = change.after, change.before
    if before is None:
        return f"{after.name}  new check: {after.status}"
    if not change.status_changed:
        return f"{after.name}  new message ({after.status})"
    gained = after.points - before.points
    return f"{after.name}  {before.status} -> {after.status}" + (f" ({gained:+g})" if gained else "")


STATUS_COLOUR = {"passed": "green", "failed": "red", "skipped": "yellow"}


def print_changes(before: Report, after: Report, console: Console, *,
                  verbose: bool = False) -> None:
    changes = compare(before, after)
    if not changes:
        console.print(f"no change (score {_fraction(after.score, after.max_score)})")
        return
    for change in changes:
        result = change.after
        console.print(f"[{STATUS_COLOUR.get(result.status, 'default')}]"
                      f"{escape(describe(change))}[/]")
        if result.message:
            console.print(f"    {escape(result.message)}", highlight=False)
        if result.status == "failed" and result.hint:
            console.print(f"    [dim]hint: {escape(result.hint)}[/]")
        if verbose and result.status == "failed" and result.trace:
            console.print(escape(result.trace.rstrip()), highlight=False)
    console.print(f"[bold]{score_line(before, after)}[/]  [dim]({after.seconds:.1f} s)[/]")


# -- the loop -----------------------------------------------------------------------------

def _shown(folder: Path) -> str:
    """The folder as the student typed it, relative to where they are when possible."""
    try:
        return str(Path(folder).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(folder)


def watch(regrade: Callable[[], Report], folder: Path, console: Console, *,
          verbose: bool = False, rechecks: int | None = None,
          poll: float = POLL_SECONDS, settle: float = SETTLE_SECONDS) -> int:
    """Grade `folder` with `regrade`, print the table, then after every save grade again and
    print what changed. Runs until Ctrl-C (status 0), or for `rechecks` re-gradings (tests).
    Returns 2 only when the first grading cannot happen at all."""
    # Ctrl-C must stop the loop even when the shell that started it ignores or blocks SIGINT
    # (a background job, some IDE runners); SIGUSR2 prints where every thread is.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    faulthandler.register(signal.SIGUSR2, all_threads=True)
    try:
        seen = snapshot(folder)   # taken before grading: a save during it is not missed
        try:
            report = regrade()
        except GradingError as error:
            console.print(f"[red]cannot grade: {error}[/]")
            return 2
        print_report(report, console, verbose=verbose)
        ignored = ", ".join(sorted(NOT_GRADED))
        console.print(f"watching {_shown(folder)}/*.py (not {ignored}); "
                      "save a file to re-check, Ctrl-C to stop")
        done = 0
        while rechecks is None or done < rechecks:
            current = wait_for_change(folder, seen, poll=poll, settle=settle)
            console.print(f"[dim]{time.strftime('%H:%M:%S')}  "
                          f"{', '.join(changed_files(seen, current))} saved[/]")
            seen, done = current, done + 1
            try:
                latest = regrade()
            except Exception as error:  # e.g. a file removed while being copied: try again later
                console.print(f"[red]could not re-check: {escape(str(error))}[/] "
                              "(trying again at the next save)")
                continue
            print_changes(report, latest, console, verbose=verbose)
            report = latest
    except KeyboardInterrupt:
        console.print("stopped watching")
    return 0
