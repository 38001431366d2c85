"""Snapshot tests of every app screen, with deterministic data and a frozen clock.

Snapshots live in tests/snapshots/test_app_snapshots/ (the shared fixture in conftest.py).
The mid-run state is made by the real engine: callable tasks wait on events the
test controls, one fails, one is cancelled; their timestamps and usage are then
pinned so the durations on screen never change.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import wait_for
from deeptui import OrchestrationConfig, TaskOrchestrator
from deeptui.app import DeeptuiApp
from deeptui.models import (
    RetryConfig,
    TaskDefinition,
    TaskResult,
    TaskStatus,
    TaskUsage,
    WorkflowDefinition,
    WorkflowState,
    WorkflowStatus,
)
from deeptui.screens.parameters import ParametersScreen
from deeptui.screens.run import RunScreen

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[1] / "workflows" / "examples"


def _task(task_id: str, *deps: str, description: str = "") -> TaskDefinition:
    return TaskDefinition(id=task_id, task_type="callable", depends_on=list(deps),
                          description=description, parameters={"callable": "gated"},
                          retry_config=RetryConfig(max_retries=0))


MID_RUN = WorkflowDefinition(
    id="demo", name="Data pipeline demo", continue_on_failure=True, max_parallel_tasks=8,
    tasks=[
        _task("fetch", description="Download the raw data"),
        _task("parse", "fetch", description="Parse the records"),
        _task("analyze", "parse", description="Compute the statistics"),
        _task("report", "analyze", description="Write the report"),
        _task("flaky-upload", description="Upload to the mirror"),
        _task("notify", "flaky-upload", description="Tell the team"),
        _task("cleanup", description="Remove temporary files"),
    ],
)


def make_app() -> DeeptuiApp:
    orch = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0.0, 0.0),
                                                       simulated_seed=11))
    gates: dict[str, asyncio.Event] = {}

    async def gated(task, parameters, deps):
        await gates.setdefault(task.id, asyncio.Event()).wait()
        if task.id == "flaky-upload":
            raise RuntimeError("mirror refused the upload: HTTP 503")
        return {"rows": 1200, "task": task.id}

    orch.register_callable("gated", gated)
    app = DeeptuiApp(orchestrator=orch)
    app.gates = gates  # type: ignore[attr-defined]
    app.clock = lambda: T0 + timedelta(seconds=12.5)
    app.log_times = False
    return app


def _pin(state: WorkflowState) -> None:
    """Fixed times and usage, so durations and totals on screen are stable."""
    state.started_at = T0
    for n, result in enumerate(state.task_results.values()):
        if result.started_at is not None:
            result.started_at = T0 + timedelta(seconds=n)
        if result.completed_at is not None:
            result.completed_at = T0 + timedelta(seconds=n + 1.5)
        if result.status is TaskStatus.COMPLETED:
            result.usage = TaskUsage(input_tokens=300, output_tokens=120, requests=1,
                                     cost_usd=0.0021)


async def mid_run(pilot, select: str = "flaky-upload") -> None:
    app = pilot.app
    orch = app.orchestrator
    run_id = orch.start_workflow(MID_RUN, run_id="demo@snapshot")
    results = orch.find_run(run_id).state.task_results

    def open_gate(task_id: str) -> None:
        app.gates.setdefault(task_id, asyncio.Event()).set()

    for task_id in ("fetch", "parse", "flaky-upload"):
        await wait_for(pilot, lambda: results[task_id].status is TaskStatus.RUNNING)
        open_gate(task_id)
    await wait_for(pilot, lambda: results["analyze"].status is TaskStatus.RUNNING
                 and results["notify"].status is TaskStatus.SKIPPED
                 and results["cleanup"].status is TaskStatus.RUNNING)
    orch.cancel_task(run_id, "cleanup")
    await wait_for(pilot, lambda: results["cleanup"].status is TaskStatus.CANCELLED)
    _pin(orch.find_run(run_id).state)
    app.open_run(run_id)
    await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and bool(app.screen.query("#dag")))
    app.screen.select_task(select)
    await wait_for(pilot, lambda: app.screen.log_view.task_id == select)
    app.screen.refresh_all()
    await pilot.pause()


def _home_in(tmp_path, monkeypatch) -> None:
    """The Home tab lists the working directory's workflow files and shows it as ~/...:
    give it a fixed one."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "deploy.yaml").write_text("id: deploy\ntasks: []\n")
    monkeypatch.chdir(tmp_path / "project")


async def _counted(pilot) -> None:
    """Until the templates' task counts (counted in a thread) are shown."""
    options = pilot.app.screen.query_one("#template-list")
    await wait_for(pilot, lambda: "tasks" in str(options.get_option_at_index(0).prompt))


def test_start_screen(snap_compare, tmp_path, monkeypatch):
    _home_in(tmp_path, monkeypatch)
    assert snap_compare(make_app(), terminal_size=(120, 36), run_before=_counted)


def test_start_screen_80x24(snap_compare, tmp_path, monkeypatch):
    _home_in(tmp_path, monkeypatch)
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_counted)


def test_start_screen_files_tab(snap_compare, tmp_path, monkeypatch):
    # the file browser starts in the working directory: give it a fixed one
    project = tmp_path / "project"
    (project / "pipelines").mkdir(parents=True)
    (project / "pipelines" / "nightly.yaml").write_text("id: nightly\ntasks: []\n")
    (project / "release.toml").write_text('id = "release"\n')
    (project / "notes.txt").write_text("not a workflow\n")
    monkeypatch.chdir(project)

    async def files_tab(pilot):
        await pilot.press("2")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(120, 24), run_before=files_tab)


def test_parameters_screen(snap_compare):
    async def open_form(pilot):
        pilot.app.push_screen(ParametersScreen(template="documentation"))
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=open_form)


def test_parameters_screen_shows_errors_under_fields(snap_compare):
    async def bad_values(pilot):
        pilot.app.push_screen(ParametersScreen(template="etl"))
        await pilot.pause()
        form = pilot.app.screen.query_one("#param-form")
        form.set_value("workflow_id", "")
        form.set_value("source_configs", '[{"path": "data.csv"}]')
        await pilot.pause()
        await wait_for(pilot, lambda: not pilot.app.screen.preview_pending)
        await pilot.press("ctrl+r")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=bad_values)


def test_parameters_screen_80x24(snap_compare):
    async def open_form(pilot):
        pilot.app.push_screen(ParametersScreen(template="code-review"))
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=open_form)


def test_workflow_file_preview(snap_compare):
    async def open_file(pilot):
        from deeptui.loader import load_workflow

        path = EXAMPLES / "quality-pipeline.yaml"
        pilot.app.push_screen(ParametersScreen(workflow=load_workflow(path), source=str(path)))
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(120, 36), run_before=open_file)


def test_run_screen_mid_run(snap_compare):
    assert snap_compare(make_app(), terminal_size=(120, 36), run_before=mid_run)


def test_run_screen_mid_run_80x24(snap_compare):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=mid_run)


def test_run_screen_filtered(snap_compare):
    async def filtered(pilot):
        await mid_run(pilot, select="analyze")
        await pilot.press("slash")
        await pilot.press(*"pa")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(120, 30), run_before=filtered)


def test_stored_run_read_only(snap_compare):
    async def stored(pilot):
        results = {t.id: TaskResult(task_id=t.id, status=TaskStatus.COMPLETED, attempts=1,
                                    started_at=T0, completed_at=T0 + timedelta(seconds=2),
                                    output=f"{t.id}: done")
                   for t in MID_RUN.tasks}
        state = WorkflowState(workflow_id="demo", run_id="demo@stored", workflow_name=MID_RUN.name,
                              status=WorkflowStatus.COMPLETED, task_results=results,
                              started_at=T0, completed_at=T0 + timedelta(seconds=30))
        logs = {"fetch": [(0.0, "info", "$ curl data"), (0.0, "text", "downloaded 1200 rows\n")]}
        pilot.app.push_screen(RunScreen("demo@stored", workflow=MID_RUN, state=state, logs=logs))
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(120, 30), run_before=stored)


def test_help_screen(snap_compare, tmp_path, monkeypatch):
    _home_in(tmp_path, monkeypatch)  # the Home tab shows under the help

    async def help_over_home(pilot):
        await _counted(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(100, 40), run_before=help_over_home)


def test_cancel_run_confirm(snap_compare):
    async def confirm(pilot):
        await mid_run(pilot)
        await pilot.press("ctrl+x")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(100, 30), run_before=confirm)


def _failed_run_state() -> WorkflowState:
    """A finished run of MID_RUN where only some tasks completed: 3 completed, 1 failed,
    1 skipped, 2 cancelled."""
    looks = {"fetch": TaskStatus.COMPLETED, "parse": TaskStatus.COMPLETED,
             "analyze": TaskStatus.FAILED, "report": TaskStatus.SKIPPED,
             "flaky-upload": TaskStatus.COMPLETED, "notify": TaskStatus.CANCELLED,
             "cleanup": TaskStatus.CANCELLED}
    results = {task_id: TaskResult(task_id=task_id, status=status, attempts=1, started_at=T0,
                                   completed_at=T0 + timedelta(seconds=2))
               for task_id, status in looks.items()}
    return WorkflowState(workflow_id="demo", run_id="demo@failed", workflow_name=MID_RUN.name,
                         status=WorkflowStatus.FAILED, task_results=results,
                         started_at=T0, completed_at=T0 + timedelta(seconds=30))


def test_failed_run_progress_bar_80x24(snap_compare):
    """The bar of a failed run: green, red, orange and grey parts, and 42% (3 of 7 completed),
    not a full green bar at 100%."""
    async def failed(pilot):
        pilot.app.push_screen(RunScreen("demo@failed", workflow=MID_RUN, state=_failed_run_state(),
                                        logs={}))
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=failed)
