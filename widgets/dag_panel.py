"""`DagPanel`: the live, status-coloured DAG of a run as one Line-API widget.

The lines come from ``DAGVisualizer.ascii_lines`` (rebuilt once per batch of
changes, never per event); only the visible slice is turned into strips, and
strips are cached until the next rebuild. Up/down and mouse clicks select a
task; the selection is highlighted and kept in view. A line cut at the right edge
ends in an ellipsis. A filter (text matched
against task ids and statuses) narrows the panel to the matching tasks; when it
widens again the task the user chose is selected again.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from deeptui.widgets.bindings import bindings
from deeptui.models import WorkflowDefinition, WorkflowState
from deeptui.visualize.safe_text import visible
from deeptui.visualize import DAGVisualizer


_SELECTED = Style(reverse=True, bold=True)


def _body(lines: list[tuple[Text, str | None]]) -> list[tuple[Text, str | None]]:
    """The levels only: the run header above already names the workflow and shows
    every status with its symbol, so the title, strategy, ruler and legend go."""
    plain = [text.plain for text, _ in lines]
    start = next((n for n, p in enumerate(plain) if p.startswith("Level")), 0)
    end = next((n for n, p in enumerate(plain) if p.startswith("Legend")), len(lines))
    while end > start and not plain[end - 1].strip():
        end -= 1
    return lines[start:end]


class DagPanel(ScrollView, can_focus=True):
    """The DAG of one workflow, coloured by the statuses in ``state``."""

    BINDINGS = bindings("dag")

    DEFAULT_CSS = """
    DagPanel { background: $surface; }
    DagPanel:focus { background-tint: $foreground 4%; }
    """

    class Selected(Message):
        """The selected task changed (by key, click or filter)."""

        def __init__(self, panel: DagPanel, task_id: str | None) -> None:
            super().__init__()
            self.panel = panel
            self.task_id = task_id

    def __init__(self, workflow: WorkflowDefinition, state: WorkflowState | None = None,
                 *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.visualizer = DAGVisualizer(workflow, state)
        self.selected: str | None = workflow.task_ids[0] if workflow.tasks else None
        self.chosen = self.selected  # the user's last choice; a filter's own moves do not change it
        self.filter_text = ""
        self._lines: list[tuple[Text, str | None]] = []
        self._task_rows: list[int] = []  # indexes into _lines of task lines, in order
        self._row_of: dict[str, int] = {}
        self._strips: dict[int, Strip] = {}
        self._base: Style | None = None
        self._width = 0
        self.rebuild()

    # -- content -----------------------------------------------------------

    def rebuild(self) -> None:
        """Recompute the lines from the current statuses (call once per batch)."""
        lines = _body(self.visualizer.ascii_lines())  # the selection is drawn at render time
        needle = self.filter_text.strip().lower()
        if needle:
            state = self.visualizer.state
            lines = [(text, tid) for text, tid in lines
                     if tid is not None and _matches(tid, state, needle)]
            if not lines:
                lines = [(Text(f"  no task matches '{visible(self.filter_text)}'", style="dim"), None)]
        self._lines = lines
        self._task_rows = [n for n, (_, tid) in enumerate(lines) if tid is not None]
        self._row_of = {lines[n][1]: n for n in self._task_rows}  # type: ignore[misc]
        self._strips.clear()
        self._base = None
        self._width = max((text.cell_len for text, _ in lines), default=0)
        self.virtual_size = Size(self._width, len(lines))
        self.refresh()

    @property
    def task_ids(self) -> list[str]:
        """The task ids shown, top to bottom."""
        return [self._lines[n][1] for n in self._task_rows]  # type: ignore[misc]

    @property
    def line_count(self) -> int:
        return len(self._lines)

    def line_text(self, n: int) -> str:
        return self._lines[n][0].plain

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        n = scroll_y + y
        width = self.size.width
        if n >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        if self._base is None:
            self._base = self.rich_style  # computing it is not free: once per rebuild
        strip = self._strips.get(n)
        if strip is None:
            text, task_id = self._lines[n]
            console = self.app.console
            style = self._base + (console.get_style(text.style) if text.style else Style())
            if task_id is not None and task_id == self.selected:
                style += _SELECTED
            strip = Strip(text.render(console), text.cell_len).apply_style(style)
            self._strips[n] = strip
        shown = strip.crop_extend(scroll_x, scroll_x + width, self._base)
        if strip.cell_length > scroll_x + width and width > 1:  # cut at the edge: say so
            last = shown.crop(width - 1, width)
            style = next((seg.style for seg in last if seg.style), self._base)
            shown = Strip.join([shown.crop(0, width - 1), Strip([Segment("…", style)], 1)])
        return shown

    # -- selection -----------------------------------------------------------

    def select(self, task_id: str | None, *, announce: bool = True, by_filter: bool = False) -> None:
        if task_id is not None and not by_filter:
            self.chosen = task_id
        if task_id == self.selected:
            self.scroll_to_selected()
            return
        previous, self.selected = self.selected, task_id
        for tid in (previous, task_id):  # only the two lines change
            row = self._row_of.get(tid) if tid is not None else None
            if row is not None:
                self._strips.pop(row, None)
                self.refresh_line(row)
        self.scroll_to_selected()
        if announce:
            self.post_message(self.Selected(self, task_id))

    def scroll_to_selected(self) -> None:
        row = self._row_of.get(self.selected) if self.selected else None
        if row is not None:
            self.scroll_to_region(Region(0, row, 1, 1), animate=False, immediate=True)

    def _move(self, step: int) -> None:
        ids = self.task_ids
        if not ids:
            return
        if self.selected not in self._row_of:
            self.select(ids[0] if step > 0 else ids[-1])
            return
        index = ids.index(self.selected) + step  # type: ignore[arg-type]
        self.select(ids[max(0, min(len(ids) - 1, index))])

    def action_select_prev(self) -> None:
        self._move(-1)

    def action_select_next(self) -> None:
        self._move(1)

    def action_select_first(self) -> None:
        if self.task_ids:
            self.select(self.task_ids[0])

    def action_select_last(self) -> None:
        if self.task_ids:
            self.select(self.task_ids[-1])

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:  # on the border or a scrollbar
            return
        row = offset.y + self.scroll_offset.y
        if 0 <= row < len(self._lines):
            task_id = self._lines[row][1]
            if task_id is not None:
                self.select(task_id)

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.rebuild()
        ids = self.task_ids
        if ids and self.selected not in self._row_of:  # hidden: the user's choice, else the first
            self.select(self.chosen if self.chosen in self._row_of else ids[0], by_filter=True)
        elif not ids:  # nothing shown: keys must not act on a task the user cannot see
            self.select(None, by_filter=True)
        else:
            self.scroll_to_selected()

    def on_resize(self) -> None:
        self._strips.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._base = None  # a theme change: strips carry the old background


def _matches(task_id: str, state: WorkflowState | None, needle: str) -> bool:
    if needle in task_id.lower():
        return True
    if state is None:
        return needle == "pending"
    result = state.task_results.get(task_id)
    return result is not None and str(result.status.value).startswith(needle)
