"""The history's records: `RunSummary`, `StoredRun`, and stored rows turned into them.

`SUMMARY_SQL` selects one summary row per run (task counts by status);
`run_summary` and `task_result` turn a row into its record. `RunStore` in
:mod:`deeptui.store.run_store` reads the rows; these are the shapes its callers get.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from deeptui.errors import StoreError
from deeptui.models import (
    TaskChanges,
    TaskResult,
    TaskStatus,
    TaskUsage,
    WorkflowDefinition,
    WorkflowState,
    WorkflowStatus,
)
from deeptui.store.codec import decode_output, dt


@dataclass
class RunSummary:
    run_id: str
    workflow_id: str
    workflow_name: str
    status: WorkflowStatus
    started_at: datetime | None
    completed_at: datetime | None
    total_tasks: int
    completed: int
    failed: int
    skipped: int
    cancelled: int
    model: str | None
    duration_seconds: float | None
    error: str | None = None
    template: str | None = None
    resumes: int = 0
    pid: int | None = None
    host: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["status"] = str(self.status)
        data["started_at"] = _iso(self.started_at)
        data["completed_at"] = _iso(self.completed_at)
        return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass
class StoredRun:
    summary: RunSummary
    workflow: WorkflowDefinition
    state: WorkflowState
    parameters: dict[str, Any] | None
    model: str | None
    logs: dict[str, list[tuple[float, str, str]]] = field(default_factory=dict)
    output_kinds: dict[str, str] = field(default_factory=dict)  # task -> "json" | "text"
    log_dropped: dict[str, int] = field(default_factory=dict)  # task -> oldest lines dropped
    problems: list[str] = field(default_factory=list)  # damaged task rows left out, one line each


def damaged(path: Any, run_id: str, why: Any, what: str | None = None) -> StoreError:
    """The one-line error for a damaged stored run: ``why`` is a text or an exception (a
    pydantic error becomes its first problem, an unknown status names the value)."""
    if isinstance(why, ValidationError):
        first = why.errors()[0] if why.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        why = f"{what or 'a stored value'} is not valid" + (
            f" ({where}: {first.get('msg', '')})" if where else f" ({first.get('msg', why)})")
    elif isinstance(why, Exception):
        why = f"{what} is not valid ({why})" if what else str(why)
    text = " ".join(str(why).split())
    return StoreError(f"run '{run_id}' in the history database {path} is damaged: {text}")


SUMMARY_SQL = """
SELECT r.run_id, r.workflow_id, r.workflow_name, r.status, r.started_at, r.completed_at,
       r.total_tasks,
       (SELECT COUNT(*) FROM tasks t WHERE t.run_id = r.run_id AND t.status = 'completed'),
       (SELECT COUNT(*) FROM tasks t WHERE t.run_id = r.run_id AND t.status = 'failed'),
       (SELECT COUNT(*) FROM tasks t WHERE t.run_id = r.run_id AND t.status = 'skipped'),
       (SELECT COUNT(*) FROM tasks t WHERE t.run_id = r.run_id AND t.status = 'cancelled'),
       r.model, r.updated_at, r.error, r.template, r.resumes, r.pid, r.host
FROM runs r"""


def run_summary(row: tuple[Any, ...]) -> RunSummary:
    """A row of ``SUMMARY_SQL`` as a RunSummary (the duration of a running run grows)."""
    (rid, wid, name, status, started, ended, total, done, failed, skipped, cancelled, model,
     updated, error, template, resumes, pid, host) = row
    status = WorkflowStatus(status)
    end = ended if ended is not None else (time.time() if status is WorkflowStatus.RUNNING
                                           else updated)
    duration = max(end - started, 0.0) if started is not None and end is not None else None
    return RunSummary(rid, wid, name, status, dt(started), dt(ended), total or 0, done,
                      failed, skipped, cancelled, model, duration, error, template,
                      resumes or 0, pid, host)


def task_result(row: dict[str, Any]) -> TaskResult:
    """A task's stored row (column name -> value, see ``TASK_COLUMNS``) as a TaskResult."""
    return TaskResult(
        task_id=row["task_id"], status=TaskStatus(row["status"]),
        output=decode_output(row["output"], row["output_kind"]),
        error=row["error"], attempts=row["attempts"] or 0,
        started_at=dt(row["started_at"]), completed_at=dt(row["completed_at"]),
        agent_used=row["agent_used"], cached=bool(row["cached"]),
        cached_from=row["cached_from"], cached_at=dt(row["cached_at"]),  # NULL before v2
        skip_reason=row["skip_reason"],
        usage=TaskUsage(input_tokens=row["input_tokens"], requests=row["requests"],
                        output_tokens=row["output_tokens"], cost_usd=row["cost_usd"]))


SELECT_CHANGES = ("SELECT task_id, kind, detail FROM events WHERE run_id = ? AND kind IN "
                  "('changes', 'changes_applied', 'changes_discarded') ORDER BY id")


# the worker of a task's last attempt; a reset (a retry after the run) forgets it
SELECT_WORKERS = ("SELECT task_id, kind, detail FROM events WHERE run_id = ? AND kind IN "
                  "('worker', 'reset') ORDER BY id")


def stored_workers(rows: list[tuple[str, str, str | None]]) -> dict[str, str | None]:
    """task id -> the Dask worker its last attempt ran on, from its events rows (runs on
    this machine, and histories older than the cluster, have none)."""
    workers: dict[str, str | None] = {}
    for tid, kind, detail in rows:
        workers[tid] = detail if kind == "worker" else None
    return workers


def stored_changes(kind: str, detail: str | None) -> TaskChanges | None:
    """A writing task's diff from its events row (None once discarded or unreadable)."""
    if kind == "changes_discarded" or not detail:
        return None
    try:
        changes = TaskChanges.model_validate_json(detail)
    except ValueError:
        return None
    return changes.model_copy(update={"applied": kind == "changes_applied"})
