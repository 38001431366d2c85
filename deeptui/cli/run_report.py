"""A run's outcome as one JSON document, for scripts: `run --headless --format json`
and `history show --format json` print the same shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from deeptui.models import WorkflowState


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def run_document(state: WorkflowState, task_ids: list[str] | None = None) -> dict[str, Any]:
    """Run id, status and every task's status, attempts, duration and error
    (tasks in ``task_ids`` order when given, else in the state's order)."""
    ids = task_ids if task_ids is not None else list(state.task_results)
    tasks = []
    for tid in ids:
        result = state.task_results.get(tid)
        if result is None:
            continue
        tasks.append({
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
        })
    return {
        "run_id": state.run_id,
        "workflow_id": state.workflow_id,
        "workflow_name": state.workflow_name,
        "status": state.status.value,
        "error": state.error,
        "started_at": _iso(state.started_at),
        "completed_at": _iso(state.completed_at),
        "tasks": tasks,
    }
