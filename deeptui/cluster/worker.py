"""What runs on a Dask worker: a task's body, through the same runners as on this machine.

`execute` is the function submitted for every attempt. It runs the body in an event loop
of its own on the worker's task thread, sends the log lines back in batches on the
connection's topic (``Worker.log_event``; the first message says where it runs), and
returns the output with its usage and diff. `cancel_body` is run on the worker's own
loop (``Client.run``, not a task thread, so a busy worker still takes it): it cancels
the body, whose shell runner then ends its process group (deeptui.runners.groups), and
waits until it has.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections import OrderedDict
from typing import Any

from deeptui.runners.context import TaskContext, TaskFailure

FLUSH_SECONDS = 0.02  # log lines gathered this long go back as one message
END_WAIT_SECONDS = 12.0  # for a cancelled body to end (a group's SIGTERM, then SIGKILL)

# key -> (the body's loop, its task, set once it ended): what `cancel_body` reaches
_running: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Task[Any], threading.Event]] = {}
# cancelled before the body started here (a cancel whose worker deeptui did not know yet
# reaches every worker, so the oldest are forgotten)
_cancelled: OrderedDict[str, None] = OrderedDict()
CANCELLED_KEPT = 10_000
_guard = threading.Lock()


class _Sender:
    """Log lines of one attempt, sent in order in batches (``n`` counts the messages)."""

    def __init__(self, worker: Any, topic: str, key: str) -> None:
        self.worker, self.topic, self.key = worker, topic, key
        self.lines: list[list[Any]] = []
        self.sent = 0

    def send(self, **fields: Any) -> None:
        self.worker.log_event(self.topic, {"key": self.key, "n": self.sent, **fields})
        self.sent += 1

    def log(self, kind: str, text: str) -> None:
        self.lines.append([time.time(), kind, text])

    def flush(self) -> None:
        if self.lines:
            lines, self.lines = self.lines, []
            self.send(lines=lines)

    async def flushing(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self.flush()


async def _body(kind: str, ctx: TaskContext, payload: dict[str, Any]) -> Any:
    if kind == "shell":
        from deeptui.runners.shell import run_shell_task

        return await run_shell_task(ctx, default_cwd=payload.get("cwd"))
    if kind == "callable":
        from deeptui.cluster.shipping import import_callable

        fn = import_callable(payload["callable"])
        result = fn(ctx.task, ctx.task.parameters, ctx.dependency_outputs)
        if result is not None and asyncio.iscoroutine(result):
            result = await result
        return result
    from deeptui.cluster.shipping import worker_agents
    from deeptui.runners.agent import run_agent_task

    return await run_agent_task(ctx, worker_agents(payload, ctx.run_id))


def execute(key: str, topic: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """One attempt's body on this worker; returns output, usage, changes and how many log
    messages were sent (deeptui waits for them all before it reports the result)."""
    from distributed import get_worker

    from deeptui.cluster import orphans

    orphans.watch()  # this worker's shell groups, ended by its nanny if it dies
    worker = get_worker()
    sender = _Sender(worker, topic, key)
    sender.send(placed=True, host=socket.gethostname(), pid=os.getpid())
    ctx = TaskContext(payload["task"], payload["workflow_id"], payload["run_id"],
                      payload["dependency_outputs"], payload.get("agent_type"), sender.log)
    loop = asyncio.new_event_loop()
    ended = threading.Event()

    async def main() -> Any:
        flusher = asyncio.ensure_future(sender.flushing())
        try:
            return await _body(kind, ctx, payload)
        finally:
            flusher.cancel()

    task = loop.create_task(main())
    with _guard:
        _running[key] = (loop, task, ended)
        if key in _cancelled:
            del _cancelled[key]
            task.cancel()
    output = error = None
    try:
        output = loop.run_until_complete(task)
    except asyncio.CancelledError:  # deeptui cancelled it: nobody waits for this
        raise TaskFailure("cancelled") from None
    except Exception as exc:  # noqa: BLE001 - returned, so its last log lines come first
        error = exc if isinstance(exc, TaskFailure) else \
            TaskFailure(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    finally:
        sender.flush()
        with _guard:
            _running.pop(key, None)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        ended.set()
        orphans.prune()
    return {"output": output, "error": error, "usage": ctx.usage, "changes": ctx.changes,
            "messages": sender.sent, "worker": worker.address}


async def cancel_body(key: str) -> bool:
    """Cancel the body of ``key`` running here and wait until it has ended (its process
    group too); False when it is not running here (it will not start after this)."""
    with _guard:
        entry = _running.get(key)
        if entry is None:
            _cancelled[key] = None
            while len(_cancelled) > CANCELLED_KEPT:
                _cancelled.popitem(last=False)
            return False
    loop, task, ended = entry
    try:
        loop.call_soon_threadsafe(task.cancel)
    except RuntimeError:  # its loop closed meanwhile: it has ended
        return True
    await asyncio.to_thread(ended.wait, END_WAIT_SECONDS)
    return True
