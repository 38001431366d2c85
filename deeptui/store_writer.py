"""How `RunStore` turns queued bus events into rows.

`write_batch` runs on the store's writer thread (or on whoever calls
``flush()``), one transaction per batch. It keeps an in-memory mirror of
each live run's task rows, so a burst of events on one task is one row write.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from deeptui import bus as ev
from deeptui.models import TaskResult
from deeptui.store_schema import TASK_COLUMNS

if TYPE_CHECKING:
    from deeptui.store import RunStore

log = logging.getLogger("deeptui.store")
_SURROGATES = re.compile("[\ud800-\udfff]")

(_STATUS, _OUTPUT, _KIND, _ERROR, _SKIP, _ATTEMPTS, _STARTED, _ENDED, _AGENT, _CACHED,
 _IN, _OUT, _REQ, _COST, _DROPPED) = range(3, 18)
_COLS = ", ".join(TASK_COLUMNS)
INSERT_TASK = f"INSERT OR REPLACE INTO tasks ({_COLS})"
KEEP_TASK = f"INSERT OR IGNORE INTO tasks ({_COLS})"
INSERT_EVENT = "INSERT INTO events (run_id, ts, task_id, kind, attempt, detail)"
INSERT_LOG = "INSERT INTO logs (run_id, task_id, ts, kind, text)"
# SQLite releases the GIL for every step of a statement, and a busy event loop holds it
# until its next poll: one step per row (executemany) left the writer thread far behind a
# large run. A multi-row INSERT is one step for many rows.
ROWS_PER_INSERT = 500
SELECT_TASKS = f"SELECT {_COLS} FROM tasks WHERE run_id = ? ORDER BY position"

_UPSERT_RUN = """
INSERT INTO runs (run_id, workflow_id, workflow_name, status, error, template, model,
                  started_at, completed_at, total_tasks, pid, host, proc_token, resumes,
                  created_at, updated_at)
VALUES (?, ?, ?, 'running', NULL, ?, ?, ?, NULL, ?, ?, ?, ?, 0, ?, ?)
ON CONFLICT (run_id) DO UPDATE SET
    status = 'running', error = NULL, completed_at = NULL,
    workflow_name = excluded.workflow_name, template = COALESCE(excluded.template, runs.template),
    model = excluded.model, total_tasks = excluded.total_tasks,
    started_at = COALESCE(runs.started_at, excluded.started_at),
    pid = excluded.pid, host = excluded.host, proc_token = excluded.proc_token,
    resumes = runs.resumes + 1, updated_at = excluded.updated_at"""
_UPSERT_DEFINITION = """
INSERT INTO definitions (run_id, workflow_json, parameters_json) VALUES (?, ?, ?)
ON CONFLICT (run_id) DO UPDATE SET workflow_json = excluded.workflow_json,
    parameters_json = COALESCE(excluded.parameters_json, definitions.parameters_json)"""


# ------------------------------------------------------------- values


def encode_output(output: Any, where: str) -> tuple[str | None, str]:
    """(text, kind): JSON (kind "json"), or ``str(output)`` (kind "text") with a warning."""
    if output is None:
        return None, "json"
    try:
        text = json.dumps(output, ensure_ascii=False)
        # lone surrogates (text decoded from non-UTF-8 bytes): escaped, they round-trip exactly
        return (text if utf8(text) is text else json.dumps(output)), "json"
    except (TypeError, ValueError):
        pass
    try:
        from pydantic_core import to_json

        return to_json(output).decode(), "json"  # pydantic models, dataclasses, datetimes
    except Exception:  # noqa: BLE001 - anything else is stored as its text
        log.warning("%s: output of type %s is not JSON-serializable; stored as its text",
                    where, type(output).__name__)
        return utf8(str(output)), "text"


def utf8(text: str | None) -> str | None:
    """``text`` as SQLite can store it: lone surrogates (from non-UTF-8 bytes) become U+FFFD."""
    if text is None or text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text)
    return text


def decode_output(text: str | None, kind: str) -> Any:
    if text is None:
        return None
    return json.loads(text) if kind == "json" else text


def ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def dt(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def row_from_result(run_id: str, position: int, r: TaskResult) -> list[Any]:
    text, kind = encode_output(r.output, f"task '{r.task_id}' of run '{run_id}'")
    u = r.usage
    return [run_id, r.task_id, position, str(r.status), text, kind, r.error, r.skip_reason,
            r.attempts, ts(r.started_at), ts(r.completed_at), r.agent_used, int(r.cached),
            u.input_tokens, u.output_tokens, u.requests, u.cost_usd, 0]


def _pending_row(run_id: str, task_id: str, position: int) -> list[Any]:
    return [run_id, task_id, position, "pending", None, "json", None, None, 0, None, None,
            None, 0, 0, 0, 0, None, 0]


# ------------------------------------------------------------- writing


def write_batch(store: RunStore, batch: list[tuple[Any, Any]]) -> None:
    """Write queued (event, extra) pairs in one transaction."""
    conn = store.conn
    mirror = store._rows
    dirty: dict[tuple[str, str], list[Any]] = {}
    keep: list[list[Any]] = []
    events: list[tuple[Any, ...]] = []
    logs: list[tuple[Any, ...]] = []
    counts: dict[tuple[str, str], int] = {}
    trims: dict[tuple[str, str], int] = {}
    touched: set[str] = set()
    finished: set[str] = set()
    limit = store.max_log_lines
    high = limit + max(limit // 4, 1)
    conn.execute("BEGIN IMMEDIATE")  # waits up to the store's timeout for other writers
    try:
        for event, extra in batch:
            cls = type(event)
            rid = event.run_id
            if cls is ev.TaskLog:
                key = (rid, event.task_id)
                logs.append((rid, event.task_id, event.ts, event.kind, utf8(event.text)))
                n = counts.get(key)
                if n is None:
                    n = store._log_counts.get(key)
                    if n is None:
                        n = 0 if rid in store._fresh else conn.execute(
                            "SELECT COUNT(*) FROM logs WHERE run_id = ? AND task_id = ?",
                            key).fetchone()[0]
                n += 1
                if n > high:
                    trims[key] = trims.get(key, 0) + n - limit
                    row = mirror.get(rid, {}).get(event.task_id)
                    if row is not None:  # (a task logs after it started: it has a row)
                        row[_DROPPED] += n - limit
                        dirty[key] = row
                    n = limit
                counts[key] = n
                continue
            touched.add(rid)
            if cls is ev.WorkflowStarted:
                _start(store, event, extra, mirror, keep)
                finished.discard(rid)
                events.append((rid, event.ts, None, "workflow_started", None,
                               "resumed" if event.resumed else None))
                continue
            if cls is ev.WorkflowFinished:
                error = utf8(event.error)
                conn.execute("UPDATE runs SET status = ?, error = ?, completed_at = ?, "
                             "updated_at = ? WHERE run_id = ?",
                             (event.status, error, event.ts, event.ts, rid))
                events.append((rid, event.ts, None, "workflow_finished", None,
                               event.status + (f": {error}" if error else "")))
                finished.add(rid)
                continue
            tid = event.task_id
            rows = mirror.get(rid)
            if rows is None:
                continue  # a run this store did not see start
            row = rows.get(tid)
            if row is None:
                position = store._positions[rid].get(tid)
                if position is None:
                    continue
                row = rows[tid] = _pending_row(rid, tid, position)
            detail = _apply(row, event, extra, logs)
            dirty[(rid, tid)] = row
            if detail is not None:
                events.append((rid, event.ts, tid, *detail))
        insert_rows(conn, KEEP_TASK, keep)
        insert_rows(conn, INSERT_TASK, list(dirty.values()))
        insert_rows(conn, INSERT_EVENT, events)
        insert_rows(conn, INSERT_LOG, logs)
        for (rid, tid), n in trims.items():
            conn.execute("DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE run_id = ? "
                         "AND task_id = ? ORDER BY id LIMIT ?)", (rid, tid, n))
        now = time.time()
        conn.executemany("UPDATE runs SET updated_at = ? WHERE run_id = ?",
                         [(now, rid) for rid in touched - finished])
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    store._log_counts.update(counts)
    for rid in finished:
        store._live.discard(rid)
        store._results.pop(rid, None)
        mirror.pop(rid, None)
        store._positions.pop(rid, None)
        for key in [k for k in store._log_counts if k[0] == rid]:
            del store._log_counts[key]


def insert_rows(conn: Any, insert: str, rows: list[Any]) -> None:
    """``insert`` ("INSERT INTO t (columns)") of every row, `ROWS_PER_INSERT` per statement,
    in order."""
    if not rows:
        return
    width = len(rows[0])
    marks = "(" + ", ".join("?" * width) + ")"
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)  # 999 in an older SQLite
    per = max(1, min(ROWS_PER_INSERT, limit // width))
    for start in range(0, len(rows), per):
        chunk = rows[start:start + per]
        conn.execute(f"{insert} VALUES {', '.join([marks] * len(chunk))}",
                     [value for row in chunk for value in row])


def _start(store: RunStore, event: ev.WorkflowStarted, snap: dict[str, Any] | None,
           mirror: dict[str, dict[str, list[Any]]], keep: list[list[Any]]) -> None:
    rid = event.run_id
    if snap is None:
        log.warning("run '%s' started without a definition the store can see; not recorded",
                    rid)
        return
    conn = store.conn
    workflow = snap["workflow"]
    if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (rid,)).fetchone() is None:
        store._fresh.add(rid)
    params = snap["parameters"]
    now = time.time()
    conn.execute(_UPSERT_RUN, (
        rid, workflow.id, workflow.name or workflow.id, snap["template"], snap["model"],
        snap["started_at"] or event.ts, len(workflow.tasks), os.getpid(), store.host,
        store.proc_token, now, now))
    conn.execute(_UPSERT_DEFINITION, (
        rid, workflow.model_dump_json(),
        json.dumps(params, default=str) if params is not None else None))
    store._live.add(rid)
    done = snap["done"]
    if rid not in store._fresh:  # a resumed or restarted run: what did not end is pending again
        stale = [(rid, tid) for (tid,) in conn.execute(
            "SELECT task_id FROM tasks WHERE run_id = ?", (rid,)) if tid not in done]
        conn.executemany("DELETE FROM tasks WHERE run_id = ? AND task_id = ?", stale)
    rows = mirror[rid] = {}
    positions = store._positions[rid] = {}
    for position, task in enumerate(workflow.tasks):  # pending tasks get a row when they start
        positions[task.id] = position
        result = done.get(task.id)
        if result is not None:
            rows[task.id] = row_from_result(rid, position, result)
            keep.append(rows[task.id])


def _apply(row: list[Any], event: ev.Event, extra: Any,
           logs: list[tuple[Any, ...]]) -> tuple[str, int | None, str | None] | None:
    """Update a mirrored task row from a task event.

    Returns the row for the events table (kind, attempt, detail), or None for a
    first start and a completion: the task row holds their times already.
    """
    cls = type(event)
    if cls is ev.TaskStarted:
        row[_STATUS] = "running"
        row[_ATTEMPTS] = event.attempt
        row[_AGENT] = event.agent_type
        if event.attempt == 1:
            row[_STARTED] = event.ts
            row[_ERROR] = None
            return None
        return "started", event.attempt, event.agent_type
    if cls is ev.TaskCompleted:
        text, kind = encode_output(event.output,
                                   f"task '{event.task_id}' of run '{event.run_id}'")
        if kind == "text":
            logs.append((event.run_id, event.task_id, event.ts, "warning",
                         "output is not JSON-serializable; stored as its text"))
        row[_STATUS], row[_OUTPUT], row[_KIND] = "completed", text, kind
        row[_ERROR], row[_CACHED] = None, int(event.cached)
        _usage(row, event, extra)
        return None
    if cls is ev.TaskFailed:
        row[_STATUS], row[_ERROR], row[_ATTEMPTS] = "failed", utf8(event.error), event.attempts
        _usage(row, event, extra)
        return "failed", event.attempts, row[_ERROR]
    if cls is ev.TaskRetrying:
        row[_ERROR] = utf8(event.error)
        return "retrying", event.attempt, f"{row[_ERROR]} (next attempt in {event.delay:.2f}s)"
    if cls is ev.TaskSkipped:
        row[_STATUS], row[_SKIP], row[_ENDED] = "skipped", utf8(event.reason), event.ts
        return "skipped", None, row[_SKIP]
    if cls is ev.TaskCancelled:
        row[_STATUS], row[_ERROR], row[_ENDED] = "cancelled", utf8(event.reason), event.ts
        return "cancelled", None, row[_ERROR]
    if cls is ev.TaskReset:
        row[3:] = _pending_row("", "", 0)[3:17] + [row[_DROPPED]]
        return "reset", None, None
    if cls is ev.CacheHit:
        return "cache_hit", None, event.key
    return cls.__name__, None, None


def _usage(row: list[Any], event: ev.TaskEvent, extra: Any) -> None:
    if extra is None:
        row[_ENDED] = event.ts
        return
    started, ended, attempts, agent, tin, tout, requests, cost = extra
    row[_STARTED], row[_ENDED] = ts(started), ts(ended) or event.ts
    row[_ATTEMPTS], row[_AGENT] = attempts, agent
    row[_IN], row[_OUT], row[_REQ], row[_COST] = tin, tout, requests, cost
