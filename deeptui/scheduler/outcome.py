"""How a run ends: its final status and error, from its tasks' statuses."""

from __future__ import annotations

from collections.abc import Mapping

from deeptui.models import TaskResult, TaskStatus, WorkflowStatus

UNFINISHED = (TaskStatus.PENDING, TaskStatus.RUNNING)


def _first(results: Mapping[str, TaskResult], statuses: tuple[TaskStatus, ...]) -> str | None:
    return next((tid for tid, r in results.items() if r.status in statuses), None)


def run_outcome(results: Mapping[str, TaskResult], counts: Mapping[TaskStatus, int], *,
                cancelled_run: bool, stopping: str | None) -> tuple[WorkflowStatus, str | None]:
    """The run's status and error: completed only when every task reached a final status
    (a task left pending or running, which nothing will start now, makes the run failed,
    naming it); a cancelled run is cancelled; else a failure fails it, a cancel cancels it.
    ``stopping``: why the run stopped starting tasks (the error, when there is one)."""
    unfinished = counts[TaskStatus.PENDING] + counts[TaskStatus.RUNNING]
    if cancelled_run:
        status = WorkflowStatus.CANCELLED
    elif counts[TaskStatus.FAILED] or unfinished:
        status = WorkflowStatus.FAILED
    elif counts[TaskStatus.CANCELLED]:
        status = WorkflowStatus.CANCELLED
    else:
        return WorkflowStatus.COMPLETED, None
    if stopping:
        return status, stopping
    if failed := _first(results, (TaskStatus.FAILED,)):
        return status, f"task '{failed}' failed"
    if left := _first(results, UNFINISHED):
        return status, (f"{unfinished} task(s) never finished, e.g. '{left}' "
                        f"({results[left].status.value})")
    if cancelled := _first(results, (TaskStatus.CANCELLED,)):
        return status, f"task '{cancelled}' was cancelled"
    return status, None
