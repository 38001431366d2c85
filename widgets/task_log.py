"""`TaskLogView`: the selected task's streaming log, with a follow mode.

Lines are the engine's ``(timestamp, kind, text)`` log entries (agent text,
tool calls, shell output, retries, errors), styled by kind. An ``attempt`` entry
(added by the run screen when a task starts again, after a retry or a cancel and
retry) is drawn as a dim rule, so one attempt's partial text never runs into the
next. Follow mode keeps
the newest line in view; scrolling up stops following, scrolling back to the
bottom (or ``f``) resumes it. ``/`` searches the log (see `deeptui.widgets.log_search`);
``t`` collapses the agent's tool calls: each call stays one ``▸`` line, its result is
hidden (``t`` again shows them; the export and the copy keep everything).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from rich.text import Text
from textual import events
from textual.strip import Strip
from textual.widgets import RichLog

from deeptui.visualize.safe_text import visible
from deeptui.widgets.bindings import bindings
from deeptui.widgets.log_search import LogMatches, LogSearch

KIND_STYLES: dict[str, tuple[str, str]] = {
    "text": ("", ""),
    "tool_call": ("→ ", "cyan"),
    "tool_result": ("← ", "dim cyan"),
    "tool_folded": ("▸ ", "cyan"),  # a tool call whose result is hidden (``t``)
    "stdout": ("", "grey70"),
    "stderr": ("", "yellow"),
    "info": ("· ", "dim"),
    "error": ("✗ ", "bold red"),
    "approval": ("⚑ ", "bold yellow"),  # waiting for / answered by a person (or the policy)
}

FOLDED = "tool_folded"
ATTEMPT = "attempt"  # the kind of a separator entry: its text is "attempt N"
DISPLAY_LINE_CHARS = 10_000  # a longer line (minified JSON, base64) is cut on screen only
REWRAP_ENTRIES = 20_000  # entries wrapped again on a resize (the view keeps 5,000 lines)
STREAMED = {"text"}  # agent text arrives in chunks, joined into lines (stdout comes in lines)


def format_line(ts: float, kind: str, text: str, *, with_time: bool = True) -> Text:
    """One display line; agent text has no prefix, other kinds a time and a marker."""
    prefix, style = KIND_STYLES.get(kind, ("", ""))
    if kind == "approval" and text.startswith(("approved", "denied")):
        style = "bold green" if text.startswith("approved") else "bold red"
    line = Text(no_wrap=False)
    if len(text) > DISPLAY_LINE_CHARS:  # whole in the task's output and in plain_text()
        text = (f"{text[:DISPLAY_LINE_CHARS]} … ({len(text) - DISPLAY_LINE_CHARS:,} more "
                "characters)")
    if with_time and kind not in ("text", "stdout", "stderr"):
        line.append(time.strftime("%H:%M:%S ", time.localtime(ts)), style="dim")
    line.append(prefix + visible(text, multiline=True), style=style)  # ESC, BEL shown
    return line


class AttemptStarts:
    """When each task started, per attempt the run screen saw (its ``TaskStarted`` events),
    to put an ``attempt`` separator before each attempt after the first."""

    def __init__(self) -> None:
        self.starts: dict[str, list[float]] = {}

    def note(self, task_id: str, ts: float,
             log: Callable[[str], list[tuple[float, str, str]]]) -> list[tuple[float, str, str]]:
        """``task_id`` started at ``ts``: the separator entry to show before it (none for a
        first attempt; one that wrote to ``log(task_id)`` before the screen watched counts)."""
        marks = self.starts.get(task_id)
        if marks is None:
            marks = self.starts[task_id] = []
            if any(entry[0] < ts for entry in log(task_id)):
                marks.append(0.0)
        marks.append(ts)
        return [(ts, ATTEMPT, f"attempt {len(marks)}")] if len(marks) > 1 else []

    def merged(self, task_id: str | None, log: Callable[[str], list[tuple[float, str, str]]]
               ) -> list[tuple[float, str, str]]:
        """``log(task_id)`` with each separator before the first entry written after its start."""
        entries = log(task_id) if task_id else []
        marks = [(ts, ATTEMPT, f"attempt {n}")
                 for n, ts in enumerate(self.starts.get(task_id or "", []), 1)][1:]
        merged: list[tuple[float, str, str]] = []
        for entry in entries:
            while marks and marks[0][0] <= entry[0]:
                merged.append(marks.pop(0))
            merged.append(entry)
        return merged + marks


def plain_line(ts: float, kind: str, text: str) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(ts))
    return f"{stamp} [{kind}] {text.rstrip()}"


class TaskLogView(RichLog):
    """A RichLog of one task's lines that follows the end until the user scrolls up."""

    BINDINGS = bindings("log")
    DEFAULT_CSS = """
    TaskLogView { background: $surface; }
    """

    def __init__(self, *, id: str | None = None, show_time: bool = True) -> None:
        super().__init__(id=id, wrap=True, markup=False, highlight=False, max_lines=5000, min_width=20,
                         auto_scroll=True)
        self.show_time = show_time
        self.task_id: str | None = None
        self.entries: list[tuple[float, str, str]] = []
        self._partial: tuple[float, str, str] | None = None
        self._wrap_width: int | None = None  # the width the lines were wrapped to
        self.tools_collapsed = False  # tool calls shown without their results
        self.matches = LogMatches()  # the search's matches (none without a search)
        self.search_bar: LogSearch | None = None

    @property
    def follow(self) -> bool:
        return self.auto_scroll

    @follow.setter
    def follow(self, value: bool) -> None:
        self.auto_scroll = value
        if value:
            self.scroll_end(animate=False, immediate=True)
        self.border_subtitle = "following" if value else "paused (f to follow)"

    def on_mount(self) -> None:
        self.border_subtitle = "following"

    def show(self, task_id: str | None, entries: Iterable[tuple[float, str, str]]) -> None:
        """Replace the content with ``task_id``'s log so far."""
        self.task_id = task_id
        self.entries = []
        self._partial = None
        self.clear()
        entries = list(entries)
        if not entries:
            self.write(Text("(no output yet)" if task_id else "(no task selected)", style="dim"))
        self.append(entries)
        self.flush()
        self._search_again()

    def append(self, entries: Iterable[tuple[float, str, str]]) -> None:
        """Add log entries; streamed chunks of one kind join into whole lines."""
        entries = list(entries)
        if entries and not self.entries and self.lines:
            self.clear()  # drop the "(no output yet)" placeholder
        self.entries.extend(entries)
        self._render(entries)
        self._search_again()

    def _render(self, entries: Iterable[tuple[float, str, str]]) -> None:
        for ts, kind, text in entries:
            if self._partial and kind != self._partial[1]:
                self.flush()
            if kind in STREAMED:
                pending = (self._partial[2] if self._partial else "") + text
                *whole, rest = pending.split("\n")
                for line in whole:
                    self._write(ts, kind, line)
                self._partial = (ts, kind, rest) if rest else None
                if self._partial and len(rest) > 400:
                    self.flush()
            elif kind == "tool_result" and self.tools_collapsed:
                continue
            else:
                for line in text.rstrip("\n").split("\n"):
                    self._write(ts, kind, line)

    def on_resize(self) -> None:
        """Lines are wrapped when written: a new width wraps them again; a followed log
        keeps its newest line in view whatever the new size."""
        width = self.scrollable_content_region.width
        if self._wrap_width is not None and width != self._wrap_width and self.entries:
            self._render_again()
        self._wrap_width = width
        self._search_again()
        if self.auto_scroll:
            self.scroll_end(animate=False)

    def _render_again(self) -> None:
        """Write the lines again (a new width, tool calls collapsed or shown)."""
        flushed = self._partial is None
        where = self.scroll_y / self.max_scroll_y if self.max_scroll_y else 1.0
        self.clear()
        self._partial = None
        self._render(self.entries[-REWRAP_ENTRIES:])
        if flushed:  # the last partial line had been written (the stream ended)
            self.flush()
        if not self.auto_scroll:  # paused: stay about where the reader was
            self.call_after_refresh(lambda: self.scroll_to(
                y=round(where * self.max_scroll_y), animate=False))

    def action_toggle_tools(self) -> None:
        self.tools_collapsed = not self.tools_collapsed
        if self.entries:
            self._render_again()
            self._search_again()
        self.notify("Tool results hidden" if self.tools_collapsed else "Tool results shown")

    def flush(self) -> None:
        """Write a pending partial line (the stream paused or ended)."""
        if self._partial:
            self._write(*self._partial)
            self._partial = None

    def _write(self, ts: float, kind: str, text: str) -> None:
        if kind == ATTEMPT:
            width = max(20, self.scrollable_content_region.width - 1)
            label = f"── {text} "
            self.write(Text(label + "─" * max(2, width - len(label)), style="dim"),
                       scroll_end=self.auto_scroll)
            return
        if kind == "tool_call" and self.tools_collapsed:
            kind = FOLDED  # the marker says its result is hidden
        self.write(format_line(ts, kind, text, with_time=self.show_time),
                   scroll_end=self.auto_scroll)

    def plain_text(self) -> str:
        return "\n".join(plain_line(*entry) for entry in self.entries)

    def _pause(self) -> None:
        if self.auto_scroll and self.max_scroll_y > 0:
            self.auto_scroll = False
            self.border_subtitle = "paused (f to follow)"

    # the user scrolling up (wheel, keys, scrollbar) pauses following
    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._pause()

    def action_scroll_up(self) -> None:
        self._pause()
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self._pause()
        super().action_page_up()

    def action_scroll_home(self) -> None:
        self._pause()
        super().action_scroll_home()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if not self.auto_scroll and new_value > old_value and new_value >= self.max_scroll_y:
            self.auto_scroll = True  # back at the bottom: follow again
            self.border_subtitle = "following"

    # -- search (see deeptui.widgets.log_search) ------------------------------------------

    def action_search(self) -> None:
        if self.search_bar is None and self.parent is not None:
            self.search_bar = LogSearch(self)
            self.parent.mount(self.search_bar)
        elif self.search_bar is not None:
            self.search_bar.query_one("Input").focus()

    def search_for(self, query: str) -> None:
        """Find ``query`` (a new one: the first match from the top of the view is current)."""
        self.matches.find(self.lines, query, near=round(self.scroll_y))
        self._show_match()

    def action_next_match(self) -> None:
        self.matches.move(1)
        self._show_match()

    def action_previous_match(self) -> None:
        self.matches.move(-1)
        self._show_match()

    def close_search(self) -> None:
        self.matches.find(self.lines, "")
        if self.search_bar is not None:
            self.search_bar.remove()
            self.search_bar = None
        self.refresh()
        self.focus()

    def _search_again(self) -> None:
        """The lines changed (added, wrapped again): find the query in them again."""
        if self.matches.query:
            self.matches.find(self.lines, self.matches.query)
            self._show_count()
            self.refresh()

    def _show_match(self) -> None:
        """Bring the current match into view (pausing follow) and repaint."""
        line = self.matches.line
        if line is not None:
            if not self.scroll_y <= line < self.scroll_y + self.scrollable_content_region.height:
                self._pause()
                self.scroll_to(y=max(0, line - self.scrollable_content_region.height // 2),
                               animate=False, immediate=True)
        self._show_count()
        self.refresh()

    def _show_count(self) -> None:
        if self.search_bar is not None and self.search_bar.is_mounted:
            self.search_bar.show_count(self.matches.count)

    def _render_line(self, y: int, scroll_x: int, width: int) -> Strip:
        if not self.matches.on_line(y):
            return super()._render_line(y, scroll_x, width)
        return self.matches.highlight(y, self.lines[y]).crop_extend(
            scroll_x, scroll_x + width, self.rich_style)
