"""`TimelineView`: a run's Gantt chart, one row per task over wall time, drawn through the Line API.

Row 0 is the time axis (it stays put); each other row is a task: a ``◆`` when it
is on the critical path, its id, its bar and its duration and attempts. In a
bar ``·`` is the wait from ready to start, ``▓`` a failed attempt, ``╌`` the
wait before a retry and ``█`` the last attempt (in its status's colour); a task
skipped or cancelled before it started is a ``×`` at that time. Only the rows on
screen are drawn, so a repaint costs the same for 10 tasks as for 10,000.
"""

from __future__ import annotations

from rich.segment import Segment as RichSegment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from deeptui.timeline import ATTEMPT, FAILED_ATTEMPT, RETRY_WAIT, WAIT, Bar, Timeline
from deeptui.visualize.safe_text import visible
from deeptui.widgets.metrics_charts import STATUS_STYLES, format_seconds

GLYPHS = {WAIT: "·", RETRY_WAIT: "╌", FAILED_ATTEMPT: "▓", ATTEMPT: "█"}
PAINT_ORDER = (WAIT, RETRY_WAIT, FAILED_ATTEMPT, ATTEMPT)
LEGEND = "◆ critical path  █ attempt  ▓ failed attempt  ╌ retry wait  · waiting"
ID_WIDTH = 28  # task ids are cut (…) beyond this many cells
INFO_WIDTH = 11  # " 12.5s ×3"


class TimelineView(ScrollView, can_focus=True):
    """Shows a `Timeline` (``show``); scrolls vertically, the axis row stays on top."""

    DEFAULT_CSS = """
    TimelineView { height: 1fr; padding: 0 1; border: round $primary 60%;
                   border-title-color: $text; }
    TimelineView:focus { border: round $primary; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.timeline: Timeline | None = None
        self._strips: dict[int, Strip] = {}
        self._styles: dict[str, Style] = {}
        self._widest_id = 4  # the longest task id (measured once per show)
        self._base: Style | None = None

    def show(self, timeline: Timeline | None) -> None:
        self.timeline = timeline
        self._strips.clear()
        self._widest_id = max((len(bar.task_id) for bar in timeline.bars), default=4) \
            if timeline is not None else 4
        rows = len(timeline.bars) if timeline is not None else 0
        self.virtual_size = Size(self.scrollable_content_region.width, rows + 1)
        if timeline is not None:
            on_path = len(timeline.critical)
            self.border_subtitle = (f"{len(timeline.bars)} tasks · "
                                    f"{format_seconds(timeline.span)} · "
                                    f"critical path {on_path} task{'s' * (on_path != 1)}")
        self.refresh()

    # -- drawing --------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.app.console.get_style(name)
        return style

    def _columns(self, width: int) -> tuple[int, int]:
        """(id width, bar width) for a row of ``width`` cells."""
        id_width = max(4, min(self._widest_id, ID_WIDTH, width // 4))
        return id_width, max(width - 2 - id_width - 1 - INFO_WIDTH, 4)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self._base
        if base is None:  # the widget's style, worked out once (per theme), not per row
            base = self._base = self.rich_style
        timeline = self.timeline
        if timeline is None:
            return self._text_strip("No run to show." if y == 0 else "", width, base)
        if y == 0:
            return self._axis(width, base)
        n = self.scroll_offset.y + y - 1
        if n >= len(timeline.bars):
            return Strip.blank(width, base)
        strip = self._strips.get(n)
        if strip is None or strip.cell_length != width:
            strip = self._strips[n] = self._row(timeline, timeline.bars[n], width, base)
        return strip

    def _text_strip(self, text: str, width: int, base: Style) -> Strip:
        return Strip([RichSegment(text[:width], base)]).extend_cell_length(width, base)

    def _axis(self, width: int, base: Style) -> Strip:
        timeline = self.timeline
        assert timeline is not None
        id_width, bar_width = self._columns(width)
        dim = base + self._style("dim")
        cells = [" "] * bar_width
        ticks = 4 if bar_width >= 40 else 2
        labels = []
        for k in range(ticks + 1):
            at = round(k * (bar_width - 1) / ticks)
            label = format_seconds(timeline.span * k / ticks)
            start = min(at, bar_width - len(label)) if k else 0
            labels.append((start, label))
        for start, label in labels:
            if all(c == " " for c in cells[max(start - 1, 0):start + len(label) + 1]):
                cells[start:start + len(label)] = label
        head = "  " + "time".ljust(id_width) + " "
        return Strip([RichSegment(head, dim), RichSegment("".join(cells), dim),
                      RichSegment(" " * INFO_WIDTH, base)]).extend_cell_length(width, base)

    def _row(self, timeline: Timeline, bar: Bar, width: int, base: Style) -> Strip:
        id_width, bar_width = self._columns(width)
        status_style = STATUS_STYLES.get(bar.status, "")
        segments = [RichSegment("◆ " if bar.critical else "  ", base + self._style("bold yellow"))]
        task_id = visible(bar.task_id)
        if len(task_id) > id_width:
            task_id = task_id[:id_width - 1] + "…"
        segments.append(RichSegment(task_id.ljust(id_width) + " ",
                                    base + self._style("bold" if bar.critical else "")))
        segments += self._bar_cells(timeline, bar, bar_width, base, status_style)
        info = _info(bar)[:INFO_WIDTH - 1]
        segments.append(RichSegment(" " * (INFO_WIDTH - len(info)), base))
        segments.append(RichSegment(info, base + self._style("dim")))
        return Strip(segments).crop_extend(0, width, base)

    def _bar_cells(self, timeline: Timeline, bar: Bar, bar_width: int, base: Style,
                   status_style: str) -> list[RichSegment]:
        cells: list[str] = [" "] * bar_width
        kinds: list[str] = [""] * bar_width
        scale = timeline.span / bar_width if timeline.span > 0 else 0.0

        def cell(t: float) -> int:
            if scale <= 0:
                return 0
            return min(max(int((t - timeline.t0) / scale), 0), bar_width - 1)

        for kind in PAINT_ORDER:
            for seg in bar.segments:
                if seg.kind != kind:
                    continue
                first = cell(seg.start)
                last = max(first, cell(seg.end - scale * 1e-6) if seg.end > seg.start else first)
                for i in range(first, last + 1):
                    cells[i], kinds[i] = GLYPHS[kind], kind
        if not bar.segments and bar.end is not None:  # skipped or cancelled before it started
            i = cell(bar.end)
            cells[i], kinds[i] = "×", ATTEMPT
        styles = {WAIT: "dim", RETRY_WAIT: "yellow", FAILED_ATTEMPT: "red",
                  ATTEMPT: status_style + (" bold" if bar.critical else ""), "": ""}
        out: list[RichSegment] = []
        run_start = 0
        for i in range(1, bar_width + 1):
            if i == bar_width or kinds[i] != kinds[run_start]:
                out.append(RichSegment("".join(cells[run_start:i]),
                                       base + self._style(styles[kinds[run_start]])))
                run_start = i
        return out

    def on_resize(self) -> None:
        self._strips.clear()
        if self.timeline is not None:
            self.virtual_size = Size(self.scrollable_content_region.width,
                                     len(self.timeline.bars) + 1)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._styles.clear()
        self._base = None

    def row_texts(self) -> list[str]:
        """Every row as plain text at the current width (axis first): what tests read."""
        width = self.scrollable_content_region.width
        if self.timeline is None:
            return []
        base = Style()
        rows = [self._axis(width, base)] + [self._row(self.timeline, bar, width, base)
                                           for bar in self.timeline.bars]
        return ["".join(seg.text for seg in strip) for strip in rows]


def _info(bar: Bar) -> str:
    if bar.cached:
        text = "cached"
    elif bar.status in ("pending", "skipped") and bar.start is None:
        text = bar.status
    else:
        text = format_seconds(bar.duration) if bar.duration is not None else bar.status
    return text + (f" ×{bar.attempts}" if bar.attempts > 1 else "")
