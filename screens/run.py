"""`RunScreen`: one run live (or a stored run read-only): DAG, task details, streaming log, steering.

The screen subscribes to the orchestrator's bus for its run in a worker and
applies events in batches (one repaint per batch, about every 0.15 s, never
one per event). It steers only through the orchestrator's methods
(``cancel_task``, ``retry_task``, ``cancel_workflow``; ``answer_approval`` and
``apply_changes`` from `run_files`), as every other screen and the CLI do.

What it draws it reads from the run's live `WorkflowState`, the object the
engine's `StateManager` updates, not from a copy: the engine runs on the app's
event loop, so a read between two awaits never sees a half-made change. The
screen never writes to it. Events only say when to redraw (and carry the new
log lines). A stored run is drawn from the state the history store rebuilt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Input

from deeptui import bus as ev
from deeptui.widgets.bindings import bindings
from deeptui.models import TaskStatus, WorkflowDefinition, WorkflowState, WorkflowStatus
from deeptui.visualize.safe_text import visible
from deeptui.screens.base import DeeptuiScreen
from deeptui.screens.confirm import ConfirmScreen
from deeptui.screens.output import TaskOutput
from deeptui.screens.run_files import RunFiles
from deeptui.screens.run_timeline import RunTimeline
from deeptui.widgets.action_bar import ActionBar
from deeptui.widgets.dag_panel import DagPanel
from deeptui.widgets.dag_view import DagView
from deeptui.widgets.run_header import RunHeader
from deeptui.widgets.task_detail import TaskDetail
from deeptui.widgets.task_log import AttemptStarts, TaskLogView

if TYPE_CHECKING:
    from deeptui.scheduler.run import Run

BATCH_INTERVAL = 0.15  # seconds events are gathered before one repaint
LOG_DELAY = 0.05  # seconds a selection must rest before its log is loaded
CANCELLABLE = {TaskStatus.PENDING, TaskStatus.RUNNING}
RETRYABLE = {TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.SKIPPED}
LogEntry = tuple[float, str, str]
# every action of the screen, clickable in the action bar (binding id, label)
STEERING = (("cancel_task", "Cancel"), ("retry_task", "Retry"), ("refresh_task", "Run again"),
            ("cancel_run", "Cancel run"), ("refresh_run", "Run all again"), ("approvals", "Approvals"))
VIEWING = (("output", "Output"), ("diff", "Diff"), ("filter", "Filter"), ("follow", "Follow"),
           ("toggle_graph", "Graph/list"), ("follow_frontier", "Follow running"),
           ("timeline", "Timeline"), ("copy", "Copy"), ("export", "Export"),
           ("metrics", "Metrics"), ("cache", "Cache"), ("history", "History"), ("help", "Help"),
           ("run_back", "Back"), ("palette", "Palette"))
# shown only where they add no row to the bar (at 80 columns it keeps its three), first first
OPTIONAL = ("palette", "timeline", "toggle_graph", "refresh_run", "follow_frontier")
ACTIONS = STEERING + VIEWING


class RunScreen(RunTimeline, RunFiles, TaskOutput, DeeptuiScreen[None]):
    """A run by id: live from the orchestrator, or a stored one (``workflow`` and ``state`` given)."""

    BINDINGS = bindings("run")
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    # offered in the palette by TaskCommands, only when they apply to the selected task
    PALETTE_CONDITIONAL = frozenset({"cancel_task", "retry_task", "cancel_run"})

    def __init__(self, run_id: str, *, run: Run | None = None,
                 workflow: WorkflowDefinition | None = None, state: WorkflowState | None = None,
                 logs: dict[str, list[LogEntry]] | None = None) -> None:
        super().__init__()
        if run is not None:
            workflow, state = run.workflow, run.state
        elif workflow is None or state is None:
            raise ValueError("RunScreen needs a live run, or a stored run's workflow and state")
        self.run_id = run_id
        self.read_only = run is None
        self.workflow: WorkflowDefinition = workflow
        self.state: WorkflowState = state
        self.stored_logs = logs or {}
        self.subscription: ev.Subscription | None = None
        self.batches = 0
        self.events_seen = 0
        self._log_timer: Timer | None = None
        self.answered: set[str] = set()  # approval requests seen answered
        self.attempts = AttemptStarts()  # separators in the log between a task's attempts

    # -- layout ------------------------------------------------------------

    def compose(self) -> ComposeResult:
        clock = self.app.now
        yield RunHeader(clock, id="run-header", run=self.app.orchestrator.find_run(self.run_id))
        yield Input(placeholder="filter: part of a task id, or a status (failed, running...)",
                    id="run-filter", compact=True)
        with Horizontal(id="run-body"):
            yield DagView(self.workflow, self.state, id="dag")  # graph or list, its own title
            with Vertical(id="run-side"):
                detail = TaskDetail(clock, id="task-detail")
                detail.border_title = "Task"
                yield detail
                log = TaskLogView(id="task-log", show_time=self.app.log_times)
                log.border_title = "Log"
                yield log
        yield ActionBar(VIEWING if self.read_only else ACTIONS, optional=OPTIONAL,
                        widgets=("DagView",), id="run-actions")

    @property
    def dag(self) -> DagView:
        return self.query_one(DagView)

    @property
    def log_view(self) -> TaskLogView:
        return self.query_one(TaskLogView)

    @property
    def selected(self) -> str | None:
        return self.dag.selected

    def on_mount(self) -> None:
        self.title = self.workflow.name
        self.refresh_all()
        self._show_task(self.selected)
        self.dag.focus()
        if not self.read_only:
            self.subscription = self.app.orchestrator.bus.subscribe(maxsize=5000,
                                                                    run_id=self.run_id)
            self.watch_events()
            self.set_interval(1.0, self._tick)
            self.refresh_approvals()

    def on_unmount(self) -> None:
        if self.subscription is not None:
            self.subscription.close()

    # -- events in, in batches ------------------------------------------------

    @work(exclusive=True, group="run-events", exit_on_error=False, description="run events")
    async def watch_events(self) -> None:
        sub = self.subscription
        while sub is not None and not sub.closed:
            try:
                first = await sub.get()
            except StopAsyncIteration:
                return
            await asyncio.sleep(BATCH_INTERVAL)
            self.apply_batch([first, *sub.drain()])

    def apply_batch(self, batch: list[ev.Event]) -> None:
        """Apply many events with one repaint of each widget."""
        self.batches += 1
        self.events_seen += len(batch)
        statuses = False
        finished: ev.WorkflowFinished | None = None
        new_lines: list[LogEntry] = []
        shown = self.log_view.task_id
        for event in batch:
            if isinstance(event, ev.TaskLog):
                if event.task_id == shown:
                    new_lines.append((event.ts, event.kind, event.text))
            elif isinstance(event, ev.WorkflowFinished):
                finished, statuses = event, True
            else:
                statuses = True
                if isinstance(event, ev.TaskStarted):  # a separator before a new attempt
                    separator = self.attempts.note(event.task_id, event.ts, self.task_log)
                    new_lines.extend(separator if event.task_id == shown else ())
        with self.app.batch_update():
            if statuses:
                self.refresh_all()
            if new_lines:
                self.log_view.append(new_lines)
            if statuses and shown is not None and self.state.task_results[shown].status.finished:
                self.log_view.flush()  # the stream ended: show its last partial line
        self.note_approvals(batch)
        if finished is not None:
            severity = "information" if finished.status == "completed" else "warning"
            message = f"Run {finished.status}" + (f": {finished.error}" if finished.error else "")
            self.notify(message, title=self.workflow.name, severity=severity)

    def refresh_all(self) -> None:
        self.dag.rebuild()
        self.query_one(RunHeader).update_from(self.state, read_only=self.read_only)
        self._show_detail(self.selected)

    def _tick(self) -> None:
        if self.state.status is WorkflowStatus.RUNNING:
            self.query_one(RunHeader).update_from(self.state, read_only=self.read_only)
            self._show_detail(self.selected)

    # -- selection -------------------------------------------------------------

    def on_dag_panel_selected(self, message: DagPanel.Selected) -> None:
        """Details at once; the log shortly after the selection rests (holding ↓ stays fast)."""
        self._show_detail(message.task_id)
        if self._log_timer is not None:
            self._log_timer.stop()
        self._log_timer = self.set_timer(LOG_DELAY, self._show_selected_log)

    def _show_selected_log(self) -> None:
        self._log_timer = None
        if self.log_view.task_id != self.selected:
            self._show_task(self.selected)

    def _show_detail(self, task_id: str | None) -> None:
        task = result = None
        if task_id is not None:
            task = next((t for t in self.workflow.tasks if t.id == task_id), None)
            result = self.state.task_results.get(task_id)
        self.query_one(TaskDetail).show(task, result, self.files_log(task))

    def _show_task(self, task_id: str | None) -> None:
        self._show_detail(task_id)
        self.log_view.show(task_id, self.attempts.merged(task_id, self.task_log))

    def task_log(self, task_id: str) -> list[LogEntry]:
        if self.read_only:
            return list(self.stored_logs.get(task_id, []))
        return self.app.orchestrator.get_task_log(self.run_id, task_id)

    def select_task(self, task_id: str) -> None:
        self.dag.select(task_id)

    # -- commands out ------------------------------------------------------------

    def _selected_status(self) -> TaskStatus | None:
        result = self.state.task_results.get(self.selected or "")
        return TaskStatus(result.status) if result is not None else None

    def can_cancel(self) -> bool:
        return not self.read_only and self._selected_status() in CANCELLABLE

    def can_retry(self) -> bool:
        return not self.read_only and self._selected_status() in RETRYABLE

    def _steer(self, action: Callable[[], bool]) -> bool:
        """Call one of the orchestrator's steering methods; its answer (True if obeyed)."""
        try:
            return bool(action())
        except Exception as exc:  # an engine refusal is a notification, not a traceback
            self.notify(str(exc), title="Command failed", severity="error")
            return False

    def action_cancel_task(self) -> None:
        task_id = self.selected
        if task_id is None:
            self.notify("No task selected", severity="warning")
            return
        if not self.can_cancel():
            why = "stored runs are read-only" if self.read_only else "only pending or running tasks"
            self.notify(f"Cannot cancel {task_id}: {why}", severity="warning")
            return
        if self._steer(lambda: self.app.orchestrator.cancel_task(self.run_id, task_id)):
            self.notify(f"Cancelling {task_id}")
        else:
            self.notify(f"{task_id} could not be cancelled", severity="warning")

    def action_retry_task(self) -> None:
        task_id = self.selected
        if task_id is None:
            self.notify("No task selected", severity="warning")
            return
        if not self.can_retry():
            why = ("stored runs are read-only (resume it from History)" if self.read_only
                   else "only failed, cancelled or skipped tasks")
            self.notify(f"Cannot retry {task_id}: {why}", severity="warning")
            return
        if self._steer(lambda: self.app.orchestrator.retry_task(self.run_id, task_id)):
            self.notify(f"Retrying {task_id} and its downstream")
        else:
            self.notify(f"{task_id} could not be retried", severity="warning")

    def action_cancel_run(self) -> None:
        if self.read_only or self.state.status.finished:
            self.notify("The run is not running", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes and self._steer(
                    lambda: self.app.orchestrator.cancel_workflow(self.run_id)):
                self.notify("Cancelling the run")

        self.app.push_screen(ConfirmScreen(f"Cancel the whole run {self.run_id}?",
                                           yes="Cancel run", no="Keep running"), answered)

    # -- view actions --------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#run-filter", Input)
        box.add_class("-active")
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#run-filter", Input)
        if box.has_class("-active") or box.value:
            box.value = ""
            box.remove_class("-active")
            self.dag.set_filter("")
            self.dag.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "run-filter":
            self.dag.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "run-filter":
            if not event.value:
                event.input.remove_class("-active")
            self.dag.focus()

    def action_toggle_follow(self) -> None:
        log = self.log_view
        log.follow = not log.follow
        self.notify("Following the log" if log.follow else "Log paused")

    def action_back(self) -> None:
        if not self.read_only and not self.state.status.finished:
            self.notify("The run goes on in the background; reopen it from Runs (3).",
                        title=self.workflow.name)
        self.app.pop_screen()


class TaskCommands(Provider):
    """Palette commands about the run screen's selected task: cancel/retry when they apply."""

    def _commands(self) -> Iterable[tuple[str, Any, str]]:
        screen = self.screen
        if not isinstance(screen, RunScreen) or screen.selected is None:
            return []
        task_id = screen.selected
        found = []
        if screen.can_cancel():
            found.append((f"Cancel task {task_id}", screen.action_cancel_task,
                          "Cancel the selected task; its dependents are skipped"))
        if screen.can_retry():
            found.append((f"Retry task {task_id}", screen.action_retry_task,
                          "Run the selected task and its downstream again"))
        if not screen.read_only and not screen.state.status.finished:
            found.append(("Cancel run", screen.action_cancel_run, "Cancel the whole run"))
        return found

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(Content(visible(name)), callback, help=help_text, text=name)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, _highlight(matcher, name), callback, help=help_text, text=name)


def _highlight(matcher: Any, name: str) -> Content:
    """``matcher.highlight`` without parsing the name (it holds a task id) as markup."""
    shown = visible(name)
    content = Content(shown)
    _, offsets = matcher.fuzzy_search.match(matcher.query, shown)
    for offset in offsets:
        content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
