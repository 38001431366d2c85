"""`TaskDetail`: the selected task's status, attempts, agent, duration, reason and output preview,
and for an agent task the files it read and searched and the changes it made (see `files_seen`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from deeptui.models import TaskDefinition, TaskResult, TaskStatus
from deeptui.visualize.safe_text import text as safe
from deeptui.visualize import STATUS_STYLES
from deeptui.visualize.labels import cached_note

from .diff_view import changes_summary
from .run_header import format_duration

PREVIEW_CHARS = 400
SHOWN_FILES = 5  # files (and searches) named in the detail; the rest are counted
READ_TOOLS = {"read_file"}
SEARCH_TOOLS = {"ls", "glob", "grep"}


def files_seen(entries: Iterable[tuple[float, str, str]]) -> tuple[list[str], list[str]]:
    """(files read, searches made), from an agent task's tool_call log lines, which the
    runner writes as the tool and what it works on: ``read_file pkg/mod.py``, ``grep eval(``."""
    read: list[str] = []
    searched: list[str] = []
    for _ts, kind, line in entries:
        if kind != "tool_call":
            continue
        tool, _, rest = line.partition(" ")
        if tool in READ_TOOLS and rest and rest not in read:
            read.append(rest)
        elif tool in SEARCH_TOOLS and line not in searched:
            searched.append(line)
    return read, searched


def _some(items: list[str], separator: str) -> Text:
    """The first few items, and how many more there are."""
    shown = safe(separator.join(items[:SHOWN_FILES]))
    if len(items) > SHOWN_FILES:
        shown.append(f" (+{len(items) - SHOWN_FILES} more)", style="dim")
    return shown


def output_text(output: Any) -> str:
    """A task's output as text (JSON for structured values)."""
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    try:
        return json.dumps(output, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(output)


class TaskDetail(Static):
    """A small key/value table about one task; ``show(task, result)`` repaints it."""

    DEFAULT_CSS = """
    TaskDetail { height: 10; padding: 0 1; background: $surface; }
    """

    def __init__(self, clock: Callable[[], datetime], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock

    def show(self, task: TaskDefinition | None, result: TaskResult | None,
             log: Iterable[tuple[float, str, str]] = ()) -> None:
        """Repaint for ``task``; ``log`` (its log entries) tells the files an agent read."""
        if task is None or result is None:
            self.update(Text("No task selected. Use ↑/↓ or click a task in the DAG.", style="dim"),
                        layout=False)
            return
        status = TaskStatus(result.status)
        look = STATUS_STYLES[status]
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        table.add_row("task", safe(task.id, "bold"))  # user text: never markup
        table.add_row("status", Text(f"{look.symbol} {status.value}", style=look.rich)
                      + Text(" (cached)" if result.cached else "", style="dim"))
        if result.cached_from is not None:  # which run produced it, and when (UTC)
            table.add_row("cache", safe(cached_note(result).removeprefix("cached "), "dim"))
        kind = task.kind
        agent = result.agent_used or task.agent_type or ("-" if kind != "agent" else "(routing)")
        table.add_row("kind", safe(f"{kind}   attempts {result.attempts}   agent {agent}"))
        duration = result.duration_seconds
        if duration is None and result.started_at is not None and status is TaskStatus.RUNNING:
            duration = (self.clock() - result.started_at).total_seconds()
        usage = result.usage
        line = f"{format_duration(duration)}   tokens {usage.total_tokens:,}"
        if usage.cost_usd is not None:
            line += f"   cost ${usage.cost_usd:.4f}"
        table.add_row("time", Text(line))
        if result.worker:  # it ran on a Dask cluster (--cluster)
            table.add_row("worker", safe(result.worker))
        if task.depends_on:
            table.add_row("needs", safe(", ".join(task.depends_on)))
        if result.changes is not None:
            table.add_row("changes", changes_summary(result.changes))
        read, searched = files_seen(log) if kind == "agent" else ([], [])
        if read:
            table.add_row("read", _some(read, ", "))
        if searched:
            table.add_row("searched", _some(searched, " · "))
        if result.skip_reason:
            table.add_row("skipped", safe(result.skip_reason, "grey50", multiline=True))
        if result.error:
            table.add_row("error", safe(result.error, "red", multiline=True))
        preview = output_text(result.output)
        if preview:
            cut = len(preview) > PREVIEW_CHARS
            shown = safe(preview[:PREVIEW_CHARS] + " …" if cut else preview, multiline=True)
            table.add_row("output", shown + Text(" (o: the whole output)" if cut else "", "dim"))
        elif task.description:
            table.add_row("about", safe(task.description, "italic", multiline=True))
        self.update(table, layout=False)  # fixed height: no relayout per selection
