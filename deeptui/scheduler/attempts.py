"""One task's attempts in a run: a cache lookup, then attempts until one succeeds or retries run out.

The ready-queue executor starts `run_task` for every task it starts; the task's body
runs on the runner its kind names, a timeout fails that attempt, and a failed attempt
is retried after ``RetryConfig.delay`` (with jitter, cancellable).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from deeptui.errors import ConditionError
from deeptui.runners import TaskContext, TaskFailure

if TYPE_CHECKING:
    from deeptui.models import TaskDefinition
    from deeptui.scheduler.ready_queue import ReadyQueueExecutor


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    text = str(exc).strip()
    if isinstance(exc, TaskFailure | ConditionError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def run_task(run: ReadyQueueExecutor, task: TaskDefinition, agent_type: str | None) -> None:
    """One task: a cache lookup, then attempts until one succeeds or retries run out.

    A timeout fails the attempt like any error; waits between attempts are
    ``RetryConfig.delay`` with jitter, and are cancellable.
    """
    sm = run.sm
    tid = task.id
    try:
        deps = task.depends_on
        outputs = {d: run.results[d].output for d in deps} if deps else {}
        key = None
        if run.cache is not None:  # the task's cache policy says whether, and by what
            fn = None
            if run.callables is not None and run.kind[tid] == "callable":
                fn = run.callables.find(task)
            files = run.files() if run.files is not None and run.kind[tid] == "agent" else None
            key = run.cache.key_for(task, outputs, run.model_name, fn, run.output_texts, files)
            if tid in run.refresh:  # run again ignoring the cache: no read, the result is stored
                run.refresh.discard(tid)
                hit = None
            else:
                hit = None if key is None else run.cache.get(key)
            if hit is not None and key is not None:
                _cache_hit(run, tid, key.hex())
                sm.completed(tid, hit.output, hit.usage, cached=True,
                             agent_used=hit.agent_used or agent_type,
                             cached_from=(hit.run_id, hit.created_at))
                return
        # the result's own (fresh, zero) usage object collects this run's usage
        ctx = TaskContext(task, run.workflow.id, sm.run_id, outputs, agent_type,
                          lambda kind, text: sm.log(tid, kind, text),
                          run.results[tid].usage)
        ctx.placed = lambda worker: sm.placed(tid, worker)
        retry = task.retry_config
        timeout = task.timeout_seconds or run.workflow.default_timeout_seconds
        body = run.runners[run.kind[tid]]
        attempt = 0
        while True:
            attempt += 1
            sm.running(tid, attempt, agent_type)
            try:
                if timeout is None:
                    output = await body(ctx)
                else:
                    async with asyncio.timeout(timeout) as ctx.timeout:
                        output = await body(ctx)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure is retried alike
                error = describe_error(exc)
                if timeout is not None and isinstance(exc, TimeoutError):
                    error = f"timed out after {timeout:g}s"
                if attempt > retry.max_retries:
                    sm.failed(tid, error, ctx.usage)
                    return
                delay = retry.delay(attempt - 1)
                if retry.jitter:
                    delay *= 1 + run.rng.uniform(-retry.jitter, retry.jitter)
                sm.retrying(tid, attempt, delay, error)
                await run.sleep(delay)
        if ctx.changes is not None:
            sm.changes(tid, ctx.changes)
        sm.completed(tid, output, ctx.usage)
        if key is not None:
            run.cache.put(key, tid, output, ctx.usage, agent_type, run_id=sm.run_id)
    except asyncio.CancelledError:
        reason = run.cancel_reasons.pop(tid, "cancelled")
        sm.cancelled(tid, reason)
    except Exception as exc:  # noqa: BLE001 - a bug in a runner must not kill the run
        sm.failed(tid, describe_error(exc))


def _cache_hit(run: ReadyQueueExecutor, tid: str, key: str) -> None:
    bus = run.sm.bus
    if bus.has_listeners:  # nobody to tell otherwise: skip building the event and log line
        from deeptui.bus import CacheHit

        run.sm.log(tid, "info", "result taken from the cache")
        bus.publish(CacheHit(run.sm.run_id, run.workflow.id, task_id=tid, key=key))
