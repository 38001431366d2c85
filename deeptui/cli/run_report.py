"""A run's outcome as one JSON document, for scripts: `run --headless --format json`
and `history show --format json` print the same shape. The task list is written a task
at a time (`deeptui.cli.json_stream`): a 100,000-task run is never a list of dicts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from deeptui.cli.json_stream import write_document
from deeptui.models import WorkflowState


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def task_entries(state: WorkflowState, task_ids: list[str] | None = None
                 ) -> Iterator[dict[str, Any]]:
    """Every task's status, attempts, duration and error (tasks in ``task_ids`` order
    when given, else in the state's order), one dict at a time."""
    results = state.task_results
    for tid in task_ids if task_ids is not None else list(results):
        result = results.get(tid)
        if result is None:
            continue
        yield {
            "id": tid,
            "status": result.status.value,
            "attempts": result.attempts,
            "duration_seconds": result.duration_seconds,
            "error": result.error,
            "skip_reason": result.skip_reason,
            "cached": result.cached,
            "cached_from": result.cached_from,  # the run that produced a cached result
            "cached_at": _iso(result.cached_at),
            "agent": result.agent_used,
            "worker": result.worker,
        }


def run_head(state: WorkflowState) -> dict[str, Any]:
    """The document's fields, its ``tasks`` left None (see `write_run_document`)."""
    return {
        "run_id": state.run_id,
        "workflow_id": state.workflow_id,
        "workflow_name": state.workflow_name,
        "status": state.status.value,
        "error": state.error,
        "started_at": _iso(state.started_at),
        "completed_at": _iso(state.completed_at),
        "tasks": None,
    }


def run_document(state: WorkflowState, task_ids: list[str] | None = None) -> dict[str, Any]:
    """Run id, status and every task's status, attempts, duration and error, as a dict."""
    return {**run_head(state), "tasks": list(task_entries(state, task_ids))}


def write_run_document(out: TextIO, state: WorkflowState, task_ids: list[str] | None = None,
                       **extra: Any) -> None:
    """`run_document` plus ``extra`` fields, as indented JSON, its tasks streamed."""
    write_document(out, {**run_head(state), **extra}, "tasks", task_entries(state, task_ids))
