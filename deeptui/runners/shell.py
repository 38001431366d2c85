"""Shell tasks: a subprocess in its own process group, output streamed, the group killed on cancel."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from typing import Any

from deeptui.errors import WorkflowValidationError
from deeptui.runners import groups
from deeptui.runners.context import TaskContext, TaskFailure

MAX_OUTPUT_CHARS = 100_000  # the output keeps its last lines up to this size (a longer line whole)
READ_SIZE = 65536
PIPE_GRACE_SECONDS = 0.5  # after the shell exits, for a background child to close its output
EXIT_POLL_SECONDS = 0.1  # how often a task whose output is still open checks its shell ended


class _Lines:
    """Splits the output into lines however long they are (a line is never cut here)."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self.on_line = on_line
        self.parts: list[bytes] = []  # the line being read

    async def read(self, stream: asyncio.StreamReader) -> None:
        try:
            while chunk := await stream.read(READ_SIZE):
                *ended, rest = chunk.split(b"\n")
                if ended:
                    self.parts.append(ended[0])
                    self._emit(b"".join(self.parts))
                    for raw in ended[1:]:
                        self._emit(raw)
                    self.parts = []
                if rest:
                    self.parts.append(rest)
        finally:  # also when reading stops early: the last, unfinished line counts
            if self.parts:
                self._emit(b"".join(self.parts))
                self.parts = []

    def _emit(self, raw: bytes) -> None:
        self.on_line(raw.decode(errors="replace"))


async def _spawn(command: str | list[Any], options: dict[str, Any]) -> asyncio.subprocess.Process:
    """Start the command in its own session and track its group. A cancel that lands while
    asyncio is still connecting the pipes would leave the process running (asyncio kills
    the shell alone, its children live on): the start is shielded and, once it is done,
    the whole group is ended before the cancel goes on."""
    if isinstance(command, list):
        start = asyncio.create_subprocess_exec(*map(str, command), **options)
    else:
        start = asyncio.create_subprocess_shell(str(command), **options)
    spawn = asyncio.ensure_future(start)
    try:
        proc = await asyncio.shield(spawn)
    except asyncio.CancelledError:
        while not spawn.done():  # a second cancel does not leave it behind either
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({spawn})
        if not spawn.cancelled() and spawn.exception() is None:
            groups.started(spawn.result().pid)
            await asyncio.shield(groups.end(spawn.result().pid))
        raise
    groups.started(proc.pid)  # its own session: the group's id is the shell's pid
    return proc


def _close(proc: asyncio.subprocess.Process) -> None:
    """Close the pipes of an exited process now, not when the loop may be gone (a closed
    loop makes the transport's finalizer print 'Event loop is closed')."""
    transport = getattr(proc, "_transport", None)
    if transport is not None and proc.returncode is not None:
        transport.close()


async def _finish_reading(proc: asyncio.subprocess.Process, reader: asyncio.Task[None]) -> None:
    """The shell exited: read the rest of its output. A background child holding the
    output open (``sleep 100 & echo done``) gets a short grace, then its group is ended."""
    await asyncio.wait({reader}, timeout=PIPE_GRACE_SECONDS)
    if not reader.done():
        await groups.end(proc.pid)
        # a process that left the group (setsid) may still hold the pipe: stop reading
        await asyncio.wait({reader}, timeout=PIPE_GRACE_SECONDS)
        reader.cancel()
        await asyncio.wait({reader})


async def run_shell_task(ctx: TaskContext, default_cwd: str | None = None) -> str:
    """Run ``parameters["command"]`` in a subprocess; its output lines are log lines.

    Succeeds with the output (stdout and stderr, merged) when the exit code is
    0; a non-zero exit fails the attempt with the code and the last lines.
    Cancellation and timeouts end the whole process group (see deeptui.runners.groups);
    lines are kept whole however long they are.
    """
    params = ctx.task.parameters
    command = params.get("command")
    if not command:
        raise WorkflowValidationError(f"task '{ctx.task.id}': shell task needs parameters.command")
    cwd = params.get("cwd", default_cwd)  # the run's workspace when it has one
    if cwd is not None:
        cwd = os.path.expanduser(str(cwd))
        if not os.path.isdir(cwd):
            raise TaskFailure(f"working directory '{cwd}' does not exist")
    env = {**os.environ, **{str(k): str(v) for k, v in (params.get("env") or {}).items()}}
    common = dict(stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                  stdin=asyncio.subprocess.DEVNULL, cwd=cwd, env=env, start_new_session=True)
    try:
        proc = await _spawn(command, common)
    except FileNotFoundError as exc:
        raise TaskFailure(f"command not found: {exc.filename or command}") from None
    ctx.log("info", f"$ {command if isinstance(command, str) else ' '.join(map(str, command))}")
    lines: list[str] = []
    size = 0

    def on_line(line: str) -> None:
        nonlocal size
        ctx.log("stdout", line)
        lines.append(line)
        size += len(line) + 1
        while size > MAX_OUTPUT_CHARS and len(lines) > 1:
            size -= len(lines.pop(0)) + 1

    assert proc.stdout is not None
    reader = asyncio.ensure_future(_Lines(on_line).read(proc.stdout))
    try:
        # Process.wait() waits for the output to close too: watch the shell's own exit
        while proc.returncode is None and not reader.done():
            await asyncio.wait({reader}, timeout=EXIT_POLL_SECONDS)
        if not reader.done():
            await _finish_reading(proc, reader)
        code = proc.returncode if proc.returncode is not None else await proc.wait()
    except BaseException:  # cancelled or timed out: the whole group goes, then the task
        await asyncio.shield(groups.end(proc.pid))
        raise
    finally:
        reader.cancel()
        _close(proc)
    groups.live.discard(proc.pid)
    output = "\n".join(lines)
    if code != 0:
        tail = "\n".join(lines[-5:])
        reason = f"exit code {code}" + (f": {tail}" if tail else "")
        if code == 127:
            reason = f"command not found (exit code 127): {tail}"
        raise TaskFailure(reason)
    return output
