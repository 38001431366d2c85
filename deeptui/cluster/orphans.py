"""Shell tasks' process groups left behind by a worker that died (killed, out of memory).

Every shell task runs in a session of its own, so a worker that dies does not take its
commands with it. On a worker, each group it starts is recorded on its host (a file per
group, under a folder named after the worker's pid, holding the group leader's start
time); when the scheduler reports a worker gone, deeptui asks every nanny (the process
that restarts a worker) to end the groups recorded by worker processes that no longer
exist (`end_orphans`). A group whose number now belongs to another process (a different
start time) is left alone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from deeptui.runners import groups

RECORDS = Path(tempfile.gettempdir()) / "deeptui-worker-groups"


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    """A live process (not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def record(pgid: int) -> None:
    """On a worker (a `groups.on_started` hook): remember a group this process started."""
    folder = RECORDS / str(os.getpid())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / str(pgid)).write_text(_start_time(pgid) or "")
    except OSError:  # nowhere to write: the group is only not cleaned up after a crash
        pass


def watch() -> None:
    """On a worker: record the shell groups this process starts (once per process)."""
    if record not in groups.on_started:
        groups.on_started.append(record)


def prune() -> None:
    """On a worker: forget its groups that have ended."""
    folder = RECORDS / str(os.getpid())
    for path in folder.glob("*") if folder.is_dir() else ():
        if not groups.alive(int(path.name)):
            path.unlink(missing_ok=True)
    try:
        folder.rmdir()  # when empty: a worker that exits normally leaves nothing behind
    except OSError:
        pass
    for other in RECORDS.glob("*") if RECORDS.is_dir() else ():  # dead workers' leftovers
        if other.name.isdigit() and not _alive(int(other.name)) and not any(
                groups.alive(int(path.name)) for path in other.glob("*")):
            shutil.rmtree(other, ignore_errors=True)


async def end_orphans() -> int:
    """On a nanny (``Client.run(..., nanny=True)``): end the groups recorded by worker
    processes of this host that no longer exist; how many were ended."""
    ended = 0
    for folder in RECORDS.glob("*") if RECORDS.is_dir() else ():
        if not folder.name.isdigit() or _alive(int(folder.name)):
            continue
        for path in folder.glob("*"):
            pgid = int(path.name)
            leader = _start_time(pgid)
            # the leader gone, or the same process: the group is the one recorded
            if groups.alive(pgid) and (leader is None or leader == path.read_text()):
                await groups.end(pgid)
                ended += 1
        shutil.rmtree(folder, ignore_errors=True)
    return ended
