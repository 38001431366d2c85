"""Run metrics: `TaskMetrics`, `WorkflowMetrics`, the performance report, aggregates.

Definitions (the orchestration guide leaves them open):

- ``success_rate``: percent of the workflow's tasks that completed (0.0 for a
  workflow with no tasks). Tasks served from the cache count as completed.
- ``retry_rate``: retries per task (``total_retries / total_tasks``), the
  figure the report prints as "avg N per task".
- Duration figures (average, slowest, fastest, the bottleneck) are over tasks
  that completed by running; tasks served from the cache took no work and are
  left out of them.
- A run still in progress is measured up to now: its duration so far, and a
  running task's duration so far.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from deeptui.models import TaskResult, TaskStatus, WorkflowDefinition, WorkflowState

REPORT_RULE = "=" * 70


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _now(reference: datetime | None) -> datetime:
    return datetime.now(reference.tzinfo if reference is not None else None)


@dataclass
class TaskMetrics:
    task_id: str
    status: TaskStatus
    duration_seconds: float
    started_at: datetime | None
    completed_at: datetime | None
    retry_count: int
    agent_used: str | None
    error: str | None
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float | None = None
    cached: bool = False
    skip_reason: str | None = None

    @classmethod
    def from_result(cls, result: TaskResult, now: datetime | None = None) -> TaskMetrics:
        """Metrics of one task's result; a running task is measured up to `now`."""
        duration = 0.0
        if result.started_at is not None:
            end = result.completed_at
            if end is None and result.status is TaskStatus.RUNNING:
                end = now or _now(result.started_at)
            if end is not None:
                duration = max((end - result.started_at).total_seconds(), 0.0)
        usage = result.usage
        return cls(
            task_id=result.task_id,
            status=TaskStatus(result.status),
            duration_seconds=duration,
            started_at=result.started_at,
            completed_at=result.completed_at,
            retry_count=result.retry_count,
            agent_used=result.agent_used,
            error=result.error,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            total_tokens=usage.total_tokens,
            cost_usd=usage.cost_usd,
            cached=result.cached,
            skip_reason=result.skip_reason,
        )

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["status"] = str(self.status)
        data["started_at"] = _iso(self.started_at)
        data["completed_at"] = _iso(self.completed_at)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskMetrics:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["status"] = TaskStatus(values["status"])
        values["started_at"] = _parse(values.get("started_at"))
        values["completed_at"] = _parse(values.get("completed_at"))
        return cls(**values)


@dataclass
class WorkflowMetrics:
    workflow_id: str
    workflow_name: str
    status: str
    started_at: datetime | None
    completed_at: datetime | None

    # Task metrics
    total_tasks: int
    completed_tasks: int
    failed_tasks: int
    skipped_tasks: int
    total_retries: int

    # Performance metrics
    total_duration_seconds: float
    average_task_duration: float
    slowest_task: TaskMetrics | None
    fastest_task: TaskMetrics | None

    # Success metrics
    success_rate: float  # percent of tasks completed
    retry_rate: float  # retries per task

    # Beyond the orchestration guide
    task_metrics: list[TaskMetrics] = field(default_factory=list)
    cancelled_tasks: int = 0
    running_tasks: int = 0
    pending_tasks: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float | None = None
    run_id: str | None = None
    slot_note: str | None = None  # an agent type's limit held slots back: "5 of 8 slots: ..."

    @classmethod
    def from_state(
        cls, workflow: WorkflowDefinition, state: WorkflowState, now: datetime | None = None
    ) -> WorkflowMetrics:
        """Metrics of one run: one `TaskMetrics` per task of `workflow`, in
        definition order (a task with no result yet counts as pending)."""
        now = now or _now(state.started_at)
        tasks = [
            TaskMetrics.from_result(
                state.task_results.get(task.id) or TaskResult(task_id=task.id), now
            )
            for task in workflow.tasks
        ]
        return cls.from_task_metrics(
            tasks,
            workflow_id=state.workflow_id or workflow.id,
            workflow_name=state.workflow_name or workflow.name or workflow.id,
            status=str(state.status),
            started_at=state.started_at,
            completed_at=state.completed_at,
            now=now,
            run_id=state.run_id,
        )

    @classmethod
    def from_task_metrics(
        cls,
        tasks: list[TaskMetrics],
        *,
        workflow_id: str,
        workflow_name: str,
        status: str,
        started_at: datetime | None,
        completed_at: datetime | None,
        now: datetime | None = None,
        run_id: str | None = None,
    ) -> WorkflowMetrics:
        """Totals and figures computed from per-task metrics."""

        def count(status: TaskStatus) -> int:
            return sum(1 for task in tasks if task.status is status)

        total = len(tasks)
        completed = count(TaskStatus.COMPLETED)
        retries = sum(task.retry_count for task in tasks)
        measured = [
            task
            for task in tasks
            if task.status is TaskStatus.COMPLETED and not task.cached and task.started_at
        ]
        duration = 0.0
        if started_at is not None:
            end = completed_at or now or _now(started_at)
            duration = max((end - started_at).total_seconds(), 0.0)
        costs = [task.cost_usd for task in tasks if task.cost_usd is not None]
        return cls(
            workflow_id=workflow_id,
            workflow_name=workflow_name,
            status=status,
            started_at=started_at,
            completed_at=completed_at,
            total_tasks=total,
            completed_tasks=completed,
            failed_tasks=count(TaskStatus.FAILED),
            skipped_tasks=count(TaskStatus.SKIPPED),
            total_retries=retries,
            total_duration_seconds=duration,
            average_task_duration=(
                sum(task.duration_seconds for task in measured) / len(measured) if measured else 0.0
            ),
            slowest_task=max(measured, key=lambda task: task.duration_seconds, default=None),
            fastest_task=min(measured, key=lambda task: task.duration_seconds, default=None),
            success_rate=completed / total * 100 if total else 0.0,
            retry_rate=retries / total if total else 0.0,
            task_metrics=list(tasks),
            cancelled_tasks=count(TaskStatus.CANCELLED),
            running_tasks=count(TaskStatus.RUNNING),
            pending_tasks=count(TaskStatus.PENDING),
            cache_hits=sum(1 for task in tasks if task.cached),
            input_tokens=sum(task.input_tokens for task in tasks),
            output_tokens=sum(task.output_tokens for task in tasks),
            total_tokens=sum(task.total_tokens for task in tasks),
            cost_usd=sum(costs) if costs else None,
            run_id=run_id,
        )

    def get_bottleneck(self) -> TaskMetrics | None:
        """The slowest task that completed by running (None when there is none)."""
        return self.slowest_task

    def get_failed_tasks(self) -> list[TaskMetrics]:
        return [task for task in self.task_metrics if task.status is TaskStatus.FAILED]

    def get_task(self, task_id: str) -> TaskMetrics | None:
        return next((task for task in self.task_metrics if task.task_id == task_id), None)

    def get_summary(self) -> dict[str, Any]:
        """The headline figures as a flat dict (the report's numbers): counts, durations in
        seconds and success rate in percent rounded as the report prints them, the slowest
        and fastest task and the bottleneck as task ids."""

        def task_id(task: TaskMetrics | None) -> str | None:
            return task.task_id if task is not None else None

        return {
            "workflow_id": self.workflow_id,
            "workflow_name": self.workflow_name,
            "status": self.status,
            "total_tasks": self.total_tasks,
            "completed_tasks": self.completed_tasks,
            "failed_tasks": self.failed_tasks,
            "skipped_tasks": self.skipped_tasks,
            "cancelled_tasks": self.cancelled_tasks,
            "total_retries": self.total_retries,
            "success_rate": round(self.success_rate, 1),
            "retry_rate": round(self.retry_rate, 2),
            "total_duration_seconds": round(self.total_duration_seconds, 2),
            "average_task_duration": round(self.average_task_duration, 2),
            "slowest_task": task_id(self.slowest_task),
            "fastest_task": task_id(self.fastest_task),
            "bottleneck": task_id(self.get_bottleneck()),
            "cache_hits": self.cache_hits,
            "total_tokens": self.total_tokens,
            "cost_usd": self.cost_usd,
        }

    def get_performance_report(self, include_usage: bool = False) -> str:
        """The orchestration guide's text report; `include_usage` adds tokens, cost, cache hits."""
        lines = [
            f"Workflow Performance Report: {self.workflow_name}",
            REPORT_RULE,
            f"Status: {self.status}",
            f"Total Duration: {self.total_duration_seconds:.2f}s",
            "",
            "Task Summary:",
            f"  Total Tasks: {self.total_tasks}",
            f"  Completed: {self.completed_tasks} ({self.success_rate:.1f}%)",
            f"  Failed: {self.failed_tasks}",
            f"  Skipped: {self.skipped_tasks}",
        ]
        for label, number in (
            ("Cancelled", self.cancelled_tasks),
            ("Running", self.running_tasks),
            ("Pending", self.pending_tasks),
        ):
            if number:  # not in the orchestration guide's layout: only shown when present
                lines.append(f"  {label}: {number}")
        lines += [
            f"  Total Retries: {self.total_retries} (avg {self.retry_rate:.2f} per task)",
            "",
            "Performance:",
            f"  Average Task Duration: {self.average_task_duration:.2f}s",
            f"  Slowest Task: {_task_figure(self.slowest_task)}",
            f"  Fastest Task: {_task_figure(self.fastest_task)}",
        ]
        if self.slot_note:
            lines.append(f"  Concurrency: {self.slot_note}")
        if include_usage:
            cost = f"${self.cost_usd:.4f}" if self.cost_usd is not None else "n/a"
            lines += [
                "",
                "Usage:",
                f"  Tokens: {self.total_tokens:,} (input {self.input_tokens:,},"
                f" output {self.output_tokens:,})",
                f"  Cost: {cost}",
                f"  Cache Hits: {self.cache_hits}",
            ]
        failed = self.get_failed_tasks()
        if failed:
            lines += ["", "Failed Tasks:"]
            for task in failed:
                error = (task.error or "").strip().splitlines()
                lines.append(f"  - {task.task_id}: {error[0] if error else 'unknown error'}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: datetimes as ISO text, slowest/fastest as task ids."""
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, TaskMetrics):
                value = value.task_id
            elif f.name == "task_metrics":
                value = [task.to_dict() for task in value]
            data[f.name] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkflowMetrics:
        """The inverse of `to_dict` (figures are recomputed from the task metrics)."""
        tasks = [TaskMetrics.from_dict(task) for task in data.get("task_metrics", [])]
        started_at = _parse(data.get("started_at"))
        completed_at = _parse(data.get("completed_at"))
        metrics = cls.from_task_metrics(
            tasks,
            workflow_id=data["workflow_id"],
            workflow_name=data.get("workflow_name") or data["workflow_id"],
            status=data.get("status", "completed"),
            started_at=started_at,
            completed_at=completed_at,
            run_id=data.get("run_id"),
        )
        metrics.slot_note = data.get("slot_note")
        metrics.total_duration_seconds = float(
            data.get("total_duration_seconds", metrics.total_duration_seconds)
        )
        return metrics


def _task_figure(task: TaskMetrics | None) -> str:
    return f"{task.task_id} ({task.duration_seconds:.2f}s)" if task is not None else "n/a"


def aggregate_stats(metrics: Iterable[WorkflowMetrics]) -> dict[str, Any]:
    """Statistics across runs: the orchestration guide's keys first, then totals.

    ``average_success_rate`` (percent) and ``average_duration`` (seconds) are
    means over the runs; ``success_rate`` is over all their tasks together.
    """
    runs = list(metrics)
    count = len(runs)
    total_tasks = sum(run.total_tasks for run in runs)
    completed = sum(run.completed_tasks for run in runs)
    retries = sum(run.total_retries for run in runs)
    costs = [run.cost_usd for run in runs if run.cost_usd is not None]
    return {
        "total_workflows": count,
        "total_tasks": total_tasks,
        "average_success_rate": round(sum(r.success_rate for r in runs) / count, 1)
        if count
        else 0.0,
        "average_duration": round(sum(r.total_duration_seconds for r in runs) / count, 2)
        if count
        else 0.0,
        "success_rate": round(completed / total_tasks * 100, 1) if total_tasks else 0.0,
        "total_completed": completed,
        "total_failed": sum(run.failed_tasks for run in runs),
        "total_skipped": sum(run.skipped_tasks for run in runs),
        "total_cancelled": sum(run.cancelled_tasks for run in runs),
        "total_retries": retries,
        "retry_rate": round(retries / total_tasks, 2) if total_tasks else 0.0,
        "total_cache_hits": sum(run.cache_hits for run in runs),
        "total_tokens": sum(run.total_tokens for run in runs),
        "total_cost_usd": round(sum(costs), 6),
        "successful_workflows": sum(1 for run in runs if run.status == "completed"),
        "failed_workflows": sum(1 for run in runs if run.status == "failed"),
    }
