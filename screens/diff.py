"""`DiffScreen`: review a writing task's changes full-screen, then apply them to your files or discard them.

Opened from the run screen (``d``) on a task with changes: a title (task, run,
what changed, applied or not), the files touched with their line counts, and
the coloured diff (a Line-API view: only the rows on screen are drawn). Apply
and discard call the orchestrator's ``apply_changes`` through the run screen's
steering path (``steer``); a refusal (a file changed since the task read it) is
one notification naming the files. A stored run's diff is shown read-only.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Footer, Static

from deeptui.models import TaskChanges, WorkflowState
from deeptui.screens.base import DeeptuiScreen
from deeptui.screens.confirm import ConfirmScreen
from deeptui.visualize.safe_text import text as safe
from deeptui.widgets.bindings import bindings
from deeptui.widgets.diff_view import DiffView, changes_summary, file_line
from deeptui.widgets.line_view import LineView

Steer = Callable[[Callable[[], bool]], bool]  # calls a steering action, notifies a refusal


class DiffScreen(DeeptuiScreen[None]):
    """One task's diff; ``steer`` is None for a stored (read-only) run."""

    BINDINGS = bindings("diff")
    DEFAULT_CSS = """
    DiffScreen #diff-title { height: auto; padding: 0 1; background: $panel; }
    DiffScreen #diff-files { height: auto; max-height: 8; border: round $secondary 60%;
                             border-title-color: $text; overflow-x: hidden; }
    DiffScreen #diff-view { height: 1fr; border: round $primary 60%; border-title-color: $text; }
    DiffScreen #diff-view:focus { border: round $primary; }
    """

    def __init__(self, run_id: str, task_id: str, state: WorkflowState, *,
                 workspace: str | None = None, steer: Steer | None = None) -> None:
        super().__init__()
        self.run_id = run_id
        self.task_id = task_id
        self.state = state
        self.workspace = workspace
        self.steer = steer
        result = state.task_results[task_id]
        assert result.changes is not None
        self.changes: TaskChanges = result.changes  # kept on screen after a discard
        self.outcome = "applied" if self.changes.applied else ""

    def compose(self) -> ComposeResult:
        yield Static(id="diff-title")
        files = LineView([file_line(change) for change in self.changes.files], id="diff-files")
        files.border_title = f"Files ({len(self.changes.files)})"
        files.can_focus = False
        yield files
        view = DiffView(id="diff-view")
        view.border_title = "Diff"
        view.show(self.changes)
        yield view
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"Changes of {self.task_id}"
        self._show_title()
        self.query_one(DiffView).focus()

    @property
    def text(self) -> str:
        """Everything the screen shows, as plain text (title, files, diff)."""
        parts = [str(self.query_one("#diff-title", Static).render())]
        for view in self.query(LineView):
            parts.extend(view.line_text(n) for n in range(view.line_count))
        return "\n".join(parts)

    def _show_title(self) -> None:
        title = Text()
        title.append_text(safe(self.task_id, "bold"))
        title.append_text(safe(f"  {self.run_id}  ", "dim"))
        if self.outcome == "discarded":
            title.append(self.changes.summary())
            title.append("  discarded", "bold dark_orange")
        else:
            title.append_text(changes_summary(self.changes))
        where = self.workspace or "the workspace"
        if self.outcome == "applied":
            title.append_text(safe(f"  written to {where}", "dim"))
        elif not self.outcome:
            title.append_text(safe(f"  nothing written to {where} yet", "dim"))
        if self.steer is None:
            title.append("  (stored run, read-only)", "dim italic")
        self.query_one("#diff-title", Static).update(title)

    def _refused(self, verb: str) -> bool:
        if self.outcome:
            self.notify(f"{self.task_id}'s changes were already {self.outcome}", severity="warning")
            return True
        if self.steer is None:
            flag = " --discard" if verb == "discard" else ""
            self.notify(f"Stored runs are read-only: {verb} these changes with "
                        f"`deeptui apply {self.run_id} {self.task_id}{flag}`", severity="warning")
            return True
        return False

    def action_apply(self) -> None:
        if self._refused("apply") or self.steer is None:
            return
        orchestrator = self.app.orchestrator
        if self.steer(lambda: orchestrator.apply_changes(self.run_id, self.task_id)):
            self.outcome = "applied"
            self.changes = self.state.task_results[self.task_id].changes or self.changes
            count = len(self.changes.files)
            self.notify(f"Applied {self.task_id}'s changes: {count} file(s) written",
                        title="Changes applied")
            self._show_title()

    def action_discard(self) -> None:
        if self._refused("discard") or self.steer is None:
            return
        steer, orchestrator = self.steer, self.app.orchestrator

        def answered(yes: bool | None) -> None:
            if yes and steer(lambda: orchestrator.apply_changes(self.run_id, self.task_id,
                                                                discard=True)):
                self.outcome = "discarded"
                self.notify(f"Discarded {self.task_id}'s changes; your files are unchanged")
                self._show_title()

        self.app.push_screen(ConfirmScreen(
            f"Discard {self.task_id}'s changes ({self.changes.summary()})? "
            "They were never applied and cannot be brought back.",
            yes="Discard", no="Keep"), answered)

    def action_back(self) -> None:
        self.app.pop_screen()
