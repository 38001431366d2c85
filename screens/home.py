"""`HomeView`: the start screen's Home tab: recent runs, figures, templates, workflow files here.

What a user comes back to: the figures of the history (runs today, success
rate, stored runs, running now), the recent runs from the history store with
their status, duration, age and task counts (enter opens one, ``n`` re-runs it,
``R`` resumes it: `deeptui.screens.stored_runs`, as History does) and the timeline
of the one under the cursor (loaded in a thread), the templates
with their task counts (listed then counted in a thread: importing the models
and building them takes a few hundred milliseconds the first frame should not
wait for), and the workflow files of
the working directory (and its sub-directories, one level down).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from deeptui.errors import DeeptuiError
from deeptui.keymap import key_label
from deeptui.visualize.safe_text import text as safe, visible
from deeptui.widgets.timeline import TimelineView
from deeptui.widgets.table_cursor import cursor_row_key

RECENT_RUNS = 100  # rows in the recent runs table (and the runs the figures count)
FILES_SHOWN = 60
WORKFLOW_SUFFIXES = (".yaml", ".yml", ".json", ".toml")
FINISHED = ("completed", "failed", "cancelled")
LOADING = "loading…"
WELCOME = """Start a run: pick a template on the right (enter), or a workflow file: those of \
this directory are listed on the right, the examples shipped with deeptui and a file browser \
are on the Files tab ({tab_files}).

While it runs: the DAG, each task's log and output; {cancel_task} cancels a task, \
{retry_task} retries it, {timeline} shows the run as a timeline.

Every run is recorded in the history: it shows up here, with its timeline, to open, \
re-run ({start.rerun}) or resume ({start.resume}). {home} comes back here from any screen, \
{help} lists every key.

Without the app: deeptui run workflow.yaml (deeptui --help)."""


def welcome_text(keymap: dict[str, str] | None) -> str:
    """The getting-started text with the keys as bound (a rebound key shows as rebound)."""
    names = re.findall(r"{([\w.]+)}", WELCOME)
    text = WELCOME
    for name in names:
        text = text.replace("{" + name + "}", key_label(name, keymap))
    return text


def ago(when: datetime | None, now: datetime) -> str:
    """``just now``, ``12m ago``, ``3h ago``, ``2d ago``, else the date."""
    if when is None:
        return "—"
    seconds = (now - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)}m ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h ago"
    if seconds < 7 * 86400:
        return f"{int(seconds // 86400)}d ago"
    return when.astimezone().strftime("%Y-%m-%d")


def figures(summaries: list[Any], now: datetime, running: int) -> list[tuple[str, str]]:
    """(value, label) cards: runs today, success rate, stored runs, running now."""
    today = now.astimezone().date()
    runs_today = sum(1 for s in summaries if s.started_at is not None
                     and s.started_at.astimezone().date() == today)
    ended = [s for s in summaries if str(s.status) in FINISHED]
    done = sum(1 for s in ended if str(s.status) == "completed")
    rate = f"{100 * done / len(ended):.0f}%" if ended else "—"
    week = [s for s in summaries if s.started_at is not None
            and now - s.started_at < timedelta(days=7)]
    return [(str(runs_today), "runs today"),
            (rate, f"success rate ({done} of {len(ended)} ended)"),
            (str(len(week)), "runs this week"),
            (str(running), "running now")]


def workflow_files(root: Path) -> list[Path]:
    """Workflow-looking files in ``root`` and one level below (no hidden entries), by path."""
    found: list[Path] = []
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            children = sorted(entry.iterdir()) if entry.is_dir() else [entry]
        except OSError:
            continue
        found += [p for p in children if p.suffix in WORKFLOW_SUFFIXES
                  and not p.name.startswith(".") and _names_tasks(p)]
        if len(found) >= FILES_SHOWN:
            break
    return found[:FILES_SHOWN]


def _names_tasks(path: Path) -> bool:
    """Whether a file mentions ``tasks`` near its start (pyproject.toml and the like do not)."""
    try:
        with path.open("rb") as handle:
            return b"tasks" in handle.read(65536)
    except OSError:
        return False


class RecentRuns(DataTable[Any]):
    """The history's newest runs; the row key is the run id."""

    # fixed widths first, the workflow's name (any length) last: at 80 columns all but its end show
    COLUMNS = ("Status", "Tasks", "When", "Duration", "Workflow")  # tasks: done/total ✗failed

    def on_mount(self) -> None:
        for label in self.COLUMNS:
            self.add_column(label, key=label.lower())

    @property
    def selected_run_id(self) -> str | None:
        return cursor_row_key(self)


class HomeView(Vertical):
    """Figures over recent runs and templates with workflow files (``reload`` reads the store)."""

    SCOPED_CSS = False  # the narrow rules below start from the screen's -narrow class
    DEFAULT_CSS = """
    HomeView { height: 1fr; }
    HomeView #home-figures { height: 3; }
    .-narrow HomeView #home-figures { height: 1; }
    .-narrow HomeView .home-card { height: 1; border: none; background: $boost; margin-right: 1; }
    .-narrow HomeView #home-right { width: 2fr; min-width: 26; }
    .-narrow HomeView #home-run-detail { max-height: 2; }
    HomeView .home-card { width: 1fr; height: 3; border: round $primary 50%;
                          content-align: center middle; text-wrap: nowrap; text-overflow: ellipsis; }
    HomeView #home-body { height: 1fr; }
    HomeView #home-left { width: 3fr; height: 1fr; }
    HomeView #home-right { width: 2fr; min-width: 30; height: 1fr; }
    HomeView #home-runs { height: auto; max-height: 50%; min-height: 5;
                          border: round $primary 60%; }
    HomeView #home-timeline { height: 1fr; min-height: 5; }
    HomeView #home-welcome { height: 1fr; border: round $primary 60%; padding: 1 2; }
    HomeView #home-runs:focus { border: round $primary; }
    HomeView #home-run-detail { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    HomeView #template-list { height: auto; max-height: 60%; border: round $primary 60%; }
    HomeView #home-files { height: 1fr; min-height: 4; border: round $primary 60%; }
    HomeView #template-list:focus, HomeView #home-files:focus { border: round $primary; }
    """

    def __init__(self, root: Path, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.root = root
        self.summaries: dict[str, Any] = {}
        self._timeline_of: tuple[Any, ...] | None = None  # the run (and its state) drawn
        self.filled = False  # the history read and the files listed (after the first frame)

    def _keymap(self) -> dict[str, str]:
        settings = getattr(self.app, "settings", None)
        return getattr(settings, "keymap", None) or {}

    def compose(self) -> ComposeResult:
        with Horizontal(id="home-figures"):
            for n in range(4):
                yield Static(Text(LOADING, style="dim"), id=f"home-card-{n}", classes="home-card")
        with Horizontal(id="home-body"):
            with Vertical(id="home-left"):
                runs = RecentRuns(id="home-runs", cursor_type="row", zebra_stripes=True)
                runs.border_title = "Recent runs"
                keymap = self._keymap()
                runs.border_subtitle = (f"enter open · {key_label('start.rerun', keymap)} re-run"
                                        f" · {key_label('start.resume', keymap)} resume")
                yield runs
                yield Static(Text(f"Reading the run history {LOADING}", style="dim"),
                             id="home-run-detail")
                timeline = TimelineView(id="home-timeline")
                timeline.border_title = "Timeline of the selected run"
                timeline.display = False
                yield timeline
                welcome = Static(welcome_text(self._keymap()), id="home-welcome")
                welcome.border_title = "Getting started"
                yield welcome
            with Vertical(id="home-right"):
                templates = OptionList(Option(Text(LOADING, style="dim"), disabled=True),
                                       id="template-list")
                templates.border_title = "Templates"
                yield templates
                files = OptionList(Option(Text(LOADING, style="dim"), disabled=True),
                                   id="home-files")
                files.border_title = "Workflow files here"
                yield files

    def fill(self) -> None:
        """Read the history and list the files here (the start screen calls it after its first
        frame; ``count_tasks`` is started one frame later)."""
        if not self.is_attached:
            return
        self.reload()
        self.show_files()

    # -- recent runs --------------------------------------------------------------

    def reload(self) -> None:
        """Read the recent runs and redraw them and the figures."""
        from deeptui.widgets.metrics_charts import STATUS_STYLES, format_seconds

        self.filled = True
        store = self.app.store
        summaries: list[Any] = []
        if store is not None:
            try:
                summaries = list(store.list_runs(RECENT_RUNS))
            except (DeeptuiError, OSError) as exc:
                self.notify(f"Cannot read the run history: {exc}", severity="warning")
        now = self.app.now()
        running = len(self.app.running_runs())
        for n, (value, label) in enumerate(figures(summaries, now, running)):
            card = Text(f"{value}  ", style="bold")  # (spaces kept with the value: see _template_label)
            card.append(label, style="dim")
            self.query_one(f"#home-card-{n}", Static).update(card)
        self.summaries = {s.run_id: s for s in summaries}
        table = self.query_one(RecentRuns)
        previous = table.selected_run_id
        table.clear()
        for s in summaries:
            status = str(s.status)
            table.add_row(
                Text(status, style=STATUS_STYLES.get(status, "")),
                _tasks_cell(s),
                ago(s.started_at, now),
                Text("—" if s.duration_seconds is None else format_seconds(s.duration_seconds),
                     justify="right"),
                safe(s.workflow_name or s.workflow_id),
                key=s.run_id)
        ids = list(self.summaries)
        if previous in ids:
            table.move_cursor(row=ids.index(previous))
        self._show_detail(table.selected_run_id)
        self.query_one(TimelineView).display = bool(summaries)
        self.query_one("#home-welcome").display = not summaries
        if not summaries:
            self.query_one("#home-run-detail", Static).update(
                "No stored runs yet: pick a template or a workflow file to start one."
                if store is not None else "No history database: runs are not recorded.")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(str(event.row_key.value) if event.row_key else None)

    def _show_detail(self, run_id: str | None) -> None:
        s = self.summaries.get(run_id or "")
        if s is None:
            self.query_one("#home-run-detail", Static).update("")
            self.query_one(TimelineView).show(None)
            return
        if self._timeline_of != (s.run_id, s.status, s.completed_at):
            self._timeline_of = (s.run_id, s.status, s.completed_at)
            self._load_timeline(s.run_id)
        line = safe(s.run_id, "bold")
        line.append(f"  {s.completed} completed, {s.failed} failed, {s.skipped} skipped, "
                    f"{s.cancelled} cancelled of {s.total_tasks}")
        if s.error:
            line.append("\n").append_text(safe(s.error, "red"))
        self.query_one("#home-run-detail", Static).update(line)

    @property
    def selected_run_id(self) -> str | None:
        return self.query_one(RecentRuns).selected_run_id

    @work(thread=True, exclusive=True, group="home-timeline", exit_on_error=False,
          description="load the selected run's timeline")
    def _load_timeline(self, run_id: str) -> None:
        """The run from the history (the store's reads take its lock), drawn as a timeline."""
        from deeptui.timeline import build_timeline, stored_marks

        store = self.app.store
        if store is None:
            return
        try:
            stored = store.load_run(run_id)
            timeline = build_timeline(stored.workflow, stored.state, stored_marks(store, run_id),
                                      self.app.now())
        except DeeptuiError:  # a damaged run: the row says what there is
            timeline = None
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_timeline, run_id, timeline)

    def _show_timeline(self, run_id: str, timeline: Any) -> None:
        view = self.query_one(TimelineView)
        view.border_title = f"Timeline of {visible(run_id)}"
        view.show(timeline)

    # -- templates and files ----------------------------------------------------------

    @work(thread=True, exclusive=True, group="home-templates", exit_on_error=False,
          description="count the templates' tasks")
    def count_tasks(self) -> None:
        from deeptui.workflows.registry import list_templates  # (the models: a few 100 ms)

        templates = list_templates()
        self.app.call_from_thread(self._show_counts, [(t.name, t.title, t.description, None)
                                                      for t in templates])
        counts: list[tuple[str, str, str, int | None]] = []
        for template in templates:
            try:
                count: int | None = len(template.build().tasks)
            except Exception:  # a template whose defaults do not build: no count
                count = None
            counts.append((template.name, template.title, template.description, count))
        self.app.call_from_thread(self._show_counts, counts)

    def _show_counts(self, counts: list[tuple[str, str, str, int | None]]) -> None:
        options = self.query_one("#template-list", OptionList)
        if options.get_option_at_index(0).disabled:  # the placeholder: list them
            options.clear_options()
            options.add_options([Option(_template_label(title, description, count),
                                        id=f"template:{name}")
                                 for name, title, description, count in counts])
            options.highlighted = 0
            return
        for name, title, description, count in counts:
            try:
                options.replace_option_prompt(f"template:{name}",
                                              _template_label(title, description, count))
            except Exception:  # the template was registered after the list was drawn
                continue

    def show_files(self) -> None:
        files = self.query_one("#home-files", OptionList)
        files.clear_options()
        found = workflow_files(self.root)
        files.border_title = "Workflow files here"
        files.border_subtitle = visible(_short(self.root))
        for path in found:
            shown = path.relative_to(self.root) if path.is_relative_to(self.root) else path
            files.add_option(Option(safe(str(shown)), id=f"file:{path}"))
        if found:
            files.highlighted = 0  # enter opens the first one without an arrow key first
        else:
            files.add_option(Option(Text("None here: the Files tab (2) has the examples "
                                         "and a file browser.", style="dim"), disabled=True))


def _tasks_cell(summary: Any) -> Text:
    """``6/8`` (completed of all), then ``✗1`` in red when tasks failed."""
    cell = Text(f"{summary.completed}/{summary.total_tasks}")
    if summary.failed:
        cell.append(f" ✗{summary.failed}", style="red")
    return cell


def _template_label(title: str, description: str, count: int | None) -> Text:
    label = Text()
    # spaces end a span rather than start one: SVG renderers drop a span's leading spaces
    label.append(title + ("  " if count is not None else ""), style="bold")
    if count is not None:
        label.append(f"{count} tasks", style="cyan")
    label.append("\n  ").append(description, style="dim")
    return label


def _short(path: Path) -> str:
    """The path with the home directory as ``~``."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)
