"""The run screen's part about the run's files: tool calls waiting for approval, and task diffs.

`RunFiles` is mixed into `RunScreen`. It turns the run's `ApprovalRequested` /
`ApprovalAnswered` events into the header's badge and the approvals list
(`ApprovalsScreen`; the app itself notifies each request, whichever screen is
showing, see `DeeptuiApp._tell_approval`); answers go to the orchestrator's
``answer_approval`` through the screen's steering path (``_steer``, as cancel
and retry do). ``d`` opens the selected task's changes (`DiffScreen`).
Which requests wait is read from the orchestrator's approval gate, less those
this screen has seen answered (the gate forgets an answered request a moment
after the answer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from deeptui import bus as ev
from deeptui.screens.approvals import ApprovalsScreen
from deeptui.screens.diff import DiffScreen
from deeptui.widgets.bindings import key_for
from deeptui.widgets.run_header import RunHeader

if TYPE_CHECKING:
    from deeptui.app import DeeptuiApp
    from deeptui.models import TaskDefinition, WorkflowDefinition, WorkflowState

LogEntry = tuple[float, str, str]


class RunFiles:
    """Approvals and diffs of the run screen (needs its run_id, state, _steer, task_log)."""

    run_id: str
    read_only: bool
    state: WorkflowState
    workflow: WorkflowDefinition | None
    answered: set[str]  # request ids this screen saw answered

    if TYPE_CHECKING:  # the screen's own (Textual's and RunScreen's); never defined here
        app: DeeptuiApp
        selected: str | None

        def notify(self, message: str, **kwargs: Any) -> None: ...
        def query_one(self, selector: Any) -> Any: ...
        def _steer(self, action: Callable[[], bool]) -> bool: ...
        def task_log(self, task_id: str) -> list[LogEntry]: ...

    # -- approvals ---------------------------------------------------------------

    def pending_approvals(self) -> list[ev.ApprovalRequested]:
        """The run's tool calls waiting for an answer: by task (in the workflow's order),
        oldest first within a task."""
        if self.read_only:
            return []
        gate = self.app.orchestrator.approvals
        pending = [r for r in gate.pending_for(self.run_id) if r.request_id not in self.answered]
        order = {task_id: n for n, task_id in enumerate(self.state.task_results)}
        return sorted(pending, key=lambda r: order.get(r.task_id, len(order)))

    def note_approvals(self, batch: Iterable[ev.Event]) -> None:
        """A batch of events: the badge and the list follow the requests and answers."""
        asked = answered = False
        for event in batch:
            if isinstance(event, ev.ApprovalRequested):
                asked = True
            elif isinstance(event, ev.ApprovalAnswered):
                self.answered.add(event.request_id)
                answered = True
        # while some wait, any batch may end them unanswered (a task cancelled meanwhile)
        if asked or answered or self.query_one(RunHeader).approvals:
            self.refresh_approvals()

    def refresh_approvals(self) -> None:
        pending = self.pending_approvals()
        self.query_one(RunHeader).set_approvals(len(pending), key_for(self, "approvals"))
        screen = self.app.screen
        if isinstance(screen, ApprovalsScreen) and screen.answer == self.answer_approval:
            screen.refresh_requests()

    def answer_approval(self, request: ev.ApprovalRequested, approve: bool,
                        always: bool = False) -> bool:
        """Send the answer to one request; False when it was no longer waiting."""
        sent = self._steer(lambda: self.app.orchestrator.answer_approval(
            request.request_id, approve, always=always))
        self.answered.add(request.request_id)
        if not sent:
            self.notify(f"{request.task_id}'s request was no longer waiting", severity="warning")
        elif approve and always:
            self.notify(f"Approved {request.tool} for the rest of the run ({request.task_id})")
        else:
            verb = "Approved" if approve else "Denied"
            self.notify(f"{verb} for {request.task_id}: {request.args}")
        self.refresh_approvals()
        return sent

    def action_approvals(self) -> None:
        if self.read_only:
            self.notify("Stored runs are read-only: nothing waits for an answer", severity="warning")
            return
        if not self.pending_approvals():
            self.notify("Nothing is waiting for your approval")
            return
        self.app.push_screen(ApprovalsScreen(self.pending_approvals, self.answer_approval))

    # -- diffs and files -----------------------------------------------------------

    def files_log(self, task: TaskDefinition | None) -> list[LogEntry]:
        """An agent task's log, for the files it read (other tasks: nothing)."""
        return self.task_log(task.id) if task is not None and task.kind == "agent" else []

    def action_diff(self) -> None:
        task_id = self.selected
        if task_id is None:
            self.notify("No task selected", severity="warning")
            return
        result = self.state.task_results.get(task_id)
        if result is None or result.changes is None:
            task = next((t for t in self.workflow.tasks if t.id == task_id), None) \
                if self.workflow else None
            why = ("no changes yet (or they were discarded)" if task is not None and task.writes
                   else "it does not write files")
            self.notify(f"{task_id} has nothing to review: {why}", severity="warning")
            return
        workspace = self.workflow.workspace if self.workflow else None
        self.app.push_screen(DiffScreen(self.run_id, task_id, self.state, workspace=workspace,
                                        steer=None if self.read_only else self._steer))
