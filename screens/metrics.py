"""The metrics dashboard screen: one run's figures and charts, aggregates, the report, export."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Footer, Header, Label, Select, Static, TabbedContent, TabPane

from deeptui.errors import DeeptuiError
from deeptui.screens.base import DeeptuiScreen
from deeptui.widgets.bindings import bindings
from deeptui.metrics import WorkflowMetrics
from deeptui.timeline import build_timeline, stored_marks
from deeptui.visualize.safe_text import text as safe
from deeptui.widgets.metrics_charts import (DurationChart, FigureGrid, StatusMixBar, TrendChart,
                                            aggregate_rows, format_seconds, run_figures)
from deeptui.widgets.timeline import LEGEND, TimelineView

STORED_RUNS_SHOWN = 50
LIVE_MARKS_EVERY = 5.0  # seconds between reads of a live run's attempts from the history

if TYPE_CHECKING:
    from deeptui.orchestrator import TaskOrchestrator
    from deeptui.store import RunStore


def export_directory(explicit: Path | None = None) -> Path:
    """Where exports go: `explicit`, else ./deeptui-exports."""
    return Path(explicit) if explicit is not None else Path.cwd() / "deeptui-exports"


def file_slug(run_id: str) -> str:
    """A run id made safe for a file name (``ci@2024-01-01 12:00`` -> ``ci_2024-01-01_12-00``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_id.replace(":", "-")).strip("_") or "run"


class MetricsScreen(DeeptuiScreen[None]):
    """``MetricsScreen(run_id=None, *, refresh_interval=1.0, export_dir=None)``.

    Shows `run_id` (a run of this process or a stored one), else the newest
    run of this process, else the newest stored run. Reads
    ``self.app.orchestrator`` and ``self.app.store`` (which may be None).
    """

    TITLE = "Metrics"
    DEFAULT_CSS = """
    MetricsScreen #metrics-bar { height: auto; padding: 0 1; }
    MetricsScreen #metrics-run { width: 1fr; margin-right: 1; }
    MetricsScreen #metrics-bar Button { margin-left: 1; min-width: 10; }
    MetricsScreen #metrics-tabs { height: 1fr; }
    MetricsScreen TabPane { padding: 0; }
    MetricsScreen #metrics-left { width: 38%; min-width: 34; max-width: 44; height: 1fr;
                                  scrollbar-size-vertical: 1; }
    MetricsScreen #metrics-right { width: 1fr; height: 1fr; }
    MetricsScreen .panel { border: round $primary; border-title-color: $text-primary;
                           padding: 0 1; height: auto; }
    MetricsScreen #metrics-durations-box { height: 1fr; }
    MetricsScreen #metrics-durations { height: auto; }
    MetricsScreen #metrics-trend { height: 3; }
    MetricsScreen #metrics-aggregate, MetricsScreen #metrics-report { padding: 0 1; }
    MetricsScreen #metrics-timeline { height: 1fr; }
    """
    BINDINGS = bindings("metrics")

    def __init__(self, run_id: str | None = None, *, refresh_interval: float | None = 1.0,
                 export_dir: Path | None = None) -> None:
        super().__init__()
        self.run_id = run_id
        self.refresh_interval = refresh_interval
        self.export_dir = export_dir
        self.metrics: WorkflowMetrics | None = None
        self._option_ids: list[str] = []
        self._timeline_of: str | None = None  # the run the timeline tab last drew
        self._live_marks: dict[str, tuple[float, Any]] = {}  # run -> (read at, attempt marks)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="metrics-bar"):
            yield Select[str]([], prompt="Pick a run", id="metrics-run")
            yield Button("Export", id="metrics-export", variant="primary",
                         tooltip="Write the report and metrics JSON (e)")
            yield Button("Back", id="metrics-back", tooltip="Go back (escape)")
        with TabbedContent(id="metrics-tabs"):
            with TabPane("This run", id="tab-run"):
                with Horizontal():
                    with VerticalScroll(id="metrics-left"):
                        yield self._panel(FigureGrid(id="metrics-figures"), "Figures")
                        yield self._panel(StatusMixBar(id="metrics-mix"), "Status mix")
                    with Vertical(id="metrics-right"):
                        with VerticalScroll(id="metrics-durations-box", classes="panel") as box:
                            box.border_title = "Task durations (longest first)"
                            yield DurationChart(id="metrics-durations")
                        with Vertical(classes="panel") as trend:
                            trend.border_title = "Duration over past runs"
                            yield Label("", id="metrics-trend-caption")
                            yield TrendChart(id="metrics-trend")
            with TabPane("Timeline", id="tab-timeline"):
                timeline = TimelineView(id="metrics-timeline")
                timeline.border_title = f"Timeline   {LEGEND}"
                yield timeline
            with TabPane("All runs", id="tab-aggregate"):
                with VerticalScroll():
                    yield FigureGrid(id="metrics-aggregate")
            with TabPane("Report", id="tab-report"):
                with VerticalScroll():
                    yield Static("", id="metrics-report")
        yield Footer()

    @staticmethod
    def _panel(widget: Static, title: str) -> Static:
        widget.add_class("panel")
        widget.border_title = title
        return widget

    @property
    def orchestrator(self) -> TaskOrchestrator:
        return self.app.orchestrator

    @property
    def store(self) -> RunStore | None:
        return self.app.store

    def on_mount(self) -> None:
        self.action_reload()
        if self.refresh_interval:
            self.set_interval(self.refresh_interval, self._tick)

    # -- data ---------------------------------------------------------------

    def _run_options(self) -> list[tuple[Text, str]]:
        """(label, run id): this process's runs, newest first, then stored ones."""
        options: list[tuple[Text, str]] = []
        seen: set[str] = set()
        for run in reversed(self.orchestrator.runs()):
            state = run.state
            options.append((safe(f"{state.run_id} · {state.status}"), state.run_id))
            seen.add(state.run_id)
        if self.store is not None:
            try:
                summaries = self.store.list_runs(STORED_RUNS_SHOWN)
            except DeeptuiError as exc:
                self.notify(str(exc), title="History unavailable", severity="error")
                summaries = []
            for summary in summaries:
                if summary.run_id not in seen:
                    options.append((safe(f"{summary.run_id} · {summary.status} (stored)"),
                                    summary.run_id))
                    seen.add(summary.run_id)
        return options

    def _load_metrics(self, run_id: str) -> WorkflowMetrics | None:
        if self.orchestrator.find_run(run_id) is not None:
            return self.orchestrator.get_workflow_metrics(run_id)
        if self.store is not None:
            return self.store.workflow_metrics(run_id)
        return None

    def _past_durations(self, workflow_id: str) -> list[float]:
        """Durations of the workflow's finished runs, oldest first (store, then this process)."""
        durations: dict[str, float] = {}
        if self.store is not None:
            try:
                summaries = self.store.list_runs(STORED_RUNS_SHOWN)
            except DeeptuiError:
                summaries = []
            for summary in reversed(summaries):  # list_runs is newest first
                if summary.workflow_id == workflow_id and summary.duration_seconds is not None \
                        and summary.completed_at is not None:
                    durations[summary.run_id] = float(summary.duration_seconds)
        for run in self.orchestrator.runs():
            state = run.state
            if run.workflow.id == workflow_id and state.completed_at and state.started_at:
                durations.setdefault(
                    state.run_id, (state.completed_at - state.started_at).total_seconds())
        return list(durations.values())

    # -- view ---------------------------------------------------------------

    def _tick(self) -> None:
        """Timer: follow a live run and pick up new runs."""
        if self.metrics is None or self.metrics.status in ("running", "pending"):
            self.action_reload()
        elif len(self._run_options()) != len(self._option_ids):
            self.action_reload()

    def action_reload(self) -> None:
        options = self._run_options()
        ids = [run_id for _, run_id in options]
        if self.run_id is None and ids:
            self.run_id = ids[0]
        select = self.query_one("#metrics-run", Select)
        if ids != self._option_ids:
            self._option_ids = ids
            with select.prevent(Select.Changed):
                select.set_options(options)
                if self.run_id in ids:
                    select.value = self.run_id
        try:
            self.metrics = self._load_metrics(self.run_id) if self.run_id else None
        except DeeptuiError as exc:
            self.metrics = None
            self.notify(str(exc), title="Metrics unavailable", severity="error")
        self._show()

    def _show(self) -> None:
        metrics = self.metrics
        figures = self.query_one("#metrics-figures", FigureGrid)
        if metrics is None:
            message = ("No runs yet: start a workflow, then open the metrics."
                       if not self._option_ids else f"No metrics for run '{self.run_id}'.")
            figures.show_rows([("", message)])
        else:
            figures.show_rows([("Run", metrics.run_id or self.run_id or "")] + run_figures(metrics))
        self.query_one("#metrics-mix", StatusMixBar).show_metrics(metrics)
        self.query_one("#metrics-durations", DurationChart).show_metrics(metrics)
        past = self._past_durations(metrics.workflow_id) if metrics else []
        caption = self.query_one("#metrics-trend-caption", Label)
        if len(past) >= 2:
            caption.update(f"{len(past)} runs: last {format_seconds(past[-1])}, "
                           f"min {format_seconds(min(past))}, max {format_seconds(max(past))}")
        else:
            caption.update("One finished run so far." if past else "No finished runs yet.")
        self.query_one("#metrics-trend", TrendChart).show_values(past)
        self._show_aggregate()
        self._show_timeline()
        report = metrics.get_performance_report(include_usage=True) if metrics else ""
        self.query_one("#metrics-report", Static).update(safe(report, multiline=True))

    def _show_timeline(self, *, tab_opened: bool = False) -> None:
        """The run's Gantt chart, drawn only while its tab shows (a stored run's once)."""
        if self.query_one("#metrics-tabs", TabbedContent).active != "tab-timeline":
            return
        view = self.query_one("#metrics-timeline", TimelineView)
        run_id = self.run_id
        live = self.orchestrator.find_run(run_id) if run_id else None
        if live is not None:  # its attempts read from the history at most every 5 s
            at, marks = self._live_marks.get(run_id, (0.0, None))
            if marks is None or time.monotonic() - at > LIVE_MARKS_EVERY or tab_opened:
                marks = stored_marks(self.store, run_id)
                self._live_marks = {run_id: (time.monotonic(), marks)}
            view.show(build_timeline(live.workflow, live.state, marks, self.app.now()))
        elif run_id is None or self.store is None:
            view.show(None)
        elif self._timeline_of != run_id or tab_opened:
            try:
                stored = self.store.load_run(run_id)
            except DeeptuiError as exc:
                self.notify(str(exc), title="Timeline unavailable", severity="error")
                view.show(None)
                return
            view.show(build_timeline(stored.workflow, stored.state,
                                     stored_marks(self.store, run_id), self.app.now()))
        self._timeline_of = run_id

    @on(TabbedContent.TabActivated, "#metrics-tabs")
    def _tab_opened(self, event: TabbedContent.TabActivated) -> None:
        self._show_timeline(tab_opened=True)

    def _show_aggregate(self) -> None:
        grid = self.query_one("#metrics-aggregate", FigureGrid)
        try:
            stats = self.orchestrator.get_aggregate_stats()
        except DeeptuiError as exc:
            grid.show_rows([("", f"Aggregate statistics unavailable: {exc}")])
            return
        grid.show_rows(aggregate_rows(stats))

    # -- actions ------------------------------------------------------------

    @on(Select.Changed, "#metrics-run")
    def _picked(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.run_id:
            self.run_id = event.value
            self.action_reload()

    def action_show_tab(self, tab: str) -> None:
        self.query_one("#metrics-tabs", TabbedContent).active = tab

    def action_pick(self) -> None:
        select = self.query_one("#metrics-run", Select)
        select.focus()
        select.expanded = True

    def action_export(self) -> None:
        """Write the text report and the metrics JSON; notify both paths."""
        metrics = self.metrics
        if metrics is None:
            self.notify("No run selected: nothing to export.", severity="warning")
            return
        directory = export_directory(self.export_dir)
        slug = file_slug(metrics.run_id or self.run_id or metrics.workflow_id)
        report_path = directory / f"{slug}-report.txt"
        json_path = directory / f"{slug}-metrics.json"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            report_path.write_text(metrics.get_performance_report(include_usage=True) + "\n",
                                   encoding="utf-8")
            json_path.write_text(json.dumps(metrics.to_dict(), indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            self.notify(f"Could not write to '{directory}': {exc}", title="Export failed",
                        severity="error")
            return
        self.notify(f"{report_path}\n{json_path}", title="Metrics exported")

    def action_back(self) -> None:
        self.app.pop_screen()

    @on(Button.Pressed, "#metrics-bar Button")
    async def _button(self, event: Button.Pressed) -> None:
        event.stop()
        await self.run_action({"metrics-export": "export", "metrics-back": "back"}[
            event.button.id or ""])
