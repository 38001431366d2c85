"""Search in the task log: `LogMatches` (where a query occurs in the log's lines, which match
is current, and those lines drawn highlighted) and `LogSearch` (the search bar: an input and
a "3/17" count).

`/` in the log opens the bar under it; typing finds as it goes (case-insensitive, plain
text, never a pattern), enter / shift+enter or, in the log, n / N move to the next /
previous match, escape closes the bar and drops the highlights. Matches are found in the
lines as drawn (wrapped to the log's width), so a word cut by the wrap is not found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import accumulate
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.style import Style
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.strip import Strip
from textual.widgets import Input, Static

from deeptui.widgets.bindings import bindings

if TYPE_CHECKING:
    from deeptui.widgets.task_log import TaskLogView

MATCH = Style(bgcolor="#3d5a80", color="#ffffff")  # every match: a muted blue
CURRENT = Style(bgcolor="#ffd700", color="#000000", bold=True)  # the current one: gold


class LogMatches:
    """The matches of one query in a list of drawn lines: (line, start, end) in characters."""

    def __init__(self) -> None:
        self.query = ""
        self.found: list[tuple[int, int, int]] = []
        self.current = -1
        self._by_line: dict[int, list[int]] = {}  # line -> indexes into found
        self._text_of: dict[int, tuple[Strip, str]] = {}  # id(line) -> (line, its text)

    def find(self, lines: Sequence[Strip], query: str, near: int = 0) -> None:
        """Find ``query`` in ``lines``; the current match is the first at or after line
        ``near`` (a new query), or stays where it was (the same query, lines added)."""
        same = query == self.query and self.current >= 0
        kept = self.found[self.current][:2] if same and self.found else None
        self.query = query
        self.found, self._by_line = [], {}
        if query:  # one scan of the lines joined (a query has no newline), mapped back
            texts = self._texts(lines)
            starts = list(accumulate((len(text) + 1 for text in texts), initial=0))
            y = 0
            for match in re.compile(re.escape(query), re.IGNORECASE).finditer("\n".join(texts)):
                at = match.start()
                while starts[y + 1] <= at:
                    y += 1
                self._by_line.setdefault(y, []).append(len(self.found))
                self.found.append((y, at - starts[y], match.end() - starts[y]))
        if not self.found:
            self.current = -1
        elif kept is not None:
            self.current = next((i for i, f in enumerate(self.found) if f[:2] >= kept),
                                len(self.found) - 1)
        else:
            self.current = next((i for i, f in enumerate(self.found) if f[0] >= near), 0)

    def _texts(self, lines: Sequence[Strip]) -> list[str]:
        """Each line's plain text, kept per line object (the log's lines change only at its
        ends, so searching again after new lines reads only those)."""
        kept, fresh, texts = self._text_of, {}, []
        for strip in lines:
            hit = kept.get(id(strip))
            if hit is None or hit[0] is not strip:
                hit = (strip, strip.text)
            fresh[id(strip)] = hit
            texts.append(hit[1])
        self._text_of = fresh
        return texts

    def move(self, step: int) -> int | None:
        """Make the next (``step`` 1) or previous (-1) match current, wrapping around;
        the line it is on (None without matches)."""
        if not self.found:
            return None
        self.current = (self.current + step) % len(self.found)
        return self.found[self.current][0]

    @property
    def line(self) -> int | None:
        return self.found[self.current][0] if self.current >= 0 else None

    @property
    def count(self) -> str:
        """``3/17``; ``no match`` when the query is not found."""
        if not self.query:
            return ""
        return f"{self.current + 1}/{len(self.found)}" if self.found else "no match"

    def on_line(self, y: int) -> bool:
        return y in self._by_line

    def highlight(self, y: int, strip: Strip) -> Strip:
        """Line ``y`` with its matches highlighted (the current one stands out)."""
        text = strip.text
        cuts: list[tuple[int, int, Style]] = []
        for index in self._by_line.get(y, ()):
            _, start, end = self.found[index]
            style = CURRENT if index == self.current else MATCH
            cuts.append((cell_len(text[:start]), cell_len(text[:end]), style))
        points = sorted({p for start, end, _ in cuts for p in (start, end)} | {strip.cell_length})
        pieces, at = [], 0
        for piece, end in zip(strip.divide(points), points):
            style = next((s for a, b, s in cuts if a <= at and end <= b and a < b), None)
            pieces.append(piece.apply_style(style) if style is not None else piece)
            at = end
        return Strip.join(pieces)


class LogSearch(Horizontal):
    """The search bar of a `TaskLogView` (mounted under it by the log's ``/``)."""

    BINDINGS = bindings("log_search")
    DEFAULT_CSS = """
    LogSearch { dock: bottom; height: 1; background: $panel; }
    LogSearch Input { width: 1fr; }
    LogSearch #log-search-count { width: auto; min-width: 10; padding: 0 1; color: $text; }
    """

    def __init__(self, log: TaskLogView) -> None:
        super().__init__(id="log-search")
        self.log_view = log

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search the log (enter: next, shift+enter: previous, esc: close)",
                    id="log-search-input", compact=True)
        yield Static("", id="log-search-count")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def show_count(self, count: str) -> None:
        self.query_one("#log-search-count", Static).update(count)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.log_view.search_for(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.log_view.action_next_match()

    def action_previous(self) -> None:
        self.log_view.action_previous_match()

    def action_close(self) -> None:
        self.log_view.close_search()
