"""The history database's schema, its version, its migrations, and opening a file safely.

``meta.schema_version`` says which layout a file has. Opening a file of an
older version runs the migrations in ``MIGRATIONS`` (version n -> n + 1) in
one transaction (version 1 -> 2: the tasks table gains ``cached_from`` and ``cached_at``,
NULL in the rows it held; 2 -> 3: a run's definition is kept once per distinct text, in
``workflows`` by its SHA-256, and ``definitions.digest`` names it; the rows already there
keep their text inline, with no digest); a file of a newer version, a file that is not SQLite, a
SQLite file that is not a deeptui history, or one locked for longer than the
timeout raises `StoreError` naming the file, and nothing in it is changed.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from deeptui.errors import StoreError

CURRENT_VERSION = 3
PAGE_SIZE = 8192  # of a new history file
SQLITE_HEADER = b"SQLite format 3\x00"

# the columns of a task row, in the order the writer keeps them
TASK_COLUMNS = ("run_id", "task_id", "position", "status", "output", "output_kind", "error",
                "skip_reason", "attempts", "started_at", "completed_at", "agent_used", "cached",
                "input_tokens", "output_tokens", "requests", "cost_usd", "log_dropped",
                "cached_from", "cached_at")

SCHEMA = [  # a new file (the current version)
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        workflow_id TEXT NOT NULL,
        workflow_name TEXT NOT NULL,
        status TEXT NOT NULL,            -- a WorkflowStatus value
        error TEXT,
        template TEXT,                   -- workflow.metadata["template"]
        model TEXT,
        started_at REAL,                 -- epoch seconds; kept across resumes
        completed_at REAL,
        total_tasks INTEGER NOT NULL DEFAULT 0,
        pid INTEGER,                     -- the process writing it, to detect a dead one
        host TEXT,
        proc_token TEXT,                 -- the process's start time, against reused pids
        resumes INTEGER NOT NULL DEFAULT 0,
        created_at REAL,
        updated_at REAL)""",
    "CREATE INDEX runs_by_start ON runs (started_at)",
    """CREATE TABLE definitions (         -- apart from runs: runs rows are rewritten often
        run_id TEXT PRIMARY KEY,
        workflow_json TEXT NOT NULL,     -- the WorkflowDefinition it ran ('' when digest is set)
        parameters_json TEXT,            -- workflow.metadata["parameters"]
        digest TEXT)                     -- its definition in workflows (v3; NULL: inline)""",
    """CREATE TABLE workflows (           -- each distinct definition text once (v3)
        digest TEXT PRIMARY KEY,         -- SHA-256 of workflow_json, hex
        workflow_json TEXT NOT NULL)""",
    "CREATE INDEX runs_by_workflow ON runs (workflow_id, started_at)",
    "CREATE INDEX runs_by_status ON runs (status)",
    """CREATE TABLE tasks (
        run_id TEXT NOT NULL,
        task_id TEXT NOT NULL,
        position INTEGER NOT NULL,       -- index in the workflow definition
        status TEXT NOT NULL,            -- a TaskStatus value
        output TEXT,                     -- JSON text, or plain text when output_kind = 'text'
        output_kind TEXT NOT NULL DEFAULT 'json',
        error TEXT,
        skip_reason TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        started_at REAL,
        completed_at REAL,
        agent_used TEXT,
        cached INTEGER NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL,
        log_dropped INTEGER NOT NULL DEFAULT 0,   -- oldest log lines dropped beyond the limit
        cached_from TEXT,                -- a cached result: the run that produced it (v2)
        cached_at REAL,                  -- and when the cache stored it (v2)
        PRIMARY KEY (run_id, task_id)) WITHOUT ROWID""",
    """CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        ts REAL NOT NULL,
        task_id TEXT,                    -- NULL for the run's own events
        kind TEXT NOT NULL,              -- started, retrying, completed, failed, ...
        attempt INTEGER,
        detail TEXT)""",
    "CREATE INDEX events_by_run ON events (run_id, id)",
    """CREATE TABLE logs (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        task_id TEXT NOT NULL,
        ts REAL NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL)""",
    "CREATE INDEX logs_by_task ON logs (run_id, task_id, id)",
]


ADDED_IN = {"workflows": 3}  # tables newer than version 1: the version that added them
WORKFLOWS_TABLE = next(s for s in SCHEMA if s.startswith("CREATE TABLE workflows"))
# a run's definition text, wherever it is kept: SELECT DEFINITION_TEXT FROM DEFINITIONS
# (a join, not a subquery: SQLite copies a subquery's value, 42 MB at 100,000 tasks)
DEFINITIONS = "definitions d LEFT JOIN workflows w ON w.digest = d.digest"
DEFINITION_TEXT = "COALESCE(w.workflow_json, d.workflow_json)"


def _add_cache_provenance(conn: sqlite3.Connection) -> None:
    """1 -> 2: where a cached result came from (NULL for the rows already there: a version 1
    file kept only that a result was cached)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(tasks)")}
    for column, kind in (("cached_from", "TEXT"), ("cached_at", "REAL")):
        if column not in have:  # (a tasks table `_recreate_missing` made has them)
            conn.execute(f"ALTER TABLE tasks ADD COLUMN {column} {kind}")


def _add_shared_definitions(conn: sqlite3.Connection) -> None:
    """2 -> 3: definitions kept once per distinct text (`WORKFLOWS_TABLE`); the runs already
    there keep theirs inline (digest NULL): nothing is copied, an old file opens at once."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(definitions)")}
    if "digest" not in have:  # (a definitions table `_recreate_missing` made has it)
        conn.execute("ALTER TABLE definitions ADD COLUMN digest TEXT")
    conn.execute(WORKFLOWS_TABLE.replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS "))


# version n -> n + 1, each run inside the opening transaction
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _add_cache_provenance, 2: _add_shared_definitions}


def _fix() -> str:
    return ("it was left as it is; move it away, or choose another file "
            "(--db, the 'db' setting or DEEPTUI_DB)")


def open_database(path: Path, timeout: float) -> sqlite3.Connection:
    """A connection (autocommit, WAL) to a checked, migrated history database."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise StoreError(f"history database {path} is a directory, not a file")
        if path.exists():
            with open(path, "rb") as fh:
                head = fh.read(len(SQLITE_HEADER))
            if head and head != SQLITE_HEADER:
                raise StoreError(f"history database {path} is not an SQLite database; "
                                 + _fix())
        else:  # created private: it holds task outputs and logs (its -wal/-shm follow it)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError as exc:
        raise StoreError(f"cannot open the history database {path}: {exc.strerror or exc}") \
            from None
    try:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the history database {path}: {exc}") from None
    try:
        # a new file's pages are 8 KB (a file keeps the size it was created with): a run's
        # definition (~420 bytes a task) spans half as many overflow pages, and in one process
        # +store runs took 2-6% less CPU than with 4 KB pages (16 KB: more)
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # (no effect on an existing file)
        _prepare(conn, path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except StoreError:
        conn.close()
        raise
    except sqlite3.OperationalError as exc:
        conn.close()
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise StoreError(f"history database {path} is locked by another process "
                             f"(waited {timeout:g}s); close the other deeptui or use another "
                             "file (--db)") from None
        raise StoreError(f"cannot open the history database {path}: {text}") from None
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"history database {path} is corrupted ({exc}); {_fix()}") from None
    return conn


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        tables = {row[0] for row in
                  conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "meta" not in tables:
            other = sorted(tables - {"sqlite_sequence"})
            if other:
                raise StoreError(f"{path} is an SQLite database but not a deeptui history "
                                 f"(it has tables {', '.join(other[:5])}); {_fix()}")
            for statement in SCHEMA:
                conn.execute(statement)
            conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("schema_version", str(CURRENT_VERSION)), ("created_at", str(time.time()))])
        else:
            version = schema_version(conn, path)
            _recreate_missing(conn, path, tables, version)
            if version > CURRENT_VERSION:
                raise StoreError(f"history database {path} has schema version {version}, newer "
                                 f"than this deeptui understands ({CURRENT_VERSION}); upgrade "
                                 f"deeptui; {_fix()}")
            while version < CURRENT_VERSION:
                migrate = MIGRATIONS.get(version)
                if migrate is None:
                    raise StoreError(f"history database {path}: no migration from schema "
                                     f"version {version}")
                migrate(conn)
                version += 1
                conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                             (str(version),))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _recreate_missing(conn: sqlite3.Connection, path: Path, tables: set[str],
                      version: int) -> None:
    """A history missing some of its tables (dropped by hand, a partial copy) gets them
    back, empty, with a warning; nothing that is there is changed. (A table newer than the
    file's ``version`` is its migration's to add.)"""
    missing = []
    for statement in SCHEMA:
        name = re.match(r"CREATE (TABLE|INDEX) (\w+)", statement)
        if name and name.group(1) == "TABLE" and name.group(2) not in tables \
                and ADDED_IN.get(name.group(2), 0) <= version:
            missing.append(name.group(2))
    if not missing:
        return
    for statement in SCHEMA:
        conn.execute(statement.replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ")
                     .replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS "))
    warnings.warn(f"history database {path} was missing the table(s) {', '.join(missing)}; "
                  "created them empty (what they held is lost)", RuntimeWarning, stacklevel=4)


def schema_version(conn: sqlite3.Connection, path: Path | str = "") -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise StoreError(f"history database {path} has no valid schema_version") from None
