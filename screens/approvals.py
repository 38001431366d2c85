"""`ApprovalsScreen`: the run's tool calls waiting for the user's answer, over the run screen.

Opened from the run screen (``a``; its header's badge counts them). Each
request shows the tool, its arguments and the task; ``y`` approves, ``n``
denies, ``A`` approves that tool for the rest of the run. The answer goes out
through the run screen (the orchestrator's ``answer_approval``, on its steering path), which
also keeps this list current as requests come and go; it closes itself when
nothing is left to answer.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label

from deeptui import bus as ev
from deeptui.widgets.approvals import ApprovalList
from deeptui.widgets.bindings import bindings

Pending = Callable[[], list[ev.ApprovalRequested]]
Answer = Callable[[ev.ApprovalRequested, bool, bool], bool]


class ApprovalsScreen(ModalScreen[None]):
    """``pending()`` lists the waiting requests; ``answer(request, approve, always)`` answers one."""

    BINDINGS = bindings("approvals")
    DEFAULT_CSS = """
    ApprovalsScreen { align: center middle; }
    ApprovalsScreen > Vertical { width: 90; max-width: 100%; height: auto; max-height: 80%;
                                 border: thick $warning; background: $surface; padding: 0 1; }
    ApprovalsScreen #approvals-title { width: 100%; padding: 0 0 1 0; }
    ApprovalsScreen ApprovalList { height: auto; max-height: 20; }
    ApprovalsScreen #approvals-hint { width: 100%; padding: 1 0 0 0; color: $text-muted; }
    """

    def __init__(self, pending: Pending, answer: Answer) -> None:
        super().__init__()
        self.pending = pending
        self.answer = answer

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(id="approvals-title")
            yield ApprovalList(id="approvals-list")
            yield Label("An agent wants to run these. Approve or deny each; the task waits "
                        "meanwhile (its timeout paused). A denied call is reported to the agent, "
                        "which goes on without it.", id="approvals-hint")
        yield Footer()

    @property
    def approval_list(self) -> ApprovalList:
        return self.query_one(ApprovalList)

    def on_mount(self) -> None:
        self.refresh_requests()
        self.approval_list.focus()

    def refresh_requests(self) -> None:
        requests = self.pending()
        self.approval_list.set_requests(requests)
        count = len(requests)
        self.query_one("#approvals-title", Label).update(
            f"[b]{count} tool call(s) waiting for your approval[/b]" if count
            else "[b]Nothing is waiting for your approval[/b]")

    def action_answer(self, approve: bool, always: bool = False) -> None:
        request = self.approval_list.selected
        if request is None:
            self.notify("Nothing is waiting for your approval", severity="warning")
            return
        self.answer(request, approve, always)
        self.refresh_requests()
        if not self.approval_list.requests:
            self.dismiss(None)
