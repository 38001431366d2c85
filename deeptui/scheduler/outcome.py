"""How a run ends: what a stop leaves unstarted, and its final status and error, from its
tasks' statuses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from deeptui.models import TaskResult, TaskStatus, WorkflowStatus

if TYPE_CHECKING:
    from deeptui.scheduler.ready_queue import ReadyQueueExecutor

UNFINISHED = (TaskStatus.PENDING, TaskStatus.RUNNING)
# Trigger rules about failures (clean-up, notification tasks): such a task still runs
# when a failure stops the run (without continue_on_failure); nothing else starts then.
RUN_AFTER_FAILURE = frozenset({"all_done", "one_failed", "all_failed"})


def drain_unstarted(run: ReadyQueueExecutor) -> None:
    """While stopping: every pending task that will not start now ends, with the reason.

    After a failure (not a cancel), tasks whose trigger rule is about failures
    (clean-up, notifications: ``RUN_AFTER_FAILURE``) stay pending and still run
    once their dependencies have ended.
    """
    reason = run.stopping or "stopped"
    results = run.results
    keep_cleanup = not run.cancelled_run
    for tid in list(run.waiting):
        if results[tid].status is not TaskStatus.PENDING:
            continue
        if keep_cleanup and run.tasks[tid].trigger_rule in RUN_AFTER_FAILURE:
            continue
        if run.cancelled_run:
            run.sm.cancelled(tid, reason)
        else:
            run.sm.skipped(tid, f"not started: {reason}")
            run.stopped_by_failure.add(tid)
        run._release_dependents(tid)  # a clean-up task may wait for it
    run.blocked = {t: e for t, e in run.blocked.items()
                   if results[t].status is TaskStatus.PENDING}


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
