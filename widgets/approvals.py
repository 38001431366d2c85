"""`ApprovalList`: the tool calls of a run that wait for the user's approval, one option each.

Each option shows the tool and its arguments (what it would run or touch) and
the task that asks; ``set_requests`` replaces them and keeps the highlighted
one highlighted when it is still waiting. Arguments are user text: shown as
written, never as markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from deeptui import bus as ev
from deeptui.visualize.safe_text import visible


def request_text(request: ev.ApprovalRequested) -> Text:
    """``execute  touch built`` / ``  task build``: two lines per request."""
    args = request.args
    if args.startswith(request.tool + " "):  # the runner's description repeats the tool
        args = args[len(request.tool) + 1:]
    line = Text()
    line.append(visible(request.tool), "bold magenta")
    line.append("  ")
    line.append(visible(args), "bold")
    line.append("\n  task ", "dim")
    line.append(visible(request.task_id))
    return line


class ApprovalList(OptionList):
    """The pending requests; ``selected`` is the highlighted one."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.requests: list[ev.ApprovalRequested] = []

    def set_requests(self, requests: list[ev.ApprovalRequested]) -> None:
        if [r.request_id for r in requests] == [r.request_id for r in self.requests]:
            return
        keep = self.selected.request_id if self.selected is not None else None
        where = self.highlighted or 0
        self.requests = list(requests)
        self.clear_options()
        self.add_options(Option(request_text(r), id=r.request_id) for r in requests)
        ids = [r.request_id for r in requests]
        if ids:  # the same request, else the one that took the answered one's place
            self.highlighted = ids.index(keep) if keep in ids else min(where, len(ids) - 1)

    @property
    def selected(self) -> ev.ApprovalRequested | None:
        index = self.highlighted
        if index is None or not 0 <= index < len(self.requests):
            return None
        return self.requests[index]
