"""One task's attempts in a run: a cache lookup, then attempts until one succeeds or retries run out.

The executor looks a task up before it starts it (`look_up`): a hit ends the task at
once, without a slot or an asyncio task; `run_task` looks up only what it was not told.

The ready-queue executor starts `run_task` for every task it starts; the task's body
runs on the runner its kind names, a timeout fails that attempt, and a failed attempt
is retried after ``RetryConfig.delay`` (with jitter, cancellable).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from deeptui.blank import ZERO_FIELDS, own_usage
from deeptui.cache.default_key import default_values
from deeptui.cache.keys import PreparedKey
from deeptui.cache.policies import policy_for
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


# `look_up`'s answers besides a key: the task ended from the cache / not looked up yet
HIT: Any = object()
NOT_LOOKED_UP: Any = object()


def look_up(run: ReadyQueueExecutor, task: TaskDefinition, agent_type: str | None,
            outputs: dict[str, Any] | None = None,
            fn: Callable[..., Any] | None = None) -> PreparedKey | tuple[Any, ...] | None:
    """The task's cache lookup: `HIT` when it ended, completed from the cache (no slot, no
    attempt), else the key to store its result under (a `PreparedKey`, or just the values
    of DEFAULT's key when nothing was read; None: its policy does not cache it).
    ``outputs``: its dependencies' outputs, when the caller has them; ``fn``: a callable
    task's function, when the caller found it in the run's registry (`run.inline`)."""
    tid = task.id
    kind = run.kind[tid]
    if kind == "callable" and (fn is None or run.inline is not run.callables):
        fn = None if run.callables is None else run.callables.find(task)
    files = run.files() if kind == "agent" and run.files is not None else None
    cache = run.cache
    policy = cache.policy  # type: ignore[union-attr]
    if "cache_policy" in task.parameters:  # (a task may name its own)
        policy = policy_for(task, policy)
    if outputs is None:
        outputs = run.outputs(task)
    key: Any
    if policy.fused_default:  # (most tasks) the key's values; a `PreparedKey` only to look up
        key = default_values(task, outputs, run.model_name, fn, run.output_texts, files,
                             policy.with_dependencies)
        of_task: str | None = tid
    else:
        key = policy.prepare_task(task, outputs, run.model_name, fn, run.output_texts, files)
        of_task = None if key is None else key.task_id
    if key is None:
        return None
    if run.refresh and tid in run.refresh:  # run again ignoring the cache: no read, stored
        run.refresh.discard(tid)
        return key
    if cache.surely_misses(of_task, run):  # type: ignore[union-attr]
        return key  # (values: `ResultCache.put` takes them)
    if type(key) is tuple:
        key = PreparedKey(tid, *key)
    own = run.results[tid].usage  # the pending result's fresh usage: a hit's zero usage
    if own.__dict__ != ZERO_FIELDS:
        own = None
    hit = cache.get(key, own)  # type: ignore[union-attr]
    if hit is None:
        return key
    if run.sm.bus.has_listeners:  # nobody to tell otherwise: no event, no log line
        _cache_hit(run, tid, key)
    agent_used = hit.agent_used or agent_type
    if agent_used is None and kind == "agent":  # (an entry stored before agents were recorded)
        agent_used = run.router.route(task)
    run.sm.completed(tid, hit.output, hit.usage, cached=True, agent_used=agent_used,
                     cached_from=(hit.run_id, hit.created_at))
    return HIT  # type: ignore[no-any-return]


async def run_task(run: ReadyQueueExecutor, task: TaskDefinition, agent_type: str | None,
                   key: PreparedKey | None = NOT_LOOKED_UP, first: Any = None) -> None:
    """One task: a cache lookup (unless the executor did it: ``key``), then attempts until
    one succeeds or retries run out.

    A timeout fails the attempt like any error; waits between attempts are
    ``RetryConfig.delay`` with jitter, and are cancellable. ``first``: the outcome of a
    first attempt that started inline (`deeptui.scheduler.inline`): the exception it
    raised, or the awaitable it returned (awaited as that attempt's body).
    """
    sm = run.sm
    tid = task.id
    try:
        if key is NOT_LOOKED_UP:
            key = None if run.cache is None else look_up(run, task, agent_type)
            if key is HIT:
                return
        outputs = run.outputs(task)
        # a usage of the result's own (not the pending results' shared zero one) collects
        # this run's usage
        ctx = TaskContext(task, run.workflow.id, sm.run_id, outputs, agent_type,
                          lambda kind, text: sm.log(tid, kind, text),
                          own_usage(run.results[tid]))
        ctx.placed = lambda worker: sm.placed(tid, worker)
        retry = task.retry_config
        timeout = task.timeout_seconds or run.workflow.default_timeout_seconds
        body = run.runners[run.kind[tid]]
        attempt = 0
        while True:
            attempt += 1
            if first is None:
                sm.running(tid, attempt, agent_type)
            try:
                if first is not None:  # attempt 1 started inline: its outcome
                    outcome, first = first, None
                    if isinstance(outcome, BaseException):
                        raise outcome
                    output = await outcome
                elif timeout is None:
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


def _cache_hit(run: ReadyQueueExecutor, tid: str, key: PreparedKey) -> None:
    """Tell subscribers (the cache inspector, the task log) that the task was a hit."""
    from deeptui.bus import CacheHit

    run.sm.log(tid, "info", "result taken from the cache")
    run.sm.bus.publish(CacheHit(run.sm.run_id, run.workflow.id, task_id=tid, key=key.hex()))
