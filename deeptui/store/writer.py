"""`StoreWriter`: queued bus events to rows, one transaction per batch.

It runs on the store's writer thread (or on whoever calls ``flush()``), under the
store's lock, and stages each batch in a `deeptui.store.batch.Batch`. Between batches it
keeps which tasks of each live run have a row and their positions, never the rows.
`RunStore` tells it which runs this process claimed (`claim`, `release`) and reads which
are live and which it wrote (``live``, ``recorded``).
"""

from __future__ import annotations

import sqlite3
from itertools import chain
from typing import Any

from deeptui.store.batch import Batch
from deeptui.store.definitions import DefinitionTexts


def _note(durations: dict[str, float], tid: str, counts: bool, started: float | None,
          ended: float | None) -> None:
    if counts and started is not None and ended is not None and ended - started >= 0:
        durations[tid] = ended - started
    else:
        durations.pop(tid, None)

class StoreWriter:
    """Writes batches of bus events; keeps what it needs between batches."""

    def __init__(self, *, max_log_lines: int, host: str, proc_token: str | None,
                 keep_env: bool) -> None:
        self.max_log_lines = max_log_lines
        self.host = host
        self.proc_token = proc_token
        self.keep_env = keep_env
        # what it knows of live runs: which tasks have a row in the file (a batch that changes
        # one reads it back: no copy of a run's rows is kept in memory, where thousands of
        # long-lived rows would bring on the cyclic GC's full collections in the engine's
        # process), task positions, stored log lines per task
        self.stored: dict[str, set[str]] = {}
        self.positions: dict[str, dict[str, int]] = {}
        self.log_counts: dict[tuple[str, str], int] = {}
        self.fresh: set[str] = set()  # runs first recorded here: they have no older logs
        self.live: set[str] = set()  # runs started (or claimed) here and not finished
        self.recorded: set[str] = set()  # runs this writer wrote to
        # runs started here: (workflow key, task -> seconds as the history's durations query
        # would find them: completed, not cached); a finished one goes to ``ended``, from
        # which the store remembers it (`deeptui.store.durations.remember`)
        self.durations: dict[str, tuple[tuple[str, str], dict[str, float]]] = {}
        self.ended: list[tuple[tuple[str, str], str, list[Any], dict[str, float]]] = []
        self.texts = DefinitionTexts()  # the latest definition text of each workflow

    def claim(self, run_id: str, *, new: bool = False) -> None:
        """This process runs ``run_id`` from now on (``new``: nothing of it is stored yet)."""
        self.live.add(run_id)
        if new:
            self.fresh.add(run_id)

    def release(self, run_id: str) -> None:
        self.live.discard(run_id)

    def write(self, conn: sqlite3.Connection, batch: list[Any],
              dropped: dict[tuple[str, str], int] | None = None) -> set[str]:
        """Write queued entries (`deeptui.store.entries`: `WIDTH` values per event) in one
        transaction; returns the runs that
        finished in it. ``dropped``: log lines of a task coalesced away before the batch
        (newer than every stored line of that task).

        What it knows of live runs changes only when the transaction committed, so a failed
        batch can be written again as it is."""
        staged = Batch(self, conn)
        for key in dropped or ():
            staged.counts[key] = 0  # every stored line of the task is older: all are dropped
        conn.execute("BEGIN IMMEDIATE")  # waits up to the store's timeout for other writers
        try:
            staged.add_all(batch)
            for key, n in (dropped or {}).items():
                staged.drop_older(key, n)
            staged.write()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._track(staged)
        for rid in staged.finished:
            known = self.durations.pop(rid, None)
            version = conn.execute("SELECT updated_at, status, resumes FROM runs "
                                   "WHERE run_id = ?", (rid,)).fetchone()
            if known is not None and version is not None:
                self.ended.append((known[0], rid, list(version), known[1]))
        self._publish(staged)
        return staged.finished

    def _track(self, staged: Batch) -> None:
        """Each committed row's duration, as the history's durations query reads it."""
        for rid in staged.runs:  # (re)started: its ended tasks are in ``keep``
            self.durations[rid] = (staged.keys[rid], {})
        rows = chain(staged.keep, *(r.values() for r in staged.dirty.values()))
        for row in rows:  # `TASK_COLUMNS` order
            known = self.durations.get(row[0])
            if known is not None:
                _note(known[1], row[1], row[3] == "completed" and not row[12], row[9], row[10])
        for rid, quick in staged.quick.items():  # `Batch.quick` tuples: never a cache hit
            known = self.durations.get(rid)
            if known is not None:  # (`_note`, inline: one per task)
                durations = known[1]
                for plain in quick.values():
                    started, ended = plain[6], plain[7]
                    if plain[3] == "completed" and started is not None and ended is not None \
                            and ended - started >= 0:
                        durations[plain[1]] = ended - started
                    else:
                        durations.pop(plain[1], None)

    def _publish(self, staged: Batch) -> None:
        """The transaction committed: the staged rows are in the file."""
        for rid, stored in staged.runs.items():
            self.stored[rid] = stored
            self.positions[rid] = staged.positions[rid]
            self.live.add(rid)
        for rid, rows in chain(staged.dirty.items(), staged.quick.items()):
            stored = self.stored.get(rid)
            if stored is not None:
                stored.update(rows)
        self.fresh |= staged.fresh
        self.log_counts.update(staged.counts)
        self.recorded |= staged.touched
        for rid in staged.finished:
            self.live.discard(rid)
            self.stored.pop(rid, None)
            self.positions.pop(rid, None)
            for key in [k for k in self.log_counts if k[0] == rid]:
                del self.log_counts[key]
