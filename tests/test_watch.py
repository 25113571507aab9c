"""`check --watch`: the report diff, noticing saves, the loop, and a real student session."""
from __future__ import annotations

import io
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from rich.console import Console

from autograder import KIT_ROOT, LABS, SOLUTIONS
from autograder.results import CheckResult, Report
from autograder.session import GradingError
from autograder.watch import compare, print_changes, snapshot, wait_for_change, watch


def report(*results: CheckResult, seconds: float = 0.5) -> Report:
    return Report(lab="lab11_vae", folder="labs/lab11_vae", results=list(results),
                  seconds=seconds)


def passed(name: str, points: float) -> CheckResult:
    return CheckResult(name=name, points=points, max_points=points, status="passed")


def failed(name: str, points: float, message: str, hint: str = "") -> CheckResult:
    return CheckResult(name=name, points=0.0, max_points=points, status="failed",
                       message=message, hint=hint)


def printed(before: Report, after: Report) -> str:
    out = io.StringIO()
    print_changes(before, after, Console(file=out, width=200, color_system=None))
    return out.getvalue()


# -- the diff of two reports ----------------------------------------------------------

def test_a_check_that_now_passes_shows_its_points_and_the_new_score():
    before = report(failed("kl_divergence", 2, "not implemented yet"), passed("elbo", 3))
    after = report(passed("kl_divergence", 2), passed("elbo", 3))
    text = printed(before, after)
    assert "kl_divergence  failed -> passed (+2)" in text
    assert "score 3/5 -> 5/5" in text
    assert "elbo" not in text, "an unchanged check is not shown"


def test_a_check_that_now_fails_shows_why_with_its_hint():
    before = report(passed("kl_divergence", 2), passed("elbo", 3))
    after = report(failed("kl_divergence", 2, "cannot import vae.py: SyntaxError",
                          hint="sum over the latent axis"), passed("elbo", 3))
    text = printed(before, after)
    assert "kl_divergence  passed -> failed (-2)" in text
    assert "cannot import vae.py: SyntaxError" in text
    assert "hint: sum over the latent axis" in text
    assert "score 5/5 -> 3/5" in text


def test_a_new_message_on_a_check_that_still_fails_is_shown_with_an_unchanged_score():
    before = report(failed("elbo", 3, "elbo(x) is off by a factor of 2"))
    after = report(failed("elbo", 3, "elbo(x) has the wrong sign"))
    assert [c.after.name for c in compare(before, after)] == ["elbo"]
    text = printed(before, after)
    assert "elbo  new message (failed)" in text
    assert "elbo(x) has the wrong sign" in text and "factor of 2" not in text
    assert "score 0/3 (unchanged)" in text


def test_nothing_changed_says_so_in_one_line():
    before = report(failed("elbo", 3, "wrong sign"), passed("kl_divergence", 2))
    after = report(failed("elbo", 3, "wrong sign"), passed("kl_divergence", 2))
    assert compare(before, after) == []
    assert printed(before, after).strip() == "no change (score 2/5)"


# -- noticing saves -------------------------------------------------------------------

def test_the_snapshot_follows_modules_but_not_the_notebook_or_editor_files(tmp_path):
    (tmp_path / "vae.py").write_text("x = 1\n")
    (tmp_path / "notebook.py").write_text("# explore\n")
    first = snapshot(tmp_path)
    assert set(first) == {"vae.py"}
    (tmp_path / "notebook.py").write_text("# explore more\n")
    (tmp_path / ".vae.py").write_text("an editor's backup\n")
    (tmp_path / "notes.txt").write_text("not python\n")
    assert snapshot(tmp_path) == first
    (tmp_path / "helpers.py").write_text("y = 2\n")
    assert set(snapshot(tmp_path)) == {"vae.py", "helpers.py"}
    # A save by rename, even one that keeps the size and the modification time.
    info = (tmp_path / "vae.py").stat()
    os.utime(tmp_path / "helpers.py", ns=(info.st_atime_ns, info.st_mtime_ns))
    os.replace(tmp_path / "helpers.py", tmp_path / "vae.py")
    assert snapshot(tmp_path)["vae.py"] != first["vae.py"]


def test_a_burst_of_writes_is_waited_out_and_seen_once(tmp_path):
    module = tmp_path / "vae.py"
    module.write_text("v = 0\n")
    last = snapshot(tmp_path)
    settle, last_write = 0.3, []

    def editor_saving():   # several writes 0.1 s apart, as some editors do
        for version in range(1, 5):
            time.sleep(0.1)
            module.write_text(f"v = {version}\n" + "#" * version)
        last_write.append(time.monotonic())
    writer = threading.Thread(target=editor_saving)
    writer.start()
    returned = wait_for_change(tmp_path, last, poll=0.02, settle=settle)
    returned_at = time.monotonic()
    writer.join()
    assert returned_at - last_write[0] >= settle * 0.9, "returned before the files settled"
    assert returned == snapshot(tmp_path) != last


# -- the loop -------------------------------------------------------------------------

def grades_from_file(folder):
    """A stand-in for grading, for the loop only: the file says how its one check went
    ("crash" makes the grading itself raise)."""
    def regrade() -> Report:
        text = (folder / "vae.py").read_text().strip()
        if text == "crash":
            raise OSError("vae.py vanished while it was copied")
        return report(passed("elbo", 3) if text == "pass" else failed("elbo", 3, text))
    return regrade


def test_the_loop_keeps_going_after_a_grading_error_and_stops_after_the_rechecks(tmp_path):
    (tmp_path / "vae.py").write_text("not implemented\n")
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)

    def student():
        for text in ("crash", "pass", "pass"):   # the last save changes nothing graded
            time.sleep(0.3)
            # Saved whole, as editors do: on a busy machine the watcher could otherwise read
            # the file between its truncation and its write, and grade an empty file.
            (tmp_path / "vae.py.tmp").write_text(text + "\n")
            os.replace(tmp_path / "vae.py.tmp", tmp_path / "vae.py")
            time.sleep(0.3)
    saving = threading.Thread(target=student)
    saving.start()
    status = watch(grades_from_file(tmp_path), tmp_path, console, rechecks=3,
                   poll=0.02, settle=0.1)
    saving.join()
    text = out.getvalue()
    assert status == 0
    assert "score 0 / 3" in text and "save a file to re-check, Ctrl-C to stop" in text
    assert "could not re-check: vae.py vanished" in text
    assert "elbo  failed -> passed (+3)" in text and "score 0/3 -> 3/3" in text
    assert text.rstrip().endswith("no change (score 3/3)")


def test_the_first_grading_failing_outright_exits_with_status_2(tmp_path):
    def cannot_grade() -> Report:
        raise GradingError("no stored reference for elbo")
    out = io.StringIO()
    status = watch(cannot_grade, tmp_path, Console(file=out, color_system=None), rechecks=1)
    assert status == 2 and "cannot grade: no stored reference for elbo" in out.getvalue()


# -- a real session -------------------------------------------------------------------

class Output:
    """The watcher's output, read on a thread so that every wait has a deadline."""

    def __init__(self, stream):
        self.lines: queue.Queue[str] = queue.Queue()
        self.text = ""
        threading.Thread(target=lambda: [self.lines.put(line) for line in stream],
                         daemon=True).start()

    def drain(self) -> str:
        """Whatever has been printed and not read yet."""
        seen = ""
        while not self.lines.empty():
            seen += self.lines.get_nowait()
        return seen

    def wait_for(self, needle: str, timeout: float) -> str:
        """Everything printed from now until a line containing `needle`."""
        seen, deadline = "", time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            seen += line
            self.text += line
            if needle in line:
                return seen
        raise AssertionError(f"no {needle!r} within {timeout} s; the output was:\n{self.text}")


@pytest.mark.slow
def test_watching_a_lab_reports_a_fixed_check_then_a_syntax_error_then_stops_on_ctrl_c(tmp_path):
    lab = tmp_path / "lab11_vae"
    shutil.copytree(LABS / "lab11_vae", lab)
    # Students watch as themselves, where there is no jail (it has tests of its own).
    env = dict(os.environ, DLKIT_SANDBOX="off")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "autograder", "check", "lab11_vae", "--impl", str(lab),
         "--watch", "-k", "kl_divergence"],
        cwd=KIT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output = Output(watcher.stdout)
        first = output.wait_for("save a file to re-check", timeout=180)
        assert "score 0 / 2" in first and "not implemented yet" in first

        shutil.copy(SOLUTIONS / "lab11_vae" / "vae.py", lab / "vae.py")
        fixed = output.wait_for("score ", timeout=180)
        assert "kl_divergence  failed -> passed (+2)" in fixed
        assert "score 0/2 -> 2/2" in fixed

        with (lab / "vae.py").open("a") as module:
            module.write("\ndef half_written(:\n")
        broken = output.wait_for("score ", timeout=180)
        assert "kl_divergence  passed -> failed (-2)" in broken
        assert "cannot import vae.py" in broken and "SyntaxError" in broken
        assert watcher.poll() is None, "a syntax error stopped the watcher"

        watcher.send_signal(signal.SIGINT)
        try:
            output.wait_for("stopped watching", timeout=60)
        except AssertionError as error:
            watcher.send_signal(signal.SIGUSR2)   # the watcher prints its threads' stacks
            time.sleep(2)
            stacks = output.drain()
            raise AssertionError(f"{error}\n(the watcher's exit status: {watcher.poll()}; its "
                                 f"threads:\n{stacks})") from None
        try:
            status = watcher.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError("the watcher said it stopped but did not exit within 60 s; "
                                 f"its output:\n{output.text}") from None
        assert status == 0
        assert "Traceback" not in output.text
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
