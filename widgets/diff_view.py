"""A writing task's changes on screen: the files it touched with their counts, and the coloured diff.

`diff_lines` turns a `TaskChanges` into Rich lines (per file a header: status,
path, +added -removed; then its unified diff: ``+`` green, ``-`` red, ``@@``
hunk headers cyan) for a `LineView`, which draws only the rows on screen and
scrolls both ways, so a diff of thousands of lines costs what a short one does.
Paths and file contents are user text: shown as written, never as markup.
"""

from __future__ import annotations

from rich.text import Text

from deeptui.models import FileChange, TaskChanges
from deeptui.visualize.safe_text import visible

from .line_view import LineView

STATUS_LOOKS = {"added": ("A", "bold green"), "modified": ("M", "bold yellow"),
                "deleted": ("D", "bold red")}


def _raw_lines(diff: str) -> list[str]:
    """The diff's lines (split on newlines only: other control characters stay visible)."""
    lines = diff.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def line_counts(change: FileChange) -> tuple[int, int]:
    """(lines added, lines removed) of one file's diff."""
    added = removed = 0
    for line in _raw_lines(change.diff):
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed


def changes_summary(changes: TaskChanges) -> Text:
    """``2 modified, 1 added  +14 -3  (not applied)``: one line for the task detail."""
    added = removed = 0
    for change in changes.files:
        plus, minus = line_counts(change)
        added, removed = added + plus, removed + minus
    line = Text(changes.summary())
    if changes.files:
        line.append(f"  +{added}", "green")
        line.append(f" -{removed}", "red")
    line.append("  applied" if changes.applied else "  not applied", "bold green" if changes.applied
                else "bold yellow")
    return line


def file_line(change: FileChange) -> Text:
    """``M pkg/mod.py  +3 -1``"""
    letter, style = STATUS_LOOKS[change.status]
    plus, minus = line_counts(change)
    line = Text(no_wrap=True)
    line.append(f"{letter} ", style)
    line.append(visible(change.path), "bold")
    line.append(f"  {change.status}", "dim")
    line.append(f"  +{plus}", "green")
    line.append(f" -{minus}", "red")
    return line


def _diff_line(raw: str) -> Text:
    shown = visible(raw.expandtabs(4))
    if raw.startswith(("+++", "---")):
        style = "bold"
    elif raw.startswith("+"):
        style = "green"
    elif raw.startswith("-"):
        style = "red"
    elif raw.startswith("@@"):
        style = "cyan"
    elif raw.startswith("\\") or raw.startswith("Binary file"):
        style = "dim italic"
    else:
        style = ""
    return Text(shown, style, no_wrap=True)


def diff_lines(changes: TaskChanges) -> list[Text]:
    """Every file's header line and its coloured diff, a blank line between files."""
    lines: list[Text] = []
    for change in changes.files:
        if lines:
            lines.append(Text(""))
        header = file_line(change)
        header.stylize("reverse", 0, 1)
        lines.append(header)
        lines.extend(_diff_line(raw) for raw in _raw_lines(change.diff))
    return lines or [Text("(no changes)", "dim")]


class DiffView(LineView):
    """A scrollable, coloured unified diff of one task's changes."""

    def show(self, changes: TaskChanges) -> None:
        self.set_lines(diff_lines(changes))
