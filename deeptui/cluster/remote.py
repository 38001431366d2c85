"""The runners on deeptui's side when tasks run on a cluster: one attempt's body is one Dask
future; its log lines come back, in order, into the task's own log (the same bus events
as a local body), and a cancel or a timeout ends the body on the worker before it returns.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

from deeptui.cluster.shipping import payload_for
from deeptui.runners.context import TaskContext

if TYPE_CHECKING:
    from deeptui.cluster.connection import ClusterConnection

DRAIN_SECONDS = 5.0  # for the last log lines to arrive after the result did


class LogStream:
    """One attempt's messages from its worker, delivered on deeptui's loop in order."""

    def __init__(self, key: str, ctx: TaskContext) -> None:
        self.key = key
        self.ctx = ctx
        self.loop = asyncio.get_running_loop()
        self.worker: str | None = None  # known once the body started
        self.future: Any = None  # the Dask future (used on the connection's loop)
        self.next = 0  # the number of the next message to deliver
        self.early: dict[int, dict[str, Any]] = {}  # arrived before their turn
        self.expected: int | None = None
        self.drained = asyncio.Event()

    def deliver(self, msg: dict[str, Any]) -> None:
        self.early[msg["n"]] = msg
        while self.next in self.early:
            self._handle(self.early.pop(self.next))
            self.next += 1
        if self.expected is not None and self.next >= self.expected:
            self.drained.set()

    def _handle(self, msg: dict[str, Any]) -> None:
        ctx = self.ctx
        if msg.get("placed"):
            self.worker = msg.get("worker")
            if self.worker:
                if ctx.placed is not None:
                    ctx.placed(self.worker)
                ctx.log("info", f"running on worker {self.worker} (host {msg.get('host')}, "
                                f"pid {msg.get('pid')})")
            return
        for _ts, kind, text in msg.get("lines", ()):
            ctx.log(kind, text)

    async def drain(self, messages: int) -> None:
        """Wait (a little) until all ``messages`` the worker sent were delivered."""
        self.expected = messages
        if self.next < messages:
            try:
                await asyncio.wait_for(self.drained.wait(), DRAIN_SECONDS)
            except TimeoutError:
                self.ctx.log("warning", f"{messages - self.next} log message(s) from the "
                                        "worker did not arrive")


async def run_remote(ctx: TaskContext, *, conn: ClusterConnection, kind: str,
                     orchestrator: Any) -> Any:
    """Run the body of ``ctx.task`` (of ``kind``) on the cluster; its output, like a
    local runner's. ``parameters.resources`` (e.g. ``{GPU: 1}``) are the future's Dask
    resources."""
    key = f"deeptui-{ctx.task.id}-{uuid.uuid4().hex[:12]}"
    stream = LogStream(key, ctx)
    resources = ctx.task.parameters.get("resources")
    payload = payload_for(kind, ctx, orchestrator)
    try:
        result = await conn.submit(stream, kind, payload,
                                   resources if isinstance(resources, dict) else None)
        await stream.drain(result["messages"])
    except asyncio.CancelledError:  # cancelled, timed out, or the run stopped
        await asyncio.shield(conn.cancel(stream))
        raise
    finally:
        conn.release(key)
    usage = result["usage"]
    if result["error"] is not None:
        raise result["error"]
    ctx.usage.input_tokens += usage.input_tokens
    ctx.usage.output_tokens += usage.output_tokens
    ctx.usage.requests += usage.requests
    if usage.cost_usd is not None:
        ctx.usage.cost_usd = (ctx.usage.cost_usd or 0.0) + usage.cost_usd
    ctx.changes = result["changes"]
    return result["output"]
