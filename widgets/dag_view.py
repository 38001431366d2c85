"""`DagView`: the run screen's DAG, as a graph (`DagGraph`) or as the level list (`DagPanel`).

One key switches between the two and keeps the selected task; another turns
"follow the frontier" on (the running tasks stay in view as the run advances).
The run screen talks to this widget as it talked to the list: ``rebuild`` once
per batch of events, ``select``, ``set_filter``, ``selected``; both children
announce a new selection with ``DagPanel.Selected``, and the other child is
kept in step. Only the shown child is rebuilt on each batch; the hidden list is
rebuilt when it is shown or read (``task_ids``, ``line_text``).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Region
from textual.widget import Widget

from deeptui.models import TaskStatus, WorkflowDefinition, WorkflowState
from deeptui.widgets.bindings import bindings
from deeptui.widgets.dag_graph import DagGraph
from deeptui.widgets.dag_panel import DagPanel


class DagView(Vertical):
    """The DAG of a run; ``mode`` is "graph" or "list"."""

    BINDINGS = bindings("dag_view")

    DEFAULT_CSS = """
    DagView > DagGraph, DagView > DagPanel { height: 1fr; }
    """

    def __init__(self, workflow: WorkflowDefinition, state: WorkflowState | None = None,
                 *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state
        self.graph = DagGraph(workflow, state, id="dag-graph")
        self.list = DagPanel(workflow, state, id="dag-list")
        self.list.display = False
        self.mode = "graph"
        self.follow_frontier = False
        self._list_stale = False
        self._title()

    def compose(self) -> ComposeResult:
        yield self.graph
        yield self.list

    @property
    def active(self) -> DagGraph | DagPanel:
        return self.graph if self.mode == "graph" else self.list

    def _title(self) -> None:
        self.border_title = f"DAG · {self.mode}" + (" · following the frontier" if self.follow_frontier else "")

    # -- what the run screen calls ------------------------------------------------

    @property
    def selected(self) -> str | None:
        return self.active.selected

    def rebuild(self) -> None:
        """Statuses changed: repaint the shown view (the hidden list later, when needed)."""
        if self.mode == "graph":
            self.graph.rebuild()
            self._list_stale = True
        else:
            self.list.rebuild()
            if self.follow_frontier:
                self._list_to_frontier()

    def select(self, task_id: str | None) -> None:
        other = self.list if self.mode == "graph" else self.graph
        other.select(task_id, announce=False)
        self.active.select(task_id)

    def set_filter(self, text: str) -> None:
        self.list.set_filter(text)  # the list decides what matches and where the selection goes
        self._list_stale = False
        self.graph.shown = set(self.list.task_ids) if text.strip() else None
        self.graph.rebuild()

    def focus(self, scroll_visible: bool = True) -> Widget:
        return self.active.focus(scroll_visible)

    def _fresh_list(self) -> DagPanel:
        if self._list_stale:
            self._list_stale = False
            self.list.rebuild()
        return self.list

    @property
    def task_ids(self) -> list[str]:
        return self._fresh_list().task_ids

    @property
    def line_count(self) -> int:
        return self._fresh_list().line_count

    def line_text(self, n: int) -> str:
        return self._fresh_list().line_text(n)

    # -- keeping the two views in step ------------------------------------------------

    def on_dag_panel_selected(self, message: DagPanel.Selected) -> None:
        other = self.list if message.panel is self.graph else self.graph
        other.select(message.task_id, announce=False)  # the message goes on to the screen

    def action_toggle_graph(self) -> None:
        had_focus = self.active.has_focus
        self.mode = "list" if self.mode == "graph" else "graph"
        if self.mode == "list":
            self._fresh_list()
        else:
            self.graph.rebuild()
        self.graph.display = self.mode == "graph"
        self.list.display = self.mode == "list"
        self.active.call_after_refresh(self.active.scroll_to_selected)
        if had_focus:
            self.active.focus()
        self._title()

    def action_follow_frontier(self) -> None:
        self.follow_frontier = not self.follow_frontier
        self.graph.follow_frontier = self.follow_frontier
        self._title()
        if self.follow_frontier:
            if self.mode == "graph":
                self.graph.scroll_to_frontier()
            else:
                self._list_to_frontier()
        self.notify("Following the running tasks" if self.follow_frontier else "Not following the running tasks")

    def _list_to_frontier(self) -> None:
        results = self.state.task_results if self.state is not None else {}
        for task_id in self.list.task_ids:
            result = results.get(task_id)
            if result is not None and TaskStatus(result.status) is TaskStatus.RUNNING:
                row = self.list._row_of[task_id]
                self.list.scroll_to_region(Region(0, row, 1, 1), animate=False, immediate=True,
                                           center=True)
                return
