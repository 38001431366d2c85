"""What `RunStore` derives from its rows: the export document of a run, the aggregate stats,
a run's task rows streamed (``history show``), and safe, unique export file names."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deeptui.errors import StoreError

from deeptui.metrics import WorkflowMetrics, aggregate_stats
from deeptui.store.schema import CURRENT_VERSION, DEFINITION_TEXT, DEFINITIONS
from deeptui.store.codec import dt

if TYPE_CHECKING:
    from deeptui.store.run_store import RunStore, StoredRun


def export_document(store: RunStore, stored: StoredRun) -> dict[str, Any]:
    """Everything stored about one run, JSON-serializable."""
    summary = stored.summary
    tasks = []
    for task in stored.workflow.tasks:
        r = stored.state.task_results[task.id]
        tasks.append({
            "task_id": task.id, "status": str(r.status), "output": r.output,
            "output_kind": stored.output_kinds.get(task.id, "json"), "error": r.error,
            "skip_reason": r.skip_reason, "attempts": r.attempts,
            "started_at": r.started_at.isoformat() if r.started_at else None,
            "completed_at": r.completed_at.isoformat() if r.completed_at else None,
            "duration_seconds": r.duration_seconds, "agent_used": r.agent_used,
            "cached": r.cached, "cached_from": r.cached_from,  # the run that produced it
            "cached_at": r.cached_at.isoformat() if r.cached_at else None,
            "usage": r.usage.model_dump(mode="json"), "worker": r.worker,
            "logs": [{"ts": t, "kind": k, "text": x} for t, k, x in stored.logs.get(task.id, [])],
            "log_lines_dropped": stored.log_dropped.get(task.id, 0),
        })
    return {
        "format": "deeptui-run",
        "schema_version": CURRENT_VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "database": str(store.path),
        "run": {**summary.to_dict(), "parameters": stored.parameters, "model": stored.model},
        "workflow": stored.workflow.model_dump(mode="json"),
        "tasks": tasks,
        "events": store.events(summary.run_id),
        "metrics": WorkflowMetrics.from_state(stored.workflow, stored.state).to_dict(),
    }


_STATS_SQL = """
SELECT r.run_id, r.workflow_id, r.workflow_name, r.status, r.started_at, r.completed_at,
       COUNT(t.task_id),
       COALESCE(SUM(t.status = 'completed'), 0), COALESCE(SUM(t.status = 'failed'), 0),
       COALESCE(SUM(t.status = 'skipped'), 0), COALESCE(SUM(t.status = 'cancelled'), 0),
       COALESCE(SUM(MAX(t.attempts - 1, 0)), 0), COALESCE(SUM(t.cached), 0),
       COALESCE(SUM(t.input_tokens), 0), COALESCE(SUM(t.output_tokens), 0),
       SUM(t.cost_usd),
       AVG(CASE WHEN t.status = 'completed' AND t.cached = 0 AND t.started_at IS NOT NULL
                THEN t.completed_at - t.started_at END)
FROM runs r LEFT JOIN tasks t ON t.run_id = r.run_id
WHERE r.status IN ('completed', 'failed', 'cancelled')
GROUP BY r.run_id"""


def aggregate(store: RunStore) -> dict[str, Any]:
    """The orchestration guide's aggregate statistics over every stored run that ended, plus
    run counts."""
    runs = []
    with store._lock:
        rows = store.conn.execute(_STATS_SQL).fetchall()
        by_status = dict(store.conn.execute(
            "SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall())
    for (rid, wid, name, status, started, ended, total, done, failed, skipped, cancelled,
         retries, cached, tin, tout, cost, avg) in rows:
        duration = max(ended - started, 0.0) if started is not None and ended is not None else 0.0
        runs.append(WorkflowMetrics(
            workflow_id=wid, workflow_name=name, status=status, started_at=dt(started),
            completed_at=dt(ended), total_tasks=total, completed_tasks=done,
            failed_tasks=failed, skipped_tasks=skipped, total_retries=retries,
            total_duration_seconds=duration, average_task_duration=avg or 0.0,
            slowest_task=None, fastest_task=None,
            success_rate=done / total * 100 if total else 0.0,
            retry_rate=retries / total if total else 0.0, cancelled_tasks=cancelled,
            cache_hits=cached, input_tokens=tin, output_tokens=tout, total_tokens=tin + tout,
            cost_usd=cost, run_id=rid))
    stats = aggregate_stats(runs)
    stats.update({
        "cancelled_workflows": by_status.get("cancelled", 0),
        "interrupted_workflows": by_status.get("interrupted", 0),
        "running_workflows": by_status.get("running", 0),
        "stored_runs": sum(by_status.values()),
        "database": str(store.path),
    })
    return stats


# ------------------------------------------------------------- streamed task rows

SHOW_COLUMNS = ("task_id", "status", "attempts", "agent_used", "started_at", "completed_at",
                "error", "skip_reason", "cached", "cached_from", "cached_at")
_SHOW_SQL = """
SELECT json_extract(j.value, '$.id'), t.status, t.attempts, t.agent_used, t.started_at,
       t.completed_at, substr(t.error, 1, 500), substr(t.skip_reason, 1, 500), t.cached,
       t.cached_from, t.cached_at
FROM """ + DEFINITIONS + ", json_each(" + DEFINITION_TEXT + """, '$.tasks') j
LEFT JOIN tasks t ON t.run_id = d.run_id AND t.task_id = json_extract(j.value, '$.id')
WHERE d.run_id = ?"""
_WIDTHS_SQL = """
SELECT COUNT(*), MAX(LENGTH(json_extract(j.value, '$.id')))
FROM """ + DEFINITIONS + ", json_each(" + DEFINITION_TEXT + """, '$.tasks') j
WHERE d.run_id = ?"""


def task_rows(store: RunStore, run_id: str) -> tuple[int, int, Iterator[tuple[Any, ...]]]:
    """(tasks, longest task id, rows): every task of a stored run in definition order, one
    `SHOW_COLUMNS` tuple each (None status: never started), read as they are consumed from a
    read-only connection of their own: memory does not grow with the run."""
    from deeptui.store.records import damaged

    rid = store.resolve(run_id)
    try:
        count, longest = store._read(_WIDTHS_SQL, (rid,))[0]
    except StoreError as exc:
        raise damaged(store.path, rid, f"its workflow definition cannot be read ({exc})") \
            from None
    return count, longest or 4, _stream(store, rid)


def _stream(store: RunStore, rid: str) -> Iterator[tuple[Any, ...]]:
    conn = sqlite3.connect(Path(store.path).resolve().as_uri() + "?mode=ro", uri=True,
                           timeout=store.timeout)
    try:
        cursor = conn.execute(_SHOW_SQL, (rid,))
        while rows := cursor.fetchmany(500):
            yield from rows
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the history database {store.path}: {exc}") from None
    finally:
        conn.close()


# ------------------------------------------------------------- export file names

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


def file_name(text: str, limit: int = 80) -> str:
    """``text`` as a file name: safe on every file system, and unique: text that had to
    change (``a/b``, ``ci:1``, a leading dot, an over-long id) gets a short hash of the
    original, so ``a/b`` and ``a_b`` never name the same file."""
    safe = _UNSAFE.sub("_", text).strip("._-")[:limit] or "run"
    if safe == text:
        return safe
    return f"{safe}-{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"
