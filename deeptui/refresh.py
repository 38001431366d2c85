"""Running again without reading the cache: a whole run (`deeptui run --refresh`) or one task
(the run screen's refresh key), through the orchestrator's own steering.

A refreshed task skips the cache read once (``executor.refresh``, a set of task ids that
`deeptui.scheduler.attempts` empties as it goes) and runs its body; its result is
still written to the cache, so the next run reads the fresh one. Nothing is removed
from the cache (that is `TaskOrchestrator.invalidate_cache`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deeptui.models import WorkflowDefinition
    from deeptui.orchestrator import TaskOrchestrator


def start_refreshed(orchestrator: TaskOrchestrator, workflow: WorkflowDefinition,
                    progress_callback: Any = None, *, run_id: str | None = None) -> str:
    """`start_workflow` with every task skipping the cache read; returns the run id.

    The run's asyncio task is created but has not started when ``start_workflow``
    returns (no await in between), so every task sees the refresh set."""
    rid = orchestrator.start_workflow(workflow, progress_callback, run_id=run_id)
    run = orchestrator.find_run(rid)
    assert run is not None
    run.executor.refresh.update(run.executor.tasks)
    return rid


def refresh_task(orchestrator: TaskOrchestrator, run_id: str, task_id: str) -> bool:
    """Run ``task_id`` again in its run, ignoring the cache (its downstream that did not
    complete runs too, as for a retry); False when it is pending or running."""
    run = orchestrator.find_run(run_id)
    if run is None or task_id not in run.state.task_results:
        return False
    status = run.state.task_results[task_id].status
    if not status.finished:
        return False
    run.executor.refresh.add(task_id)
    if orchestrator.retry_task(run_id, task_id):
        return True
    run.executor.refresh.discard(task_id)
    return False
