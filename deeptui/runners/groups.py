"""The process groups of running shell tasks: ending one (SIGTERM, then SIGKILL after
a grace period) and knowing when it is gone, from the event loop or, at exit, without it.

Every shell task runs in its own session, so its process group holds the shell and
everything it started (background children too). A group is *gone* when none of its
processes is alive: a zombie waiting for a parent that never reaps it counts as gone.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import signal
import time
from collections.abc import Callable

GRACE_SECONDS = 2.0  # between SIGTERM and SIGKILL
KILL_WAIT_SECONDS = 5.0  # for the kernel to end a SIGKILLed group
POLL_SECONDS = 0.02

live: set[int] = set()  # groups started and not yet known to be gone
on_started: list[Callable[[int], None]] = []  # told of each new group (deeptui.cluster.orphans)


def started(pgid: int) -> None:
    """Track a new group; whatever is left of it when the interpreter exits is ended."""
    if not live:
        atexit.unregister(end_all)
        atexit.register(end_all)
    live.add(pgid)
    for hook in on_started:
        hook(pgid)


def send(pgid: int, sig: int) -> bool:
    """Signal the whole group; False when no process of it is left to signal."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def alive(pgid: int) -> bool:
    """Whether a process of the group is still alive (zombies are not)."""
    if not send(pgid, 0):
        return False
    if not os.path.isdir("/proc"):  # no way to tell zombies apart: signalable is alive
        return True
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":  # fields: state, ppid, pgrp
            return True
    return False


async def _gone_within(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pgid):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_SECONDS)
    return True


async def end(pgid: int, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM the group, SIGKILL what is left after ``grace``; return once it is gone.

    The group is signalled even when its leader (the shell) has exited: its
    children may live on.
    """
    send(pgid, signal.SIGTERM)
    if not await _gone_within(pgid, grace):
        send(pgid, signal.SIGKILL)
        await _gone_within(pgid, KILL_WAIT_SECONDS)
    live.discard(pgid)


def end_all(grace: float = GRACE_SECONDS) -> None:
    """Blocking: end every live group (SIGTERM, SIGKILL after ``grace``; ``grace=0``:
    SIGKILL at once) and return once they are gone. For the paths that cannot wait in
    the event loop: a second Ctrl-C, an app closing, the interpreter's exit."""
    groups = [pgid for pgid in live if alive(pgid)]
    first = signal.SIGTERM if grace > 0 else signal.SIGKILL
    for pgid in groups:
        send(pgid, first)
    for sig, seconds in ((signal.SIGKILL, grace), (None, KILL_WAIT_SECONDS)):
        deadline = time.monotonic() + seconds
        while groups and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            groups = [pgid for pgid in groups if alive(pgid)]
        if sig is not None:
            for pgid in groups:
                send(pgid, sig)
    live.clear()
