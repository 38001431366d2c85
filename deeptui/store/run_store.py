"""`RunStore`: the run history in SQLite (runs, task states, outputs, logs, events), and resume.

One file (WAL mode) holds every run: its workflow definition, parameters,
model, each task's status changes, attempts, output, error, usage and log
lines. A bus tap records events as they happen; the tap only appends to a
queue, and a writer thread commits them in batches:

- a batch is committed at most ``flush_interval`` (50 ms) after its first
  event, and as soon as possible (a few ms) after a task or a run ends;
- so a ``kill -9`` loses at most the events of the last few milliseconds
  (the last 50 ms for log lines and starts). A task whose completion was lost
  runs again on resume; a task recorded as completed never does: resume takes
  its stored output. ``RunStore(sync_commit=True)`` commits every task end
  before the engine goes on (slower, no window at all).

Runs left "running" by a process that no longer exists become "interrupted"
when a store is opened. See `resume_run`.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from deeptui.errors import StoreError, UnknownRunError
from deeptui.metrics import WorkflowMetrics
from deeptui.models import TaskResult, WorkflowDefinition, WorkflowState
from deeptui.store.codec import SELECT_TASKS
from deeptui.store.resume import (
    MY_TOKEN,
    driven,
    process_alive,
    process_token,
    reserve_run,
    resume_run,
    start_resume,
)
from deeptui.store.records import (
    SELECT_CHANGES,
    SELECT_WORKERS,
    SUMMARY_SQL,
    RunSummary,
    StoredRun,
    damaged,
    run_summary,
    stored_changes,
    stored_workers,
    task_result,
)
from deeptui.store.queue import QueueMixin
from deeptui.store.reports import aggregate, export_document
from deeptui.store.schema import (CURRENT_VERSION, DEFINITION_TEXT, DEFINITIONS, TASK_COLUMNS,
                                  open_database)
from deeptui.store.writer import StoreWriter

log = logging.getLogger("deeptui.store")

HOST = socket.gethostname()
MAX_LOG_LINES = 2000
MAX_QUEUE = 50_000  # events queued before the engine waits for the writer
RETRY_FOR = 30.0  # seconds a run's end keeps trying to save to a locked or full database
_OPEN_STORES: weakref.WeakSet[RunStore] = weakref.WeakSet()


def default_db_path() -> Path:
    """``$DEEPTUI_DB`` if set, else ``<user data dir>/deeptui/history.db``."""
    override = os.environ.get("DEEPTUI_DB")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("deeptui")) / "history.db"


# ------------------------------------------------------------- the store

class RunStore(QueueMixin):
    """``RunStore(path=None, *, timeout=5.0, flush_interval=0.05, sync_commit=False,
    max_log_lines=2000, retry_for=30.0, max_queue=50000, keep_env=False)``: open (or create)
    the history database at ``path`` (default: `default_db_path`). ``timeout``: how long one
    write waits for a lock; ``retry_for``: how long the end of a run keeps retrying a write
    that failed (locked, disk full) before it gives up (``save_error``); ``keep_env``: store
    the values of tasks' ``parameters.env`` (by default they are masked)."""

    def __init__(self, path: str | Path | None = None, *, timeout: float = 5.0,
                 flush_interval: float = 0.05, sync_commit: bool = False,
                 max_log_lines: int = MAX_LOG_LINES, retry_for: float = RETRY_FOR,
                 max_queue: int = MAX_QUEUE, keep_env: bool = False) -> None:
        self.path = Path(path).expanduser() if path else default_db_path()
        self.timeout = timeout
        self.flush_interval = flush_interval
        self.sync_commit = sync_commit
        self.max_log_lines = max(max_log_lines, 1)
        self.keep_env = keep_env
        self.host = HOST
        self.proc_token = MY_TOKEN
        self.conn: sqlite3.Connection | None = open_database(self.path, timeout)
        self._lock = threading.RLock()
        # the writer owns its caches of live runs (touched only under the lock)
        self.writer = StoreWriter(max_log_lines=self.max_log_lines, host=self.host,
                                  proc_token=self.proc_token, keep_env=keep_env)
        self._orchestrators: list[Any] = []
        self.damaged: list[str] = []  # what the last list_runs skipped, one line each
        self._init_queue(max_queue, retry_for)
        _OPEN_STORES.add(self)
        self.mark_interrupted()

    @classmethod
    def from_settings(cls, settings: Any) -> RunStore:
        """The store the settings name (``db``, ``db_retry``, ``store_env``)."""
        return cls(settings.db, retry_for=settings.db_retry,
                   keep_env=settings.store_env == "keep")

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    # -- recording -------------------------------------------------------

    def attach(self, orchestrator: Any) -> None:
        """Record every event of ``orchestrator.bus`` (``TaskOrchestrator(store=...)`` calls it)."""
        if any(o is orchestrator for o in self._orchestrators):
            return
        self._orchestrators.append(orchestrator)
        started, completed = self._make_task_taps()
        orchestrator.bus.tap(self._make_tap(), queued=False, started=started,
                             completed=completed)
        self._start_writer()

    def reserve_run(self, run_id: str, workflow: Any) -> None:
        """Claim a new run id for this process, atomically (`RunExistsError` if it is taken)."""
        reserve_run(self, run_id, workflow)

    # -- reading ---------------------------------------------------------

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            if self.conn is None:
                raise StoreError(f"history database {self.path} is closed")
            try:
                return self.conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:  # locked, damaged: one line naming the file
                raise StoreError(f"cannot read the history database {self.path}: {exc}") \
                    from None

    def resolve(self, run_id: str) -> str:
        """The full id of a stored run (a unique prefix is enough)."""
        self.flush()
        if self._read("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)):
            return run_id
        pattern = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._read("SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\' "
                          "ORDER BY started_at DESC LIMIT 6", (pattern,))
        if len(rows) == 1:
            return rows[0][0]
        if not rows:
            raise UnknownRunError(f"no run '{run_id}' in the history database {self.path} "
                                  "(see 'deeptui history')")
        names = ", ".join(r[0] for r in rows[:5])
        raise UnknownRunError(f"run id '{run_id}' is ambiguous in {self.path}: it begins "
                              f"{names}{', ...' if len(rows) > 5 else ''}; give more of it")

    def list_runs(self, limit: int = 50, workflow_id: str | None = None) -> list[RunSummary]:
        """Stored runs, the newest first. A damaged run is skipped and named in ``damaged``."""
        self.flush()
        self.mark_interrupted()
        where, args = ("WHERE workflow_id = ?", (workflow_id,)) if workflow_id else ("", ())
        rows = self._read(f"{SUMMARY_SQL} {where} ORDER BY r.started_at DESC, r.rowid DESC "
                          "LIMIT ?", (*args, limit))
        runs, self.damaged = [], []
        for row in rows:
            try:
                runs.append(run_summary(row))
            except (ValueError, TypeError) as exc:
                self.damaged.append(str(damaged(self.path, row[0], exc)) + "; skipped")
        return runs

    def workers(self, run_id: str) -> dict[str, str | None]:
        """task id -> the Dask worker its last attempt ran on (tasks run here: none)."""
        return stored_workers(self._read(SELECT_WORKERS, (self.resolve(run_id),)))

    def summary(self, run_id: str) -> RunSummary:
        """One run's summary (a damaged one is a `StoreError` naming it)."""
        rid = self.resolve(run_id)
        row = self._read(f"{SUMMARY_SQL} WHERE r.run_id = ?", (rid,))[0]
        try:
            return run_summary(row)
        except (ValueError, TypeError) as exc:
            raise damaged(self.path, rid, exc) from None

    def load_run(self, run_id: str) -> StoredRun:
        """A stored run: definition, state (task results rebuilt), parameters, logs.
        A damaged run (its row, its definition) is a `StoreError` naming it; a damaged
        task row is left out (the task is pending) and named in ``problems``."""
        self.flush()
        self.mark_interrupted()
        summary = self.summary(run_id)
        rid = summary.run_id
        found = self._read(f"SELECT {DEFINITION_TEXT}, d.parameters_json FROM {DEFINITIONS} "
                           "WHERE d.run_id = ?", (rid,))
        if not found:
            raise damaged(self.path, rid, "its workflow definition is missing")
        wf_json, params_json = found[0]
        try:
            workflow = WorkflowDefinition.model_validate_json(wf_json)
            parameters = json.loads(params_json) if params_json else None
        except (ValidationError, ValueError, TypeError) as exc:
            raise damaged(self.path, rid, exc, "its stored workflow definition") from None
        results = {t.id: TaskResult(task_id=t.id) for t in workflow.tasks}
        kinds: dict[str, str] = {}
        dropped: dict[str, int] = {}
        problems: list[str] = []
        for values in self._read(SELECT_TASKS, (rid,)):
            row = dict(zip(TASK_COLUMNS, values, strict=True))
            tid = row["task_id"]
            try:
                results[tid] = task_result(row)
            except (ValidationError, ValueError, TypeError) as exc:
                problems.append(f"task '{tid}': {str(damaged(self.path, rid, exc))}")
                continue
            kinds[tid] = row["output_kind"]
            if row["log_dropped"]:
                dropped[tid] = row["log_dropped"]
        for tid, kind, detail in self._read(SELECT_CHANGES, (rid,)):
            if tid in results:  # the last word on a writing task's diff wins
                results[tid].changes = stored_changes(kind, detail)
        for tid, worker in stored_workers(self._read(SELECT_WORKERS, (rid,))).items():
            if tid in results:
                results[tid].worker = worker
        state = WorkflowState(workflow_id=summary.workflow_id, run_id=rid,
                              workflow_name=summary.workflow_name, status=summary.status,
                              task_results=results, started_at=summary.started_at,
                              completed_at=summary.completed_at, error=summary.error)
        logs: dict[str, list[tuple[float, str, str]]] = {}
        for tid, when, kind, text in self._read(
                "SELECT task_id, ts, kind, text FROM logs WHERE run_id = ? ORDER BY id", (rid,)):
            logs.setdefault(tid, []).append((when, kind, text))
        if summary.template is not None:
            parameters = {"template": summary.template, "parameters": parameters or {}}
        return StoredRun(summary, workflow, state, parameters, summary.model, logs, kinds,
                         dropped, problems)

    def record_event(self, run_id: str, task_id: str | None, kind: str,
                     detail: str | None = None) -> None:
        """One row in a run's events, written now (e.g. a diff applied from the command line)."""
        self.flush()
        with self._lock:
            if self.conn is None:
                raise StoreError(f"history database {self.path} is closed")
            try:
                with self.conn:
                    self.conn.execute("INSERT INTO events (run_id, ts, task_id, kind, attempt, detail) "
                                      "VALUES (?, ?, ?, ?, NULL, ?)",
                                      (run_id, time.time(), task_id, kind, detail))
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write to the history database {self.path}: {exc}") from None

    def workflow_metrics(self, run_id: str) -> WorkflowMetrics:
        stored = self.load_run(run_id)
        return WorkflowMetrics.from_state(stored.workflow, stored.state)

    def events(self, run_id: str) -> list[dict[str, Any]]:
        """The run's status changes in order: ts, task_id, kind, attempt, detail."""
        rid = self.resolve(run_id)
        rows = self._read("SELECT ts, task_id, kind, attempt, detail FROM events "
                          "WHERE run_id = ? ORDER BY id", (rid,))
        return [dict(zip(("ts", "task_id", "kind", "attempt", "detail"), r, strict=True))
                for r in rows]

    def export_run(self, run_id: str) -> dict[str, Any]:
        """Everything stored about a run, as one JSON-serializable document."""
        return export_document(self, self.load_run(run_id))

    def aggregate_stats(self) -> dict[str, Any]:
        """The orchestration guide's statistics over every stored run that ended (completed, failed,
        cancelled); interrupted runs can still be resumed and are only counted."""
        self.flush()
        self.mark_interrupted()
        return aggregate(self)

    # -- housekeeping ----------------------------------------------------

    def mark_interrupted(self) -> int:
        """Runs left "running" by a process (on this host) that is gone become "interrupted";
        their running tasks become cancelled. Returns how many runs changed."""
        with self._lock:
            if self.conn is None:
                return 0
            rows = self._read("SELECT run_id, pid, host, proc_token FROM runs "
                              "WHERE status = 'running'")
            dead = [(rid, pid) for rid, pid, host, token in rows
                    if host == HOST and not self._alive(rid, pid, token)]
            if dead:
                try:
                    self._interrupt(dead, "the process running it (pid {pid} on {host}) ended")
                except sqlite3.Error as exc:  # locked or read-only: readers still read
                    log.warning("history database %s: cannot mark %d runs interrupted: %s",
                                self.path, len(dead), exc)
                    return 0
            return len(dead)

    def _interrupt(self, runs: list[tuple[str, Any]], why: str) -> None:
        conn = self.conn
        assert conn is not None
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for rid, pid in runs:
                reason = "interrupted: " + why.format(pid=pid, host=HOST)
                changed = conn.execute(
                    "UPDATE runs SET status = 'interrupted', error = ?, updated_at = ? "
                    "WHERE run_id = ? AND status = 'running' AND pid IS ?",
                    (reason, now, rid, pid)).rowcount
                if changed:  # (not a run another process took over meanwhile)
                    conn.execute("UPDATE tasks SET status = 'cancelled', error = ?, completed_at = ? "
                                 "WHERE run_id = ? AND status = 'running'", (reason, now, rid))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _alive(self, run_id: str, pid: int, token: str | None) -> bool:
        if pid != os.getpid():
            return process_alive(pid, token)
        if token != MY_TOKEN:
            return False  # an earlier process that had our pid
        if run_id in self.writer.live:
            return True
        # ours: dead if an orchestrator this store records knows it and it no longer runs
        for orchestrator in self._orchestrators:
            if orchestrator.find_run(run_id) is not None:
                return driven(orchestrator, run_id)
        return True  # another store in this process may be recording it

    def close(self) -> None:
        """Write what is queued (retrying as `sync` does); runs of this store still running
        become interrupted. What could not be saved is in ``save_error`` (and logged)."""
        if self.conn is None:
            return
        self._stopping = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        with self._lock:
            self.sync()
            if self.writer.live:
                try:
                    self._interrupt([(rid, os.getpid()) for rid in self.writer.live],
                                    "the store was closed while it ran (pid {pid} on {host})")
                except sqlite3.Error as exc:
                    if self.save_error is None:
                        self._give_up(f"could not mark its runs interrupted ({exc})")
                self.writer.live.clear()
            self.conn.close()
            self.conn = None
        _OPEN_STORES.discard(self)

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@atexit.register
def _close_open_stores() -> None:
    for store in list(_OPEN_STORES):
        try:
            store.close()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass


__all__ = ["CURRENT_VERSION", "RunStore", "RunSummary", "StoredRun", "default_db_path",
           "process_alive", "process_token", "resume_run", "start_resume"]
