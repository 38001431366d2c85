"""`RunHeader`: a run's name and status, a segmented progress bar (completed, failed, skipped and
cancelled tasks in their own colours; the percentage counts completed tasks only), counts per
status, elapsed time, the expected time left (from the history's past durations, when the
run has them), tokens, cost, a note when an agent type's limit keeps slots idle ("5 of 8
slots: general-agent limit"), and a badge counting the tool calls that wait for the user's
approval."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from deeptui.models import TaskStatus, WorkflowState, WorkflowStatus
from deeptui.visualize import STATUS_STYLES
from deeptui.visualize.safe_text import text as safe

if TYPE_CHECKING:
    from deeptui.scheduler.run import Run

RUN_STYLES = {
    WorkflowStatus.PENDING: "yellow", WorkflowStatus.RUNNING: "bold blue",
    WorkflowStatus.COMPLETED: "bold green", WorkflowStatus.FAILED: "bold red",
    WorkflowStatus.CANCELLED: "bold dark_orange", WorkflowStatus.INTERRUPTED: "bold magenta",
}


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def elapsed(state: WorkflowState, now: datetime) -> float | None:
    if state.started_at is None:
        return None
    end = state.completed_at or now
    return (end - state.started_at).total_seconds()


def usage_totals(state: WorkflowState) -> tuple[int, float | None]:
    tokens = 0
    cost: float | None = None
    for result in state.task_results.values():
        tokens += result.usage.total_tokens
        if result.usage.cost_usd is not None:
            cost = (cost or 0.0) + result.usage.cost_usd
    return tokens, cost


def counts_text(state: WorkflowState, *, short: bool = False) -> Text:
    counts = {status: 0 for status in TaskStatus}
    for result in state.task_results.values():
        counts[result.status] += 1
    text = Text()
    for status in (TaskStatus.COMPLETED, TaskStatus.RUNNING, TaskStatus.PENDING,
                   TaskStatus.FAILED, TaskStatus.SKIPPED, TaskStatus.CANCELLED):
        look = STATUS_STYLES[status]
        if text:
            text.append("  ")
        label = "" if short else f" {status.value}"
        text.append(f"{look.symbol} {counts[status]}{label}", style=look.rich)
    return text


BAR_ORDER = (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.SKIPPED,
             TaskStatus.RUNNING)  # left to right; the rest of the bar is pending


def segmented_bar(state: WorkflowState, width: int) -> Text:
    """A bar of ``width`` cells, one coloured run of cells per finished status (and running),
    then the pending rest, followed by the share of tasks that *completed*.

    A status with at least one task gets at least one cell, so a single failure among
    1,000 tasks is still visible."""
    counts = {status: 0 for status in TaskStatus}
    for result in state.task_results.values():
        counts[result.status] += 1
    total = len(state.task_results)
    cells = {status: 0 for status in BAR_ORDER}
    if total:
        for status in BAR_ORDER:
            if counts[status]:
                cells[status] = max(1, round(width * counts[status] / total))
        while sum(cells.values()) > width:  # the minimum cells overflowed: trim the largest
            biggest = max(cells, key=cells.__getitem__)
            cells[biggest] -= 1
        if not counts[TaskStatus.PENDING] and sum(cells.values()) < width:
            # nothing pending: the bar is full; rounding leftovers go to the largest part
            biggest = max(cells, key=cells.__getitem__)
            cells[biggest] += width - sum(cells.values())
    bar = Text(no_wrap=True, overflow="crop")
    for status in BAR_ORDER:
        glyph = "━" if status is not TaskStatus.RUNNING else "╸"
        bar.append(glyph * cells[status], style=STATUS_STYLES[status].rich)
    bar.append("━" * (width - sum(cells.values())), style="grey30")
    percent = 100 * counts[TaskStatus.COMPLETED] // total if total else 0
    bar.append(f" {percent:>3}%", style="bold")
    return bar


def expected_left(run: Run | None, now: datetime) -> float | None:
    """Seconds the live run is expected to take still, from its history; None without one."""
    if run is None or run.executor.estimates is None or not run.executor.active:
        return None
    return run.executor.estimates.remaining(run.state.task_results, run.executor.limit, now)


class SegmentedBar(Static):
    """The run's progress: completed, failed, cancelled, skipped, running, then pending."""

    DEFAULT_CSS = "SegmentedBar { width: 29; height: 1; margin-right: 2; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state: WorkflowState | None = None

    def show(self, state: WorkflowState) -> None:
        self.state = state
        self.refresh()

    def render(self) -> Text:
        if self.state is None:
            return Text()
        return segmented_bar(self.state, max(1, self.size.width - 5))


class RunHeader(Vertical):
    """The top of the run screen. ``update_from(state)`` repaints it (once per batch)."""

    DEFAULT_CSS = """
    RunHeader { height: auto; padding: 0 1; background: $panel; }
    RunHeader #run-title { width: 1fr; height: 1; }
    RunHeader #run-bar { height: 1; }
    RunHeader #run-stats { width: 1fr; height: 1; }
    RunHeader #run-counts { height: 1; }
    """

    def __init__(self, clock: Callable[[], datetime], *, id: str | None = None,
                 run: Run | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.run = run  # a live run: its estimates and slot limits (a stored run has none)
        self._last: tuple[WorkflowState, bool] | None = None
        self.approvals = 0  # tool calls waiting for the user's approval
        self.approvals_key = "a"  # the key that opens them (the user's, if rebound)

    def set_approvals(self, count: int, key: str = "a") -> None:
        """Show (or hide, at 0) the badge of pending approvals; ``key`` opens them."""
        if (count, key) != (self.approvals, self.approvals_key):
            self.approvals, self.approvals_key = count, key
            if self._last is not None:
                self.update_from(self._last[0], read_only=self._last[1])

    def where(self) -> str | None:
        """Where the run's tasks run, when not on this machine (a Dask cluster: --cluster)."""
        cluster = getattr(getattr(self.app, "orchestrator", None), "cluster", None)
        return None if cluster is None else str(cluster.label)

    def compose(self) -> ComposeResult:
        yield Static(id="run-title")
        with Horizontal(id="run-bar"):
            yield SegmentedBar(id="run-progress")
            yield Static(id="run-stats")
        yield Static(id="run-counts")

    def on_resize(self) -> None:
        if self._last is not None:
            self.update_from(self._last[0], read_only=self._last[1])

    def update_from(self, state: WorkflowState, *, read_only: bool = False) -> None:
        self._last = (state, read_only)
        status = WorkflowStatus(state.status)
        title = Text()
        title.append_text(safe(state.workflow_name or state.workflow_id, "bold"))  # user text
        title.append_text(safe(f"  {state.run_id}  ", "dim"))
        title.append(status.value.upper(), style=RUN_STYLES.get(status, ""))
        if self.approvals:
            title.append("  ")
            title.append(f" ⚑ {self.approvals} waiting for approval ({self.approvals_key}) ", style="bold black on yellow")
        if read_only:
            title.append("  (stored run, read-only)", style="dim italic")
        elif where := self.where():
            title.append_text(safe(f"  on {where}", "dim"))
        self.query_one("#run-title", Static).update(title, layout=False)
        total = len(state.task_results)
        finished = sum(1 for r in state.task_results.values() if r.status.finished)
        self.query_one("#run-progress", SegmentedBar).show(state)
        tokens, cost = usage_totals(state)
        stats = Text()
        stats.append(f"{finished}/{total}", style="bold")
        stats.append(" finished")
        stats.append(f"  elapsed {format_duration(elapsed(state, self.clock()))}")
        left = expected_left(self.run, self.clock())
        if left is not None:
            stats.append(f"  ~{format_duration(left)} left")
        stats.append(f"  tok {tokens:,}")
        stats.append(f"  cost {'-' if cost is None else f'${cost:.4f}'}")
        note = self.run.executor.slot_note() if self.run is not None else None
        if note:
            stats.append(f"  {note}", style="yellow")
        self.query_one("#run-stats", Static).update(stats, layout=False)
        short = 0 < self.size.width < 96
        self.query_one("#run-counts", Static).update(counts_text(state, short=short), layout=False)
