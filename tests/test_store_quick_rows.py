"""A writer batch stages a task's first start and a plain completion as a tuple, and any other
change to the task as a row: whatever the batching, the history holds the same rows.

The same events (recorded from a real `StateManager` on a bus) go to real SQLite files: with
every task staged as a row (the reference), all in one batch, one batch per event, and
through the store's writer thread with ``sync_commit``."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace

from deeptui.bus import EventBus, TaskCompleted, TaskStarted
from deeptui.models import TaskDefinition, TaskUsage, WorkflowDefinition
from deeptui.state import StateManager
from deeptui.store import RunStore
from deeptui.store.batch import Batch
from deeptui.store.entries import cache_source

IDS = ["plain", "logs", "retried", "cached", "odd", "failed", "running", "reset", "usage"]
WORKFLOW = WorkflowDefinition(id="wf", tasks=[TaskDefinition(id=t) for t in IDS])


class Gadget:
    def __str__(self) -> str:
        return "gadget #7"


def play(sm: StateManager) -> None:
    sm.start_workflow()
    sm.running("plain", 1, "general")
    sm.completed("plain", {"x": 1})
    sm.running("logs", 1, None)
    for n in range(12):  # past max_log_lines: the oldest are dropped and counted on the row
        sm.log("logs", "text", f"line {n}")
    sm.completed("logs", "ok")
    sm.running("retried", 1, None)
    sm.retrying("retried", 1, 0.0, "flaky")
    sm.running("retried", 2, None)
    sm.completed("retried", [1, 2])
    sm.completed("cached", 5, cached=True, cached_from=("wf@0", 1.0))
    sm.running("odd", 1, None)
    sm.completed("odd", Gadget())  # not JSON: stored as its text, with a warning line
    sm.running("failed", 1, None)
    sm.failed("failed", "boom")
    sm.running("running", 1, "coder")  # still running when the history is read
    sm.running("reset", 1, None)
    sm.reset("reset")
    sm.running("reset", 1, None)
    sm.completed("reset", None)
    sm.running("usage", 1, None)
    sm.completed("usage", "paid", TaskUsage(input_tokens=3, output_tokens=4, requests=1,
                                            cost_usd=0.5))


def tables(path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        return {
            "tasks": conn.execute("SELECT * FROM tasks ORDER BY position").fetchall(),
            "logs": conn.execute("SELECT run_id, task_id, ts, kind, text FROM logs "
                                 "ORDER BY id").fetchall(),
            "events": conn.execute("SELECT run_id, ts, task_id, kind, attempt, detail "
                                   "FROM events ORDER BY id").fetchall(),
        }
    finally:
        conn.close()


def plain_taps(store: RunStore):
    """A tap feeding starts and completions to the store's plain-value taps (as the engine
    does: a first start is held until a batch takes it or the task completes), other
    events to its event tap."""
    started, completed = store._make_task_taps()
    other = store._make_tap()

    def tap(e) -> None:
        if type(e) is TaskStarted:
            started(e.run_id, e.task_id, e.ts, e.attempt, e.agent_type)
        elif type(e) is TaskCompleted:
            completed(e.run_id, e.task_id, e.ts, e.output, cache_source(e), e.started_at,
                      e.completed_at, e.attempts, e.agent_used, e.usage)
        else:
            other(e)

    return tap


def replay(path: Path, events: list, *, per_event: bool = False, synced: bool = False,
           plain: bool = False) -> dict[str, list[tuple]]:
    """The tables of a history fed ``events``: in one batch (no writer thread), one batch per
    event, or through the writer thread with ``sync_commit``; ``plain``: starts and
    completions through the store's plain-value taps."""
    store = RunStore(path, max_log_lines=4, sync_commit=synced)
    if synced:
        bus = EventBus()
        store.attach(SimpleNamespace(bus=bus, find_run=lambda run_id: None))
        tap = bus.publish
    elif plain:
        tap = plain_taps(store)
    else:
        tap = store._make_tap()
    for event in events:
        tap(event)
        if per_event:
            assert store.flush()
    assert store.sync() is None
    got = tables(path)  # before close() marks the running task interrupted
    store.close()
    return got


def test_every_batching_of_the_same_events_stores_the_same_rows(tmp_path: Path, monkeypatch):
    bus = EventBus()
    events: list = []
    bus.tap(events.append, queued=False)
    sm = StateManager(WORKFLOW, "wf@1", bus, model="test:model")
    play(sm)
    with monkeypatch.context() as m:  # the reference: every task staged as a row
        m.setattr(Batch, "_quick", lambda self, rid: None)
        reference = replay(tmp_path / "rows.db", events)
    got = replay(tmp_path / "one.db", events)
    assert got == reference
    assert replay(tmp_path / "each.db", events, per_event=True) == reference
    assert replay(tmp_path / "synced.db", events, synced=True) == reference
    assert replay(tmp_path / "plain.db", events, plain=True) == reference
    assert replay(tmp_path / "plain-each.db", events, plain=True, per_event=True) == reference

    rows = {row[1]: row for row in got["tasks"]}
    status = {tid: row[3] for tid, row in rows.items()}
    assert status == {"plain": "completed", "logs": "completed", "retried": "completed",
                      "cached": "completed", "odd": "completed", "failed": "failed",
                      "running": "running", "reset": "completed", "usage": "completed"}
    live = sm.result("plain")
    assert rows["plain"][9:11] == (live.started_at.timestamp(), live.completed_at.timestamp())
    assert rows["plain"][4:6] == ('{"x": 1}', "json")
    assert rows["odd"][4:6] == ("gadget #7", "text")
    assert rows["logs"][17] == 8  # log_dropped: 12 lines, the newest 4 kept
    assert rows["retried"][8] == 2 and rows["cached"][12] == 1
    assert rows["cached"][-2:] == ("wf@0", 1.0)  # cached_from, cached_at: where it came from
    assert all(row[-2:] == (None, None) for tid, row in rows.items() if tid != "cached")
    assert rows["usage"][13:17] == (3, 4, 1, 0.5)
    start = next(e for e in events if isinstance(e, TaskStarted) and e.task_id == "running")
    assert rows["running"][8:12] == (1, start.ts, None, "coder")  # what its start said
    assert [text for _, tid, _, _, text in got["logs"] if tid == "logs"] == [
        "line 8", "line 9", "line 10", "line 11"]
    assert [kind for _, _, tid, kind, _, _ in got["events"] if tid == "retried"] == [
        "retrying", "started"]



def _row(path: Path, sql: str) -> tuple | None:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()
    finally:
        conn.close()


def test_a_start_after_the_last_batch_is_written_by_the_writer_on_its_own(tmp_path: Path):
    """A first start is held by the tap, not queued, and nothing wakes the writer after it:
    the writer still writes it (within its ``flush_interval``) as the task's running row."""
    import time

    path = tmp_path / "runs.db"
    with RunStore(path) as store:
        bus = EventBus()
        store.attach(SimpleNamespace(bus=bus, find_run=lambda run_id: None))
        sm = StateManager(WORKFLOW, "wf@1", bus, model="test:model")
        sm.start_workflow()
        deadline = time.monotonic() + 10
        while _row(path, "SELECT 1 FROM runs") is None and time.monotonic() < deadline:
            time.sleep(0.02)  # the run's start woke the writer: it is written
        assert _row(path, "SELECT 1 FROM runs") is not None
        sm.running("running", 1, "coder")
        found = None
        while found is None and time.monotonic() < deadline:
            time.sleep(0.02)
            found = _row(path, "SELECT status, attempts, agent_used FROM tasks "
                               "WHERE task_id = 'running'")
        assert found == ("running", 1, "coder")
