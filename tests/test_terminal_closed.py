"""The app in a real terminal (a pty) that goes away while a run goes on: deeptui quits
as on SIGHUP (the run cancelled, its tasks' processes ended, exit 129) instead of
freezing in Textual's output thread and outliving the terminal. With and without the
SIGHUP a terminal's shell sends (``bash -c`` and tmux's kill-server send none)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from test_cli import cli_env
from test_signals import kill_groups, last_run, live_members, three_stubborn_tasks, wait_for_files

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")


def _own_terminal() -> None:  # in the child: the pty becomes its controlling terminal
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.mark.parametrize("hangup", [True, False], ids=["with-SIGHUP", "no-signal"])
def test_the_app_quits_when_its_terminal_closes(tmp_path: Path, hangup: bool) -> None:
    path, pgid_files = three_stubborn_tasks(tmp_path)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**cli_env(tmp_path), "TERM": "xterm-256color"}
    env.pop("NO_COLOR")
    proc = subprocess.Popen([sys.executable, "-m", "deeptui.cli", "run", str(path)],
                            stdin=follower, stdout=follower, stderr=follower, env=env,
                            cwd=tmp_path, preexec_fn=_own_terminal)
    os.close(follower)
    pgids: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while not all(p.exists() for p in pgid_files) and time.monotonic() < deadline:
            if select.select([leader], [], [], 0.1)[0]:
                os.read(leader, 65536)  # the app draws; keep its terminal from filling up
        wait_for_files(pgid_files, timeout=5)
        pgids = {int(p.read_text()) for p in pgid_files}
        os.close(leader)  # the terminal goes away
        leader = -1
        if hangup:
            proc.send_signal(signal.SIGHUP)
        proc.wait(timeout=60)
        assert live_members(pgids) == []  # checked the moment deeptui is gone
    finally:
        if leader != -1:
            os.close(leader)
        kill_groups(pgids)
        proc.kill()
    assert proc.returncode == 129
    assert last_run(tmp_path)["status"] in ("cancelled", "interrupted")


def test_an_idle_app_quits_when_its_terminal_hangs_up_without_a_signal(tmp_path: Path) -> None:
    # The pty is not the app's controlling terminal (its own process group, not a session
    # leader that could take the pty as one), so closing it sends no SIGHUP, and an idle
    # app writes nothing that could fail: only the hang-up on its input tells it.
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**cli_env(tmp_path), "TERM": "xterm-256color"}
    env.pop("NO_COLOR")
    proc = subprocess.Popen([sys.executable, "-m", "deeptui.cli"], stdin=follower,
                            stdout=follower, stderr=follower, env=env, cwd=tmp_path,
                            process_group=0)
    os.close(follower)
    try:
        drawn = b""
        deadline = time.monotonic() + 60
        while b"Templates" not in drawn and time.monotonic() < deadline:  # the start screen
            if select.select([leader], [], [], 0.1)[0]:
                drawn = drawn[-4096:] + os.read(leader, 65536)
        assert b"Templates" in drawn
        while select.select([leader], [], [], 2.0)[0]:  # until it has drawn all for 2 s
            os.read(leader, 65536)
        os.close(leader)  # the terminal goes away
        leader = -1
        proc.wait(timeout=30)  # (before: still running, its input thread spinning a core)
    finally:
        if leader != -1:
            os.close(leader)
        proc.kill()
    assert proc.returncode == 129
