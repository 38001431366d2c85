"""The headless run: a Rich live view of a run (task table, progress bar, elapsed time).

It is a bus subscriber like the app: it redraws a few times a second from the
run's state. Ctrl-C, SIGTERM and SIGHUP cancel the run instead of killing it
mid-write, and the process exits only once every task's processes are gone. When
stdout is not a terminal (a file, a pipe, a CI log) it prints only the final
table, with every task and its whole id and detail; ``output="json"`` prints one
JSON document instead (see deeptui.cli.run_report).
"""

from __future__ import annotations

import asyncio
import heapq
import os
import signal
import time
from contextlib import nullcontext, suppress
from operator import attrgetter
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.measure import Measurement
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from deeptui.models import TaskResult, TaskStatus, WorkflowState, WorkflowStatus
from deeptui.visualize.labels import cached_note
from deeptui.visualize.safe_text import markup, one_line, visible, text as safe

STATUS_STYLE = {
    TaskStatus.PENDING: ("○", "yellow"),
    TaskStatus.RUNNING: ("⟳", "bold blue"),
    TaskStatus.COMPLETED: ("✓", "green"),
    TaskStatus.FAILED: ("✗", "bold red"),
    TaskStatus.SKIPPED: ("⊘", "dim"),
    TaskStatus.CANCELLED: ("■", "magenta"),
}
MAX_ROWS = 18
PLAIN_ROWS = 2000  # more tasks than this, piped: `write_lines` instead of a Rich table
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # each cancels the run


_ROW_ORDER = (TaskStatus.RUNNING, TaskStatus.FAILED, TaskStatus.CANCELLED,
              TaskStatus.COMPLETED, TaskStatus.SKIPPED, TaskStatus.PENDING)


def _finished_at(result: TaskResult) -> float:
    return result.completed_at.timestamp() if result.completed_at else 0.0


def _latest(results: list[TaskResult], count: int) -> list[TaskResult]:
    """The ``count`` most recently finished of ``results`` (each has a ``completed_at``)."""
    try:
        return heapq.nlargest(count, results, key=_COMPLETED_AT)
    except TypeError:  # naive and aware times mixed: compared as timestamps
        return heapq.nlargest(count, results, key=_finished_at)


_COMPLETED_AT = attrgetter("completed_at")


def _rows(state: WorkflowState, full: bool = False) -> list[Any]:
    """Running tasks first, then failures, then the most recently finished, then pending
    (all of them, in the workflow's order, when ``full``). A big run is grouped in one pass
    and only the rows shown are picked from each group (no sort of every task per frame)."""
    results = list(state.task_results.values())
    if full or len(results) <= MAX_ROWS:
        return results
    dated: dict[TaskStatus, list[TaskResult]] = {status: [] for status in _ROW_ORDER}
    undated: dict[TaskStatus, list[TaskResult]] = {status: [] for status in _ROW_ORDER}
    for result in results:
        (undated if result.completed_at is None else dated)[result.status].append(result)
    rows: list[TaskResult] = []
    for status in _ROW_ORDER:  # within a status the most recently finished, then in order
        rows += _latest(dated[status], MAX_ROWS - len(rows))
        rows += undated[status][:MAX_ROWS - len(rows)]
    return rows


def task_table(task_ids: list[str], time_header: str = "time") -> Table:
    """The task table's columns: the task id is never cut (a user copies and greps it);
    on a narrow or piped (80-column) console the agent and the detail are shortened."""
    table = Table(box=None, header_style="bold", expand=False)
    table.add_column("")
    table.add_column("task", no_wrap=True, min_width=max((len(visible(t)) for t in task_ids), default=4))
    table.add_column("status", no_wrap=True)
    table.add_column("attempts", no_wrap=True)
    table.add_column("agent")
    table.add_column(time_header, no_wrap=True)
    table.add_column("detail")
    return table


def cut(text: str, style: str = "") -> Text:
    """A cell of one line of user text (no markup, control characters visible),
    ending in '…' when its column is narrower."""
    return safe(text, style, no_wrap=True, overflow="ellipsis")


def render(state: WorkflowState, progress: dict[str, Any], elapsed: float,
           full: bool = False) -> Group:
    """The view; ``full``: every task, whole details (for a file or a pipe)."""
    rows = _rows(state, full)
    table = task_table([result.task_id for result in rows])
    for result in rows:
        symbol, style = STATUS_STYLE[result.status]
        duration = result.duration_seconds
        detail = result.error or result.skip_reason or cached_note(result)
        table.add_row(Text(symbol, style), safe(result.task_id), Text(result.status.value, style),
                      str(result.attempts or ""), cut(result.agent_used or ""),
                      f"{duration:.1f}s" if duration is not None else "",
                      safe(" ".join(detail.splitlines()), "dim") if full
                      else cut(one_line(detail)[:60], "dim"))
    total = progress["total_tasks"] or 1
    counts = "  ".join(f"{progress[k]} {k}" for k in
                       ("completed", "running", "failed", "skipped", "cancelled", "pending")
                       if progress.get(k))
    hidden = len(state.task_results) - len(rows)
    footer = Text(f"{progress['finished']}/{progress['total_tasks']} tasks  ·  {counts}  ·  "
                  f"{elapsed:.1f}s" + (f"  ·  {hidden} more not shown" if hidden else ""))
    bar = Table.grid(padding=(0, 1))
    bar.add_row(ProgressBar(total=total, completed=progress["finished"], width=40),
                f"{progress['percent']:.0f}%")
    title = safe(f"{state.workflow_name}  [{state.status.value}]  run {state.run_id}", "bold")
    return Group(title, table, bar, footer)


def write_lines(console: Console, state: WorkflowState, progress: dict[str, Any],
                elapsed: float) -> None:
    """What `render` shows, for a file or a pipe and more than `PLAIN_ROWS` tasks: plain
    lines of fixed-width columns written as they are made (a Rich table of 100,000 rows
    takes minutes to measure), every task whole, in the workflow's order. Per task it
    makes one line and nothing else (ids without control characters are used as they are,
    the symbol and status columns come from a table)."""
    results = state.task_results
    width = max(4, max((len(t) if t.isprintable() else len(visible(t)) for t in results),
                       default=4))
    agent_names = {r.agent_used for r in results.values()}
    agents = max(5, max((len(visible(a)) for a in agent_names if a), default=5))
    agent_cell = {a: f"{visible(a or ''):<{agents}}" for a in agent_names}
    status_cells = {status: (f" {symbol}  ", f"  {status.value:<9}  ")
                    for status, (symbol, _) in STATUS_STYLE.items()}
    out = console.file
    out.write(one_line(f"{state.workflow_name}  [{state.status.value}]  run {state.run_id}")
              + f"\n    {'task':<{width}}  status     attempts  {'agent':<{agents}}  time    "
              "detail\n")
    chunk: list[str] = []
    # the cells from the status to the time column, made once per (status, attempts, agent)
    middle: dict[tuple[TaskStatus, int, str | None], tuple[str, str]] = {}
    for tid, r in results.items():
        key = (r.status, r.attempts, r.agent_used)
        cells = middle.get(key)
        if cells is None:
            symbol, status = status_cells[r.status]
            cells = middle[key] = (symbol, f"{status}{r.attempts or '':<8}  {agent_cell[r.agent_used]}  ")
        head = f"{cells[0]}{tid if tid.isprintable() else visible(tid):<{width}}{cells[1]}"
        started, ended = r.started_at, r.completed_at
        duration = "" if started is None or ended is None else \
            f"{(ended - started).total_seconds():.1f}s"
        detail = r.error or r.skip_reason or ("cached" if r.cached else "")
        if detail:
            chunk.append(f"{head}{duration:<6}  {visible(' '.join(detail.splitlines()))}".rstrip()
                         + "\n")
        elif duration:  # (the common line: nothing to strip after the time)
            chunk.append(f"{head}{duration}\n")
        else:
            chunk.append(head.rstrip() + "\n")
        if len(chunk) >= 1000:
            out.write("".join(chunk))
            chunk.clear()
    counts = "  ".join(f"{progress[k]} {k}" for k in
                       ("completed", "running", "failed", "skipped", "cancelled", "pending")
                       if progress.get(k))
    out.write("".join(chunk) + f"{progress['percent']:.0f}%\n{progress['finished']}/"
              f"{progress['total_tasks']} tasks  ·  {counts}  ·  {elapsed:.1f}s\n")
    out.flush()


def _fit_width(console: Console, renderable: Any) -> None:
    """Widen a console that is not a terminal to the renderable's natural width, so
    no cell is cut or wrapped (a terminal keeps its own width)."""
    wide = console.options.update(width=100_000)
    console.width = max(console.width, Measurement.get(console, wide, renderable).maximum)


def _detach_from_terminal() -> None:
    """Point stdout and stderr at /dev/null where they are a terminal (after SIGHUP)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        with suppress(OSError):
            if os.isatty(fd):
                os.dup2(devnull, fd)
    os.close(devnull)


async def run_headless(orchestrator: Any, workflow: Any, *, run_id: str | None = None,
                       resume_from: Any = None, console: Console | None = None,
                       output: str = "table", refresh: bool = False) -> int:
    """Run (or resume) with a live view (``output="json"``: one JSON document at the
    end instead; ``refresh``: no task is read from the cache); 0 when the run completed,
    1 otherwise."""
    console = console or Console(highlight=False)
    as_json = output == "json"
    notices = Console(stderr=True, highlight=False) if as_json else console
    if resume_from is not None:
        from deeptui.store import start_resume

        rid = start_resume(orchestrator, resume_from, run_id)
    elif refresh:
        from deeptui.refresh import start_refreshed

        rid = start_refreshed(orchestrator, workflow, run_id=run_id)
    else:
        rid = orchestrator.start_workflow(workflow, run_id=run_id)
    run = orchestrator.find_run(rid)
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        """Ctrl-C, SIGTERM, SIGHUP: cancel the run (each task's process group is ended,
        SIGKILL after the grace period) and exit once it ended. Again: SIGKILL the
        groups now and exit once they are gone."""
        if received:
            from deeptui.runners import groups

            groups.end_all(grace=0)
            raise KeyboardInterrupt
        received.append(signum)
        orchestrator.cancel_workflow(rid)
        if signum == signal.SIGHUP:  # the terminal is gone: writing to it would fail
            _detach_from_terminal()
        again = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        with suppress(OSError):
            notices.print(f"[yellow]{signal.Signals(signum).name}: cancelling the run "
                          f"({again} again to quit at once)...[/]")

    for signum in STOP_SIGNALS:
        try:
            loop.add_signal_handler(signum, on_signal, signum)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    start = time.monotonic()
    live_view = console.is_terminal and not as_json
    lines = False
    try:
        with nullcontext() if as_json else Live(console=console, refresh_per_second=4,
                                                transient=False, auto_refresh=False) as live:
            while not run.task.done():
                if live_view:
                    live.update(render(run.state, orchestrator.get_workflow_progress(rid),
                                       time.monotonic() - start), refresh=True)
                await asyncio.wait({run.task}, timeout=0.25)
            if not run.task.cancelled() and run.task.exception() is not None:
                raise run.task.exception()  # a bug in the engine: main() reports it in one line
            state = await orchestrator.wait(rid)
            lines = not live_view and len(state.task_results) > PLAIN_ROWS
            if not as_json and not lines:
                final = render(state, orchestrator.get_workflow_progress(rid),
                               time.monotonic() - start, full=not live_view)
                if not live_view:
                    _fit_width(console, final)
                live.update(final, refresh=True)
        if lines:
            write_lines(console, state, orchestrator.get_workflow_progress(rid),
                        time.monotonic() - start)
        if not as_json:
            console.line()
    finally:
        for signum in STOP_SIGNALS:
            try:
                loop.remove_signal_handler(signum)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
    # killed by a signal: say so in the exit code (143 for SIGTERM, 129 for SIGHUP)
    code_if_failed = 128 + received[0] if received and received[0] != signal.SIGINT else 1
    store = getattr(orchestrator, "store", None)
    unsaved = store is not None and store.sync() is not None
    if as_json:
        from deeptui.cli.run_report import write_run_document

        write_run_document(console.file, state, [task.id for task in workflow.tasks],
                           saved=not unsaved)
        console.file.flush()
        return 0 if state.status is WorkflowStatus.COMPLETED and not unsaved else code_if_failed
    if note := run.executor.slot_note():  # an agent type's limit kept slots idle
        console.print(f"[yellow]concurrency: {markup(note)}[/]")
    if unsaved:  # never a "completed" the history lost
        console.print(f"[red]✗ run {markup(rid)} ({state.status.value}) was not saved to the "
                      "history[/]")
        return code_if_failed
    if state.status is WorkflowStatus.COMPLETED:
        console.print(f"[green]✓ run {markup(rid)} completed[/]")
        return 0
    console.print(f"[red]✗ run {markup(rid)} {state.status.value}[/]"
                  + (f": {markup(state.error, multiline=True)}" if state.error else ""))
    for tid in state.failed_tasks:  # errors are plain text: '[openai]' is not markup
        console.print(f"  [red]✗ {markup(tid)}[/]: {markup(state.task_results[tid].error or '', multiline=True)}")
    return code_if_failed
