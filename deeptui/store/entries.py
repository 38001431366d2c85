"""How the store's queue holds an event: `WIDTH` plain values in a flat list, not the event.

The bus tap copies a task start, a task completion and a log line into `WIDTH` slots
(the engine frees the event at once); any other event is kept as itself in an `OTHER`
entry. Why: events held for a few milliseconds and then freed by the thousand on the
writer thread kept pushing the cyclic GC's young-generation count up (a burst of frees
lowers it only to zero), so a 10,000-task run with the history on paid an extra full
collection, about as much as the writer's own work.

Entries, by their first value (the event's class, or `OTHER`):

- ``TaskStarted``: run, task, ts, attempt, agent type
- ``TaskCompleted``: run, task, ts, output, cached, started_at, completed_at, attempts,
  agent used, usage; ``cached`` is false, or for a cache hit its provenance: (the run that
  produced the result, when the cache stored it in epoch seconds), either may be None
  (`cache_source`): a plain completion carries nothing more
- ``TaskLog``: run, task, ts, kind, text
- `OTHER`: the event; for a ``WorkflowStarted``, then what the store records of the run,
  taken as it was queued (`batch.snapshot`: the definition's text, its task ids)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from deeptui import bus as ev

WIDTH = 11
OTHER = "event"
STARTED, COMPLETED, LOG = ev.TaskStarted, ev.TaskCompleted, ev.TaskLog


def entry(event: ev.Event) -> tuple[Any, ...]:
    """The `WIDTH` values that stand for ``event`` in the queue."""
    cls = type(event)
    if cls is STARTED:
        e: Any = event
        return (STARTED, e.run_id, e.task_id, e.ts, e.attempt, e.agent_type,
                None, None, None, None, None)
    if cls is COMPLETED:
        e = event
        return (COMPLETED, e.run_id, e.task_id, e.ts, e.output, cache_source(e), e.started_at,
                e.completed_at, e.attempts, e.agent_used, e.usage)
    if cls is LOG:
        e = event
        return (LOG, e.run_id, e.task_id, e.ts, e.kind, e.text, None, None, None, None, None)
    return (OTHER, event, None, None, None, None, None, None, None, None, None)


def cache_source(event: ev.TaskCompleted) -> Any:
    """A completion event's ``cached`` value in its entry: False, or (run id, stored at)."""
    if not event.cached:
        return False
    at = event.cached_at
    return (event.cached_from, at.timestamp() if at is not None else None)


def entries(flat: list[Any]) -> Iterator[tuple[Any, ...]]:
    """Each entry of ``flat`` as a tuple of `WIDTH` values."""
    values = iter(flat)
    return zip(*([values] * WIDTH), strict=True)


def run_of(values: tuple[Any, ...]) -> str:
    return values[1].run_id if values[0] is OTHER else values[1]


def coalesce_logs(pending: list[Any], limit: int,
                  dropped: dict[tuple[str, str], int]) -> list[Any]:
    """``pending`` with only the newest ``limit`` log lines of each task; the others are
    counted in ``dropped`` ((run, task) -> lines)."""
    seen: dict[tuple[str, str], int] = {}
    kept: list[tuple[Any, ...]] = []
    for values in reversed(list(entries(pending))):
        if values[0] is LOG:
            key = (values[1], values[2])
            n = seen.get(key, 0)
            if n >= limit:
                dropped[key] = dropped.get(key, 0) + 1
                continue
            seen[key] = n + 1
        kept.append(values)
    kept.reverse()
    return [value for values in kept for value in values]
