"""`LineView`: a scrollable, read-only list of prepared Rich lines, drawn through the Line API.

For content of any length (a 50,000-task workflow file's tasks or DAG): the
lines are built once (in a worker thread if they are many, see
``workflow_lines``), and only the rows on screen are turned into strips, so
showing, scrolling or leaving the screen costs the same for 5 lines as for
50,000. Also holds ``workflow_lines``: the task table and DAG preview of a
workflow file as such lines (user text escaped: never markup, control
characters visible), and ``no_gc_pauses`` for building them in a thread.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from deeptui.models import WorkflowDefinition
from deeptui.visualize.safe_text import visible

NEEDS_WIDTH = 40  # the "needs" column is cut (with …) beyond this many cells


class LineView(ScrollView, can_focus=True):
    """Shows ``lines`` (one Rich ``Text`` each, never wrapped); scrolls both ways."""

    DEFAULT_CSS = """
    LineView { height: 1fr; padding: 0 1; }
    """

    def __init__(self, lines: list[Text] | None = None, width: int | None = None, *,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._lines: list[Text] = []
        self._strips: dict[int, Strip] = {}
        self.set_lines(lines or [], width)

    def set_lines(self, lines: list[Text], width: int | None = None) -> None:
        """Show ``lines``; ``width`` (their widest cell length) saves measuring them here."""
        self._lines = lines
        self._strips.clear()
        if width is None:
            width = _width(lines)
        self.virtual_size = Size(width, len(lines))
        self.refresh()

    @property
    def line_count(self) -> int:
        return len(self._lines)

    def line_text(self, n: int) -> str:
        return self._lines[n].plain

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        n = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if n >= len(self._lines):
            return Strip.blank(width, base)
        strip = self._strips.get(n)
        if strip is None:
            text = self._lines[n]
            console = self.app.console
            style = base + console.get_style(text.style) if text.style else base
            strip = Strip(text.render(console), text.cell_len).apply_style(style)
            self._strips[n] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def on_resize(self) -> None:
        self._strips.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # a theme change: strips carry the old background


@dataclass
class WorkflowLines:
    """A workflow file's task table and DAG preview, ready for two ``LineView``s."""

    tasks: list[Text]
    dag: list[Text]
    tasks_width: int
    dag_width: int


def _cell(text: str, width: int, style: str) -> Text:
    cell = Text(text, style, no_wrap=True, overflow="ellipsis")
    if cell.cell_len > width:
        cell.truncate(width, overflow="ellipsis")
    return cell


def task_table_lines(workflow: WorkflowDefinition) -> list[Text]:
    """Header and one line per task: id (bold), kind (cyan), needs (dim, cut), description."""
    rows = [(visible(t.id), t.kind, visible(", ".join(t.depends_on)), visible(t.description))
            for t in workflow.tasks]
    id_width = max((cell_len(r[0]) for r in rows), default=0)
    id_width = max(id_width, 4)
    kind_width = max(4, *(len(r[1]) for r in rows)) if rows else 4
    needs_width = min(NEEDS_WIDTH, max(5, *(cell_len(r[2]) for r in rows)) if rows else 5)
    header = Text(no_wrap=True)
    for title, width in (("task", id_width), ("kind", kind_width), ("needs", needs_width)):
        header.append(title.ljust(width + 2), "bold")
    header.append("description", "bold")
    lines = [header]
    for tid, kind, needs, description in rows:
        line = Text(no_wrap=True)
        line.append_text(_cell(tid, id_width, "bold"))
        line.append(" " * (id_width - cell_len(tid) + 2))
        line.append(kind.ljust(kind_width + 2), "cyan")
        needs_cell = _cell(needs, needs_width, "dim")
        line.append_text(needs_cell)
        line.append(" " * (needs_width - needs_cell.cell_len + 2))
        line.append(description)
        lines.append(line)
    return lines


def workflow_lines(workflow: WorkflowDefinition) -> WorkflowLines:
    """Both views' lines (CPU work: call it from a thread worker for a big workflow)."""
    from deeptui.visualize import DAGVisualizer

    dag = [line for line, _ in DAGVisualizer(workflow).ascii_lines()]
    tasks = task_table_lines(workflow)
    return WorkflowLines(tasks, dag, _width(tasks), _width(dag))


def _width(lines: list[Text]) -> int:
    return max((line.cell_len for line in lines), default=0)


@contextmanager
def no_gc_pauses() -> Iterator[None]:
    """Load a big file without stopping the UI for the garbage collector.

    A 10,000-task file makes a few hundred thousand long-lived objects; while they
    are created, every full collection walks all of them with the GIL held (up to
    0.4 s each, on the UI thread too). Collection is paused while loading, and what
    exists afterwards is frozen (``gc.freeze``: never walked again; freed as usual
    when no longer referenced)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
