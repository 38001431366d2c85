"""Getting recorded events to disk: the write queue, its bound, retries, and giving up.

`QueueMixin` is the part of `RunStore` between the bus and its `StoreWriter`:

- the bus tap appends an entry for the event to a deque without a lock (a task
  start, end or log line as plain values: `deeptui.store.entries`); the engine hands
  it a task's start and completion as values, without building their events
  (`EventBus.tap`'s ``started``/``completed``). A first start is held in a dict, not
  queued: a task that ends before the writer's next batch is one entry, and each
  batch takes the starts still held, so a running task's row is written as before.
  A writer thread commits what is queued at most ``flush_interval`` after it arrived. An
  event carries all the writer needs (a task's times, attempts and usage; a
  run's definition, model and already-ended tasks), none of it changed by the
  engine later: the store holds no engine object and never asks the orchestrator. A
  run's definition is taken as text when its start is queued (`batch.snapshot`): its
  owner may change the object as soon as the run has ended;
- the queue is bounded: past ``max_queue`` events the tap waits (on the
  engine's thread: back-pressure) until the writer took them; the writer takes
  them into its pending batch even when it cannot write, and when that batch
  outgrows ``max_queue`` keeps only the newest ``max_log_lines`` log lines of
  each task (the rest are counted as dropped, as the store would drop them
  anyway): at most about ``2 * max_queue`` events plus each task's newest log
  lines and its status events are held, however long the database stays
  locked or full;
- a write that fails (locked past the busy timeout, disk full, I/O error) is
  retried with exponential backoff; `sync` (a run's end) and ``close`` retry
  for at most ``retry_for`` seconds and then give up: ``save_error`` says what
  was lost, and the caller must not report success;
- `sync` also notices a database file deleted or replaced under the store.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import warnings
from collections import deque
from itertools import repeat, starmap
from typing import Any

from deeptui import bus as ev
from deeptui.store.batch import snapshot
from deeptui.store.durations import remember
from deeptui.store.entries import (COMPLETED, LOG, OTHER, STARTED, WIDTH, cache_source,
                                   coalesce_logs, entries, run_of)
from deeptui.store.writer import StoreWriter

log = logging.getLogger("deeptui.store")

GATHER_SECONDS = 0.005  # how long the writer waits after a task ended before it commits
RETRY_BUSY_MS = 100  # the busy timeout of a retry (the first attempt waits the full timeout)
MAX_BACKOFF = 1.0
# what the writer is woken for (a task or a run that ended, a run that starts)
_WAKE = frozenset((ev.TaskCompleted, ev.TaskFailed, ev.TaskCancelled, ev.TaskSkipped,
                   ev.WorkflowStarted, ev.WorkflowFinished))
_WRITE_ERRORS = (sqlite3.OperationalError, sqlite3.DatabaseError)
_BUGS = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)


class QueueMixin:
    """The queue half of `RunStore` (see the module docstring)."""

    conn: sqlite3.Connection | None
    path: Any
    timeout: float
    flush_interval: float
    sync_commit: bool
    max_log_lines: int
    _lock: threading.RLock
    writer: StoreWriter
    keep_env: bool

    def _init_queue(self, max_queue: int, retry_for: float) -> None:
        self.max_queue = max(max_queue, 1)
        self.retry_for = max(retry_for, 0.0)
        self._queue: deque[Any] = deque()  # entries: `WIDTH` values each
        # first starts not queued yet, (run, task) -> (run, task, ts, agent type): a task that
        # ends before the next batch is one completion entry; the writer copies the others
        # into each batch it takes (`_take`), so a running task's row is written as before
        self._starts: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._announced: dict[tuple[str, str], tuple[Any, ...]] = {}  # in a taken batch
        self._pending: list[Any] = []  # taken from the queue, not yet written
        self._dropped: dict[tuple[str, str], int] = {}  # log lines coalesced away, per task
        self._compact_base = max(self.max_queue, 2 * self.max_log_lines)
        self._compact_at = self._compact_base
        self._wake = threading.Event()
        self._room = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._failure: str | None = None  # the last write error, while writes fail
        self._next_attempt = 0.0
        self._backoff = 0.05
        self.save_error: str | None = None  # set when the store gave up saving something
        self.peak_queued = 0  # the most events ever held (queued + pending), for tests
        self._identity = _file_identity(self.path)

    # -- the bus side ------------------------------------------------------

    def _start_writer(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._writer, name="deeptui-store",
                                            daemon=True)
            self._thread.start()

    def _make_tap(self) -> Any:
        """The bus tap: appends an entry to the queue (and wakes the writer when something
        ended). ``max_queue`` counts events: the queue holds `WIDTH` values for each."""
        queue = self._queue
        extend = queue.extend
        wake = self._wake
        wakes = _WAKE
        starts = self._starts
        release = self._release_starts

        def tap(event: Any) -> None:
            cls = type(event)
            if starts:  # a held start is queued before anything else of its task
                release(event)
            if cls is STARTED:
                extend((STARTED, event.run_id, event.task_id, event.ts, event.attempt,
                        event.agent_type, None, None, None, None, None))
            elif cls is LOG:
                extend((LOG, event.run_id, event.task_id, event.ts, event.kind, event.text,
                        None, None, None, None, None))
            else:
                if cls is COMPLETED:
                    extend((COMPLETED, event.run_id, event.task_id, event.ts, event.output,
                            cache_source(event), event.started_at, event.completed_at,
                            event.attempts, event.agent_used, event.usage))
                elif cls is ev.WorkflowStarted:  # its definition taken now, not by the writer
                    extend((OTHER, event, snapshot(event, self.keep_env), None, None, None,
                            None, None, None, None, None))
                else:
                    extend((OTHER, event, None, None, None, None, None, None, None, None, None))
                if cls in wakes:
                    if self.sync_commit:
                        self.flush()
                    elif not wake.is_set():
                        wake.set()
                else:
                    return
            if len(queue) > self.max_queue * WIDTH:
                self._backpressure()

        return tap

    def _release_starts(self, event: Any) -> None:
        """Queue the held first start of ``event``'s task (of every task of its run, for a
        run's own event)."""
        starts = self._starts
        task_id = getattr(event, "task_id", None)
        if task_id is not None:
            held = starts.pop((event.run_id, task_id), None)
            if held is not None:
                self._queue.extend(_started_entry(held))
            return
        for key in [key for key in list(starts) if key[0] == event.run_id]:
            held = starts.pop(key, None)
            if held is not None:
                self._queue.extend(_started_entry(held))

    def _make_task_taps(self) -> tuple[Any, Any]:
        """The bus's plain-value taps of a task's start and completion (`EventBus.tap`'s
        ``started`` and ``completed``): the entries `_make_tap` makes of the events,
        without the engine building the events (a completion's ``cached``: False, or a
        hit's (run id, stored at), see `deeptui.store.entries`). A first start is held in
        ``_starts`` (see `_take`) and dropped when the task completes before a batch took it: the
        completion entry holds its start time, attempts and agent."""
        queue = self._queue
        extend = queue.extend
        wake = self._wake
        limit = self.max_queue * WIDTH
        starts = self._starts
        pop = starts.pop

        def started(run_id: str, task_id: str, ts: float, attempt: int,
                    agent_type: str | None) -> None:
            key = (run_id, task_id)
            if attempt == 1 and key not in starts:
                starts[key] = (run_id, task_id, ts, agent_type)
                return
            held = pop(key, None)
            if held is not None:
                extend(_started_entry(held))
            extend((STARTED, run_id, task_id, ts, attempt, agent_type,
                    None, None, None, None, None))
            if len(queue) > limit:
                self._backpressure()

        def completed(run_id: str, task_id: str, ts: float, output: Any, cached: bool,
                      started_at: Any, completed_at: Any, attempts: int,
                      agent_used: str | None, usage: Any) -> None:
            pop((run_id, task_id), None)
            extend((COMPLETED, run_id, task_id, ts, output, cached, started_at, completed_at,
                    attempts, agent_used, usage))
            if self.sync_commit:
                self.flush()
            elif not wake.is_set():
                wake.set()
            if len(queue) > limit:
                self._backpressure()

        return started, completed

    def _backpressure(self) -> None:
        """Wait (the engine's thread) until the writer took the queue below its bound."""
        self._wake.set()
        while len(self._queue) > self.max_queue * WIDTH and not self._stopping \
                and self.conn is not None and self._thread is not None \
                and self._thread.is_alive():
            self._room.clear()
            if len(self._queue) <= self.max_queue * WIDTH:
                break
            self._wake.set()
            self._room.wait(0.05)

    # -- the writer side ---------------------------------------------------

    def _writer(self) -> None:
        while not self._stopping:
            if not self._wake.wait(self.flush_interval):
                if not self._queue and not self._pending and not self._unannounced():
                    continue
            elif self._failure is None:
                time.sleep(GATHER_SECONDS)  # let a burst of task ends share one commit
            self._wake.clear()
            if not self._stopping:
                self.flush(attempt=time.monotonic() >= self._next_attempt)

    def _unannounced(self) -> bool:
        """Whether a held start is in no taken batch yet."""
        announced = self._announced
        return any(announced.get(key) is not held for key, held in self._starts.copy().items())

    def _take(self) -> None:
        """Move the queue into the pending batch (under the lock), coalescing log lines;
        then the held first starts that no batch took yet. (A start still held was queued
        after everything taken of its task: any other entry of the task releases it first.)"""
        queue, pending = self._queue, self._pending
        queued = len(queue)
        pending.extend(starmap(queue.popleft, repeat((), queued)))  # (the tap only appends)
        if self._starts or self._announced:
            held = self._starts.copy()  # (one step: the engine's thread may change it)
            announced = self._announced
            for key, values in held.items():
                if announced.get(key) is not values:
                    pending.extend(_started_entry(values))
            self._announced = held
        self._room.set()
        self.peak_queued = max(self.peak_queued, (len(pending) + len(queue)) // WIDTH)
        if len(pending) > self._compact_at * WIDTH:
            self._pending = pending = coalesce_logs(pending, self.max_log_lines, self._dropped)
            self._compact_at = max(2 * len(pending) // WIDTH, self._compact_base)

    def flush(self, *, attempt: bool = True) -> bool:
        """Write everything queued so far, in one transaction. Safe from any thread.
        True when nothing is left unwritten."""
        with self._lock:
            if self.conn is None:
                return not (self._queue or self._pending)
            self._take()
            if not self._pending and not self._dropped:
                return True
            if not attempt:
                return False
            try:
                self.writer.write(self.conn, self._pending, self._dropped)
            except _BUGS:  # a bug must not stop the run, nor loop forever
                log.exception("history database %s: could not record %d events",
                              self.path, len(self._pending) // WIDTH)
            except _WRITE_ERRORS as exc:  # locked for too long, disk full, I/O error...
                self._failed(exc)
                return False
            except Exception:  # noqa: BLE001 - as above
                log.exception("history database %s: could not record %d events",
                              self.path, len(self._pending) // WIDTH)
            self._pending = []
            self._dropped = {}
            ended, self.writer.ended = self.writer.ended, []
            for values in ended:
                remember(self, *values)
            self._compact_at = self._compact_base
            if self._failure is not None:
                log.info("history database %s: writing again", self.path)
                self._failure = None
                self._backoff = 0.05
                self.conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            return True

    def _failed(self, exc: Exception) -> None:
        if self._failure is None:  # once per failure streak (the CLI prints it as one line)
            warnings.warn(f"history database {self.path}: {exc}; will keep trying",
                          RuntimeWarning, stacklevel=2)
            assert self.conn is not None
            self.conn.execute(f"PRAGMA busy_timeout = {RETRY_BUSY_MS}")
        self._failure = str(exc)
        self._next_attempt = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, MAX_BACKOFF)

    def sync(self, retry_for: float | None = None) -> str | None:
        """Write everything queued, retrying for up to ``retry_for`` seconds (default: the
        store's). None when it is all saved; else what was not, also in ``save_error``."""
        if self.save_error is not None:
            retry_for = 0.0  # already gave up once: one more try, no more waiting
        deadline = time.monotonic() + (self.retry_for if retry_for is None else retry_for)
        while not self.flush():
            if time.monotonic() >= deadline:
                self._give_up(f"could not save to it for {self.retry_for:g}s "
                              f"({self._failure})")
                return self.save_error
            time.sleep(max(min(self._next_attempt - time.monotonic(), MAX_BACKOFF), 0.01))
        moved = self._moved()
        if moved is not None:
            self._give_up(moved, self.writer.recorded)
        return self.save_error

    def _moved(self) -> str | None:
        """Why the file at ``path`` is no longer the one written (deleted, replaced)."""
        if self._identity is None:
            return None
        now = _file_identity(self.path)
        if now is None:
            return "it was deleted while deeptui wrote to it"
        if now != self._identity:
            return "it was replaced by another file while deeptui wrote to it"
        return None

    def _give_up(self, why: str, runs: set[str] | None = None) -> None:
        runs = sorted(runs or {run_of(values) for values in entries(self._pending)}
                      | self.writer.live)
        what = f"run {', '.join(repr(r) for r in runs[:3])}" if runs else "the last events"
        if self.save_error is None:  # the caller reports it (the CLI: a warning line)
            self.save_error = (f"history database {self.path}: {why}; {what} may be missing "
                               "or incomplete in the history")
            log.info("%s", self.save_error)


def _started_entry(held: tuple[Any, ...]) -> tuple[Any, ...]:
    """The queue entry of a held first start (run, task, ts, agent type)."""
    run_id, task_id, ts, agent_type = held
    return (STARTED, run_id, task_id, ts, 1, agent_type, None, None, None, None, None)


def _file_identity(path: Any) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)
