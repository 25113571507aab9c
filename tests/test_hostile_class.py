"""A class with hostile submissions: each can only lose its own points.

Every hostile student is a real lab23_nngp_ntk submission with a few lines of attack added at
import time. The class is graded with `grade_class`, two at a time, inside the jail, once in
each kind of jail this machine offers (as root; in a user namespace, as a grader without
root gets it); then every score is checked, and so is every attack's effect (no connection
made, no process left, no file changed).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import psutil
import pytest

from autograder import KIT_ROOT, SOLUTIONS
from autograder import LABS as LABS_DIR
from autograder.batch import grade_class
from autograder.jail import available, mode
from autograder.sandbox import GiB, Limits
from tests.conftest import at_the_top

# A one-module lab whose checks take about a second: the class costs little beyond the
# attacks themselves (the endless loop waits out the import limit).
LAB = "lab23_nngp_ntk"
MODULE = "kernels"
FORKED_SLEEP = "613"  # the fork bomb's children run `sleep 613`: easy to find if left over
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hostile_class"),
              pytest.mark.skipif(not available(), reason="needs namespaces (a jail)")]

ATTACKS = {
    # name: (base folder, code added at the top of the graded module)
    "sys_exit": ("solution", "import sys\nsys.exit(0)\n"),
    "os_exit": ("solution", "import os\nos._exit(0)\n"),
    "endless_loop": ("solution", "while True:\n    pass\n"),
    "memory_hog": ("solution", "import numpy\nhog = [numpy.ones(1 << 28) for _ in range(40)]\n"),
    "print_flood": ("solution", "while True:\n    print('x' * 4096)\n"),
    "fork_many": ("skeleton", "import os\n"
                  "for _ in range(3000):\n"
                  "    try:\n"
                  "        if os.fork() == 0:\n"
                  "            os.execv('/bin/sleep', ['sleep', 'SLEEP'])\n"
                  "    except OSError:\n"
                  "        break\n"),
    "network": ("skeleton", "import socket\n"
                "try:\n"
                "    socket.create_connection(('127.0.0.1', PORT), timeout=2).sendall(b'leak')\n"
                "except OSError:\n"
                "    pass\n"),
    "read_solution": ("skeleton", "import importlib.util\n"
                      "_spec = importlib.util.spec_from_file_location('ref', 'SOLUTION')\n"
                      "_ref = importlib.util.module_from_spec(_spec)\n"
                      "_spec.loader.exec_module(_ref)\n"
                      "globals().update({k: v for k, v in vars(_ref).items()"
                      " if not k.startswith('__')})\n"),
    "unmount_kit": ("skeleton", "import ctypes\n"
                    "for _ in range(4):\n"
                    "    ctypes.CDLL(None).umount2(b'KITROOT', 2)\n"
                    "_source = open('SOLUTION').read()\n"),
    "copy_classmate": ("skeleton", "import importlib.util\n"
                       "_spec = importlib.util.spec_from_file_location('mate', 'CLASSMATE')\n"
                       "_mate = importlib.util.module_from_spec(_spec)\n"
                       "_spec.loader.exec_module(_mate)\n"
                       "globals().update({k: v for k, v in vars(_mate).items()"
                       " if not k.startswith('__')})\n"),
    "write_results": ("skeleton", "import glob, json, os\n"
                      "for path in glob.glob('OUT/students/*/grade.json') + "
                      "glob.glob('OUT/*.csv') + ['results.json', '/tmp/results.json']:\n"
                      "    try:\n"
                      "        open(path, 'w').write('{\"score\": 100}')\n"
                      "    except OSError:\n"
                      "        pass\n"),
    "monkeypatch": ("solution", "import numpy, autograder.verdicts\n"
                    "numpy.allclose = lambda *a, **k: True\n"
                    "autograder.verdicts.expect_close = lambda *a, **k: None\n"),
}


def make_class(root, out, port):
    solution, skeleton = SOLUTIONS / LAB, LABS_DIR / LAB
    shutil.copytree(solution, root / "alice")
    shutil.copytree(solution, root / "bob_kit_copy" / "labs" / LAB)
    for name, (base, attack) in ATTACKS.items():
        folder = root / f"zz_{name}"  # after alice and bob, so their files exist already
        shutil.copytree(solution if base == "solution" else skeleton, folder)
        attack = (attack.replace("PORT", str(port)).replace("OUT", str(out))
                  .replace("SLEEP", FORKED_SLEEP)
                  .replace("SOLUTION", str(solution / f"{MODULE}.py"))
                  .replace("KITROOT", str(KIT_ROOT))
                  .replace("CLASSMATE", str(root / "alice" / f"{MODULE}.py")))
        graded = folder / f"{MODULE}.py"
        graded.write_text(at_the_top(graded.read_text(), attack))
    # monkeypatch also flips the sign of the GP's mean: patched comparisons must not hide it.
    patched = root / "zz_monkeypatch" / f"{MODULE}.py"
    source = patched.read_text()
    assert source.count("    mean = k_cross @ alpha\n") == 1
    patched.write_text(source.replace("    mean = k_cross @ alpha\n", "    mean = -(k_cross @ alpha)\n"))


class Listener(threading.Thread):
    """A TCP server on loopback that records whether anyone got through."""

    def __init__(self):
        super().__init__(daemon=True)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                connection, _ = self.server.accept()
                self.connections += 1
                connection.close()
            except OSError:
                continue


# DLKIT_SANDBOX setting -> the jail it must give
JAILS = {"auto": "root", "userns": "userns"}


@pytest.fixture(scope="module", params=sorted(JAILS))
def jail_kind(request):
    saved = os.environ.get("DLKIT_SANDBOX")
    os.environ["DLKIT_SANDBOX"] = request.param
    try:
        if mode() != JAILS[request.param]:
            pytest.skip(f"this machine offers no {JAILS[request.param]} jail")
        yield JAILS[request.param]
    finally:
        if saved is None:
            os.environ.pop("DLKIT_SANDBOX")
        else:
            os.environ["DLKIT_SANDBOX"] = saved


@pytest.fixture(scope="module")
def graded_class(jail_kind):
    # Outside /tmp, which the jail covers anyway: only hiding the class's folders protects them.
    root = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="dlkit-class-"))
    out = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="dlkit-grades-"))
    listener = Listener()
    listener.start()
    make_class(root, out, listener.port)
    # The lab's probes stay well under 1.4 GiB; at 2 GiB the memory hog is stopped within seconds
    # even here, where touching fresh memory runs at about 350 MB/s, before the import limit
    # unless the machine is loaded several times over. The endless loop burns a core until
    # that limit: 10 s, not the default 20, is still ample for the honest students' import.
    result = grade_class(root, LAB, out, jobs=2,
                         limits=Limits(memory_bytes=2 * GiB, import_seconds=10))
    listener.stopped.set()
    yield result, out, listener
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)


def test_honest_students_get_full_marks_whatever_the_others_did(graded_class):
    result, out, _ = graded_class
    for student in ("alice", "bob_kit_copy"):
        report = result.graded[student]
        assert report.score == report.max_score > 0, [(r.name, r.message) for r in report.results]
        stored = json.loads((out / "students" / student / "grade.json").read_text())
        assert stored["report"]["results"] and "score" not in stored, "grade.json was tampered with"


@pytest.mark.parametrize("name,needle", [
    ("sys_exit", r"called sys\.exit\(0\)"),
    ("os_exit", "exited with status 0"),
    ("endless_loop", "did not finish importing kernels.py within"),
    # Which limit stops the hog first depends on how fast this machine hands out memory: at
    # about 350 MB/s the memory limit comes within seconds, but on a machine loaded several
    # times over the import limit can come first. Either is a correct end for this
    # submission; that the memory limit itself works is test_sandbox.py's job.
    ("memory_hog", "used more than|did not finish importing kernels.py within"),
    ("print_flood", "printed more than"),
])
def test_attacks_at_import_score_zero_with_a_message(graded_class, name, needle):
    report = graded_class[0].graded[f"zz_{name}"]
    graded = [r for r in report.results if r.status != "skipped"]   # not the GPU checks
    assert report.score == 0 and graded
    assert all(re.search(needle, r.message) for r in graded), graded[0].message


def test_many_processes_end_with_the_submission(graded_class):
    assert graded_class[0].graded["zz_fork_many"].score == 0
    left = [p for p in psutil.process_iter(["cmdline"])
            if p.info["cmdline"] == ["sleep", FORKED_SLEEP]]
    assert left == [], f"{len(left)} processes of the fork bomb are still running"


def test_no_connection_leaves_the_jail(graded_class):
    _, _, listener = graded_class
    assert graded_class[0].graded["zz_network"].score == 0
    assert listener.connections == 0


def test_the_reference_solution_cannot_be_read(graded_class):
    report = graded_class[0].graded["zz_read_solution"]
    assert report.score == 0
    assert "No such file or directory" in report.results[0].message


def test_what_hides_the_kit_cannot_be_unmounted(graded_class):
    report = graded_class[0].graded["zz_unmount_kit"]
    assert report.score == 0
    assert "No such file or directory" in report.results[0].message, report.results[0].message


def test_a_classmates_submission_cannot_be_read(graded_class):
    report = graded_class[0].graded["zz_copy_classmate"]
    assert report.score == 0
    assert "No such file or directory" in report.results[0].message


def test_results_files_cannot_be_forged(graded_class):
    result, out, _ = graded_class
    assert result.graded["zz_write_results"].score == 0
    assert "100" not in (out / "gradebook.csv").read_text().split("\n", 1)[1]
    assert not (KIT_ROOT / "results.json").exists()


def test_monkeypatching_the_grader_changes_nothing_outside_the_worker(graded_class):
    report = graded_class[0].graded["zz_monkeypatch"]
    assert report.result("gp_posterior").status == "failed"
    assert "opposite sign" in report.result("gp_posterior").message


def test_whole_class_is_in_the_gradebook(graded_class):
    _, out, _ = graded_class
    rows = (out / "gradebook.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 2 + len(ATTACKS)

