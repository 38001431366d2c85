"""The history screen: past runs from the SQLite store; open, resume, re-run, export."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Footer, Header, Static

from deeptui.errors import DeeptuiError
from deeptui.screens import stored_runs
from deeptui.screens.base import DeeptuiScreen
from deeptui.widgets.bindings import bindings
from deeptui.widgets.table_cursor import cursor_row_key
from deeptui.screens.metrics import export_directory, file_slug
from deeptui.widgets.metrics_charts import STATUS_STYLES, format_seconds
from deeptui.visualize.safe_text import text as safe

RUNS_SHOWN = 200
NO_STORE = ("Run history is not available: this session has no history database, "
            "so runs are not recorded.\nThe database is set with the `db` setting "
            "(settings file or command line).")

if TYPE_CHECKING:
    from deeptui.store import RunStore


def format_started(value: datetime | str | None) -> str:
    """``2025-01-31 14:05`` in local time (the stored timestamp when it is text)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value[:16].replace("T", " ")
    if value.tzinfo is not None:
        value = value.astimezone()
    return value.strftime("%Y-%m-%d %H:%M")


class RunTable(DataTable[Any]):
    """The runs, newest first; `enter` opens the run under the cursor."""

    BINDINGS = bindings("history_table")
    COLUMNS = ("Run", "Status", "Workflow", "Started", "Duration", "Tasks", "Model")  # status in 80 cols

    def on_mount(self) -> None:
        for label in self.COLUMNS:
            self.add_column(label, key=label.lower())

    def show_runs(self, summaries: list[Any]) -> None:
        previous = self.selected_run_id
        self.clear()
        for s in summaries:
            status = str(s.status)
            self.add_row(
                safe(s.run_id),  # user text (ids, names, models): never markup
                Text(status, style=STATUS_STYLES.get(status, "")),
                safe(s.workflow_name or s.workflow_id),
                format_started(s.started_at),
                Text("—" if s.duration_seconds is None else format_seconds(s.duration_seconds),
                     justify="right"),
                Text(f"{s.completed}/{s.total_tasks}", justify="right"),
                safe(s.model or "—"),
                key=s.run_id,
            )
        ids = [s.run_id for s in summaries]
        if previous in ids:
            self.move_cursor(row=ids.index(previous))

    @property
    def selected_run_id(self) -> str | None:
        return cursor_row_key(self)


class HistoryScreen(DeeptuiScreen[None]):
    """``HistoryScreen(*, export_dir=None)``: the runs in ``self.app.store``.

    Opens a run with ``app.open_stored_run``, resumes with ``app.resume_run``
    and re-runs with ``app.start_run(stored.workflow)``.
    """

    TITLE = "History"
    DEFAULT_CSS = """
    HistoryScreen #history-runs { height: 1fr; border: round $primary; }
    HistoryScreen #history-detail { height: auto; max-height: 4; padding: 0 1; color: $text-muted; }
    HistoryScreen #history-message { height: 1fr; padding: 1 2; }
    HistoryScreen #history-buttons { height: auto; padding: 0 1; }
    HistoryScreen #history-buttons Button { margin-right: 1; min-width: 10; }
    """
    BINDINGS = bindings("history")

    def __init__(self, *, export_dir: Path | None = None) -> None:
        super().__init__()
        self.export_dir = export_dir
        self.summaries: dict[str, Any] = {}

    @property
    def store(self) -> RunStore | None:
        return self.app.store

    def compose(self) -> ComposeResult:
        yield Header()
        table = RunTable(id="history-runs", cursor_type="row", zebra_stripes=True)
        table.border_title = "Runs (newest first)"
        yield table
        yield Static(NO_STORE, id="history-message")
        yield Static("", id="history-detail")
        with Horizontal(id="history-buttons"):
            yield Button("Open", id="history-open", variant="primary",
                         tooltip="Open the selected run (enter)")
            yield Button("Resume", id="history-resume", variant="warning",
                         tooltip="Continue an unfinished run (R)")
            yield Button("Re-run", id="history-rerun", tooltip="Run the workflow again (n)")
            yield Button("Export JSON", id="history-export", tooltip="Write the run as JSON (e)")
            yield Button("Back", id="history-back", tooltip="Go back (escape)")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()
        self.query_one(RunTable).focus()

    # -- view ---------------------------------------------------------------

    def action_reload(self) -> None:
        store = self.store
        self.query_one("#history-message").display = store is None
        self.query_one(RunTable).display = store is not None
        if store is None:
            return
        try:
            summaries = store.list_runs(RUNS_SHOWN)
        except DeeptuiError as exc:
            self.notify(str(exc), title="History unavailable", severity="error")
            return
        self.summaries = {s.run_id: s for s in summaries}
        table = self.query_one(RunTable)
        table.show_runs(summaries)
        if not summaries:
            self.query_one("#history-detail", Static).update(
                "No runs recorded yet: runs appear here as soon as they start.")
        else:
            self._show_detail(table.selected_run_id)

    @on(DataTable.RowHighlighted, "#history-runs")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(str(event.row_key.value) if event.row_key else None)

    def _show_detail(self, run_id: str | None) -> None:
        s = self.summaries.get(run_id or "")
        detail = self.query_one("#history-detail", Static)
        resume = self.query_one("#history-resume", Button)
        resume.disabled = s is None or str(s.status) == "completed"  # nothing to resume
        resume.tooltip = ("A completed run has nothing to resume: re-run it (n)" if resume.disabled
                          else "Continue an unfinished run (R)")
        if s is None:
            detail.update("")
            return
        line = safe(f"{s.run_id}: ", "bold")
        line.append(f"{s.completed} completed, {s.failed} failed, {s.skipped} skipped, "
                    f"{s.cancelled} cancelled of {s.total_tasks}")
        if getattr(s, "resumes", 0):
            line.append(f"; resumed {s.resumes}x")
        if getattr(s, "error", None):
            line.append("\n").append_text(safe(s.error, "red", multiline=True))
        detail.update(line)

    # -- actions ------------------------------------------------------------

    def _selected(self) -> str | None:
        """The run under the cursor, or None after telling the user why there is none."""
        if self.store is None:
            self.notify("No history database in this session.", severity="warning")
            return None
        run_id = self.query_one(RunTable).selected_run_id
        if run_id is None:
            self.notify("Select a run first.", severity="warning")
        return run_id

    @on(DataTable.RowSelected, "#history-runs")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        run_id = self._selected()
        if run_id is not None:
            stored_runs.open_run(self.app, run_id)

    def action_resume(self) -> None:
        run_id = self._selected()
        if run_id is not None:
            stored_runs.resume_run(self.app, run_id, self.summaries.get(run_id))

    def action_rerun(self) -> None:
        run_id = self._selected()
        if run_id is not None:
            stored_runs.rerun(self.app, run_id)

    def action_export(self) -> None:
        run_id, store = self._selected(), self.store
        if run_id is None or store is None:
            return
        path = export_directory(self.export_dir) / f"{file_slug(run_id)}-run.json"
        try:
            document = store.export_run(run_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
        except DeeptuiError as exc:
            self.notify(str(exc), title="Export failed", severity="error")
            return
        except OSError as exc:
            self.notify(f"Could not write '{path}': {exc}", title="Export failed",
                        severity="error")
            return
        self.notify(str(path), title="Run exported")

    def action_back(self) -> None:
        self.app.pop_screen()

    @on(Button.Pressed, "#history-buttons Button")
    async def _button(self, event: Button.Pressed) -> None:
        event.stop()
        action = {"history-open": "open", "history-resume": "resume", "history-rerun": "rerun",
                  "history-export": "export", "history-back": "back"}[event.button.id or ""]
        await self.run_action(action)
