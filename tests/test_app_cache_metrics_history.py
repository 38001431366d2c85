"""The cache inspector, metrics dashboard and history screens, on a real orchestrator.

Each screen runs in a tiny host app (the attributes and methods the screens
use from DeeptuiApp), with real runs of small workflows on the offline model,
a real diskcache directory and (for history) a real SQLite store.
Snapshots live in tests/snapshots/ (the shared fixture in conftest.py).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.app import App
from textual.widgets import Select

from deeptui import (ExecutionStrategy, OrchestrationConfig, RetryConfig, TaskDefinition,
                     TaskOrchestrator, WorkflowDefinition)
import deeptui.cache.result_cache
import deeptui.cache.memory
from deeptui.cache import CacheConfig
from deeptui.screens.cache import CacheScreen
from deeptui.screens.confirm import ConfirmScreen
from deeptui.screens.history import HistoryScreen, RunTable
from deeptui.screens.metrics import MetricsScreen
from deeptui.widgets.cache_table import CacheStats, CacheTable

T0 = datetime(2025, 1, 31, 9, 30)  # naive: shown as is, whatever the machine's time zone


class Host(App[None]):
    """What the screens use of DeeptuiApp: orchestrator, store, settings, run methods."""

    def __init__(self, orchestrator: Any, store: Any = None) -> None:
        super().__init__()
        self.orchestrator = orchestrator
        self.store = store
        self.settings = None
        self.calls: list[tuple[str, Any]] = []

    def start_run(self, workflow: WorkflowDefinition) -> str:
        self.calls.append(("start_run", workflow.id))
        return "new-run"

    def open_stored_run(self, run_id: str) -> None:
        self.calls.append(("open_stored_run", run_id))

    def resume_run(self, run_id: str) -> str:
        self.calls.append(("resume_run", run_id))
        return run_id


async def explode(task: Any, parameters: Any, dependency_outputs: Any) -> Any:
    raise RuntimeError("disk full")


def make_orchestrator(tmp_path: Path, store: Any = None) -> TaskOrchestrator:
    orchestrator = TaskOrchestrator(
        config=OrchestrationConfig(simulated_latency=(0, 0), simulated_seed=1),
        cache_config=CacheConfig(strategy="disk", cache_dir=tmp_path / "cache", ttl_seconds=3600),
        store=store,
    )
    orchestrator.register_callable("explode", explode)
    return orchestrator


def pipeline(with_failure: bool = False) -> WorkflowDefinition:
    tasks = [
        TaskDefinition(id="fetch", description="Fetch the sales data"),
        TaskDefinition(id="clean", description="Clean it", depends_on=["fetch"]),
        TaskDefinition(id="summarize", description="Summarize it", depends_on=["clean"]),
        TaskDefinition(id="publish", description="Publish the summary", depends_on=["summarize"]),
    ]
    if with_failure:
        tasks.append(TaskDefinition(
            id="upload", task_type="callable", parameters={"callable": "explode"},
            depends_on=["clean"], retry_config=RetryConfig(max_retries=1, initial_delay=0)))
        tasks.append(TaskDefinition(id="notify", description="Tell the team",
                                    depends_on=["upload"]))
    return WorkflowDefinition(id="sales", name="Sales report", tasks=tasks,
                              execution_strategy=ExecutionStrategy.SEQUENTIAL,
                              continue_on_failure=True)


async def run(orchestrator: TaskOrchestrator, workflow: WorkflowDefinition, run_id: str,
              durations: dict[str, float] | None = None) -> None:
    """Run to the end, then pin the timestamps so durations are the same every time."""
    state = await orchestrator.execute_workflow(workflow, run_id=run_id)
    clock = T0
    state.started_at = clock
    for result in state.task_results.values():
        if result.started_at is not None:
            result.started_at = clock
            if not result.cached:  # a cache hit takes no time
                clock += timedelta(seconds=(durations or {}).get(result.task_id, 1.0))
            result.completed_at = clock
    state.completed_at = clock + timedelta(seconds=0.5)


def text_of(renderable: Any, width: int = 120) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def notes(app: App[Any]) -> list[str]:
    return [n.message for n in app._notifications]


@pytest.fixture
def orchestrator(tmp_path: Path):
    orch = make_orchestrator(tmp_path)
    yield orch
    orch.close()


# -- cache inspector -----------------------------------------------------------


async def test_invalidating_a_task_removes_its_rows_and_updates_the_stats(orchestrator) -> None:
    app = Host(orchestrator)
    async with app.run_test(size=(120, 36)) as pilot:
        await run(orchestrator, pipeline(), "sales@1")
        await app.push_screen(CacheScreen(refresh_interval=None))
        await pilot.pause()
        table = app.screen.query_one(CacheTable)
        stats = app.screen.query_one(CacheStats)
        assert table.row_count == 4
        assert "4" in text_of(stats.content)  # Entries 4
        table.move_cursor(row=0)  # rows are sorted by task: "clean" first
        assert table.selected_task_id == "clean"
        await pilot.press("i")
        await pilot.pause()
        assert table.row_count == 3
        assert table.count_for("clean") == 0
        assert stats.stats["cache_size"] == 3
        assert stats.stats["invalidations"] == 1
        shown = text_of(stats.content)
        assert "Invalidated" in shown and "3" in shown
        assert any("Removed 1 entry of task 'clean'" in n for n in notes(app))
        # the button does the same as the key
        await pilot.click("#cache-invalidate")
        await pilot.pause()
        assert table.row_count == 2
        assert orchestrator.get_cache_stats()["cache_size"] == 2


async def test_clear_all_asks_first_and_empties_the_cache(orchestrator) -> None:
    app = Host(orchestrator)
    async with app.run_test(size=(120, 36)) as pilot:
        await run(orchestrator, pipeline(), "sales@1")
        await app.push_screen(CacheScreen(refresh_interval=None))
        await pilot.pause()
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # said no: nothing removed
        await pilot.pause()
        assert app.screen.query_one(CacheTable).row_count == 4
        await pilot.press("C")
        await pilot.pause()
        await pilot.click("#confirm-yes")
        await pilot.pause()
        assert isinstance(app.screen, CacheScreen)
        assert app.screen.query_one(CacheTable).row_count == 0
        assert len(orchestrator.cache) == 0
        assert "The cache is empty" in str(app.screen.query_one("#cache-empty").content)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CacheScreen)


async def test_cache_actions_on_an_empty_cache_notify_instead_of_failing(orchestrator) -> None:
    app = Host(orchestrator)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(CacheScreen(refresh_interval=None))
        await pilot.pause()
        await pilot.press("i", "ctrl+d", "r")
        await pilot.pause()
        assert "Select a cache entry first." in notes(app)
        assert "The cache is already empty." in notes(app)
        assert isinstance(app.screen, CacheScreen)


class WholeSecondClock:
    """The cache's clock in whole seconds: stored payloads (which hold their
    creation time) then have the same size in every test session."""

    monotonic = staticmethod(time.monotonic)

    @staticmethod
    def time() -> float:
        return float(int(time.time()))


def test_cache_screen_snapshot(snap_compare, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deeptui.cache.result_cache, "time", WholeSecondClock)
    monkeypatch.setattr(deeptui.cache.memory, "time", WholeSecondClock)  # stamps created_at
    orchestrator = make_orchestrator(tmp_path)

    async def setup(pilot) -> None:
        await run(orchestrator, pipeline(), "sales@1")
        await run(orchestrator, pipeline(), "sales@2")  # all hits
        await pilot.app.push_screen(CacheScreen(refresh_interval=None))
        await pilot.pause()

    assert snap_compare(Host(orchestrator), terminal_size=(120, 36), run_before=setup)
    orchestrator.close()


# -- metrics dashboard ---------------------------------------------------------


DURATIONS = {"fetch": 4.2, "clean": 1.5, "summarize": 2.25, "publish": 0.7, "upload": 0.3}


async def test_metrics_show_the_bottleneck_and_export_writes_report_and_json(
        orchestrator, tmp_path: Path) -> None:
    app = Host(orchestrator)
    async with app.run_test(size=(120, 36)) as pilot:
        await run(orchestrator, pipeline(with_failure=True), "sales@1", DURATIONS)
        await app.push_screen(MetricsScreen("sales@1", refresh_interval=None,
                                            export_dir=tmp_path / "out"))
        await pilot.pause()
        screen = app.screen
        figures = text_of(screen.query_one("#metrics-figures").content)
        assert "Bottleneck" in figures and "fetch (4.20s)" in figures
        assert "Fastest" in figures and "upload" not in figures.split("Fastest")[1][:30]
        chart = text_of(screen.query_one("#metrics-durations").content, width=70)
        assert chart.index("fetch") < chart.index("summarize") < chart.index("clean")
        mix = text_of(screen.query_one("#metrics-mix").content, width=40)
        assert "completed 4" in mix and "failed 1" in mix and "skipped 1" in mix
        await pilot.press("e")
        await pilot.pause()
        report = (tmp_path / "out" / "sales_1-report.txt").read_text()
        assert report.startswith("Workflow Performance Report: Sales report")
        assert "upload: RuntimeError: disk full" in report
        data = json.loads((tmp_path / "out" / "sales_1-metrics.json").read_text())
        assert data["run_id"] == "sales@1" and data["failed_tasks"] == 1
        assert data["slowest_task"] == "fetch"
        assert any(str(tmp_path / "out" / "sales_1-report.txt") in n for n in notes(app))


async def test_metrics_run_picker_lists_this_process_runs_and_switches(orchestrator) -> None:
    app = Host(orchestrator)
    async with app.run_test(size=(120, 36)) as pilot:
        await run(orchestrator, pipeline(), "sales@1", DURATIONS)
        await run(orchestrator, pipeline(with_failure=True), "sales@2", {"fetch": 9.0})
        await app.push_screen(MetricsScreen(refresh_interval=None))
        await pilot.pause()
        screen = app.screen
        assert screen.metrics.run_id == "sales@2"  # the newest by default
        select = screen.query_one("#metrics-run", Select)
        assert [value for _, value in select._options if isinstance(value, str)] == [
            "sales@2", "sales@1"]
        select.value = "sales@1"
        await pilot.pause()
        assert screen.metrics.run_id == "sales@1"
        assert "Sales report" in str(screen.query_one("#metrics-report").content)
        caption = str(screen.query_one("#metrics-trend-caption").content)
        assert caption.startswith("2 runs")
        aggregate = text_of(screen.query_one("#metrics-aggregate").content)
        assert "Runs" in aggregate and "Tasks failed" in aggregate


async def test_metrics_without_runs_say_so_and_export_notifies(orchestrator) -> None:
    app = Host(orchestrator)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(MetricsScreen(refresh_interval=None))
        await pilot.pause()
        assert "No runs yet" in text_of(app.screen.query_one("#metrics-figures").content)
        await pilot.press("e")
        await pilot.pause()
        assert "No run selected: nothing to export." in notes(app)


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
def test_metrics_screen_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    orchestrator = make_orchestrator(tmp_path)

    async def setup(pilot) -> None:
        await run(orchestrator, pipeline(), "sales@1", {"fetch": 5.0})
        orchestrator.clear_cache()  # so the second run does the work again
        await run(orchestrator, pipeline(with_failure=True), "sales@2", DURATIONS)
        await pilot.app.push_screen(MetricsScreen(refresh_interval=None))
        await pilot.pause()

    assert snap_compare(Host(orchestrator), terminal_size=size, run_before=setup)
    orchestrator.close()


# -- history -------------------------------------------------------------------


async def test_history_opens_resumes_reruns_and_exports(tmp_path: Path) -> None:
    store_module = pytest.importorskip("deeptui.store")
    store = store_module.RunStore(tmp_path / "history.db")
    orchestrator = make_orchestrator(tmp_path, store=store)
    app = Host(orchestrator, store)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await orchestrator.execute_workflow(pipeline(), run_id="sales@1")
            failing = pipeline(with_failure=True).model_copy(update={"id": "sales-b"})
            await orchestrator.execute_workflow(failing, run_id="sales-b@2")
            await app.push_screen(HistoryScreen(export_dir=tmp_path / "out"))
            await pilot.pause()
            table = app.screen.query_one(RunTable)
            assert table.row_count == 2
            ids = {str(table.get_row_at(0)[0]), str(table.get_row_at(1)[0])}  # Text cells
            assert ids == {"sales@1", "sales-b@2"}
            completed_row = 0 if str(table.get_row_at(0)[0]) == "sales@1" else 1
            table.move_cursor(row=completed_row)
            await pilot.pause()
            assert app.screen.query_one("#history-resume").disabled  # nothing to resume
            await pilot.press("enter")
            await pilot.press("R")  # completed: refused with a notification
            await pilot.press("n")
            await pilot.press("e")
            await pilot.pause()
            assert app.calls == [("open_stored_run", "sales@1"), ("start_run", "sales")]
            assert any("nothing to resume" in n for n in notes(app))
            exported = json.loads((tmp_path / "out" / "sales_1-run.json").read_text())
            assert "sales@1" in json.dumps(exported)
            table.move_cursor(row=1 - completed_row)  # the failed run can resume
            await pilot.pause()
            assert not app.screen.query_one("#history-resume").disabled
            await pilot.click("#history-resume")
            await pilot.pause()
            assert app.calls[-1] == ("resume_run", "sales-b@2")
    finally:
        orchestrator.close()
        store.close()


async def test_history_without_a_store_says_so(orchestrator) -> None:
    app = Host(orchestrator, store=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(HistoryScreen())
        await pilot.pause()
        assert app.screen.query_one("#history-message").display
        assert "no history database" in str(app.screen.query_one("#history-message").content)
        await pilot.press("R", "n", "e")
        await pilot.pause()
        assert app.calls == []
        assert "No history database in this session." in notes(app)


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
def test_history_screen_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    store_module = pytest.importorskip("deeptui.store")
    from deeptui.models import WorkflowStatus

    def summary(n: int, status: str, done: int, duration: float | None) -> Any:
        started = T0 + timedelta(hours=n)
        return store_module.RunSummary(
            run_id=f"sales@20250131-{n:02d}", workflow_id="sales", workflow_name="Sales report",
            status=WorkflowStatus(status), started_at=started,
            completed_at=None if duration is None else started + timedelta(seconds=duration),
            total_tasks=6, completed=done, failed=int(status == "failed"), skipped=0,
            cancelled=0, model="function:simulated", duration_seconds=duration,
            error="task 'upload' failed: disk full" if status == "failed" else None)

    class FixedStore:
        """A store with fixed runs, so the screenshot has no wall-clock times."""

        def list_runs(self, limit: int = 50, workflow_id: str | None = None) -> list[Any]:
            return [summary(3, "running", 2, None), summary(2, "failed", 4, 12.5),
                    summary(1, "completed", 6, 8.25)]

    orchestrator = make_orchestrator(tmp_path)

    async def setup(pilot) -> None:
        await pilot.app.push_screen(HistoryScreen())
        await pilot.pause()
        await pilot.press("down")

    assert snap_compare(Host(orchestrator, FixedStore()), terminal_size=size, run_before=setup)
    orchestrator.close()


async def test_history_at_80_columns_shows_each_runs_status(tmp_path: Path) -> None:
    store_module = pytest.importorskip("deeptui.store")
    store = store_module.RunStore(tmp_path / "history.db")
    orchestrator = make_orchestrator(tmp_path, store=store)
    app = Host(orchestrator, store)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await orchestrator.execute_workflow(pipeline(), run_id="sales@2025-01-31-long-run-id")
            await app.push_screen(HistoryScreen())
            await pilot.pause()
            table = app.screen.query_one(RunTable)
            right = 0
            for column in table.ordered_columns:  # the right edge of the status column
                right += column.get_render_width(table)
                if column.key.value == "status":
                    break
            assert right <= table.scrollable_content_region.width
            assert "completed" in str(table.get_row_at(0)[1])
    finally:
        orchestrator.close()
        store.close()
