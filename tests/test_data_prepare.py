"""`python -m dlkit.data prepare/list`: the one command that downloads, and only when asked."""
from __future__ import annotations

import socket
import subprocess
import sys
import time

from autograder import KIT_ROOT
from dlkit.data import __main__ as command
from dlkit.data.tfds_real import GPU_DATASETS


def test_without_network_prepare_stops_at_once_and_says_what_to_do(monkeypatch, tmp_path, capsys):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))   # bound, never listening: connections are refused
    monkeypatch.setattr(command, "MIRROR", closed.getsockname())
    started = time.perf_counter()
    status = command.main(["prepare", "mnist", "cifar10", "--data-dir", str(tmp_path)])
    closed.close()
    assert status == 1 and time.perf_counter() - started < 5
    message = capsys.readouterr().err
    assert "cannot prepare mnist cifar10" in message and "machine with network" in message
    assert str(tmp_path) in message and not any(tmp_path.iterdir())


def test_prepared_data_sets_need_no_network(monkeypatch, tfds_dir, capsys):
    monkeypatch.setattr(command, "network_error", lambda *a, **k: network_was_asked())
    assert command.main(["prepare", "all", "--data-dir", str(tfds_dir)]) == 0
    out = capsys.readouterr().out
    assert all(f"{name}: prepared already, in {tfds_dir / name}" in out for name in GPU_DATASETS)


def network_was_asked():
    raise AssertionError("prepare asked for the network although everything was prepared")


def test_list_shows_what_is_prepared_from_the_command_line(tfds_dir, tmp_path):
    (tmp_path / "mnist").symlink_to(tfds_dir / "mnist")
    listed = subprocess.run([sys.executable, "-m", "dlkit.data", "list", "--data-dir", str(tmp_path)],
                            cwd=KIT_ROOT, capture_output=True, text=True, check=True).stdout
    lines = dict(line.split(None, 1) for line in listed.strip().splitlines())
    assert set(lines) == set(GPU_DATASETS)
    assert lines["mnist"].strip() == str(tmp_path / "mnist" / "1.0.0")
    assert all(lines[name].strip() == "not prepared" for name in GPU_DATASETS if name != "mnist")
