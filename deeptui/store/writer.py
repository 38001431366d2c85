"""How `RunStore` turns queued bus events into rows.

`write_batch` runs on the store's writer thread (or on whoever calls
``flush()``), one transaction per batch. It keeps an in-memory mirror of
each live run's task rows, so a burst of events on one task is one row write.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from deeptui import bus as ev
from deeptui.store.schema import TASK_COLUMNS
from deeptui.store.codec import (
    MASKED,
    decode_output,
    definition_json,
    dt,
    encode_output,
    pending_row,
    row_from_result,
    ts,
    utf8,
)

if TYPE_CHECKING:
    from deeptui.store.run_store import RunStore

log = logging.getLogger("deeptui.store")

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
    resumes = runs.resumes + ?, updated_at = excluded.updated_at"""
_UPSERT_DEFINITION = """
INSERT INTO definitions (run_id, workflow_json, parameters_json) VALUES (?, ?, ?)
ON CONFLICT (run_id) DO UPDATE SET workflow_json = excluded.workflow_json,
    parameters_json = COALESCE(excluded.parameters_json, definitions.parameters_json)"""


# ------------------------------------------------------------- writing


def write_batch(store: RunStore, batch: list[tuple[Any, Any]],
                dropped: dict[tuple[str, str], int] | None = None) -> None:
    """Write queued (event, extra) pairs in one transaction. ``dropped``: log lines of a task
    coalesced away before the batch (newer than every stored line of that task).

    The store's mirror of task rows changes only when the transaction committed, so a
    failed batch can be written again as it is."""
    conn = store.conn
    batch_ = _Batch(store)
    for key in dropped or ():
        batch_.counts[key] = 0  # every stored line of the task is older: all are dropped
    conn.execute("BEGIN IMMEDIATE")  # waits up to the store's timeout for other writers
    try:
        for event, extra in batch:
            batch_.add(event, extra)
        for key, n in (dropped or {}).items():
            batch_.drop_older(key, n)
        batch_.write()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    batch_.publish()


class _Batch:
    """One transaction's rows, staged: copies of the mirrored rows it changes."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.conn = store.conn
        self.runs: dict[str, dict[str, list[Any]]] = {}  # runs (re)started in this batch
        self.positions: dict[str, dict[str, int]] = {}
        self.dirty: dict[tuple[str, str], list[Any]] = {}
        self.keep: list[list[Any]] = []
        self.events: list[tuple[Any, ...]] = []
        self.logs: list[tuple[Any, ...]] = []
        self.counts: dict[tuple[str, str], int] = {}
        self.trims: dict[tuple[str, str], int] = {}
        self.touched: set[str] = set()
        self.finished: set[str] = set()
        self.fresh: set[str] = set()
        self.limit = store.max_log_lines
        self.high = self.limit + max(self.limit // 4, 1)

    def row(self, rid: str, tid: str, *, create: bool = True) -> list[Any] | None:
        """The staged row of a task (a copy of the mirrored one, or a new pending row)."""
        key = (rid, tid)
        row = self.dirty.get(key)
        if row is not None:
            return row
        rows = self.runs.get(rid, self.store._rows.get(rid))
        if rows is None:
            return None  # a run this store did not see start
        base = rows.get(tid)
        if base is not None:
            row = list(base)
        else:
            position = self.positions.get(rid, self.store._positions.get(rid, {})).get(tid)
            if position is None or not create:
                return None
            row = pending_row(rid, tid, position)
        self.dirty[key] = row
        return row

    def stored_logs(self, key: tuple[str, str]) -> int:
        n = self.store._log_counts.get(key)
        if n is None:
            fresh = key[0] in self.store._fresh or key[0] in self.fresh
            n = 0 if fresh else self.conn.execute(
                "SELECT COUNT(*) FROM logs WHERE run_id = ? AND task_id = ?", key).fetchone()[0]
        return n

    def add(self, event: Any, extra: Any) -> None:
        cls = type(event)
        rid = event.run_id
        if cls is ev.TaskLog:
            self.log(event)
            return
        self.touched.add(rid)
        if cls is ev.WorkflowStarted:
            _start(self, event, extra)
            self.finished.discard(rid)
            self.events.append((rid, event.ts, None, "workflow_started", None,
                                "resumed" if event.resumed else None))
        elif cls is ev.WorkflowFinished:
            error = utf8(event.error)
            self.conn.execute("UPDATE runs SET status = ?, error = ?, completed_at = ?, "
                              "updated_at = ? WHERE run_id = ?",
                              (event.status, error, event.ts, event.ts, rid))
            self.events.append((rid, event.ts, None, "workflow_finished", None,
                                event.status + (f": {error}" if error else "")))
            self.finished.add(rid)
        else:
            row = self.row(rid, event.task_id)
            if row is None:
                return
            detail = _apply(row, event, extra, self.logs)
            if detail is not None:
                self.events.append((rid, event.ts, event.task_id, *detail))

    def log(self, event: ev.TaskLog) -> None:
        key = (event.run_id, event.task_id)
        self.logs.append((event.run_id, event.task_id, event.ts, event.kind, utf8(event.text)))
        n = self.counts.get(key)
        if n is None:
            n = self.stored_logs(key)
        n += 1
        if n > self.high:  # drop the oldest: keep the newest `limit`
            self.trims[key] = self.trims.get(key, 0) + n - self.limit
            row = self.row(*key, create=False)  # (a task logs after it started: it has a row)
            if row is not None:
                row[_DROPPED] += n - self.limit
            n = self.limit
        self.counts[key] = n

    def drop_older(self, key: tuple[str, str], coalesced: int) -> None:
        """``coalesced`` lines never reached the batch; every stored line is older still."""
        stored = self.stored_logs(key)
        if stored:
            self.trims[key] = self.trims.get(key, 0) + stored
        row = self.row(*key, create=False)
        if row is not None:
            row[_DROPPED] += stored + coalesced

    def write(self) -> None:
        conn = self.conn
        insert_rows(conn, KEEP_TASK, self.keep)
        insert_rows(conn, INSERT_TASK, list(self.dirty.values()))
        insert_rows(conn, INSERT_EVENT, self.events)
        insert_rows(conn, INSERT_LOG, self.logs)
        for (rid, tid), n in self.trims.items():
            conn.execute("DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE run_id = ? "
                         "AND task_id = ? ORDER BY id LIMIT ?)", (rid, tid, n))
        now = time.time()
        conn.executemany("UPDATE runs SET updated_at = ? WHERE run_id = ?",
                         [(now, rid) for rid in self.touched - self.finished])

    def publish(self) -> None:
        """The transaction committed: the staged rows become the store's mirror."""
        store = self.store
        mirror = store._rows
        for rid, rows in self.runs.items():
            mirror[rid] = rows
            store._positions[rid] = self.positions[rid]
            store._live.add(rid)
        for (rid, tid), row in self.dirty.items():
            rows = mirror.get(rid)
            if rows is not None:
                rows[tid] = row
        store._fresh |= self.fresh
        store._log_counts.update(self.counts)
        store._recorded |= self.touched
        for rid in self.finished:
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


def _start(batch: _Batch, event: ev.WorkflowStarted, snap: dict[str, Any] | None) -> None:
    rid = event.run_id
    if snap is None:
        log.warning("run '%s' started without a definition the store can see; not recorded",
                    rid)
        return
    store, conn = batch.store, batch.conn
    workflow = snap["workflow"]
    fresh = rid in store._fresh or rid in batch.fresh
    if not fresh and conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (rid,)).fetchone() is None:
        batch.fresh.add(rid)
        fresh = True
    params = snap["parameters"]
    now = time.time()
    conn.execute(_UPSERT_RUN, (
        rid, workflow.id, workflow.name or workflow.id, snap["template"], snap["model"],
        snap["started_at"] or event.ts, len(workflow.tasks), os.getpid(), store.host,
        store.proc_token, now, now, int(bool(event.resumed))))
    conn.execute(_UPSERT_DEFINITION, (
        rid, definition_json(workflow, store.keep_env),
        json.dumps(params, default=str) if params is not None else None))
    done = snap["done"]
    if not fresh:  # a resumed or restarted run: what did not end is pending again
        stale = [(rid, tid) for (tid,) in conn.execute(
            "SELECT task_id FROM tasks WHERE run_id = ?", (rid,)) if tid not in done]
        conn.executemany("DELETE FROM tasks WHERE run_id = ? AND task_id = ?", stale)
    rows = batch.runs[rid] = {}
    positions = batch.positions[rid] = {}
    for key in [k for k in batch.dirty if k[0] == rid]:
        del batch.dirty[key]  # rows of an earlier start in this batch: the snapshot has them
    for position, task in enumerate(workflow.tasks):  # pending tasks get a row when they start
        positions[task.id] = position
        result = done.get(task.id)
        if result is not None:
            rows[task.id] = row_from_result(rid, position, result)
            batch.keep.append(rows[task.id])


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
        row[3:] = pending_row("", "", 0)[3:17] + [row[_DROPPED]]
        return "reset", None, None
    if cls is ev.CacheHit:
        return "cache_hit", None, event.key
    if cls is ev.TaskChangesReady:  # the diff itself, so `deeptui apply` works from history
        if event.changes is None:
            return "changes_discarded", None, None
        return ("changes_applied" if event.applied else "changes"), None, \
            event.changes.model_dump_json()
    if cls is ev.ApprovalRequested:
        return "approval_requested", None, f"{event.tool}: {utf8(event.args)}"
    if cls is ev.ApprovalAnswered:
        verdict = "approved" if event.approved else "denied"
        return "approval_answered", None, f"{verdict} by {event.by}: {event.tool}"
    return cls.__name__, None, None


def _usage(row: list[Any], event: ev.TaskEvent, extra: Any) -> None:
    if extra is None:
        row[_ENDED] = event.ts
        return
    started, ended, attempts, agent, tin, tout, requests, cost = extra
    row[_STARTED], row[_ENDED] = ts(started), ts(ended) or event.ts
    row[_ATTEMPTS], row[_AGENT] = attempts, agent
    row[_IN], row[_OUT], row[_REQ], row[_COST] = tin, tout, requests, cost


__all__ = ["MASKED", "decode_output", "dt", "encode_output", "ts", "utf8", "write_batch"]
