"""A task's output: `OutputScreen` (the full-screen viewer) and `TaskOutput`, the run screen's
actions about the selected task's output (view, copy, export) and running it again
without the cache (the task, ``R``, or the whole workflow as a new run, ``ctrl+r``).

The viewer shows an agent's text output as Markdown (Textual's `Markdown`), a
structured output (or text that parses as JSON) as pretty-printed, highlighted
JSON, and any other text as it is; all of it scrolls. Output is user text:
control characters are shown as visible escapes, never sent to the terminal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Footer, Markdown, Static

from deeptui.screens.base import DeeptuiScreen
from deeptui.store.reports import file_name
from deeptui.visualize.safe_text import text as safe, visible
from deeptui.widgets.bindings import bindings
from deeptui.widgets.task_detail import output_text

if TYPE_CHECKING:
    from deeptui.models import TaskDefinition, TaskResult, WorkflowState
    from deeptui.widgets.task_log import TaskLogView


def output_form(output: Any, kind: str) -> tuple[str, str]:
    """(form, text): how to show an output: ``markdown`` (an agent's text), ``json``
    (a structured value, or text that is a JSON object or list) or ``text``."""
    if isinstance(output, str):
        stripped = output.strip()
        if stripped[:1] in ("{", "["):
            try:
                return "json", json.dumps(json.loads(stripped), indent=2, ensure_ascii=False)
            except ValueError:
                pass
        return ("markdown" if kind == "agent" else "text"), output
    return "json", output_text(output)


class OutputScreen(DeeptuiScreen[None]):
    """One task's whole output, full screen; escape or q goes back."""

    BINDINGS = bindings("output")
    DEFAULT_CSS = """
    OutputScreen #output-title { height: auto; padding: 0 1; background: $panel; }
    OutputScreen #output-body { height: 1fr; border: round $primary 60%; border-title-color: $text;
                                padding: 0 1; }
    OutputScreen #output-body:focus { border: round $primary; }
    OutputScreen Markdown { margin: 0; padding: 0; }
    """

    def __init__(self, task: TaskDefinition, result: TaskResult) -> None:
        super().__init__()
        self.task_id = task.id
        self.form, self.text = output_form(result.output, task.kind)
        self.status = result.status.value

    def compose(self) -> ComposeResult:
        lines = self.text.count("\n") + 1 if self.text else 0
        yield Static(safe(f"{self.task_id}  ·  {self.status}  ·  {self.form}, "
                          f"{lines:,} lines, {len(self.text):,} characters", "bold"),
                     id="output-title")
        body = VerticalScroll(id="output-body")
        body.border_title = "Output"
        with body:
            if not self.text:
                yield Static(safe("(no output)", "dim"))
            elif self.form == "markdown":
                yield Markdown(visible(self.text, multiline=True), open_links=False)
            elif self.form == "json":
                yield Static(Syntax(visible(self.text, multiline=True), "json",
                                    word_wrap=True, background_color="default"))
            else:
                yield Static(safe(self.text, multiline=True))
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"Output of {self.task_id}"
        self.query_one("#output-body").focus()

    def action_back(self) -> None:
        self.dismiss(None)


class TaskOutput:
    """The run screen's output actions (needs its run_id, read_only, state, workflow,
    selected, log_view and _steer)."""

    run_id: str
    read_only: bool
    state: WorkflowState
    log_view: TaskLogView
    notify: Callable[..., Any]
    app: Any

    if TYPE_CHECKING:
        from deeptui.models import WorkflowDefinition

        workflow: WorkflowDefinition

        @property
        def selected(self) -> str | None: ...

        def _steer(self, action: Callable[[], bool]) -> bool: ...

    def action_output(self) -> None:
        task_id = self.selected
        result = self.state.task_results.get(task_id or "")
        task = next((t for t in self.workflow.tasks if t.id == task_id), None)
        if task is None or result is None:
            self.notify("No task selected", severity="warning")
            return
        self.app.push_screen(OutputScreen(task, result))

    def action_refresh_task(self) -> None:
        """Run the selected finished task again, not reading the cache (its result is stored)."""
        from deeptui.refresh import refresh_task

        task_id = self.selected
        result = self.state.task_results.get(task_id or "")
        if task_id is None or result is None:
            self.notify("No task selected", severity="warning")
            return
        if self.read_only or not result.status.finished:
            why = ("stored runs are read-only" if self.read_only
                   else "it has not finished")
            self.notify(f"Cannot run {task_id} again: {why}", severity="warning")
            return
        if self._steer(lambda: refresh_task(self.app.orchestrator, self.run_id, task_id)):
            self.notify(f"Running {task_id} again, not reading the cache")
        else:
            self.notify(f"{task_id} could not be run again", severity="warning")

    def action_refresh_run(self) -> None:
        """Start the workflow again as a new run in which every task runs (none is read from
        the cache); its run screen opens. A stored run's workflow can be run so too."""
        if self.app.start_run(self.workflow, refresh=True) is not None:
            self.notify("Running every task again, not reading the cache")

    def _selected_text(self) -> tuple[str, str]:
        """(what, text): the selected task's output if it has one, else its log."""
        result = self.state.task_results.get(self.selected or "")
        output = output_text(result.output) if result is not None else ""
        return ("output", output) if output else ("log", self.log_view.plain_text())

    def action_copy(self) -> None:
        if self.selected is None:
            self.notify("No task selected", severity="warning")
            return
        what, text = self._selected_text()
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {self.selected}'s {what} ({len(text)} characters)")

    def action_export(self, directory: str | None = None) -> None:
        task_id = self.selected
        if task_id is None:
            self.notify("No task selected", severity="warning")
            return
        path = Path(directory or Path.cwd()) / f"{_safe(self.run_id)}-{file_name(task_id)}.log"
        result = self.state.task_results.get(task_id)
        body = self.log_view.plain_text() if self.log_view.task_id == task_id else ""
        output = output_text(result.output) if result is not None else ""
        text = body + (f"\n\n--- output ---\n{output}\n" if output else "\n")
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            self.notify(f"Cannot write {path}: {exc.strerror}", severity="error")
            return
        self.notify(f"Wrote {path}", title="Exported")


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "run"
