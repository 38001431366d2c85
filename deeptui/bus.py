"""The event bus: every change of a run as a typed event, out to its subscribers.

Publishing never blocks and never waits for a subscriber. Each async
subscriber has its own bounded queue; when a slow subscriber's queue is full,
log lines for it are dropped (and counted) and status events are coalesced to
the latest one per task, so it still sees every task's final state. Sync taps
(the store, a progress callback, tests) are called inline and must be quick.

The bus carries events out only. Steering goes the other way through the
orchestrator's methods (`TaskOrchestrator.cancel_task`, ``retry_task``,
``cancel_workflow``, ``invalidate_cache``, ``clear_cache``): the app and the
CLI call them, and nothing else changes a run.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from deeptui.models import TaskResult, TaskUsage, WorkflowDefinition

# ---------------------------------------------------------------- events
# An event carries what its subscribers need (the store records runs from events alone):
# values, or objects the engine no longer changes (a definition, a finished task's usage,
# copies of results), never a live object the engine goes on mutating. Subscribers read
# events and never change them; they are not frozen dataclasses, whose __init__ costs
# three times as much (measured: ~9% of a 20,000-task run, which builds two per task).


@dataclass(slots=True)
class Event:
    run_id: str
    workflow_id: str
    ts: float = field(default_factory=time.time, kw_only=True)


@dataclass(slots=True)
class WorkflowStarted(Event):
    """A run starts (or restarts: a resume, a retry after it ended)."""

    workflow_name: str = ""
    total_tasks: int = 0
    resumed: bool = False
    workflow: WorkflowDefinition | None = None  # the definition run (never changed by the engine)
    model: str | None = None  # the model name agent tasks run on
    started_at: datetime | None = None  # when the run first started
    # copies of the results of tasks that had ended before this start (kept by a resume)
    finished: Mapping[str, TaskResult] = field(default_factory=dict)


@dataclass(slots=True)
class WorkflowFinished(Event):
    status: str = "completed"
    error: str | None = None


@dataclass(slots=True)
class TaskEvent(Event):
    task_id: str = ""


@dataclass(slots=True)
class TaskQueued(TaskEvent):
    pass


@dataclass(slots=True)
class TaskStarted(TaskEvent):
    attempt: int = 1
    agent_type: str | None = None


@dataclass(slots=True)
class TaskPlaced(TaskEvent):
    """An attempt's body started on a Dask worker (see deeptui.cluster)."""

    attempt: int = 1
    worker: str = ""


@dataclass(slots=True)
class TaskLog(TaskEvent):
    """A line or chunk of a task's output. ``kind``: text, tool_call, tool_result, stdout, info, error."""

    kind: str = "text"
    text: str = ""


@dataclass(slots=True)
class TaskRetrying(TaskEvent):
    attempt: int = 1  # the attempt that failed
    delay: float = 0.0
    error: str = ""


@dataclass(slots=True)
class TaskCompleted(TaskEvent):
    """A task ended with an output (``usage``: the engine no longer changes it)."""

    output: Any = None
    duration: float = 0.0
    cached: bool = False
    started_at: datetime | None = None
    completed_at: datetime | None = None
    attempts: int = 0
    agent_used: str | None = None
    usage: TaskUsage | None = None
    cached_from: str | None = None  # a cached result: the run that produced it, and when
    cached_at: datetime | None = None


@dataclass(slots=True)
class TaskFailed(TaskEvent):
    """A task's last attempt failed (``usage`` summed over its attempts)."""

    error: str = ""
    attempts: int = 1
    started_at: datetime | None = None
    completed_at: datetime | None = None
    agent_used: str | None = None
    usage: TaskUsage | None = None


@dataclass(slots=True)
class TaskSkipped(TaskEvent):
    reason: str = ""


@dataclass(slots=True)
class TaskCancelled(TaskEvent):
    reason: str = ""


@dataclass(slots=True)
class TaskReset(TaskEvent):
    """A task goes back to pending because it (or an upstream task) is retried."""


@dataclass(slots=True)
class CacheHit(TaskEvent):
    key: str = ""


@dataclass(slots=True)
class ApprovalRequested(TaskEvent):
    """A tool call of an agent task waits for a person's answer (see deeptui.workspace.approvals)."""

    request_id: str = ""
    tool: str = ""
    args: str = ""


@dataclass(slots=True)
class ApprovalAnswered(TaskEvent):
    request_id: str = ""
    tool: str = ""
    approved: bool = False
    by: str = ""  # "a person", "policy: never", ...


@dataclass(slots=True)
class TaskChangesReady(TaskEvent):
    """A writing task's diff (``changes`` is a TaskChanges), kept until it is applied."""

    changes: Any = None
    applied: bool = False


# ----------------------------------------------------------------- the bus


class Subscription:
    """One async subscriber's bounded queue. Iterate it, or ``await get()``."""

    def __init__(self, bus: EventBus, maxsize: int, run_id: str | None) -> None:
        self._bus = bus
        self.maxsize = maxsize
        self.run_id = run_id
        self._queue: deque[Event] = deque()
        self._coalesced: dict[tuple[str, str], Event] = {}
        self._waiter: asyncio.Future[None] | None = None
        self.dropped = 0
        self.closed = False

    def _offer(self, event: Event) -> None:
        if self.run_id is not None and event.run_id != self.run_id:
            return
        if len(self._queue) < self.maxsize:
            self._queue.append(event)
        elif isinstance(event, TaskLog):
            self.dropped += 1
        elif isinstance(event, TaskEvent):
            self._coalesced[(event.run_id, event.task_id)] = event
            self.dropped += 1
        else:  # workflow events are rare and always kept
            self._queue.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> Event | None:
        if self._queue:
            return self._queue.popleft()
        if self._coalesced:
            key = next(iter(self._coalesced))
            return self._coalesced.pop(key)
        return None

    def drain(self, limit: int | None = None) -> list[Event]:
        """Everything queued now (at most ``limit``), oldest first."""
        out: list[Event] = []
        while limit is None or len(out) < limit:
            event = self.get_nowait()
            if event is None:
                break
            out.append(event)
        return out

    async def get(self) -> Event:
        while True:
            event = self.get_nowait()
            if event is not None:
                return event
            if self.closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    def close(self) -> None:
        self.closed = True
        self._bus._subscriptions.discard(self)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class EventBus:
    """Fan-out of events to subscribers."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        # replaced, never mutated: a tap may remove itself (or add one) while publish iterates
        self._taps: tuple[Callable[[Event], None], ...] = ()
        self._queued_taps: tuple[Callable[[Event], None], ...] = ()  # those that want TaskQueued
        # taps that take a task's start and completion as plain values (`tap(started=...,
        # completed=...)`), and the taps that want those as events: the engine builds a
        # `TaskStarted`/`TaskCompleted` only when a subscriber or one of these listens
        self.started_taps: tuple[Callable[..., None], ...] = ()
        self.completed_taps: tuple[Callable[..., None], ...] = ()
        self._event_taps: tuple[Callable[[Event], None], ...] = ()

    def subscribe(self, maxsize: int = 10_000, run_id: str | None = None) -> Subscription:
        """A bounded async queue of events (of one run, or all runs)."""
        sub = Subscription(self, maxsize, run_id)
        self._subscriptions.add(sub)
        return sub

    def tap(self, callback: Callable[[Event], None], *, queued: bool = True,
            started: Callable[..., None] | None = None,
            completed: Callable[..., None] | None = None) -> Callable[[], None]:
        """Call ``callback`` inline for every event; returns a function that removes it.

        ``queued=False``: not for `TaskQueued` (one per task, and of no use to a
        recorder); when no other listener wants them, they are not even built.
        ``started`` and ``completed`` (both or neither): called with a task's start
        (run_id, task_id, ts, attempt, agent_type) and completion (run_id, task_id, ts,
        output, cached, started_at, completed_at, attempts, agent_used, usage) as plain
        values instead of ``callback`` with a `TaskStarted`/`TaskCompleted` event; a
        completion's ``cached`` is False, or for a cache hit its provenance (the producing
        run id, when the cache stored it in epoch seconds; either may be None).
        """
        plain = started is not None and completed is not None
        self._taps = (*self._taps, callback)
        if queued:
            self._queued_taps = (*self._queued_taps, callback)
        if plain:
            self.started_taps = (*self.started_taps, started)
            self.completed_taps = (*self.completed_taps, completed)
        else:
            self._event_taps = (*self._event_taps, callback)

        def remove() -> None:
            self._taps = _without(self._taps, callback)
            if queued:
                self._queued_taps = _without(self._queued_taps, callback)
            if plain:
                self.started_taps = _without(self.started_taps, started)
                self.completed_taps = _without(self.completed_taps, completed)
            else:
                self._event_taps = _without(self._event_taps, callback)

        return remove

    @property
    def has_listeners(self) -> bool:
        return bool(self._subscriptions or self._taps)

    @property
    def wants_queued(self) -> bool:
        """Whether anyone listens for `TaskQueued` events."""
        return bool(self._subscriptions or self._queued_taps)

    @property
    def wants_task_events(self) -> bool:
        """Whether anyone listens for `TaskStarted`/`TaskCompleted` events (not as values)."""
        return bool(self._subscriptions or self._event_taps)

    def publish(self, event: Event) -> None:
        if not self._taps and not self._subscriptions:
            return
        for tap in self._queued_taps if type(event) is TaskQueued else self._taps:
            tap(event)
        for sub in self._subscriptions:
            sub._offer(event)

    def publish_task_event(self, event: TaskStarted | TaskCompleted) -> None:
        """Publish a start or completion whose values ``started_taps``/``completed_taps``
        were already given (the engine's `StateManager` does both)."""
        for tap in self._event_taps:
            tap(event)
        for sub in self._subscriptions:
            sub._offer(event)


def _without(taps: tuple[Callable[[Event], None], ...],
             callback: Callable[[Event], None]) -> tuple[Callable[[Event], None], ...]:
    """``taps`` less one occurrence of ``callback`` (if it is there)."""
    listed = list(taps)
    if callback in listed:
        listed.remove(callback)
    return tuple(listed)
