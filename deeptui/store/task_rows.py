"""A task's row in the history's ``tasks`` table, and how each task event changes it.

A row is a list of values in `TASK_COLUMNS` order; a writer batch stages one per task it
changes and changes it in place, event by event, then writes the rows that changed.
"""

from __future__ import annotations

from typing import Any

from deeptui import bus as ev
from deeptui.models import TaskUsage
from deeptui.store.codec import encode_output, pending_row, utf8
from deeptui.store.entries import entry
from deeptui.store.schema import TASK_COLUMNS

_NO_USAGE = TaskUsage()

(STATUS, OUTPUT, KIND, ERROR, SKIP, ATTEMPTS, STARTED, ENDED, AGENT, CACHED,
 IN, OUT, REQ, COST, DROPPED, CACHED_FROM, CACHED_AT) = (TASK_COLUMNS.index(name) for name in (
    "status", "output", "output_kind", "error", "skip_reason", "attempts", "started_at",
    "completed_at", "agent_used", "cached", "input_tokens", "output_tokens", "requests",
    "cost_usd", "log_dropped", "cached_from", "cached_at"))

# Each handler updates a staged task row from one event and returns the row for the events
# table (kind, attempt, detail), or None for a first start and a completion: the task
# row holds their times already.

Detail = tuple[str, int | None, str | None] | None


def started(row: list[Any], ts: float, attempt: int, agent_type: str | None) -> Detail:
    row[STATUS] = "running"
    row[ATTEMPTS] = attempt
    row[AGENT] = agent_type
    if attempt == 1:
        row[STARTED] = ts
        row[ERROR] = None
        return None
    return "started", attempt, agent_type


def completed(row: list[Any], values: tuple[Any, ...], logs: list[Any],
              encoded: tuple[str | None, str] | None = None) -> None:
    """A completion, from its queue entry (`deeptui.store.entries`: its ``cached`` value is
    false, or a hit's provenance); ``encoded``: its output already encoded (`encode_output`)."""
    (_, rid, tid, ts, output, cached, started_at, completed_at, attempts, agent,
     usage) = values
    text, kind = None, "json"
    if encoded is not None:
        text, kind = encoded
    elif output is not None:
        text, kind = encode_output(output, f"task '{tid}' of run '{rid}'")
    if kind == "text":
        logs.append((rid, tid, ts, "warning",
                     "output is not JSON-serializable; stored as its text"))
    row[STATUS], row[OUTPUT], row[KIND] = "completed", text, kind
    row[ERROR] = None
    if cached:
        row[CACHED] = 1
        row[CACHED_FROM], row[CACHED_AT] = cached if type(cached) is tuple else (None, None)
    else:
        row[CACHED] = 0
        row[CACHED_FROM] = row[CACHED_AT] = None
    _ended(row, ts, started_at, completed_at, attempts, agent, usage)


def _started(row: list[Any], event: ev.TaskStarted, logs: list[Any]) -> Detail:
    return started(row, event.ts, event.attempt, event.agent_type)


def _completed(row: list[Any], event: ev.TaskCompleted, logs: list[Any]) -> Detail:
    completed(row, entry(event), logs)
    return None


def _failed(row: list[Any], event: ev.TaskFailed, logs: list[Any]) -> Detail:
    row[STATUS], row[ERROR], row[ATTEMPTS] = "failed", utf8(event.error), event.attempts
    _usage(row, event)
    return "failed", event.attempts, row[ERROR]


def _retrying(row: list[Any], event: ev.TaskRetrying, logs: list[Any]) -> Detail:
    row[ERROR] = utf8(event.error)
    return "retrying", event.attempt, f"{row[ERROR]} (next attempt in {event.delay:.2f}s)"


def _skipped(row: list[Any], event: ev.TaskSkipped, logs: list[Any]) -> Detail:
    row[STATUS], row[SKIP], row[ENDED] = "skipped", utf8(event.reason), event.ts
    return "skipped", None, row[SKIP]


def _cancelled(row: list[Any], event: ev.TaskCancelled, logs: list[Any]) -> Detail:
    row[STATUS], row[ERROR], row[ENDED] = "cancelled", utf8(event.reason), event.ts
    return "cancelled", None, row[ERROR]


def _reset(row: list[Any], event: ev.TaskReset, logs: list[Any]) -> Detail:
    fresh = pending_row("", "", 0)
    fresh[DROPPED] = row[DROPPED]
    row[3:] = fresh[3:]
    return "reset", None, None


def _cache_hit(row: list[Any], event: ev.CacheHit, logs: list[Any]) -> Detail:
    return "cache_hit", None, event.key


def _changes(row: list[Any], event: ev.TaskChangesReady, logs: list[Any]) -> Detail:
    """The diff itself, so `deeptui apply` works from the history."""
    if event.changes is None:
        return "changes_discarded", None, None
    return ("changes_applied" if event.applied else "changes"), None, \
        event.changes.model_dump_json()


def _placed(row: list[Any], event: ev.TaskPlaced, logs: list[Any]) -> Detail:
    """The Dask worker an attempt ran on (deeptui.cluster): read back by `stored_workers`."""
    return "worker", event.attempt, event.worker


def _approval_requested(row: list[Any], event: ev.ApprovalRequested,
                        logs: list[Any]) -> Detail:
    return "approval_requested", None, f"{event.tool}: {utf8(event.args)}"


def _approval_answered(row: list[Any], event: ev.ApprovalAnswered,
                       logs: list[Any]) -> Detail:
    verdict = "approved" if event.approved else "denied"
    return "approval_answered", None, f"{verdict} by {event.by}: {event.tool}"


_TASK_EVENTS: dict[type, Any] = {
    ev.TaskStarted: _started, ev.TaskCompleted: _completed, ev.TaskFailed: _failed,
    ev.TaskRetrying: _retrying, ev.TaskSkipped: _skipped, ev.TaskCancelled: _cancelled,
    ev.TaskReset: _reset, ev.CacheHit: _cache_hit, ev.TaskChangesReady: _changes,
    ev.ApprovalRequested: _approval_requested, ev.ApprovalAnswered: _approval_answered,
    ev.TaskPlaced: _placed,
}


def apply_event(row: list[Any], event: ev.Event, logs: list[Any]) -> Detail:
    """Update a staged task row from a task event; the row for the events table or None."""
    handler = _TASK_EVENTS.get(type(event))
    if handler is None:
        return type(event).__name__, None, None
    return handler(row, event, logs)


def _usage(row: list[Any], event: ev.TaskFailed) -> None:
    _ended(row, event.ts, event.started_at, event.completed_at, event.attempts,
           event.agent_used, event.usage)


def _ended(row: list[Any], ts: float, started: Any, ended: Any, attempts: int,
           agent: str | None, usage: TaskUsage | None) -> None:
    """The times, attempts and usage a task end carries (its usage, summed over attempts)."""
    u = usage or _NO_USAGE
    row[STARTED] = started.timestamp() if started is not None else None
    row[ENDED] = ended.timestamp() if ended is not None else ts
    row[ATTEMPTS], row[AGENT] = attempts, agent
    row[IN], row[OUT], row[REQ], row[COST] = (u.input_tokens, u.output_tokens, u.requests,
                                              u.cost_usd)
