"""The timeline (run screen and metrics) and the Home screen, driven as a user would.

Stored runs come from a real SQLite history recorded from bus events at fixed
times (tests/stored_runs.py); live runs are real runs of the orchestrator.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from textual.widgets import DataTable

from conftest import wait_for
from deeptui import OrchestrationConfig, TaskOrchestrator
from deeptui.app import DeeptuiApp
from deeptui.models import RetryConfig, TaskDefinition, WorkflowDefinition, WorkflowStatus
from deeptui.screens.history import HistoryScreen
from deeptui.screens.metrics import MetricsScreen
from deeptui.screens.run import RunScreen
from deeptui.screens.start import StartScreen
from deeptui.widgets.timeline import TimelineView
from stored_runs import T0, home_store, release_store


def stored_app(tmp_path: Path, store=None) -> DeeptuiApp:
    store = store or release_store(tmp_path / "history.db")
    orch = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0.0, 0.0)), store=store)
    app = DeeptuiApp(orchestrator=orch)
    app.clock = lambda: T0 + timedelta(hours=2)
    return app


def rows_by_task(view: TimelineView) -> dict[str, str]:
    """Each task row's text by task id (the axis row left out)."""
    rows = {}
    for line in view.row_texts()[1:]:
        rows[line[2:].split(" ", 1)[0]] = line
    return rows


async def test_stored_run_timeline_shows_the_retried_attempts_and_the_critical_path(tmp_path):
    app = stored_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        app.open_stored_run("release@fixed")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen)
                       and app.screen.focused is not None)
        await pilot.press("T")
        await wait_for(pilot, lambda: bool(app.screen.query(TimelineView)))
        view = app.screen.query_one(TimelineView)
        assert view.has_focus and not app.screen.query_one("#run-body").display
        rows = rows_by_task(view)
        assert list(rows) == ["checkout", "build", "lint", "docs", "test", "package", "deploy",
                              "notify"]  # by start time
        build = rows["build"]
        # attempt 1 failed (▓), a wait (╌), attempt 2 ran (█), in that order; two attempts
        assert build.index("▓") < build.index("╌") < build.index("█")
        assert build.rstrip().endswith("8.00s ×2")
        assert "·" in rows["lint"]  # ready at 2.0s (checkout done), started at 2.5s
        critical = {task for task, line in rows.items() if line.startswith("◆")}
        assert critical == {"checkout", "build", "test", "package", "deploy"}
        assert rows["notify"].rstrip().endswith("skipped") and "×" in rows["notify"]
        await pilot.press("T")  # back to the DAG
        await wait_for(pilot, lambda: app.screen.query_one("#run-body").display)
        assert not view.display


def _flaky_workflow() -> WorkflowDefinition:
    def task(task_id: str, *deps: str) -> TaskDefinition:
        return TaskDefinition(id=task_id, task_type="callable", depends_on=list(deps),
                              parameters={"callable": "flaky"},
                              retry_config=RetryConfig(max_retries=2, initial_delay=0.05,
                                                       jitter=False))
    return WorkflowDefinition(id="flaky", name="Flaky", tasks=[task("a"), task("b", "a")])


async def test_live_run_timeline_draws_each_attempt_of_a_retried_task(tmp_path):
    orch = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0.0, 0.0)))
    calls: dict[str, int] = {}
    watched = asyncio.Event()  # the first attempt fails once the run screen watches

    async def flaky(task, parameters, deps):
        calls[task.id] = calls.get(task.id, 0) + 1
        if task.id == "a" and calls["a"] == 1:
            await watched.wait()
            raise RuntimeError("first attempt fails")
        return task.id

    orch.register_callable("flaky", flaky)
    app = DeeptuiApp(orchestrator=orch)
    async with app.run_test(size=(120, 30)) as pilot:
        app.start_run(_flaky_workflow())
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen)
                       and app.screen.focused is not None)
        screen = app.screen
        await pilot.press("T")
        watched.set()
        await wait_for(pilot, lambda: screen.state.status is WorkflowStatus.COMPLETED)
        screen.refresh_timeline()
        rows = rows_by_task(screen.query_one(TimelineView))
        assert calls == {"a": 2, "b": 1}
        assert "▓" in rows["a"] and "█" in rows["a"] and "×2" in rows["a"]
        assert "▓" not in rows["b"] and "█" in rows["b"]


async def test_metrics_timeline_tab_draws_the_stored_run(tmp_path):
    app = stored_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        app.open_screen("metrics", run_id="release@fixed")
        await wait_for(pilot, lambda: isinstance(app.screen, MetricsScreen))
        await pilot.press("T")
        view = app.screen.query_one("#metrics-timeline", TimelineView)
        await wait_for(pilot, lambda: view.timeline is not None)
        rows = rows_by_task(view)
        assert rows["build"].rstrip().endswith("×2") and rows["test"].startswith("◆")


async def test_the_home_key_goes_home_from_run_history_and_metrics(tmp_path):
    app = stored_app(tmp_path, home_store(tmp_path / "history.db"))
    async with app.run_test(size=(120, 36)) as pilot:
        start = app.screen
        assert isinstance(start, StartScreen)
        await pilot.press("2")  # the Files tab: H also brings back the Home tab
        for open_screen in (lambda: app.open_stored_run("release@fixed"),
                            lambda: app.open_screen("history"),
                            lambda: app.open_screen("metrics")):
            open_screen()
            await wait_for(pilot, lambda: app.screen is not start and app.screen.focused is not None)
            await pilot.press("H")
            await wait_for(pilot, lambda: app.screen is start)
            assert start.query_one("#start-tabs").active == "home"
        # two deep (history, then a run opened from it): still one key
        app.open_screen("history")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen)
                       and app.screen.focused is not None)
        await pilot.press("H")
        await wait_for(pilot, lambda: app.screen is start)
        assert len(app.screen_stack) == 2


async def test_home_lists_recent_runs_with_figures_and_opens_one(tmp_path):
    app = stored_app(tmp_path, home_store(tmp_path / "history.db"))
    async with app.run_test(size=(160, 48)) as pilot:
        table = app.screen.query_one("#home-runs", DataTable)
        await wait_for(pilot, lambda: table.row_count == 5)
        assert table.has_focus
        first = [str(cell) for cell in table.get_row_at(0)]
        assert first == ["failed", "6/8 ✗1", "2h ago", "19.0s", "Release pipeline"]
        cards = [str(app.screen.query_one(f"#home-card-{n}").render()) for n in range(4)]
        assert cards[0].startswith("2 ") and "runs today" in cards[0]  # T0 and T0 - 3h
        assert cards[1].startswith("60% ") and "(3 of 5 ended)" in cards[1]
        timeline = app.screen.query_one("#home-timeline", TimelineView)
        await wait_for(pilot, lambda: timeline.timeline is not None)
        assert "build" in rows_by_task(timeline)
        await pilot.press("down")  # nightly@3
        await wait_for(pilot, lambda: set(rows_by_task(timeline)) == {"fetch", "scan", "report"})
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        assert app.screen.run_id == "nightly@3" and app.screen.read_only


async def test_rerun_from_home_starts_the_stored_workflow_again(tmp_path):
    app = stored_app(tmp_path, home_store(tmp_path / "history.db"))
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.screen.query_one("#home-runs", DataTable)
        await wait_for(pilot, lambda: table.row_count == 5)
        await pilot.press("down")  # nightly@3: three shell tasks
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        assert not screen.read_only and screen.run_id != "nightly@3"
        assert screen.workflow.task_ids == ["fetch", "scan", "report"]
        await wait_for(pilot, lambda: screen.state.status is WorkflowStatus.COMPLETED, timeout=30)
        assert all(r.attempts == 1 for r in screen.state.task_results.values())
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, StartScreen))
        await wait_for(pilot, lambda: table.row_count == 6)  # the new run, first
        assert str(table.get_row_at(0)[0]) == "completed"


async def test_resume_from_home_continues_a_failed_run(tmp_path):
    app = stored_app(tmp_path, home_store(tmp_path / "history.db"))
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.screen.query_one("#home-runs", DataTable)
        await wait_for(pilot, lambda: table.row_count == 5)
        table.move_cursor(row=1)  # nightly@3 completed: nothing to resume
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        table.move_cursor(row=4)  # nightly@1: fetch failed, the rest skipped
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        await wait_for(pilot, lambda: screen.state.status.finished, timeout=30)
        assert screen.state.status is WorkflowStatus.COMPLETED
        assert {t: r.status.value for t, r in screen.state.task_results.items()} == {
            "fetch": "completed", "scan": "completed", "report": "completed"}


# -- snapshots (tests/snapshots/test_app_timeline_home/) -------------------------------------

def _fixed_home(tmp_path: Path, monkeypatch) -> DeeptuiApp:
    monkeypatch.setenv("HOME", str(tmp_path))
    project = tmp_path / "project"
    (project / "pipelines").mkdir(parents=True)
    (project / "pipelines" / "nightly.yaml").write_text("id: nightly\ntasks: []\n")
    (project / "release.toml").write_text('id = "release"\ntasks = []\n')
    (project / "pyproject.toml").write_text('[project]\nname = "not-a-workflow"\n')
    monkeypatch.chdir(project)
    return stored_app(tmp_path, home_store(tmp_path / "history.db"))


async def _home_ready(pilot) -> None:
    screen = pilot.app.screen
    options = screen.query_one("#template-list")
    timeline = screen.query_one("#home-timeline", TimelineView)
    await wait_for(pilot, lambda: "tasks" in str(options.get_option_at_index(0).prompt)
                   and timeline.timeline is not None)
    await pilot.pause()


def test_home_screen_snapshot_160x48(snap_compare, tmp_path, monkeypatch):
    assert snap_compare(_fixed_home(tmp_path, monkeypatch), terminal_size=(160, 48),
                        run_before=_home_ready)


def test_home_screen_snapshot_80x24(snap_compare, tmp_path, monkeypatch):
    assert snap_compare(_fixed_home(tmp_path, monkeypatch), terminal_size=(80, 24),
                        run_before=_home_ready)


async def _timeline_of_stored_run(pilot) -> None:
    app = pilot.app
    app.open_stored_run("release@fixed")
    await wait_for(pilot, lambda: isinstance(app.screen, RunScreen)
                   and app.screen.focused is not None)
    await pilot.press("T")
    await wait_for(pilot, lambda: bool(app.screen.query("TimelineView:focus")))
    await pilot.pause()


def test_timeline_snapshot_160x48(snap_compare, tmp_path):
    assert snap_compare(stored_app(tmp_path), terminal_size=(160, 48),
                        run_before=_timeline_of_stored_run)


def test_timeline_snapshot_80x24(snap_compare, tmp_path):
    assert snap_compare(stored_app(tmp_path), terminal_size=(80, 24),
                        run_before=_timeline_of_stored_run)


async def test_home_opens_a_workflow_file_of_the_working_directory_and_H_types_in_a_field(
        tmp_path, monkeypatch):
    from deeptui.screens.parameters import ParametersScreen

    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "build.yaml").write_text(
        "id: build\nname: Build\ntasks:\n  - id: compile\n    task_type: shell\n"
        "    parameters: {command: echo compiled}\n")
    (tmp_path / "notes.json").write_text('{"no": "workflow here"}')
    monkeypatch.chdir(tmp_path)
    app = stored_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        files = app.screen.query_one("#home-files")  # listed after the first frame
        await wait_for(pilot, lambda: files.get_option_at_index(0).id is not None)
        assert [str(files.get_option_at_index(n).prompt) for n in range(files.option_count)] == [
            "ci/build.yaml"]
        files.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ParametersScreen))
        assert app.screen.workflow.task_ids == ["compile"]
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen)
                       and app.screen.focused is not None)
        await pilot.press("slash", "H", "i")  # in the filter field H is a letter, not Home
        await pilot.pause()
        assert app.screen.query_one("#run-filter").value == "Hi"
        assert isinstance(app.screen, RunScreen)
