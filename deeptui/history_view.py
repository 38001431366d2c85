"""`deeptui history`: run history from the store as Rich tables and JSON."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from deeptui.headless import STATUS_STYLE, cut, task_table
from deeptui.models import TaskStatus
from deeptui.safe_text import markup, one_line, text as safe, visible

RUN_STYLE = {"completed": "green", "failed": "bold red", "running": "bold blue",
             "cancelled": "magenta", "interrupted": "yellow", "pending": "yellow"}


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _secs(value: float | None) -> str:
    return f"{value:.1f}s" if value is not None else ""


def history_list(store: Any, limit: int, console: Console) -> int:
    runs = store.list_runs(limit)
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


def history_show(store: Any, run_id: str, console: Console) -> int:
    stored = store.load_run(run_id)
    state = stored.state
    summary = stored.summary
    console.print(safe(f"{summary.run_id}  {summary.workflow_name or summary.workflow_id}  "
                       f"[{summary.status}]", "bold"))
    console.print(f"started {_when(summary.started_at)}  ·  duration "
                  f"{_secs(summary.duration_seconds)}  ·  model {markup(summary.model or '-')}")
    task_ids = [t.id for t in stored.workflow.tasks if t.id in state.task_results]
    table = task_table(task_ids, "duration")
    for tid in task_ids:
        result = state.task_results.get(tid)
        if result is None:
            continue
        symbol, style = STATUS_STYLE[TaskStatus(result.status)]
        detail = result.error or result.skip_reason or ("cached" if result.cached else "")
        table.add_row(Text(symbol, style), safe(tid), Text(result.status.value, style),
                      str(result.attempts or ""), cut(result.agent_used or ""),
                      _secs(result.duration_seconds), cut(one_line(detail)[:70], "dim"))
    console.print(table)
    return 0


def history_export(store: Any, run_id: str) -> int:
    print(json.dumps(store.export_run(run_id), indent=2, default=str))
    return 0
