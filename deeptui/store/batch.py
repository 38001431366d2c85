"""One writer transaction, staged: the rows of the tasks a batch of queued events changes.

`Batch` stages one row per task the batch changes (read back from the file when the task
has one), so a burst of events on one task is one row write; a row whose columns other
than status, output, times, attempts and agent hold their defaults is written with those
columns only, many rows per INSERT statement (`insert_rows`). `deeptui.store.writer`
runs a batch in a transaction and keeps what it learns once that committed.
"""

from __future__ import annotations

import json
import logging
import operator
import os
import sqlite3
import time
from itertools import chain
from typing import TYPE_CHECKING, Any

from deeptui import bus as ev
from deeptui.store.codec import (definition_json, encode_output, pending_row,
                                 row_from_result, ts, utf8)
from deeptui.store.definitions import write_definition
from deeptui.store.durations import workflow_key
from deeptui.store.entries import COMPLETED, LOG, STARTED, entries
from deeptui.store.schema import TASK_COLUMNS
from deeptui.store.task_rows import DROPPED, apply_event, completed, started

if TYPE_CHECKING:
    from deeptui.store.writer import StoreWriter

log = logging.getLogger("deeptui.store")

_COLS = ", ".join(TASK_COLUMNS)
INSERT_TASK = f"INSERT OR REPLACE INTO tasks ({_COLS})"
KEEP_TASK = f"INSERT OR IGNORE INTO tasks ({_COLS})"
# a task row whose other columns hold their defaults (JSON output, no error, cache hit,
# usage or dropped log lines) is written with these columns only: fewer values to bind
_PLAIN_COLUMNS = ("run_id", "task_id", "position", "status", "output", "attempts", "started_at",
                  "completed_at", "agent_used")
_DEFAULTS = {"output_kind": "json", "error": None, "skip_reason": None, "cached": 0,
             "input_tokens": 0, "output_tokens": 0, "requests": 0, "cost_usd": None,
             "log_dropped": 0, "cached_from": None, "cached_at": None}  # as the table has them
assert set(_PLAIN_COLUMNS) | set(_DEFAULTS) == set(TASK_COLUMNS)
_plain = operator.itemgetter(*(TASK_COLUMNS.index(c) for c in _PLAIN_COLUMNS))
_others = operator.itemgetter(*(TASK_COLUMNS.index(c) for c in _DEFAULTS))
_DEFAULT_VALUES = tuple(_DEFAULTS.values())
INSERT_PLAIN_TASK = f"INSERT OR REPLACE INTO tasks ({', '.join(_PLAIN_COLUMNS)})"
SELECT_ROW = f"SELECT {_COLS} FROM tasks WHERE run_id = ? AND task_id = ?"
INSERT_EVENT = "INSERT INTO events (run_id, ts, task_id, kind, attempt, detail)"
INSERT_LOG = "INSERT INTO logs (run_id, task_id, ts, kind, text)"
# SQLite releases the GIL for every step of a statement, and a busy event loop holds it
# until its next poll: one step per row (executemany) left the writer thread far behind a
# large run. A multi-row INSERT is one step for many rows.
ROWS_PER_INSERT = 500

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



class Batch:
    """One transaction's rows, staged: the rows of the tasks it changes."""

    def __init__(self, writer: StoreWriter, conn: sqlite3.Connection) -> None:
        self.writer = writer
        self.conn = conn
        self.runs: dict[str, set[str]] = {}  # runs (re)started in this batch: tasks with rows
        self.positions: dict[str, dict[str, int]] = {}
        self.keys: dict[str, tuple[str, str]] = {}  # run -> its workflow (`durations.key`)
        self.dirty: dict[str, dict[str, list[Any]]] = {}  # run -> task -> its changed row
        # run -> task -> its row as a `_PLAIN_COLUMNS` tuple: a task without a stored row,
        # started (first attempt) or completed with default columns, and nothing else yet
        self.quick: dict[str, dict[str, tuple[Any, ...]]] = {}
        self.kept: dict[str, dict[str, list[Any]]] = {}  # rows of ended tasks of a (re)start
        self.keep: list[list[Any]] = []
        self.events: list[tuple[Any, ...]] = []
        self.logs: list[tuple[Any, ...]] = []
        self.counts: dict[tuple[str, str], int] = {}
        self.trims: dict[tuple[str, str], int] = {}
        self.touched: set[str] = set()
        self.finished: set[str] = set()
        self.fresh: set[str] = set()
        self.limit = writer.max_log_lines
        self.high = self.limit + max(self.limit // 4, 1)

    def row(self, rid: str, tid: str, *, create: bool = True) -> list[Any] | None:
        """The staged row of a task (its stored row, or a new pending row)."""
        rows = self.dirty.get(rid)
        if rows is not None:
            row = rows.get(tid)
            if row is not None:
                return row
        quick = self.quick.get(rid)
        if quick is not None and tid in quick:  # from now on the task changes as a row
            row = _row_of_plain(quick.pop(tid))
            if rows is None:
                rows = self.dirty[rid] = {}
            rows[tid] = row
            return row
        stored = self.runs.get(rid)
        if stored is None:
            stored = self.writer.stored.get(rid)
            if stored is None:
                return None  # a run this store did not see start
        row = None
        if tid in stored:
            row = self.kept.get(rid, {}).get(tid)
            if row is None:
                found = self.conn.execute(SELECT_ROW, (rid, tid)).fetchone()
                row = list(found) if found is not None else None
        if row is None:
            position = self.positions.get(rid, self.writer.positions.get(rid, {})).get(tid)
            if position is None or not create:
                return None
            row = pending_row(rid, tid, position)
        if rows is None:
            rows = self.dirty[rid] = {}
        rows[tid] = row
        return row

    def is_fresh(self, rid: str) -> bool:
        return rid in self.writer.fresh or rid in self.fresh

    def stored_logs(self, key: tuple[str, str]) -> int:
        n = self.writer.log_counts.get(key)
        if n is None:
            n = 0 if self.is_fresh(key[0]) else self.conn.execute(
                "SELECT COUNT(*) FROM logs WHERE run_id = ? AND task_id = ?", key).fetchone()[0]
        return n

    def add_all(self, batch: list[Any]) -> None:
        """Stage the queue entries of ``batch`` in order. A task's first start, and its
        completion with default columns (see `quick`), are staged as a plain tuple, built
        at once, while the task has no row in the file or in this batch."""
        row_of, touched, add, events, logs = self.row, self.touched, self.add, self.events, \
            self.logs
        runs: dict[str, Any] = {}  # run -> what the quick path needs of it (None: no run)
        for values in entries(batch):
            tag = values[0]
            if tag is STARTED:
                rid, tid = values[1], values[2]
                touched.add(rid)
                if values[4] == 1:
                    run = runs[rid] if rid in runs else runs.setdefault(rid, self._quick(rid))
                    if run is not None and tid not in run[1] and tid not in run[3]:
                        position = run[2].get(tid)
                        if position is not None:
                            run[0][tid] = (rid, tid, position, "running", None, 1, values[3],
                                           None, values[5])
                            continue
                row = row_of(rid, tid)
                if row is not None:
                    detail = started(row, values[3], values[4], values[5])
                    if detail is not None:
                        events.append((rid, values[3], tid, *detail))
            elif tag is COMPLETED:
                rid, tid = values[1], values[2]
                touched.add(rid)
                encoded = None
                usage = values[10]
                if not values[5] and (usage is None or (  # no usage
                        not usage.input_tokens and not usage.output_tokens
                        and not usage.requests and usage.cost_usd is None)):
                    run = runs[rid] if rid in runs else runs.setdefault(rid, self._quick(rid))
                    if run is not None and tid not in run[1] and tid not in run[3]:
                        position = run[2].get(tid)
                        encoded = _NULL if values[4] is None else _encode(values)
                        if position is not None and encoded[1] == "json":
                            start, end = values[6], values[7]
                            run[0][tid] = (
                                rid, tid, position, "completed", encoded[0], values[8],
                                start.timestamp() if start is not None else None,
                                end.timestamp() if end is not None else values[3], values[9])
                            continue
                row = row_of(rid, tid)
                if row is not None:
                    completed(row, values, logs, encoded)
            elif tag is LOG:
                self.log(*values[1:6])
            else:
                runs.clear()  # a run (re)started or ended: look its tasks up again
                add(values[1], values[2])

    def _quick(self, rid: str) -> tuple[Any, ...] | None:
        """(its quick tuples, tasks with a stored row, positions, its staged rows) of a run
        this store saw start, else None."""
        stored = self.runs.get(rid)
        if stored is None:
            stored = self.writer.stored.get(rid)
            if stored is None:
                return None
        positions = self.positions.get(rid, self.writer.positions.get(rid, {}))
        return (self.quick.setdefault(rid, {}), stored, positions,
                self.dirty.setdefault(rid, {}))

    def add(self, event: Any, snap: dict[str, Any] | None = None) -> None:
        """Stage an event (not a task start, completion or log line: see `add_all`);
        ``snap``: a run start's `snapshot`, taken when it was queued."""
        cls = type(event)
        rid = event.run_id
        self.touched.add(rid)
        if cls is ev.WorkflowStarted:
            self.start(event, snap or snapshot(event, self.writer.keep_env))
        elif cls is ev.WorkflowFinished:
            self.finish(event)
        else:
            row = self.row(rid, event.task_id)
            if row is None:
                return
            detail = apply_event(row, event, self.logs)
            if detail is not None:
                self.events.append((rid, event.ts, event.task_id, *detail))

    def start(self, event: ev.WorkflowStarted, snap: dict[str, Any] | None) -> None:
        rid = event.run_id
        self.finished.discard(rid)
        self.events.append((rid, event.ts, None, "workflow_started", None,
                            "resumed" if event.resumed else None))
        if snap is None:
            log.warning("run '%s' started without a definition the store can see; "
                        "not recorded", rid)
            return
        self.upsert_run(event, snap)
        self.mirror_run(rid, snap)

    def upsert_run(self, event: ev.WorkflowStarted, snap: dict[str, Any]) -> None:
        """The run's row and definition; a run stored before keeps only its ended tasks."""
        rid, conn, writer = event.run_id, self.conn, self.writer
        fresh = self.is_fresh(rid)
        if not fresh and conn.execute("SELECT 1 FROM runs WHERE run_id = ?",
                                      (rid,)).fetchone() is None:
            self.fresh.add(rid)
            fresh = True
        now = time.time()
        conn.execute(_UPSERT_RUN, (
            rid, snap["id"], snap["name"] or snap["id"], snap["template"], snap["model"],
            snap["started_at"] or event.ts, len(snap["tasks"]), os.getpid(), writer.host,
            writer.proc_token, now, now, int(bool(event.resumed))))
        write_definition(conn, writer.texts, rid, snap["key"], snap["text"],
                         snap["parameters"])
        if not fresh:  # a resumed or restarted run: what did not end is pending again
            done = snap["done"]
            stale = [(rid, tid) for (tid,) in conn.execute(
                "SELECT task_id FROM tasks WHERE run_id = ?", (rid,)) if tid not in done]
            conn.executemany("DELETE FROM tasks WHERE run_id = ? AND task_id = ?", stale)

    def mirror_run(self, rid: str, snap: dict[str, Any]) -> None:
        """A (re)started run: rows of its ended tasks (pending tasks get a row when they
        start), and every task's position."""
        stored = self.runs[rid] = set()
        kept = self.kept[rid] = {}
        positions = self.positions[rid] = {}
        self.keys[rid] = snap["key"]
        self.dirty.pop(rid, None)  # rows of an earlier start in this batch: the snapshot has them
        self.quick.pop(rid, None)
        done = snap["done"]
        for position, tid in enumerate(snap["tasks"]):
            positions[tid] = position
            result = done.get(tid)
            if result is not None:
                kept[tid] = row = row_from_result(rid, position, result)
                self.keep.append(row)
                stored.add(tid)

    def finish(self, event: ev.WorkflowFinished) -> None:
        rid, error = event.run_id, utf8(event.error)
        self.conn.execute("UPDATE runs SET status = ?, error = ?, completed_at = ?, "
                          "updated_at = ? WHERE run_id = ?",
                          (event.status, error, event.ts, event.ts, rid))
        self.events.append((rid, event.ts, None, "workflow_finished", None,
                            event.status + (f": {error}" if error else "")))
        self.finished.add(rid)

    def log(self, rid: str, tid: str, ts: float, kind: str, text: str) -> None:
        key = (rid, tid)
        self.logs.append((rid, tid, ts, kind, utf8(text)))
        n = self.counts.get(key)
        if n is None:
            n = self.stored_logs(key)
        n += 1
        if n > self.high:  # drop the oldest: keep the newest `limit`
            self.trims[key] = self.trims.get(key, 0) + n - self.limit
            row = self.row(*key, create=False)  # (a task logs after it started: it has a row)
            if row is not None:
                row[DROPPED] += n - self.limit
            n = self.limit
        self.counts[key] = n

    def drop_older(self, key: tuple[str, str], coalesced: int) -> None:
        """``coalesced`` lines never reached the batch; every stored line is older still."""
        stored = self.stored_logs(key)
        if stored:
            self.trims[key] = self.trims.get(key, 0) + stored
        row = self.row(*key, create=False)
        if row is not None:
            row[DROPPED] += stored + coalesced

    def write(self) -> None:
        conn = self.conn
        insert_rows(conn, KEEP_TASK, self.keep)
        plain: list[Any] = []
        full: list[Any] = []
        for quick in self.quick.values():  # in key order: SQLite's B-tree inserts in order
            # cost about half as much as in the order tasks ended (rows of one run: by task)
            plain.extend(chain.from_iterable(sorted(quick.values(), key=_TASK_ID)))
        for rows in self.dirty.values():
            for row in rows.values():
                if _others(row) == _DEFAULT_VALUES:
                    plain.extend(_plain(row))  # flat: no object per row held to the end
                else:
                    full.append(row)
        insert_rows(conn, INSERT_PLAIN_TASK, plain, width=len(_PLAIN_COLUMNS))
        insert_rows(conn, INSERT_TASK, full)
        insert_rows(conn, INSERT_EVENT, self.events)
        insert_rows(conn, INSERT_LOG, self.logs)
        for (rid, tid), n in self.trims.items():
            conn.execute("DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE run_id = ? "
                         "AND task_id = ? ORDER BY id LIMIT ?)", (rid, tid, n))
        now = time.time()
        conn.executemany("UPDATE runs SET updated_at = ? WHERE run_id = ?",
                         [(now, rid) for rid in self.touched - self.finished])

def _row_of_plain(plain: tuple[Any, ...]) -> list[Any]:
    """A `quick` tuple as a row (`TASK_COLUMNS` order)."""
    rid, tid, position, status, output, attempts, started_at, ended, agent = plain
    return [rid, tid, position, status, output, "json", None, None, attempts, started_at, ended,
            agent, 0, 0, 0, 0, None, 0, None, None]


_NULL = (None, "json")  # a None output, as stored
_TASK_ID = operator.itemgetter(1)


def _encode(values: tuple[Any, ...]) -> tuple[str | None, str]:
    """A completion entry's output as stored (`encode_output`)."""
    output = values[4]
    if output is None:
        return None, "json"
    return encode_output(output, f"task '{values[2]}' of run '{values[1]}'")


def snapshot(event: ev.WorkflowStarted, keep_env: bool) -> dict[str, Any] | None:
    """What the writer records of a run that starts, from its event, as plain values taken
    now (the store's tap takes it as the run starts: the definition object may be changed
    once the run has ended, before the writer's next batch)."""
    workflow = event.workflow
    if workflow is None:
        return None
    meta = workflow.metadata or {}
    params = meta.get("parameters")
    return {
        "id": workflow.id,
        "name": workflow.name,
        "key": workflow_key(workflow),
        "tasks": [task.id for task in workflow.tasks],
        "text": definition_json(workflow, keep_env),
        "model": event.model,
        "template": meta.get("template"),
        "parameters": None if params is None else json.dumps(params, default=str),
        "started_at": ts(event.started_at),
        "done": event.finished,
    }


def insert_rows(conn: Any, insert: str, rows: list[Any], width: int | None = None) -> None:
    """``insert`` ("INSERT INTO t (columns)") of every row, at most `ROWS_PER_INSERT` per
    statement, in order. ``width``: ``rows`` is flat, that many values per row."""
    if not rows:
        return
    if width is None:
        width = len(rows[0])
        values = list(chain.from_iterable(rows))
    else:
        values = rows
    marks = "(" + ", ".join("?" * width) + ")"
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)  # 999 in an older SQLite
    per = max(1, min(ROWS_PER_INSERT, limit // width))
    start, left = 0, len(values) // width
    while left:
        # full chunks, then the rest in powers of two: a few statement texts in all, each
        # compiled once (sqlite3 caches them by text), not one new text per batch size
        n = per if left >= per else 1 << (left.bit_length() - 1)
        end = start + n * width
        conn.execute(f"{insert} VALUES {', '.join([marks] * n)}", values[start:end])
        start, left = end, left - n
