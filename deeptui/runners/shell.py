"""Shell tasks: a subprocess in its own process group, output streamed, the group killed on cancel."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from deeptui.errors import WorkflowValidationError
from deeptui.runners.context import TaskContext, TaskFailure

MAX_OUTPUT_CHARS = 100_000


def _kill_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


async def _terminate(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the command's process group, then SIGKILL if it lingers."""
    if proc.returncode is not None:
        return
    _kill_group(proc, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), timeout=2.0)
    except (TimeoutError, asyncio.TimeoutError):
        _kill_group(proc, signal.SIGKILL)
        with contextlib.suppress(Exception):
            await proc.wait()


async def run_shell_task(ctx: TaskContext, default_cwd: str | None = None) -> str:
    """Run ``parameters["command"]`` in a subprocess; its output lines are log lines.

    Succeeds with the output (stdout and stderr, merged) when the exit code is
    0; a non-zero exit fails the attempt with the code and the last lines.
    Cancellation and timeouts kill the whole process group.
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
        if isinstance(command, list):
            proc = await asyncio.create_subprocess_exec(*map(str, command), **common)
        else:
            proc = await asyncio.create_subprocess_shell(str(command), **common)
    except FileNotFoundError as exc:
        raise TaskFailure(f"command not found: {exc.filename or command}") from None
    ctx.log("info", f"$ {command if isinstance(command, str) else ' '.join(map(str, command))}")
    lines: list[str] = []
    size = 0
    try:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            ctx.log("stdout", line)
            lines.append(line)
            size += len(line) + 1
            while size > MAX_OUTPUT_CHARS and len(lines) > 1:
                size -= len(lines.pop(0)) + 1
        code = await proc.wait()
    except BaseException:
        await asyncio.shield(_terminate(proc))
        raise
    output = "\n".join(lines)
    if code != 0:
        tail = "\n".join(lines[-5:])
        reason = f"exit code {code}" + (f": {tail}" if tail else "")
        if code == 127:
            reason = f"command not found (exit code 127): {tail}"
        raise TaskFailure(reason)
    return output
