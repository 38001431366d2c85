"""`StartScreen`: the home screen: recent runs, templates, workflow files, or a run of this session.

Three tabs: Home (`HomeView`: figures, recent runs to open, re-run or resume,
the templates with their task counts, the workflow files here), Files (the examples
shipped in ``deeptui.workflows/examples``, a path input and a directory tree)
and Runs (this session's runs, running or not, and recent runs from the
history store when there is one).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import (
    DataTable,
    DirectoryTree,
    Footer,
    Header,
    Input,
    Label,
    OptionList,
    TabbedContent,
    TabPane,
)
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from deeptui.errors import DeeptuiError
from deeptui.screens import stored_runs
from deeptui.screens.base import DeeptuiScreen
from deeptui.screens.home import HomeView
from deeptui.visualize.safe_text import text as safe, visible
from deeptui.widgets.bindings import bindings

WORKFLOW_SUFFIXES = {".yaml", ".yml", ".json", ".toml"}
BACKGROUND_DELAY = 0.25  # seconds after the first frame before the engine and counting threads


def example_files() -> list[Path]:
    """The example workflow files shipped with the package, sorted by name."""
    # found without importing deeptui.workflows (its templates load the models)
    spec = importlib.util.find_spec("deeptui.workflows")
    try:
        folders = [Path(p) / "examples" for p in (spec.submodule_search_locations or [])]
        paths = [entry for folder in folders if folder.is_dir() for entry in folder.iterdir()]
    except (AttributeError, OSError):
        return []
    return sorted(p for p in paths if p.suffix in WORKFLOW_SUFFIXES)


class WorkflowTree(DirectoryTree):
    """A directory tree showing folders and workflow files only (no hidden entries)."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if not p.name.startswith(".")
                and (p.is_dir() or p.suffix in WORKFLOW_SUFFIXES)]


def _run_label(name: str, run_id: str, status: str, extra: str = "") -> Text:
    styles = {"running": "bold blue", "completed": "green", "failed": "red",
              "cancelled": "dark_orange", "interrupted": "magenta"}
    text = Text()
    text.append(f"{status:<11} ", style=styles.get(status, "yellow"))  # "interrupted" is 11
    text.append(visible(name), style="bold")  # user text: control characters shown
    text.append(f"  {visible(run_id)}", style="dim")
    if extra:
        text.append(f"  {extra}", style="dim")
    return text


class StartScreen(DeeptuiScreen[None]):
    """The first screen: what to run, or which run to look at."""

    BINDINGS = bindings("start")
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # Home's figures: one line when narrow

    def __init__(self, *, browse_root: Path | None = None) -> None:
        super().__init__()
        self.browse_root = browse_root or Path.cwd()

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="start-tabs", initial="home"):
            with TabPane("Home", id="home"):
                yield HomeView(self.browse_root, id="home-view")
            with TabPane("Files", id="files"):
                yield VerticalScroll(id="files-body")  # filled when first shown (_show_files_tab)
            with TabPane("Runs", id="runs"):
                with Vertical():
                    yield Label("This session's runs (enter to open):", classes="hint")
                    yield OptionList(id="open-runs")
                    yield Label("Recent runs from history:", classes="hint")
                    yield OptionList(id="recent-runs")
        yield Footer()

    def on_mount(self) -> None:
        self._focus_home()
        self.call_after_refresh(self._first_frame_shown)

    def _first_frame_shown(self) -> None:
        """Read the history and the files (the Home tab and Runs); the threads (the engine's
        imports, the templates' counts) start a little later: under the GIL they would slow
        the frames drawn while the terminal first shows the screen."""
        self.query_one(HomeView).fill()
        if self.focused is self.query_one("#template-list"):  # not moved since the first frame
            self._focus_home()  # the recent runs, when there are any
        self.refresh_runs()
        self.set_interval(1.0, self.refresh_runs)
        self.set_timer(BACKGROUND_DELAY, self._start_background)

    def _start_background(self) -> None:
        self.app.warm_up()  # (a no-op in effect once the engine is imported and built)
        self.query_one(HomeView).count_tasks()

    def _focus_home(self) -> None:
        """The recent runs when there are any, else the templates."""
        home = self.query_one(HomeView)
        target = "#home-runs" if home.summaries else "#template-list"
        self.query_one(target).focus()

    def on_screen_resume(self) -> None:
        self._recent_loaded = False  # runs may have ended since: read the history again
        self.refresh_runs()
        home = self.query_one(HomeView)
        if home.filled:  # else its first fill, after the first frame, reads it
            home.reload()

    # -- runs -----------------------------------------------------------------

    def refresh_runs(self) -> None:
        """Redraw this session's runs (only when something about them changed)."""
        runs = self.app.session_runs()
        rows = []
        for run in reversed(runs):
            state = run.state
            done = sum(1 for r in state.task_results.values() if r.status.finished)
            rows.append((run.workflow.name, state.run_id, state.status.value,
                         f"{done}/{len(state.task_results)}"))
        if rows != getattr(self, "_run_rows", None):
            home = self.query_one(HomeView)
            if hasattr(self, "_run_rows") and home.filled:  # a session run moved on: Home too
                home.reload()
            self._run_rows = rows
            open_runs = self.query_one("#open-runs", OptionList)
            highlighted = open_runs.highlighted
            open_runs.clear_options()
            for name, run_id, status, progress in rows:
                open_runs.add_option(Option(_run_label(name, run_id, status, progress),
                                            id=f"run:{run_id}"))
            if not rows:
                open_runs.add_option(Option(Text("No runs yet in this session.", style="dim"),
                                            disabled=True))
            else:
                open_runs.highlighted = min(highlighted or 0, open_runs.option_count - 1)
        if not getattr(self, "_recent_loaded", False):
            self._recent_loaded = True
            self._load_recent()

    def _load_recent(self) -> None:
        recent = self.query_one("#recent-runs", OptionList)
        recent.clear_options()
        store = self.app.store
        summaries: list[Any] = []
        if store is not None:
            try:
                summaries = list(store.list_runs(10))
            except Exception as exc:  # a broken history database is a notification
                self.notify(f"Cannot read the run history: {exc}", severity="warning")
        for summary in summaries:
            started = getattr(summary, "started_at", None)
            extra = started.strftime("%Y-%m-%d %H:%M") if isinstance(started, datetime) else ""
            recent.add_option(Option(
                _run_label(getattr(summary, "workflow_name", "") or summary.workflow_id,
                           summary.run_id, str(getattr(summary, "status", "")), extra),
                id=f"stored:{summary.run_id}"))
        if not summaries:
            text = "No stored runs." if store is not None else "No history store configured."
            recent.add_option(Option(Text(text, style="dim"), disabled=True))

    # -- choosing ---------------------------------------------------------------

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        option_id = event.option.id or ""
        kind, _, value = option_id.partition(":")
        if kind == "template":
            self.open_template(value)
        elif kind == "file":
            self.open_file(Path(value))
        elif kind == "run":
            self.app.open_run(value)
        elif kind == "stored":
            self.app.open_stored_run(value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "path-input" and event.value.strip():
            self.open_file(Path(event.value.strip()).expanduser())

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.open_file(event.path)

    def open_template(self, name: str) -> None:
        from deeptui.screens.parameters import ParametersScreen

        self.app.push_screen(ParametersScreen(template=name))

    def open_file(self, path: Path) -> None:
        """Load a workflow file and preview it; a bad file is a clear one-line message.

        Reading, validating and laying out the file is CPU work that grows with its
        tasks (seconds for 10,000): it runs in a thread, the app stays responsive."""
        self._file_line(safe(f"Loading {path} …", "dim"))
        self._load_file(path)

    @work(thread=True, exclusive=True, group="open-file", exit_on_error=False,
          description="load a workflow file")
    def _load_file(self, path: Path) -> None:
        from deeptui.loader import load_workflow
        from deeptui.widgets.line_view import no_gc_pauses, workflow_lines

        worker = get_current_worker()
        try:
            with no_gc_pauses():
                workflow = load_workflow(path)
                lines = workflow_lines(workflow)
        except DeeptuiError as exc:
            self.app.call_from_thread(self._file_failed, str(exc), None)
            return
        except OSError as exc:
            self.app.call_from_thread(self._file_failed, None, f"{path}: {exc.strerror}")
            return
        if not worker.is_cancelled:  # another file was picked meanwhile
            self.app.call_from_thread(self._file_loaded, workflow, path, lines)

    def _file_line(self, text: Text | str) -> None:
        """The Files tab's line under the path (none before that tab is first shown: a file
        opened from Home says what went wrong in the notification alone)."""
        for label in self.query("#file-error").results(Label):
            label.update(text)

    def _file_failed(self, error: str | None, os_error: str | None) -> None:
        if error is not None:
            self._file_line(safe(error, "bold red"))
            self.notify(error, title="Cannot load the workflow file", severity="error", timeout=8)
        else:
            self._file_line("")
            self.notify(os_error or "", severity="error")

    def _file_loaded(self, workflow: Any, path: Path, lines: Any) -> None:
        from deeptui.screens.parameters import ParametersScreen

        self._file_line("")
        self.app.push_screen(ParametersScreen(workflow=workflow, source=str(path), lines=lines))

    def _show_files_tab(self) -> None:
        """The Files tab's widgets (the directory tree reads the disk in a worker): mounted the
        first time the tab is shown, not for the first frame."""
        body = self.query_one("#files-body", VerticalScroll)
        if body.children:
            return
        body.mount_all([
            Label("Examples shipped with deeptui:", classes="hint"),
            OptionList(*[Option(Text(p.name), id=f"file:{p}") for p in example_files()],
                       id="example-list"),
            Label("A workflow file (YAML, JSON, TOML) — type a path, enter:", classes="hint"),
            Input(placeholder="path/to/workflow.yaml", id="path-input"),
            Label("", id="file-error"),
            WorkflowTree(self.browse_root, id="file-tree")])

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "files":
            self._show_files_tab()

    def action_show_tab(self, tab: str) -> None:
        if tab == "files":
            self._show_files_tab()
        self.query_one(TabbedContent).active = tab
        if tab == "home":
            self._focus_home()
            return
        self.query_one({"files": "#example-list", "runs": "#open-runs"}[tab]).focus()

    # -- the Home tab's recent runs (as History does: deeptui.screens.stored_runs) ----

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "home-runs" and event.row_key.value is not None:
            event.stop()
            stored_runs.open_run(self.app, str(event.row_key.value))

    def _home_run(self) -> str | None:
        """The run under the Home tab's cursor, or None after saying why there is none."""
        run_id = self.query_one(HomeView).selected_run_id
        if run_id is None:
            self.notify("No run selected: recent runs are on the Home tab (1).",
                        severity="warning")
        return run_id

    def action_rerun(self) -> None:
        run_id = self._home_run()
        if run_id is not None:
            stored_runs.rerun(self.app, run_id)

    def action_resume(self) -> None:
        run_id = self._home_run()
        if run_id is not None:
            stored_runs.resume_run(self.app, run_id, self.query_one(HomeView).summaries.get(run_id))


class GoesHome:
    """Mixed into the app: ``action_home`` (the ``home`` binding, ``H``) from any screen."""

    def action_home(self) -> None:
        """Back to the start screen's Home tab, whatever is on top (screens above are closed)."""
        app: Any = self
        while len(app.screen_stack) > 1 and not isinstance(app.screen, StartScreen):
            app.pop_screen()
        if not isinstance(app.screen, StartScreen):
            app.push_screen(StartScreen())
        else:
            app.screen.action_show_tab("home")
