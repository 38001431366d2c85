"""Stored runs with fixed times, recorded by the real history store from bus events.

Each event is published with the time it says it happened (``ts``), so the
SQLite rows, and what the screens draw from them, are the same on every run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from deeptui import bus as ev
from deeptui.models import RetryConfig, TaskDefinition, WorkflowDefinition
from deeptui.store import RunStore

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def _task(task_id: str, *deps: str) -> TaskDefinition:
    return TaskDefinition(id=task_id, task_type="shell", depends_on=list(deps),
                          parameters={"command": f"echo {task_id}"},
                          retry_config=RetryConfig(max_retries=2, initial_delay=0.0))


RELEASE = WorkflowDefinition(id="release", name="Release pipeline", continue_on_failure=True, tasks=[
    _task("checkout"), _task("build", "checkout"), _task("lint", "checkout"),
    _task("test", "build"), _task("docs", "lint"), _task("package", "test", "docs"),
    _task("deploy", "package"), _task("notify", "deploy"),
])

# task -> [(start, end, outcome)] per attempt, seconds after the run's start;
# outcome "failed" on a last attempt fails the task, a "skipped" task has (at, at)
RELEASE_PLAN: dict[str, list[tuple[float, float, str]]] = {
    "checkout": [(0, 2, "completed")],
    "build": [(2, 5, "failed"), (6, 10, "completed")],
    "lint": [(2.5, 4, "completed")],
    "docs": [(4, 5, "completed")],
    "test": [(10, 16, "completed")],
    "package": [(16, 18, "completed")],
    "deploy": [(18, 19, "failed")],
    "notify": [(19, 19, "skipped")],
}


def record_run(store: RunStore, workflow: WorkflowDefinition, run_id: str, start: datetime,
               plan: dict[str, list[tuple[float, float, str]]], status: str,
               error: str | None = None) -> None:
    """Publish one run's events at the planned times and wait until the store wrote them."""
    bus = ev.EventBus()
    store.attach(_Nobody(bus))
    wid = workflow.id

    def at(seconds: float) -> float:
        return (start + timedelta(seconds=seconds)).timestamp()

    events: list[ev.Event] = [ev.WorkflowStarted(
        run_id, wid, ts=at(0), workflow_name=workflow.name, total_tasks=len(workflow.tasks),
        workflow=workflow, model="offline", started_at=start)]
    for task_id, attempts in plan.items():
        first = attempts[0][0]
        for n, (begin, end, outcome) in enumerate(attempts, 1):
            if outcome == "skipped":
                events.append(ev.TaskSkipped(run_id, wid, ts=at(end), task_id=task_id,
                                             reason="dependency 'deploy' failed"))
                continue
            events.append(ev.TaskStarted(run_id, wid, ts=at(begin), task_id=task_id, attempt=n,
                                         agent_type="shell"))
            times = dict(started_at=start + timedelta(seconds=first),
                         completed_at=start + timedelta(seconds=end), attempts=n)
            if n < len(attempts):
                events.append(ev.TaskRetrying(run_id, wid, ts=at(end), task_id=task_id,
                                              attempt=n, error="exit status 1"))
            elif outcome == "completed":
                events.append(ev.TaskCompleted(run_id, wid, ts=at(end), task_id=task_id,
                                               output={"ok": True}, **times))
            else:
                events.append(ev.TaskFailed(run_id, wid, ts=at(end), task_id=task_id,
                                            error="exit status 1", **times))
    events.sort(key=lambda e: e.ts)
    last = max(end for attempts in plan.values() for _, end, _ in attempts)
    events.append(ev.WorkflowFinished(run_id, wid, ts=at(last), status=status, error=error))
    for event in events:
        bus.publish(event)
    assert store.sync() is None


class _Nobody:
    """An orchestrator that knows no run: the store records from the events alone."""

    def __init__(self, bus: ev.EventBus) -> None:
        self.bus = bus

    def find_run(self, run_id: str) -> None:
        return None


def release_store(path: Path) -> RunStore:
    """A history with the release run (a retried build, a failed deploy) at ``T0``."""
    store = RunStore(path, sync_commit=True)
    record_run(store, RELEASE, "release@fixed", T0, RELEASE_PLAN, "failed",
               "task 'deploy' failed")
    return store


NIGHTLY = WorkflowDefinition(id="nightly", name="Nightly checks", tasks=[
    _task("fetch"), _task("scan", "fetch"), _task("report", "scan"),
])
NIGHTLY_PLAN: dict[str, list[tuple[float, float, str]]] = {
    "fetch": [(0, 1.5, "completed")], "scan": [(1.5, 7, "completed")],
    "report": [(7, 8, "completed")],
}


def home_store(path: Path) -> RunStore:
    """The release run and four more over two days, newest first: what Home lists."""
    store = release_store(path)
    hour = timedelta(hours=1)
    record_run(store, NIGHTLY, "nightly@3", T0 - 3 * hour, NIGHTLY_PLAN, "completed")
    record_run(store, NIGHTLY, "nightly@2", T0 - 27 * hour, NIGHTLY_PLAN, "completed")
    record_run(store, RELEASE, "release@1", T0 - 30 * hour,
               {**RELEASE_PLAN, "deploy": [(18, 21, "completed")],
                "notify": [(21, 22, "completed")]}, "completed")
    record_run(store, NIGHTLY, "nightly@1", T0 - 51 * hour,
               {"fetch": [(0, 2, "failed")], "scan": [(2, 2, "skipped")],
                "report": [(2, 2, "skipped")]}, "failed", "task 'fetch' failed")
    return store
