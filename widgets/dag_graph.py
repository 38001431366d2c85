"""`DagGraph`: the live DAG of a run drawn as boxes and edges, one Line-API widget.

The geometry (`deeptui.visualize.layered`) is computed once per workflow; a
status change only clears the cached strips and repaints, and only the rows and
columns on screen are drawn (a row is built for the visible window of columns,
so a 10,000-task graph costs what a 10-task one does). Boxes take their
status's colour; the selected box is reversed, the boxes and edges upstream and
downstream of it are highlighted. In a graph of more than ``COLLAPSE_OVER``
tasks, a layer whose tasks all finished without failing shrinks to one line of
counts (unless it holds the selection). Arrows move the selection: up/down to
the nearest box of the layer above/below, left/right within a layer.
``follow_frontier`` keeps the first running tasks in view after each repaint.
Past ``LAYOUT_IN_THREAD_OVER`` tasks the layout is computed in a thread worker.
"""

from __future__ import annotations

import bisect
from collections import deque
from functools import lru_cache

from rich.segment import Segment as RichSegment
from rich.style import Style
from textual import events, work
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from deeptui.models import TaskStatus, WorkflowDefinition, WorkflowState
from deeptui.visualize.diagram import STATUS_STYLES
from deeptui.visualize.layered import BOX_ROWS, LINE_CHARS, MAX_LABEL, Box, GraphLayout, layout
from deeptui.visualize.safe_text import visible
from deeptui.widgets.bindings import bindings
from deeptui.widgets.dag_panel import DagPanel
from deeptui.widgets.line_view import no_gc_pauses

COLLAPSE_OVER = 60  # tasks: beyond this, finished layers shrink to one line
LAYOUT_IN_THREAD_OVER = 2000  # tasks: beyond this, the layout is computed in a thread
MAX_BOX = MAX_LABEL + 4
EDGE = Style(color="grey50")
LINKED = Style(color="cyan", bold=True)  # no status uses cyan
SELECTED = Style(reverse=True, bold=True)
DIM = Style(dim=True)
BOLD = Style(bold=True)
STATUS = {status: Style.parse(look.rich) for status, look in STATUS_STYLES.items()}
SUMMARY_ORDER = [TaskStatus.COMPLETED, TaskStatus.SKIPPED, TaskStatus.CANCELLED]


class DagGraph(ScrollView, can_focus=True):
    """The layered drawing of ``workflow``, coloured by the statuses in ``state``."""

    BINDINGS = bindings("dag") + bindings("graph")

    DEFAULT_CSS = """
    DagGraph { background: $surface; }
    DagGraph:focus { background-tint: $foreground 4%; }
    """

    def __init__(self, workflow: WorkflowDefinition, state: WorkflowState | None = None,
                 *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state
        self._tasks = {t.id: list(t.depends_on) for t in workflow.tasks}
        self.geometry: GraphLayout | None = None  # laid out in a thread when big (on mount)
        self.collapsible = len(workflow.tasks) > COLLAPSE_OVER
        self.labels: dict[str, str] = {}
        self._edge_cells: dict[int, list[list[tuple[int, str]]]] = {}
        self._lit_cells: dict[int, list[dict[int, int]]] = {}
        self._strips: dict[tuple[int, int, int], Strip] = {}
        self._base: Style | None = None
        self._styled: dict[Style | None, Style] = {}  # a style on the widget's background
        self.selected: str | None = workflow.task_ids[0] if workflow.tasks else None
        self.shown: set[str] | None = None  # ids passing the filter (None: no filter)
        self.follow_frontier = False
        self._linked: set[str] = set()
        self._lit_edges: set[int] = set()
        self._collapsed, self._finished = set(), set()  # finished: all completed or skipped
        self._starts: list[int] = []
        self._bands: list[tuple[str, int]] = []  # (kind, layer) from each start row
        if len(self._tasks) <= LAYOUT_IN_THREAD_OVER:
            self._laid_out(layout(self._tasks))
        else:
            self.rebuild()

    def on_mount(self) -> None:
        if self.geometry is None:
            self._lay_out()

    @work(thread=True, exclusive=True, group="dag-layout", exit_on_error=False,
          description="graph layout")
    def _lay_out(self) -> None:
        with no_gc_pauses():
            geometry = layout(self._tasks)
        self.app.call_from_thread(self._laid_out, geometry)

    def _laid_out(self, geometry: GraphLayout) -> None:
        self.geometry = geometry
        self.labels = {box.task_id: visible(box.label) for box in geometry.boxes.values()}
        self._light()
        self.rebuild()
        if self.is_mounted:
            self.scroll_to_frontier() if self.follow_frontier else self.scroll_to_selected()

    # -- rows ------------------------------------------------------------------

    def status(self, task_id: str) -> TaskStatus:
        result = self.state.task_results.get(task_id) if self.state is not None else None
        return TaskStatus(result.status) if result is not None else TaskStatus.PENDING

    def rebuild(self) -> None:
        """Statuses changed: find the finished layers (cheap), drop strips, repaint."""
        if self.geometry is None:  # still being laid out: one line says so
            self.virtual_size = Size(0, 1)
            self.refresh()
            return
        self._finished = {n for n, layer in enumerate(self.geometry.layers) if self._all_done(layer)}
        self._place_rows()

    def _place_rows(self) -> None:
        """The rows of each layer and channel: a finished layer is one line unless it holds
        the selection."""
        here = self.geometry.boxes[self.selected].layer if self.selected else None
        self._collapsed = self._finished - {here}
        self._starts, self._bands = [], []
        row = 0
        for n in range(len(self.geometry.layers)):
            self._starts.append(row)
            self._bands.append(("summary" if n in self._collapsed else "layer", n))
            row += 1 if n in self._collapsed else BOX_ROWS
            if n < len(self.geometry.channels) and not {n, n + 1} <= self._collapsed:
                self._starts.append(row)
                self._bands.append(("channel", n))
                row += self.geometry.heights[n]
        self.virtual_size = Size(self.geometry.width, row)
        self._strips.clear()
        self.refresh()
        if self.follow_frontier:
            self.scroll_to_frontier()

    def _all_done(self, layer: list[Box]) -> bool:
        return self.collapsible and all(
            self.status(box.task_id) in (TaskStatus.COMPLETED, TaskStatus.SKIPPED) for box in layer)

    def box_region(self, task_id: str) -> Region:
        """Where a task's box (or its collapsed layer's line) is in the whole drawing."""
        box = self.geometry.boxes[task_id]
        folded = box.layer in self._collapsed
        top = self._starts[self._bands.index(("summary" if folded else "layer", box.layer))]
        return Region(box.x, top, box.width, 1 if folded else BOX_ROWS)

    def render_line(self, y: int) -> Strip:
        (scroll_x, scroll_y), width = self.scroll_offset, self.size.width
        n = scroll_y + y
        if self._base is None:
            self._base = self.rich_style  # not free: once per theme change
        base, key = self._base, (n, scroll_x, width)  # a resize or a scroll: other keys
        strip = self._strips.get(key)
        if strip is None:
            if self.geometry is None:
                text = f"  laying out {len(self._tasks):,} tasks…" if n == 0 else ""
                strip = Strip([RichSegment(text[:width].ljust(width), base)], width)
            elif n >= self.virtual_size.height or width <= 0:
                strip = Strip.blank(width, base)
            else:
                strip = self._draw(n, scroll_x, width, base)
            if len(self._strips) > 4000:  # many scroll positions seen: start again
                self._strips.clear()
            self._strips[key] = strip
        return strip

    def _draw(self, n: int, x0: int, width: int, base: Style) -> Strip:
        """Row ``n`` between columns ``x0`` and ``x0 + width``: pieces of text placed left to
        right (boxes, edge runs), the gaps filled with the background."""
        pieces: list[tuple[int, str, Style | None]] = []
        put = lambda x, text, style: pieces.append((x, text, style))  # noqa: E731
        band = bisect.bisect_right(self._starts, n) - 1
        kind, layer = self._bands[band]
        r = n - self._starts[band]
        x1 = x0 + width
        if kind == "summary":
            put(0, self._summary(layer), DIM)
        elif kind == "channel":
            self._edge_run(layer, r, x0, x1, put)
        else:
            for x, edge in self.geometry.passes[layer]:
                if x0 <= x < x1:
                    put(x, "│", LINKED if edge in self._lit_edges else EDGE)
            boxes, xs = self.geometry.layers[layer], self.geometry.xs[layer]
            for i in range(bisect.bisect_left(xs, x0 - MAX_BOX), len(boxes)):
                box = boxes[i]
                if box.x >= x1:
                    break
                if box.x + box.width > x0:
                    self._draw_box(box, r, put)
            pieces.sort(key=lambda piece: piece[0])
        segments = []
        at = x0
        styled = self._styled
        for x, text, style in pieces:
            if x < at:  # starts left of the window (or of what is drawn)
                text, x = text[at - x:], at
            text = text[: x1 - x]
            if not text:
                continue
            if x > at:
                segments.append(RichSegment(" " * (x - at), base))
            full = styled.get(style)
            if full is None:
                full = styled[style] = base + style if style else base
            segments.append(RichSegment(text, full))
            at = x + len(text)
        if at < x1:
            segments.append(RichSegment(" " * (x1 - at), base))
        return Strip(segments, width)

    def _edge_run(self, channel: int, r: int, x0: int, x1: int, put) -> None:  # noqa: ANN001
        """One channel row's edge cells in the window, adjacent cells of one style joined."""
        rows = self._edge_cells.get(channel)
        if rows is None:  # sorted (column, character) per row: computed once per workflow
            rows = self._edge_cells[channel] = [
                sorted((x, LINE_CHARS[bits]) for x, bits in row.items())
                for row in self.geometry.channel_cells(channel)]
        lit = self._lit_cells.get(channel)
        if lit is None:
            lit = self._lit_cells[channel] = self.geometry.channel_cells(channel, self._lit_edges)
        cells, lit_row = rows[r], lit[r]
        run_x, run, run_style = -2, "", EDGE
        for i in range(bisect.bisect_left(cells, (x0, "")), len(cells)):
            x, char = cells[i]
            if x >= x1:
                break
            style = LINKED if x in lit_row else EDGE
            if x == run_x + len(run) and style is run_style:
                run += char
                continue
            if run:
                put(run_x, run, run_style)
            run_x, run, run_style = x, char, style
        if run:
            put(run_x, run, run_style)

    def _draw_box(self, box: Box, r: int, put) -> None:  # noqa: ANN001
        tid = box.task_id
        status = self.status(tid)
        colour = STATUS[status]
        if self.shown is not None and tid not in self.shown:
            colour = _mix(colour, DIM)
        border = _mix(colour, LINKED) if tid in self._linked else colour
        inner = box.width - 2
        if r == 1:
            label = f"{STATUS_STYLES[status].symbol} {self.labels[tid]}".ljust(inner)
            put(box.x, "│", border)
            put(box.x + 1, label, _mix(colour, SELECTED if tid == self.selected else BOLD))
            put(box.x + box.width - 1, "│", border)
            return
        line = list("─" * inner)
        port = box.port - box.x - 1
        far = box.far_in if r == 0 else box.far_out
        if r == 0 and tid in self.geometry.drawn_in:
            line[port] = "┴"
        elif r == 2 and tid in self.geometry.drawn_out:
            line[port] = "┬"
        if far:
            mark = f"{'↑' if r == 0 else '↓'}{far}"
            line[: len(mark)] = mark[: inner]
        ends = "╭╮" if r == 0 else "╰╯"
        put(box.x, ends[0] + "".join(line) + ends[1], border)

    def _summary(self, layer: int) -> str:
        counts: dict[TaskStatus, int] = {}
        for box in self.geometry.layers[layer]:
            status = self.status(box.task_id)
            counts[status] = counts.get(status, 0) + 1
        parts = "  ".join(f"{STATUS_STYLES[s].symbol} {counts[s]}" for s in SUMMARY_ORDER if s in counts)
        return f"┄┄ layer {layer + 1}: {len(self.geometry.layers[layer])} tasks, {parts} ┄┄"

    # -- selection -------------------------------------------------------------

    def _light(self) -> None:
        """The selection's upstream and downstream boxes and edges."""
        self._linked, self._lit_edges = set(), set()
        if self.selected is None or self.geometry is None:
            return
        for edges_of, end in ((self.geometry.in_edges, 0), (self.geometry.out_edges, 1)):
            todo = deque([self.selected])
            while todo:
                for e in edges_of[todo.popleft()]:
                    self._lit_edges.add(e)
                    other = self.geometry.edges[e][end]
                    if other not in self._linked:
                        self._linked.add(other)
                        todo.append(other)
        self._linked.discard(self.selected)
        self._lit_cells.clear()

    def select(self, task_id: str | None, *, announce: bool = True) -> None:
        if task_id is not None and task_id not in self._tasks:
            return
        changed = task_id != self.selected
        self.selected = task_id
        if changed and self.geometry is not None:
            self._light()
            self._place_rows()  # a collapsed layer opens when the selection enters it
        self.scroll_to_selected()
        if changed and announce:
            self.post_message(DagPanel.Selected(self, task_id))  # type: ignore[arg-type]

    def scroll_to_selected(self) -> None:
        if self.selected is not None and self.geometry is not None:
            self.scroll_to_region(self.box_region(self.selected), animate=False, immediate=True)

    def scroll_to_frontier(self) -> None:
        """Bring the first running task (top layer first, then left) into view."""
        for layer in self.geometry.layers if self.geometry is not None else ():
            for box in layer:
                if self.status(box.task_id) is TaskStatus.RUNNING:
                    self.scroll_to_region(self.box_region(box.task_id), animate=False,
                                          immediate=True, center=True)
                    return

    def _allowed(self, layer: int) -> list[Box]:
        boxes = self.geometry.layers[layer]
        return boxes if self.shown is None else [b for b in boxes if b.task_id in self.shown]

    def _step_layer(self, step: int) -> None:
        if self.geometry is None:
            return
        if self.selected is None:
            self.action_select_first()
            return
        here = self.geometry.boxes[self.selected]
        layer = here.layer + step
        while 0 <= layer < len(self.geometry.layers):
            boxes = self._allowed(layer)
            if boxes:
                self.select(min(boxes, key=lambda b: abs(b.port - here.port)).task_id)
                return
            layer += step

    def _step_within(self, step: int) -> None:
        if self.geometry is None:
            return
        if self.selected is None:
            self.action_select_first()
            return
        boxes = self._allowed(self.geometry.boxes[self.selected].layer)
        ids = [b.task_id for b in boxes]
        if self.selected in ids:
            index = max(0, min(len(ids) - 1, ids.index(self.selected) + step))
            self.select(ids[index])

    def action_select_prev(self) -> None:
        self._step_layer(-1)

    def action_select_next(self) -> None:
        self._step_layer(1)

    def action_select_left(self) -> None:
        self._step_within(-1)

    def action_select_right(self) -> None:
        self._step_within(1)

    def action_select_first(self) -> None:
        for n in range(len(self.geometry.layers) if self.geometry is not None else 0):
            if boxes := self._allowed(n):
                self.select(boxes[0].task_id)
                return

    def action_select_last(self) -> None:
        for n in range(len(self.geometry.layers) - 1 if self.geometry is not None else -1, -1, -1):
            if boxes := self._allowed(n):
                self.select(boxes[-1].task_id)
                return

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or self.geometry is None:
            return
        x, y = offset.x + self.scroll_offset.x, offset.y + self.scroll_offset.y
        band = bisect.bisect_right(self._starts, y) - 1
        if band < 0 or self._bands[band][0] == "channel":
            return
        layer = self._bands[band][1]
        for box in self.geometry.layers[layer]:
            if box.x <= x < box.x + box.width:
                self.select(box.task_id)
                return

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._base = None  # a theme change: strips carry the old background
        self._styled.clear()


@lru_cache(maxsize=256)
def _mix(style: Style, over: Style) -> Style:
    """``style + over``, the same object each time (so a row's runs of one style join)."""
    return style + over
