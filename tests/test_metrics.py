"""Run metrics as the orchestration guide's "Performance Metrics & Analytics" section
describes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from deeptui.metrics import TaskMetrics, WorkflowMetrics, aggregate_stats
from deeptui.models import (
    TaskDefinition,
    TaskResult,
    TaskStatus,
    TaskUsage,
    WorkflowDefinition,
    WorkflowState,
    WorkflowStatus,
)

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)

# (task id, status, seconds from T0 to start, duration, attempts, error)
GUIDE_RUN = [
    ("checkout", TaskStatus.COMPLETED, 0.0, 3.50, 1, None),
    ("validation", TaskStatus.COMPLETED, 3.5, 0.50, 1, None),
    ("data-processing", TaskStatus.COMPLETED, 4.0, 15.30, 1, None),
    ("lint", TaskStatus.COMPLETED, 4.0, 3.60, 1, None),
    ("unit-test", TaskStatus.COMPLETED, 4.0, 3.55, 1, None),
    ("build", TaskStatus.COMPLETED, 19.3, 3.57, 1, None),
    ("package", TaskStatus.COMPLETED, 22.9, 3.53, 1, None),
    ("docs", TaskStatus.COMPLETED, 26.4, 3.58, 1, None),
    ("publish", TaskStatus.COMPLETED, 30.0, 3.55, 1, None),
    ("integration-test", TaskStatus.FAILED, 33.6, 11.6, 4, "Connection timeout\nat line 3"),
]

GUIDE_REPORT = """\
Workflow Performance Report: My Workflow
======================================================================
Status: completed
Total Duration: 45.23s

Task Summary:
  Total Tasks: 10
  Completed: 9 (90.0%)
  Failed: 1
  Skipped: 0
  Total Retries: 3 (avg 0.30 per task)

Performance:
  Average Task Duration: 4.52s
  Slowest Task: data-processing (15.30s)
  Fastest Task: validation (0.50s)

Failed Tasks:
  - integration-test: Connection timeout"""


def result(
    task_id: str,
    status: TaskStatus,
    start: float | None = 0.0,
    duration: float | None = 1.0,
    attempts: int = 1,
    error: str | None = None,
    **extra: object,
) -> TaskResult:
    started = T0 + timedelta(seconds=start) if start is not None else None
    completed = (
        started + timedelta(seconds=duration)
        if started is not None and duration is not None
        else None
    )
    return TaskResult(
        task_id=task_id,
        status=status,
        attempts=attempts,
        started_at=started,
        completed_at=completed,
        error=error,
        agent_used="general",
        **extra,
    )


def run_of(
    results: list[TaskResult],
    status: WorkflowStatus = WorkflowStatus.COMPLETED,
    duration: float | None = 45.23,
    name: str = "My Workflow",
) -> tuple[WorkflowDefinition, WorkflowState]:
    workflow = WorkflowDefinition(
        id="my-workflow",
        name=name,
        tasks=[TaskDefinition(id=r.task_id, description=r.task_id) for r in results],
        continue_on_failure=True,
    )
    state = WorkflowState(
        workflow_id="my-workflow",
        run_id="run-1",
        workflow_name=name,
        status=status,
        task_results={r.task_id: r for r in results},
        started_at=T0,
        completed_at=T0 + timedelta(seconds=duration) if duration is not None else None,
    )
    return workflow, state


@pytest.fixture
def guide_metrics() -> WorkflowMetrics:
    return WorkflowMetrics.from_state(*run_of([result(*row) for row in GUIDE_RUN]))


def test_report_matches_the_guides_layout_line_by_line(guide_metrics: WorkflowMetrics) -> None:
    assert guide_metrics.get_performance_report().splitlines() == GUIDE_REPORT.splitlines()


def test_guide_figures(guide_metrics: WorkflowMetrics) -> None:
    m = guide_metrics
    assert (m.workflow_id, m.workflow_name, m.status, m.run_id) == (
        "my-workflow",
        "My Workflow",
        "completed",
        "run-1",
    )
    assert (m.total_tasks, m.completed_tasks, m.failed_tasks, m.skipped_tasks) == (10, 9, 1, 0)
    assert m.total_retries == 3 and m.retry_rate == pytest.approx(0.3)
    assert m.success_rate == pytest.approx(90.0)
    assert m.total_duration_seconds == pytest.approx(45.23)
    assert m.average_task_duration == pytest.approx(4.52)
    assert f"Success Rate: {m.success_rate:.1f}%" == "Success Rate: 90.0%"
    assert len(m.task_metrics) == 10 and m.task_metrics[0].task_id == "checkout"


def test_bottleneck_is_the_slowest_completed_task(guide_metrics: WorkflowMetrics) -> None:
    bottleneck = guide_metrics.get_bottleneck()
    assert bottleneck is not None
    assert bottleneck.task_id == "data-processing"
    assert bottleneck.duration_seconds == pytest.approx(15.30)
    share = bottleneck.duration_seconds / guide_metrics.total_duration_seconds * 100
    assert f"% of Total: {share:.1f}%" == "% of Total: 33.8%"
    assert guide_metrics.fastest_task.task_id == "validation"


def test_failed_tasks_carry_error_and_retries(guide_metrics: WorkflowMetrics) -> None:
    (failed,) = guide_metrics.get_failed_tasks()
    assert failed.task_id == "integration-test"
    assert failed.error.startswith("Connection timeout")
    assert failed.retry_count == 3 and failed.status is TaskStatus.FAILED


def test_no_failed_tasks_section_when_nothing_failed() -> None:
    metrics = WorkflowMetrics.from_state(
        *run_of([result("a", TaskStatus.COMPLETED, 0, 2.0), result("b", TaskStatus.SKIPPED)])
    )
    report = metrics.get_performance_report()
    assert "Failed Tasks:" not in report
    assert report.splitlines()[-1] == "  Fastest Task: a (2.00s)"
    assert "  Skipped: 1" in report.splitlines()


def test_tokens_cost_and_cache_hits_per_task_and_in_total() -> None:
    metrics = WorkflowMetrics.from_state(
        *run_of(
            [
                result(
                    "a",
                    TaskStatus.COMPLETED,
                    0,
                    2.0,
                    usage=TaskUsage(input_tokens=100, output_tokens=20, cost_usd=0.01),
                ),
                result(
                    "b",
                    TaskStatus.COMPLETED,
                    2,
                    0.0,
                    cached=True,
                    usage=TaskUsage(input_tokens=5, output_tokens=1),
                ),
            ]
        )
    )
    a, b = metrics.task_metrics
    assert (a.input_tokens, a.output_tokens, a.total_tokens, a.cost_usd) == (100, 20, 120, 0.01)
    assert b.cached and b.cost_usd is None
    assert (metrics.total_tokens, metrics.cost_usd, metrics.cache_hits) == (126, 0.01, 1)
    # a cached task is completed, but not part of the duration figures
    assert metrics.completed_tasks == 2
    assert metrics.fastest_task.task_id == "a" and metrics.average_task_duration == 2.0
    assert metrics.get_performance_report(include_usage=True).splitlines()[-4:] == [
        "Usage:",
        "  Tokens: 126 (input 105, output 21)",
        "  Cost: $0.0100",
        "  Cache Hits: 1",
    ]


def test_a_run_with_no_tasks_reports_zeros() -> None:
    workflow = WorkflowDefinition(id="empty")
    state = WorkflowState(workflow_id="empty", run_id="r", status=WorkflowStatus.COMPLETED)
    metrics = WorkflowMetrics.from_state(workflow, state)
    assert metrics.success_rate == 0.0 and metrics.retry_rate == 0.0
    assert metrics.total_duration_seconds == 0.0 and metrics.get_bottleneck() is None
    lines = metrics.get_performance_report().splitlines()
    assert lines[0] == "Workflow Performance Report: empty"
    assert "  Slowest Task: n/a" in lines and "  Total Retries: 0 (avg 0.00 per task)" in lines


def test_a_running_run_is_measured_up_to_now() -> None:
    workflow, state = run_of(
        [
            result("done", TaskStatus.COMPLETED, 0, 4.0),
            result("busy", TaskStatus.RUNNING, 4, None),
            result("waiting", TaskStatus.PENDING, None, None),
        ],
        status=WorkflowStatus.RUNNING,
        duration=None,
    )
    del state.task_results["waiting"]  # no result yet: counted as pending
    metrics = WorkflowMetrics.from_state(workflow, state, now=T0 + timedelta(seconds=10))
    assert metrics.completed_at is None and metrics.status == "running"
    assert metrics.total_duration_seconds == pytest.approx(10.0)
    assert metrics.get_task("busy").duration_seconds == pytest.approx(6.0)
    assert metrics.get_task("waiting").status is TaskStatus.PENDING
    assert metrics.get_bottleneck().task_id == "done"  # running tasks are not bottlenecks yet
    lines = metrics.get_performance_report().splitlines()
    assert "  Running: 1" in lines and "  Pending: 1" in lines


def test_cancelled_tasks_are_listed_only_when_present() -> None:
    metrics = WorkflowMetrics.from_state(
        *run_of(
            [result("a", TaskStatus.CANCELLED, 0, 1.0), result("b", TaskStatus.SKIPPED)],
            status=WorkflowStatus.CANCELLED,
        )
    )
    lines = metrics.get_performance_report().splitlines()
    assert lines[2] == "Status: cancelled"
    assert "  Cancelled: 1" in lines


def test_to_dict_is_json_and_round_trips(guide_metrics: WorkflowMetrics) -> None:
    data = json.loads(json.dumps(guide_metrics.to_dict()))
    assert data["slowest_task"] == "data-processing" and data["fastest_task"] == "validation"
    assert data["started_at"] == "2025-01-01T12:00:00+00:00"
    assert data["task_metrics"][9]["status"] == "failed"
    assert data["task_metrics"][9]["retry_count"] == 3
    again = WorkflowMetrics.from_dict(data)
    assert again.get_performance_report() == guide_metrics.get_performance_report()
    assert again.to_dict() == data
    task = guide_metrics.task_metrics[0]
    assert TaskMetrics.from_dict(json.loads(json.dumps(task.to_dict()))) == task


def test_aggregate_stats_across_runs(guide_metrics: WorkflowMetrics) -> None:
    second = WorkflowMetrics.from_state(
        *run_of(
            [
                result("a", TaskStatus.COMPLETED, 0, 1.0, attempts=2),
                result("b", TaskStatus.COMPLETED, 1, 1.0, cached=True),
            ],
            duration=14.77,
            name="Second",
        )
    )
    stats = aggregate_stats([guide_metrics, second])
    print(f"Total Workflows: {stats['total_workflows']}")
    assert stats["total_workflows"] == 2
    assert stats["total_tasks"] == 12
    assert stats["average_success_rate"] == 95.0  # (90 + 100) / 2
    assert stats["average_duration"] == 30.0  # (45.23 + 14.77) / 2
    assert stats["success_rate"] == 91.7  # 11 of 12 tasks
    assert stats["total_retries"] == 4 and stats["total_cache_hits"] == 1
    assert stats["total_failed"] == 1 and stats["successful_workflows"] == 2


def test_aggregate_stats_of_nothing() -> None:
    stats = aggregate_stats([])
    assert stats["total_workflows"] == 0 and stats["total_tasks"] == 0
    assert stats["average_success_rate"] == 0.0 and stats["average_duration"] == 0.0


def test_a_states_repr_is_a_summary_not_every_result() -> None:
    """asyncio.run() formats the returned state's repr on exit (so do REPLs and logs)."""
    from deeptui.models import TaskResult, TaskStatus, WorkflowState

    results = {f"t{i}": TaskResult(task_id=f"t{i}", status=TaskStatus.COMPLETED) for i in range(10_000)}
    text = repr(WorkflowState(workflow_id="w", run_id="w@1", task_results=results))
    assert text == "WorkflowState(run_id='w@1', status='pending', tasks=10000)"
