"""Resuming a stored run, and telling whether the process that wrote a run is still alive."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from deeptui.errors import DeeptuiError
from deeptui.models import (
    TaskResult,
    TaskStatus,
    WorkflowDefinition,
    WorkflowState,
    WorkflowStatus,
)

if TYPE_CHECKING:
    from deeptui.store import RunStore


# ------------------------------------------------------------- processes


def process_token(pid: int) -> str | None:
    """When the process started (Linux: /proc/PID/stat), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def process_alive(pid: int | None, token: str | None) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return True  # no /proc: the pid exists, that is all we can tell
    if fields[0] in ("Z", "X"):
        return False
    return token is None or fields[19] == token


MY_TOKEN = process_token(os.getpid())


# ------------------------------------------------------------- resume


def driven(orchestrator: Any, run_id: str) -> bool:
    """Whether the orchestrator is running (or about to run) this run."""
    run = orchestrator.find_run(run_id)
    if run is None or run.state.run_id != run_id:
        return False
    return bool(run.executor.active or (run.task is not None and not run.task.done()))


def _prepare_resume(orchestrator: Any, store: RunStore, run_id: str,
                    force: bool) -> tuple[WorkflowDefinition, str, dict[str, TaskResult]]:
    stored = store.load_run(run_id)
    rid = stored.summary.run_id
    status = stored.summary.status
    if status is WorkflowStatus.COMPLETED:
        raise DeeptuiError(f"run '{rid}' completed; there is nothing to resume "
                           "(run the workflow again for a new run)")
    if driven(orchestrator, rid):
        raise DeeptuiError(f"run '{rid}' is running in this process; wait for it to end or "
                           "cancel it, then resume")
    if status is WorkflowStatus.RUNNING and not force:
        s = stored.summary
        raise DeeptuiError(f"run '{rid}' is still running (process {s.pid} on {s.host}); "
                           "wait for it to end or stop it, then resume")
    if not any(o is orchestrator for o in store._orchestrators):
        store.attach(orchestrator)
    kept = {tid: r for tid, r in stored.state.task_results.items()
            if r.status is TaskStatus.COMPLETED}
    return stored.workflow, rid, kept


async def resume_run(orchestrator: Any, store: RunStore, run_id: str, *,
                     force: bool = False) -> WorkflowState:
    """Continue a stored run under the same run id and return its final state.

    Completed tasks keep their stored outputs and are not run again; every other
    task runs, with the stored definition. A completed run, or one still running
    in a live process, is refused (``force=True`` skips the liveness check).
    """
    workflow, rid, kept = _prepare_resume(orchestrator, store, run_id, force)
    return await orchestrator.execute_workflow(workflow, run_id=rid, initial_results=kept)


def start_resume(orchestrator: Any, store: RunStore, run_id: str, *, force: bool = False) -> str:
    """`resume_run` without waiting (``orchestrator.start_workflow``); returns the run id."""
    workflow, rid, kept = _prepare_resume(orchestrator, store, run_id, force)
    return orchestrator.start_workflow(workflow, run_id=rid, initial_results=kept)
