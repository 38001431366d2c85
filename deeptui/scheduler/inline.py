"""A plain callable task's first attempt, run inline where the ready-queue pump starts it.

A callable task whose function is a plain ``def`` (`CallableRegistry.plain`), called in
this process, with no timeout, runs its first attempt right in the pump: no asyncio
task, no `TaskContext`, no done callback (a 100,000-task run of no-ops spent a third of
its time on them). Its body is one synchronous call either way (in an asyncio task of its
own it ran without yielding too), so what subscribers see is the same: TaskStarted, then
TaskCompleted, the same result and cache entry, the same order among ready tasks.

Only the first attempt runs inline. When it raises, or returns an awaitable, the task
goes on in an asyncio task of its own (`run_task` with that outcome), so retries, their
waits and cancellation are those of every task.

A pump runs inline bodies for at most `INLINE_SLICE` seconds, then yields to the event
loop and goes on at its next turn: the app stays responsive and a cancel gets in.

In a memory-only cache (the default), the result of an inline task that missed surely
and returned a scalar is put later, without the lock (`deeptui.cache.put_later`): the
pump claims what it puts when it starts and holds it when it ends.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from deeptui.cache.memory import SCALARS
from deeptui.scheduler.attempts import describe_error

if TYPE_CHECKING:
    from deeptui.models import TaskDefinition
    from deeptui.scheduler.ready_queue import ReadyQueueExecutor

_now = time.time  # when a result is put later: its entry's age and expiry count from it
INLINE_SLICE = 0.005  # seconds of inline bodies and cache hits in one pump, then it yields

DONE: Any = object()  # `run_inline`: the task ended inline
STARTED: Any = object()  # `run_inline`: the attempt goes on in an asyncio task of its own


def run_inline(run: ReadyQueueExecutor, task: TaskDefinition, fn: Callable[..., Any],
               key: Any, outputs: dict[str, Any] | None = None) -> Any:
    """Run a ready callable task's first attempt now if it can run inline.

    Returns `DONE` when the task ended (its dependents are not released yet), `STARTED`
    when it went on in an asyncio task (it raised, or returned an awaitable), or None
    when it cannot run inline (the pump starts it as usual). ``fn``: its function, a plain
    one (`CallableRegistry.plain`); ``key``: its cache key (None: not cached); ``outputs``:
    its dependencies' outputs, when the caller has them.
    """
    if (task.timeout_seconds or run.workflow.default_timeout_seconds) is not None:
        return None
    sm, tid = run.sm, task.id
    if len(run.running) >= run.max_running:  # it holds a slot while it runs
        run.max_running = len(run.running) + 1
    sm.running(tid, 1, None)
    try:
        output = fn(task, task.parameters, run.outputs(task) if outputs is None else outputs)
    except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - retried like any failure
        run._start(task, None, key, exc)
        return STARTED
    if output is not None and inspect.isawaitable(output):
        run._start(task, None, key, output)
        return STARTED
    try:
        usage = run.results[tid].usage  # (zero: maybe the run's shared one; a callable counts none)
        sm.completed(tid, output, usage)
        if key is not None:
            if type(key) is tuple and run.put_later is not None and type(output) in SCALARS:
                run.put_later((key, tid, output, usage, sm.run_id, _now()))
            else:
                run.cache.put(key, tid, output, usage, None,  # type: ignore[union-attr]
                              run_id=sm.run_id)
    except Exception as exc:  # noqa: BLE001 - as in run_task: a bug must not kill the run
        sm.failed(tid, describe_error(exc))
    return DONE


def pump_soon(run: ReadyQueueExecutor) -> None:
    """The pump yielded to the loop: it goes on at the loop's next turn (once)."""
    if not run.pump_queued:
        run.pump_queued = True
        run.loop.call_soon(_pump_again, run)


def _pump_again(run: ReadyQueueExecutor) -> None:
    run.pump_queued = False
    if run.active:
        run._pump()
