"""`StateManager`: the single owner of one run's task and workflow statuses.

Every status change goes through here, updates the run's `WorkflowState`
and is published on the bus. It also keeps a bounded ring of log lines per
task, so a screen opened late can show a task's history. `ProgressTap` is the
``progress_callback`` of a run: a bus subscriber that hands it the run's state.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from deeptui import bus as ev
from deeptui.blank import pending_results
from deeptui.models import (
    TaskChanges,
    TaskResult,
    TaskStatus,
    TaskUsage,
    WorkflowDefinition,
    WorkflowState,
    WorkflowStatus,
)

_now, _from_timestamp = datetime.now, datetime.fromtimestamp
_time = time.time
log = logging.getLogger(__name__)
ProgressCallback = Callable[[WorkflowState], Any]
_NOT_PROGRESS = (ev.TaskLog, ev.CacheHit)  # events that change no status

# The hot path sets fields in the result's __dict__: what pydantic's __setattr__ does for a
# model without validate_assignment (store the value, mark the field set), without it.
assert not TaskResult.model_config.get("validate_assignment")


_RUNNING, _COMPLETED = TaskStatus.RUNNING, TaskStatus.COMPLETED
# the fields each hot-path change sets (pydantic marks assigned fields as set)
_FIRST_RUNNING = frozenset({"status", "started_at", "error", "attempts", "agent_used"})
_RUNNING_AGAIN = frozenset({"status", "attempts", "agent_used"})
_COMPLETED_FIELDS = frozenset({"status", "completed_at", "output", "error", "cached"})
_HIT_FIELDS = _COMPLETED_FIELDS | {"started_at", "attempts", "agent_used"}
_HIT_FROM_FIELDS = _HIT_FIELDS | {"cached_from", "cached_at"}
_NO_SOURCE = (None, None)  # a hit whose cache entry does not name its run


class StateManager:
    """Statuses, results, counts and logs of one run."""

    def __init__(
        self,
        workflow: WorkflowDefinition,
        run_id: str,
        bus: ev.EventBus,
        *,
        initial_results: dict[str, TaskResult] | None = None,
        log_ring_size: int = 500,
        model: str | None = None,
    ) -> None:
        self.workflow = workflow
        self.run_id = run_id
        self.model = model  # the model name, told to subscribers when the run starts
        self.bus = bus
        self.log_ring_size = log_ring_size
        results = pending_results([t.id for t in workflow.tasks])
        for tid, result in (initial_results or {}).items():
            if tid in results:
                results[tid] = result
        self.state = WorkflowState(
            workflow_id=workflow.id, run_id=run_id, workflow_name=workflow.name,
            execution_strategy=workflow.execution_strategy, task_results=results,
        )
        self.counts: dict[TaskStatus, int] = {status: 0 for status in TaskStatus}
        if initial_results:
            for result in results.values():
                self.counts[result.status] += 1
        else:  # every task pending
            self.counts[TaskStatus.PENDING] = len(results)
        self.logs: dict[str, deque[tuple[float, str, str]]] = {}

    # -- reading ---------------------------------------------------------

    def status(self, task_id: str) -> TaskStatus:
        return self.state.task_results[task_id].status

    def result(self, task_id: str) -> TaskResult:
        return self.state.task_results[task_id]

    def progress(self) -> dict[str, Any]:
        c = self.counts
        total = len(self.state.task_results)
        finished = total - c[TaskStatus.PENDING] - c[TaskStatus.RUNNING]
        return {
            "workflow_id": self.workflow.id,
            "run_id": self.run_id,
            "total_tasks": total,
            "completed": c[TaskStatus.COMPLETED],
            "failed": c[TaskStatus.FAILED],
            "running": c[TaskStatus.RUNNING],
            "pending": c[TaskStatus.PENDING],
            "skipped": c[TaskStatus.SKIPPED],
            "cancelled": c[TaskStatus.CANCELLED],
            "finished": finished,
            "status": self.state.status.value,
            "percent": round(100.0 * finished / total, 1) if total else 100.0,
        }

    def task_log(self, task_id: str) -> list[tuple[float, str, str]]:
        return list(self.logs.get(task_id, ()))

    # -- changing --------------------------------------------------------

    def _set(self, result: TaskResult, status: TaskStatus) -> None:
        """Move the task to ``status`` (the counts follow)."""
        self.counts[result.status] -= 1
        self.counts[status] += 1
        result.status = status

    def start_workflow(self, *, resumed: bool = False) -> None:
        state = self.state
        state.status = WorkflowStatus.RUNNING
        state.completed_at = None
        state.error = None
        if state.started_at is None:
            state.started_at = _now(UTC)
        finished = {}
        # copies: the engine changes the live ones when retried (none on a first start)
        if self.bus.has_listeners and self.counts[TaskStatus.PENDING] != len(state.task_results):
            finished = {tid: r.model_copy() for tid, r in state.task_results.items()
                        if r.status is not TaskStatus.PENDING}
        self.bus.publish(ev.WorkflowStarted(
            self.run_id, self.workflow.id, workflow_name=self.workflow.name,
            total_tasks=len(state.task_results), resumed=resumed, workflow=self.workflow,
            model=self.model, started_at=state.started_at, finished=finished,
        ))

    def finish_workflow(self, status: WorkflowStatus, error: str | None = None) -> None:
        state = self.state
        state.status = status
        state.error = error
        state.completed_at = _now(UTC)
        self.bus.publish(ev.WorkflowFinished(self.run_id, self.workflow.id, status=status.value,
                                          error=error))

    def queued(self, task_id: str) -> None:
        if self.bus.wants_queued:
            self.bus.publish(ev.TaskQueued(self.run_id, self.workflow.id, task_id=task_id))

    def running(self, task_id: str, attempt: int, agent_type: str | None) -> None:
        result = self.state.task_results[task_id]
        values = result.__dict__  # set as pydantic's __setattr__ would (every task)
        counts = self.counts
        counts[values["status"]] -= 1
        counts[_RUNNING] += 1
        values["status"] = _RUNNING
        if attempt == 1:
            values["started_at"] = _now(UTC)
            values["error"] = None
            result.__pydantic_fields_set__.update(_FIRST_RUNNING)
        else:
            result.__pydantic_fields_set__.update(_RUNNING_AGAIN)
        values["attempts"] = attempt
        values["agent_used"] = agent_type
        bus = self.bus
        for tap in bus.started_taps:  # (the store: plain values, no event)
            tap(self.run_id, task_id, _time(), attempt, agent_type)
        if bus.wants_task_events:  # else nobody to tell: skip building the event
            bus.publish_task_event(ev.TaskStarted(self.run_id, self.workflow.id, task_id=task_id,
                                                  attempt=attempt, agent_type=agent_type))

    def placed(self, task_id: str, worker: str) -> None:
        """The running attempt's body started on a Dask worker (recorded on its result)."""
        result = self.state.task_results[task_id]
        result.worker = worker
        self.bus.publish(ev.TaskPlaced(self.run_id, self.workflow.id, task_id=task_id,
                                       attempt=result.attempts, worker=worker))

    def retrying(self, task_id: str, attempt: int, delay: float, error: str) -> None:
        self.state.task_results[task_id].error = error
        self.log(task_id, "error", f"attempt {attempt} failed: {error}; retrying in {delay:.2f}s")
        self.bus.publish(ev.TaskRetrying(self.run_id, self.workflow.id, task_id=task_id,
                                      attempt=attempt, delay=delay, error=error))

    def completed(self, task_id: str, output: Any, usage: TaskUsage | None = None,
                  *, cached: bool = False, agent_used: str | None = None,
                  cached_from: tuple[str | None, float] | None = None) -> None:
        """``cached_from``: a cached result's producing run id and when it was stored."""
        result = self.state.task_results[task_id]
        now = _now(UTC)
        values = result.__dict__  # (every task: set as pydantic's __setattr__ would)
        counts = self.counts
        counts[values["status"]] -= 1
        counts[_COMPLETED] += 1
        values["status"] = _COMPLETED
        values["completed_at"] = now
        values["output"] = output
        values["error"] = None
        fields_set = result.__pydantic_fields_set__
        if cached:  # a cache hit: it started and ended now, without an attempt
            values["cached"] = True
            values["started_at"] = now
            values["attempts"] = 0
            values["agent_used"] = agent_used
            if cached_from is None:
                fields_set.update(_HIT_FIELDS)
                source: Any = _NO_SOURCE
            else:
                values["cached_from"] = cached_from[0]
                values["cached_at"] = _from_timestamp(cached_from[1], UTC)
                fields_set.update(_HIT_FROM_FIELDS)
                source = cached_from
        else:
            source = False  # (the taps' ``cached``: False, or a hit's provenance)
            values["cached"] = False
            fields_set.update(_COMPLETED_FIELDS)
            if values["started_at"] is None:
                values["started_at"] = now
                fields_set.add("started_at")
        if usage is not None:
            values["usage"] = usage
            fields_set.add("usage")
        bus = self.bus
        for tap in bus.completed_taps:  # (the store: plain values, no event)
            tap(self.run_id, task_id, _time(), output, source, result.started_at, now,
                result.attempts, result.agent_used, result.usage)
        if not bus.wants_task_events:
            return
        started = result.started_at
        bus.publish_task_event(ev.TaskCompleted(
            self.run_id, self.workflow.id, task_id=task_id, output=output, cached=cached,
            duration=(now - started).total_seconds(), started_at=started, completed_at=now,
            attempts=result.attempts, agent_used=result.agent_used, usage=result.usage,
            cached_from=result.cached_from, cached_at=result.cached_at,
        ))

    def changes(self, task_id: str, changes: TaskChanges | None, *, applied: bool = False) -> None:
        """A writing task's diff (kept on its result), or that it was applied (or, None, discarded)."""
        self.state.task_results[task_id].changes = changes
        self.bus.publish(ev.TaskChangesReady(self.run_id, self.workflow.id, task_id=task_id,
                                             changes=changes, applied=applied))

    def failed(self, task_id: str, error: str, usage: TaskUsage | None = None) -> None:
        result = self.state.task_results[task_id]
        result.completed_at = _now(UTC)
        result.error = error
        if usage is not None:
            result.usage = usage
        self._set(result, TaskStatus.FAILED)
        self.log(task_id, "error", error)
        self.bus.publish(ev.TaskFailed(
            self.run_id, self.workflow.id, task_id=task_id, error=error,
            attempts=result.attempts, started_at=result.started_at,
            completed_at=result.completed_at, agent_used=result.agent_used, usage=result.usage))

    def skipped(self, task_id: str, reason: str) -> None:
        result = self.state.task_results[task_id]
        result.skip_reason = reason
        result.completed_at = _now(UTC)
        self._set(result, TaskStatus.SKIPPED)
        self.bus.publish(ev.TaskSkipped(self.run_id, self.workflow.id, task_id=task_id,
                                     reason=reason))

    def cancelled(self, task_id: str, reason: str) -> None:
        result = self.state.task_results[task_id]
        result.completed_at = _now(UTC)
        result.error = reason
        self._set(result, TaskStatus.CANCELLED)
        self.bus.publish(ev.TaskCancelled(self.run_id, self.workflow.id, task_id=task_id,
                                       reason=reason))

    def reset(self, task_id: str) -> None:
        """Back to pending (a retry): the previous attempt's outcome is cleared."""
        result = self.state.task_results[task_id]
        self._set(result, TaskStatus.PENDING)
        result.output = None
        result.error = None
        result.skip_reason = None
        result.attempts = 0
        result.started_at = None
        result.completed_at = None
        result.cached = False
        result.cached_from = result.cached_at = None
        result.worker = None
        result.usage = TaskUsage()
        self.bus.publish(ev.TaskReset(self.run_id, self.workflow.id, task_id=task_id))

    def log(self, task_id: str, kind: str, text: str) -> None:
        ring = self.logs.get(task_id)
        if ring is None:
            ring = self.logs[task_id] = deque(maxlen=self.log_ring_size)
        ts = time.time()
        ring.append((ts, kind, text))
        if self.bus.has_listeners:
            self.bus.publish(ev.TaskLog(self.run_id, self.workflow.id, task_id=task_id,
                                        kind=kind, text=text, ts=ts))


class ProgressTap:
    """The ``progress_callback`` of a run, as a bus tap: calls it with the run's state on
    every change of status (not for log lines or cache hits). A coroutine callback runs as
    a task: the run waits for them before it returns, and their errors are logged."""

    def __init__(self, callback: ProgressCallback, state: WorkflowState) -> None:
        self.callback = callback
        self.state = state
        self.pending: set[asyncio.Future[Any]] = set()
        self.remove: Callable[[], None] = lambda: None  # takes the tap off the bus

    def __call__(self, event: ev.Event) -> None:
        if event.run_id != self.state.run_id or isinstance(event, _NOT_PROGRESS):
            return
        try:
            result = self.callback(self.state)
            if inspect.isawaitable(result):
                future = asyncio.ensure_future(result)
                self.pending.add(future)
                future.add_done_callback(self._done)
        except Exception:  # a broken callback must not fail the task that triggered it
            log.exception("progress callback failed")

    def _done(self, future: asyncio.Future[Any]) -> None:
        self.pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("progress callback failed", exc_info=future.exception())

    async def flush(self) -> None:
        while self.pending:
            await asyncio.wait(list(self.pending))
