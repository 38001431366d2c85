"""`deeptui history`: run history from the store as Rich tables and JSON, and the warning a
command prints when the store could not save a run."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from deeptui.errors import DeeptuiError
from deeptui.cli.headless import STATUS_STYLE
from deeptui.visualize.labels import cache_source_note
from deeptui.visualize.safe_text import markup, one_line, text as safe, visible

RUN_STYLE = {"completed": "green", "failed": "bold red", "running": "bold blue",
             "cancelled": "magenta", "interrupted": "yellow", "pending": "yellow"}
SHOW_CHUNK = 500  # task lines printed at a time: `history show` streams a big run


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _utc(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def _secs(value: float | None) -> str:
    return f"{value:.1f}s" if value is not None else ""


def warn(text: str) -> None:
    print(f"deeptui: warning: {visible(' '.join(text.split()))}", file=sys.stderr)


def unsaved_warning(store: Any, code: int) -> int:
    """``code``, or non-zero with a warning line when the history could not save a run."""
    if not getattr(store, "save_error", None):
        return code
    warn(store.save_error)
    return code or 1


def history_command(store: Any, action: str, run_id: str | None, limit: int,
                    console: Console, fmt: str = "table") -> int:
    if action == "list":
        return history_list(store, limit, console, fmt)
    if not run_id:
        raise DeeptuiError(f"history {action} needs a run id (see 'deeptui history')")
    if action == "show":
        return history_show(store, run_id, console, fmt)
    return history_export(store, run_id)


def history_list(store: Any, limit: int, console: Console, fmt: str = "table") -> int:
    runs = store.list_runs(limit)
    for problem in store.damaged:
        warn(problem)
    if fmt == "json":
        print(json.dumps([run.to_dict() for run in runs], indent=2, default=str))
        return 0
    if not runs:
        console.print(f"no runs yet in {store.path}")
        return 0
    table = Table(box=None, header_style="bold", padding=(0, 1), pad_edge=False,
                  collapse_padding=True)
    # the run id (it starts with the workflow id) is what the user types next: never cut it
    table.add_column("run", no_wrap=True, min_width=max(len(visible(r.run_id)) for r in runs))
    for header in ("status", "started", "duration", "done", "model"):
        table.add_column(header, no_wrap=True)
    for run in runs:
        status = str(run.status)
        started = run.started_at.astimezone().strftime("%m-%d %H:%M") if run.started_at else ""
        table.add_row(safe(run.run_id), safe(status, RUN_STYLE.get(status, "")), started,
                      _secs(run.duration_seconds), f"{run.completed}/{run.total_tasks}",
                      safe(run.model or ""))
    console.print(table)
    return 0


def history_show(store: Any, run_id: str, console: Console, fmt: str = "table") -> int:
    """The run's header, then its tasks as they are read (a 50,000-task run is not held in
    memory), as lines of fixed-width columns: the task id is never cut. As JSON: the
    summary and the tasks in the shape of `run --headless --format json`."""
    from deeptui.store.reports import task_rows

    summary = store.summary(run_id)
    count, longest, rows = task_rows(store, summary.run_id)
    workers = store.workers(summary.run_id)  # runs on a Dask cluster (--cluster) have them
    if fmt == "json":
        return _show_json(summary, rows, workers)
    console.print(safe(f"{summary.run_id}  {summary.workflow_name or summary.workflow_id}  "
                       f"[{summary.status}]", "bold"))
    console.print(f"started {_when(summary.started_at)}  ·  duration "
                  f"{_secs(summary.duration_seconds)}  ·  model {markup(summary.model or '-')}")
    # symbol, task, status, attempts and duration never shrink; the agent and the detail
    # share the rest (two spaces between columns, one at either edge)
    room = console.width - 14 - (1 + longest + 9 + 8 + 8)
    workers = {tid: _short_address(addr) for tid, addr in workers.items() if addr}
    # a cluster run's detail is first of all where the task ran: room for the whole address
    detail = max((len(addr) + 3 for addr in workers.values()), default=0)
    agent = min(20, max(room // 2, 5), max(room - detail, 5))
    widths = (longest, agent, max(room - agent, 6))
    lines = _ShowLines(widths, workers, plain=console.color_system is None)
    lines.add(("", Text("task", "bold"), "status", "attempts", "agent", "duration", "detail"),
              header=True)
    for row in rows:
        lines.add_task(row)
        if lines.count >= SHOW_CHUNK:
            lines.flush(console)
    lines.flush(console)
    return 0


class _ShowLines:
    """`history show`'s task lines, printed a chunk at a time: as one Rich Text on a
    console with colours, as the same characters written straight to the file on one
    without (a pipe, a file: 100,000 tasks in a fraction of the time)."""

    def __init__(self, widths: tuple[int, int, int], workers: dict[str, str | None],
                 plain: bool = False) -> None:
        self.task_width, self.agent_width, self.detail_width = widths
        self.widths = (1, self.task_width, 9, 8, self.agent_width, 8, self.detail_width)
        self.workers = workers
        self.plain = plain
        self.lines: list[str] = []
        self.text = Text(no_wrap=True, overflow="ignore", end="")
        self.count = 0

    def add_task(self, row: tuple[Any, ...]) -> None:
        tid, status, attempts, agent, started, ended, error, skip, cached, source, at = row
        status = status or "pending"
        symbol, style = _SHOW_STYLE.get(status, ("?", "bold red"))  # else a damaged row
        # a cached result names its run as the live run's report does
        detail = error or skip or (cache_source_note(cached, source, _utc(at)) if cached else "")
        if self.workers.get(tid):
            detail = f"on {self.workers[tid]}" + (f": {detail}" if detail else "")
        duration = ended - started if started is not None and ended is not None else None
        cells = (symbol, tid if tid.isprintable() else visible(tid),
                 status if status in _SHOW_STYLE else visible(status), str(attempts or ""),
                 visible(agent) if agent else "", _secs(duration),
                 one_line(detail) if detail else "")
        if self.plain:
            self.lines.append(self._line(cells))
            self.count += 1
        else:
            self.add((Text(symbol, style), *cells[1:2], Text(cells[2], style), *cells[3:6],
                      Text(cells[6], "dim")))

    def _line(self, cells: tuple[str, ...]) -> str:
        """The characters `add` appends for ``cells`` (no styles)."""
        symbol, tid, status, attempts, agent, secs, detail = cells
        agent_width, detail_width = self.agent_width, self.detail_width
        return (f" {_cut(symbol, 1):<1}  {tid:<{self.task_width}}  {_cut(status, 9):<9}  "
                f"{_cut(attempts, 8):<8}  {_cut(agent, agent_width):<{agent_width}}  "
                f"{_cut(secs, 8):<8}  {_cut(detail, detail_width)}\n")

    def add(self, cells: tuple[Any, ...], *, header: bool = False) -> None:
        if self.plain:
            self.lines.append(self._line(tuple(c.plain if isinstance(c, Text) else c
                                               for c in cells)))
            self.count += 1
            return
        text = self.text
        for i, (cell, width) in enumerate(zip(cells, self.widths, strict=True)):
            plain = cell.plain if isinstance(cell, Text) else cell
            if len(plain) > width and i != 1:  # the task id is never cut
                plain = plain[:width - 1] + "…"
            style = "bold" if header else (cell.style if isinstance(cell, Text) else "")
            text.append(" " if i == 0 else "  ")
            text.append(plain.ljust(width) if i < 6 else plain, style)
        text.append("\n")
        self.count += 1

    def flush(self, console: Console) -> None:
        if self.count and self.plain:
            console.file.write("".join(self.lines))
            console.file.flush()
        elif self.count:  # its last newline is the print's end (not a blank line)
            self.text.right_crop(1)
            self.text.end = "\n"
            console.print(self.text, soft_wrap=True)
        self.lines.clear()
        self.text = Text(no_wrap=True, overflow="ignore", end="")
        self.count = 0


def _short_address(address: str) -> str:
    """A worker's address without Dask's default ``tcp://`` (other schemes are kept)."""
    return address.removeprefix("tcp://")


def _cut(plain: str, width: int) -> str:
    """``plain`` ending in '…' where it is longer than ``width``."""
    return plain if len(plain) <= width else plain[:width - 1] + "…"


_SHOW_STYLE = {status.value: style for status, style in STATUS_STYLE.items()}


def _show_json(summary: Any, rows: Any, workers: dict[str, str | None]) -> int:
    """The summary and the tasks as `run --headless --format json` prints them, the tasks
    written as they are read."""
    from deeptui.cli.json_stream import write_document

    tasks = ({"id": tid, "status": status or "pending", "attempts": attempts or 0,
              "duration_seconds": ended - started if None not in (started, ended) else None,
              "error": error, "skip_reason": skip, "cached": bool(cached),
              "cached_from": source,
              "cached_at": _utc(at).isoformat() if at is not None else None,
              "agent": agent, "worker": workers.get(tid)}
             for (tid, status, attempts, agent, started, ended, error, skip, cached, source, at)
             in rows)
    document = {"run_id": summary.run_id, "workflow_id": summary.workflow_id,
                "workflow_name": summary.workflow_name, "status": str(summary.status),
                "error": summary.error, "summary": summary.to_dict(), "tasks": None}
    write_document(sys.stdout, document, "tasks", tasks, default=str)
    sys.stdout.flush()
    return 0


def history_export(store: Any, run_id: str) -> int:
    print(json.dumps(store.export_run(run_id), indent=2, default=str))
    return 0


__all__ = ["history_command", "history_export", "history_list", "history_show",
           "unsaved_warning"]
