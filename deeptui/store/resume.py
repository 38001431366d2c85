"""Resuming a stored run, taking a run over atomically, and telling whether the process that
wrote a run is still alive.

Taking a run (a resume, or a new run given an explicit id) is one SQLite
statement that succeeds only if the row is still as this process read it
(``UPDATE ... WHERE status = ? AND pid IS ? ...``, checking the row count; an
``INSERT`` for a new id): of two processes that try together, exactly one
wins; the other gets `RunTakenError` naming the run and its owner.
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from deeptui.errors import DeeptuiError, StoreError
from deeptui.models import (
    TaskResult,
    TaskStatus,
    WorkflowDefinition,
    WorkflowState,
    WorkflowStatus,
)

if TYPE_CHECKING:
    from deeptui.store.run_store import RunStore


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


# ------------------------------------------------------------- taking a run


class RunTakenError(DeeptuiError):
    """The run is owned by another process (or exists already, for a new run)."""


def _owner(store: RunStore, run_id: str) -> str:
    row = store.conn.execute("SELECT status, pid, host FROM runs WHERE run_id = ?",
                             (run_id,)).fetchone()
    if row is None:
        return "it is no longer in the history"
    status, pid, host = row
    if status == "running":
        return f"process {pid} on {host} is running it"
    return f"it is {status} (last run by process {pid} on {host})"


def _locked(store: RunStore, exc: sqlite3.Error) -> StoreError:
    return StoreError(f"history database {store.path}: cannot take the run: {exc}")


def claim_run(store: RunStore, run_id: str, seen: tuple[Any, ...]) -> None:
    """Make this process the run's owner if the row still is ``seen`` (status, pid, host,
    proc_token, as read): one compare-and-set."""
    with store._lock:
        try:
            taken = store.conn.execute(
                "UPDATE runs SET status = 'running', error = NULL, pid = ?, host = ?, "
                "proc_token = ?, updated_at = ? WHERE run_id = ? AND status = ? AND pid IS ? "
                "AND host IS ? AND proc_token IS ?",
                (os.getpid(), store.host, store.proc_token, time.time(), run_id, *seen)).rowcount
            if taken != 1:
                raise RunTakenError(f"run '{run_id}' was taken over by another process: "
                                    f"{_owner(store, run_id)}; not resumed here")
        except sqlite3.Error as exc:
            raise _locked(store, exc) from None
        store.writer.claim(run_id)


def release_run(store: RunStore, run_id: str, seen: tuple[Any, ...]) -> None:
    """Give back a run claimed by `claim_run` that did not start (its row as it was)."""
    with store._lock:
        store.writer.release(run_id)
        try:
            store.conn.execute(
                "UPDATE runs SET status = ?, pid = ?, host = ?, proc_token = ? WHERE run_id = ? "
                "AND status = 'running' AND pid = ? AND proc_token IS ?",
                (*seen, run_id, os.getpid(), store.proc_token))
        except sqlite3.Error:
            pass  # it stays "running" under this process: it becomes interrupted when we exit


def reserve_run(store: RunStore, run_id: str, workflow: Any) -> None:
    """Take ``run_id`` for a new run: refused (`RunTakenError`) when a run of that id is
    stored, running in another process or not; resume that one instead."""
    now = time.time()
    with store._lock:
        store.flush()
        try:
            store.conn.execute(
                "INSERT INTO runs (run_id, workflow_id, workflow_name, status, total_tasks, pid, "
                "host, proc_token, resumes, created_at, updated_at) "
                "VALUES (?, ?, ?, 'running', ?, ?, ?, ?, 0, ?, ?)",
                (run_id, workflow.id, workflow.name or workflow.id, len(workflow.tasks),
                 os.getpid(), store.host, store.proc_token, now, now))
        except sqlite3.IntegrityError:
            raise RunTakenError(f"run id '{run_id}' is already in the history database "
                                f"{store.path} ({_owner(store, run_id)}); resume it with "
                                f"'deeptui resume {run_id}' or choose another --run-id") from None
        except sqlite3.Error as exc:
            raise _locked(store, exc) from None
        store.writer.claim(run_id, new=True)


# ------------------------------------------------------------- resume


def driven(orchestrator: Any, run_id: str) -> bool:
    """Whether the orchestrator is running (or about to run) this run."""
    run = orchestrator.find_run(run_id)
    if run is None or run.state.run_id != run_id:
        return False
    return bool(run.executor.active or (run.task is not None and not run.task.done()))


def _prepare_resume(orchestrator: Any, store: RunStore, run_id: str,
                    force: bool) -> tuple[WorkflowDefinition, str, dict[str, TaskResult],
                                          tuple[Any, ...]]:
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
    workflow = unmask_env(stored.workflow, rid)
    s = stored.summary
    seen = (str(status), s.pid, s.host, store.conn.execute(
        "SELECT proc_token FROM runs WHERE run_id = ?", (rid,)).fetchone()[0])
    claim_run(store, rid, seen)
    if not any(o is orchestrator for o in store._orchestrators):
        store.attach(orchestrator)
    kept = {tid: r for tid, r in stored.state.task_results.items()
            if r.status is TaskStatus.COMPLETED}
    return workflow, rid, kept, seen


def unmask_env(workflow: WorkflowDefinition, run_id: str) -> WorkflowDefinition:
    """The stored workflow with each masked ``parameters.env`` value taken from this
    process's environment; a value neither stored nor set refuses the resume."""
    from deeptui.store.codec import MASKED

    tasks, missing = [], []
    for task in workflow.tasks:
        env = task.parameters.get("env")
        if isinstance(env, dict) and MASKED in env.values():
            restored = {k: (os.environ.get(k) if v == MASKED else v) for k, v in env.items()}
            missing += [f"{task.id}: {k}" for k, v in restored.items() if v is None]
            task = task.model_copy(update={"parameters": {**task.parameters, "env": restored}})
        tasks.append(task)
    if missing:
        raise DeeptuiError(
            f"run '{run_id}': the history does not keep parameters.env values (--store-env "
            f"keep does); set them in the environment to resume: {', '.join(missing[:5])}")
    return workflow.model_copy(update={"tasks": tasks})


async def resume_run(orchestrator: Any, store: RunStore, run_id: str, *,
                     force: bool = False) -> WorkflowState:
    """Continue a stored run under the same run id and return its final state.

    Completed tasks keep their stored outputs and are not run again; every other
    task runs, with the stored definition. A completed run, or one still running
    in a live process, is refused (``force=True`` skips the liveness check).
    """
    workflow, rid, kept, seen = _prepare_resume(orchestrator, store, run_id, force)
    try:
        started = orchestrator.start_workflow(workflow, run_id=rid, initial_results=kept)
    except BaseException:
        release_run(store, rid, seen)
        raise
    return await orchestrator.wait(started)


def start_resume(orchestrator: Any, store: RunStore, run_id: str, *, force: bool = False) -> str:
    """`resume_run` without waiting (``orchestrator.start_workflow``); returns the run id."""
    workflow, rid, kept, seen = _prepare_resume(orchestrator, store, run_id, force)
    try:
        return orchestrator.start_workflow(workflow, run_id=rid, initial_results=kept)
    except BaseException:
        release_run(store, rid, seen)
        raise
