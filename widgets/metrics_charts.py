"""The metrics dashboard's charts: task durations as bars, the status mix, figure grids.

The charts are Rich renderables that size themselves to the width they are
given, wrapped in small `Static` widgets for the screen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from deeptui.visualize.safe_text import text as safe

if TYPE_CHECKING:  # (annotations only: the models load after the app's first frame)
    from deeptui.metrics import TaskMetrics, WorkflowMetrics

STATUS_STYLES: dict[str, str] = {
    "completed": "green",
    "failed": "red",
    "skipped": "yellow",
    "cancelled": "magenta",
    "running": "cyan",
    "pending": "grey50",
}
_EIGHTHS = " ▏▎▍▌▋▊▉█"


def bar_text(fraction: float, width: int, style: str) -> Text:
    """A horizontal bar `fraction` (0..1) of `width` cells, in eighths of a cell."""
    width = max(width, 1)
    eighths = round(max(0.0, min(fraction, 1.0)) * width * 8)
    full, part = divmod(eighths, 8)
    body = "█" * full + (_EIGHTHS[part] if part else "")
    if not body and fraction > 0:
        body = "▏"  # a task that took any time at all gets a sliver
    return Text(body.ljust(width), style=style)


def format_seconds(seconds: float) -> str:
    """``0.42s``, ``12.3s``, ``4m 05s``."""
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m {rest:02d}s"


@dataclass
class DurationBars:
    """One bar per task, longest first; cached tasks are marked and have no bar."""

    tasks: Sequence[TaskMetrics]
    limit: int | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        rows = sorted(self.tasks, key=lambda task: (-task.duration_seconds, task.task_id))
        if not rows:
            yield Text("No tasks.", style="dim")
            return
        shown = rows[: self.limit] if self.limit else rows
        name_width = min(max(len(safe(task.task_id)) for task in shown), 24,
                         max(options.max_width // 3, 6))
        figure_width = max(len(format_seconds(task.duration_seconds)) for task in shown)
        bar_width = max(options.max_width - name_width - figure_width - 2, 4)
        longest = max(task.duration_seconds for task in shown) or 1.0
        table = Table.grid(padding=(0, 1))
        table.add_column(width=name_width, no_wrap=True, overflow="ellipsis")
        table.add_column(width=bar_width, no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        for task in shown:
            status = str(task.status)
            style = STATUS_STYLES.get(status, "white")
            if task.cached:
                bar = Text("(from cache)".ljust(bar_width), style="dim italic")
            elif status in ("pending", "skipped", "cancelled") and not task.duration_seconds:
                bar = Text(f"({status})".ljust(bar_width), style=f"dim {style}")
            else:
                bar = bar_text(task.duration_seconds / longest, bar_width, style)
            table.add_row(safe(task.task_id), bar, format_seconds(task.duration_seconds))
        yield table
        if len(shown) < len(rows):
            yield Text(f"… and {len(rows) - len(shown)} more", style="dim")


@dataclass
class StatusMix:
    """The share of each task status as one stacked bar, with a legend below."""

    counts: Mapping[str, int]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        total = sum(self.counts.values())
        if not total:
            yield Text("No tasks.", style="dim")
            return
        width = max(options.max_width, 8)
        line = Text()
        used = 0
        present = [(s, n) for s, n in self.counts.items() if n]
        for index, (status, number) in enumerate(present):
            cells = width - used if index == len(present) - 1 else round(number / total * width)
            cells = max(cells, 1)
            line.append("█" * cells, style=STATUS_STYLES.get(status, "white"))
            used += cells
        yield line
        legend = Text()
        for index, (status, number) in enumerate(present):
            legend.append(("   " if index else "") + "■ ", style=STATUS_STYLES.get(status, "white"))
            legend.append(f"{status} {number}")
        yield legend


def status_counts(metrics: WorkflowMetrics) -> dict[str, int]:
    """Tasks per status, in the order a reader expects (completed first)."""
    counts = Counter(str(task.status) for task in metrics.task_metrics)
    ordered = {status: counts.pop(status, 0) for status in STATUS_STYLES}
    ordered.update(counts)
    return ordered


def figures_table(rows: Sequence[tuple[str, Any]]) -> Table:
    """Labels (dim) and values (bold), two columns."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(style="bold", overflow="fold")
    for label, value in rows:
        table.add_row(label, value if isinstance(value, Text) else safe(value))  # user text
    return table


def run_figures(metrics: WorkflowMetrics) -> list[tuple[str, Any]]:
    """The headline figures of one run, for `figures_table`."""

    def task_figure(task: TaskMetrics | None) -> str:
        return f"{task.task_id} ({format_seconds(task.duration_seconds)})" if task else "n/a"

    status_style = STATUS_STYLES.get(metrics.status, "white")
    cost = f"${metrics.cost_usd:.4f}" if metrics.cost_usd is not None else "n/a"
    return [
        ("Workflow", metrics.workflow_name),
        ("Status", Text(metrics.status, style=status_style)),
        ("Duration", format_seconds(metrics.total_duration_seconds)),
        ("Tasks", f"{metrics.completed_tasks}/{metrics.total_tasks} completed"),
        ("Success rate", f"{metrics.success_rate:.1f}%"),
        ("Retries", f"{metrics.total_retries} ({metrics.retry_rate:.2f}/task)"),
        ("Bottleneck", task_figure(metrics.get_bottleneck())),
        ("Slowest", task_figure(metrics.slowest_task)),
        ("Fastest", task_figure(metrics.fastest_task)),
        ("Average task", format_seconds(metrics.average_task_duration)),
        ("Cache hits", metrics.cache_hits),
        ("Tokens", f"{metrics.total_tokens:,}"),
        ("Cost", cost),
    ]


AGGREGATE_LABELS: dict[str, str] = {
    "total_workflows": "Runs",
    "successful_workflows": "Succeeded",
    "failed_workflows": "Failed",
    "total_tasks": "Tasks",
    "average_success_rate": "Average success rate",
    "success_rate": "Task success rate",
    "average_duration": "Average duration",
    "total_completed": "Tasks completed",
    "total_failed": "Tasks failed",
    "total_skipped": "Tasks skipped",
    "total_cancelled": "Tasks cancelled",
    "total_retries": "Retries",
    "retry_rate": "Retries per task",
    "total_cache_hits": "Cache hits",
    "total_tokens": "Tokens",
    "total_cost_usd": "Cost",
}


def aggregate_rows(stats: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """`get_aggregate_stats()` as labelled, unit-bearing figures (known keys first)."""

    def show(key: str, value: Any) -> str:
        if key in ("average_success_rate", "success_rate"):
            return f"{value}%"
        if key == "average_duration":
            return format_seconds(float(value))
        if key == "total_cost_usd":
            return f"${float(value):.4f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    keys = [key for key in AGGREGATE_LABELS if key in stats]
    keys += [key for key in stats if key not in AGGREGATE_LABELS]
    return [(AGGREGATE_LABELS.get(key, key.replace("_", " ")), show(key, stats[key]))
            for key in keys]


_LEVELS = " ▁▂▃▄▅▆▇█"


@dataclass
class TrendBars:
    """Durations over past runs as vertical bars from zero, oldest left, newest right.

    Only the newest runs that fit the width are drawn (two cells per run).
    """

    values: Sequence[float]
    height: int = 3

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.values:
            return
        shown = list(self.values)[-max(options.max_width // 2, 1):]
        top = max(shown) or 1.0
        steps = [round(value / top * self.height * 8) for value in shown]
        for row in range(self.height, 0, -1):
            line = Text()
            for index, step in enumerate(steps):
                filled = min(max(step - (row - 1) * 8, 0), 8)
                style = "bold cyan" if index == len(steps) - 1 else "cyan"
                line.append(_LEVELS[filled] + " ", style=style)
            yield line


class TrendChart(Static):
    """Durations of one workflow's past runs."""

    def show_values(self, values: Sequence[float]) -> None:
        self.update(TrendBars(values))


class DurationChart(Static):
    """Task durations of one run as bars, longest first."""

    def show_metrics(self, metrics: WorkflowMetrics | None) -> None:
        if metrics is None:
            self.update(Text("No run selected.", style="dim"))
        else:
            self.update(DurationBars(metrics.task_metrics))


class StatusMixBar(Static):
    """The status mix of one run's tasks."""

    def show_metrics(self, metrics: WorkflowMetrics | None) -> None:
        self.update(StatusMix(status_counts(metrics)) if metrics else "")


class FigureGrid(Static):
    """Label/value figures (a run's headline figures, aggregate statistics)."""

    def show_rows(self, rows: Sequence[tuple[str, Any]]) -> None:
        self.update(figures_table(rows))
