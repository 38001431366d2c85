"""The run history: what is recorded, what is read back, resume, and files that are not right."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from deeptui import (
    OrchestrationConfig,
    RetryConfig,
    TaskDefinition,
    TaskOrchestrator,
    TaskStatus,
    WorkflowDefinition,
    WorkflowStatus,
)
from deeptui.store.resume import process_token
from deeptui.store import schema as store_schema
from deeptui.cache import CacheConfig
from deeptui.errors import DeeptuiError, StoreError, UnknownRunError
from deeptui.metrics import WorkflowMetrics, aggregate_stats
from deeptui.store import RunStore, default_db_path, resume_run, start_resume

NO_RETRY = RetryConfig(max_retries=0)


def make_orchestrator(store: RunStore) -> TaskOrchestrator:
    orchestrator = TaskOrchestrator(
        config=OrchestrationConfig(simulated_latency=(0.0, 0.01), simulated_seed=7),
        cache_config=CacheConfig(strategy="none"), store=store)
    orchestrator.register_callable("add", lambda task, params, outputs: {
        "sum": params.get("n", 0) + sum(o["sum"] for o in outputs.values())})
    return orchestrator


def chain(workflow_id: str = "chain", **extra: object) -> WorkflowDefinition:
    return WorkflowDefinition(id=workflow_id, name="A chain", tasks=[
        TaskDefinition(id="one", task_type="callable", parameters={"callable": "add", "n": 1}),
        TaskDefinition(id="two", task_type="callable", depends_on=["one"],
                       parameters={"callable": "add", "n": 2}),
        TaskDefinition(id="say", task_type="shell", depends_on=["two"],
                       parameters={"command": "echo hello; echo world"}),
        TaskDefinition(id="write", description="Summarise the sums", depends_on=["two"]),
    ], **extra)


@pytest.fixture
def store(tmp_path: Path):
    with RunStore(tmp_path / "history.db") as opened:
        yield opened


# ---------------------------------------------------------------- recording


async def test_a_run_is_recorded_with_definition_parameters_model_outputs_and_logs(store):
    workflow = chain(metadata={"template": "chain", "parameters": {"size": 4}})
    state = await make_orchestrator(store).execute_workflow(workflow)

    [summary] = store.list_runs()
    assert (summary.run_id, summary.workflow_id, summary.workflow_name) == \
        (state.run_id, "chain", "A chain")
    assert summary.status is WorkflowStatus.COMPLETED
    assert (summary.total_tasks, summary.completed, summary.failed) == (4, 4, 0)
    assert summary.model == "simulated" and summary.duration_seconds > 0

    stored = store.load_run(state.run_id[:8])  # a unique prefix is enough
    assert stored.workflow == workflow
    assert stored.parameters == {"template": "chain", "parameters": {"size": 4}}
    results = stored.state.task_results
    assert results["two"].output == {"sum": 3}
    assert results["say"].output == "hello\nworld"
    assert results["write"].usage.total_tokens > 0 and results["write"].agent_used
    assert [(k, t) for _, k, t in stored.logs["say"]] == \
        [("info", "$ echo hello; echo world"), ("stdout", "hello"), ("stdout", "world")]
    for tid, result in state.task_results.items():
        assert results[tid].status is TaskStatus.COMPLETED
        assert results[tid].started_at == result.started_at
        assert results[tid].completed_at == result.completed_at


async def test_failures_retries_and_skips_are_recorded(store, tmp_path):
    orchestrator = make_orchestrator(store)
    orchestrator.retry_sleep = lambda delay: _no_wait()
    workflow = WorkflowDefinition(id="flaky", tasks=[
        TaskDefinition(id="boom", task_type="shell", parameters={"command": "echo oops; exit 3"},
                       retry_config=RetryConfig(max_retries=2, initial_delay=0.0)),
        TaskDefinition(id="after", task_type="callable", depends_on=["boom"],
                       parameters={"callable": "add"}),
    ])
    state = await orchestrator.execute_workflow(workflow)
    assert state.status is WorkflowStatus.FAILED

    stored = store.load_run(state.run_id)
    boom, after = stored.state.task_results["boom"], stored.state.task_results["after"]
    assert (boom.status, boom.attempts, boom.error) == (TaskStatus.FAILED, 3, "exit code 3: oops")
    assert after.status is TaskStatus.SKIPPED and "boom" in after.skip_reason
    assert stored.summary.status is WorkflowStatus.FAILED and stored.summary.failed == 1
    kinds = [(e["task_id"], e["kind"], e["attempt"]) for e in store.events(state.run_id)]
    assert kinds == [(None, "workflow_started", None), ("boom", "retrying", 1),
                     ("boom", "started", 2), ("boom", "retrying", 2), ("boom", "started", 3),
                     ("boom", "failed", 3), ("after", "skipped", None),
                     (None, "workflow_finished", None)]


async def _no_wait() -> None:
    return None


class Gadget:
    def __str__(self) -> str:
        return "gadget #7"


async def test_an_output_that_is_not_json_is_stored_as_text_with_a_warning(store, caplog):
    orchestrator = make_orchestrator(store)
    orchestrator.register_callable("odd", lambda task, params, outputs: Gadget())
    workflow = WorkflowDefinition(id="odd", tasks=[
        TaskDefinition(id="odd", task_type="callable", parameters={"callable": "odd"})])
    with caplog.at_level(logging.WARNING, logger="deeptui.store"):
        state = await orchestrator.execute_workflow(workflow)
        stored = store.load_run(state.run_id)
    assert isinstance(state.task_results["odd"].output, Gadget)  # the run keeps the object
    assert stored.state.task_results["odd"].output == "gadget #7"
    assert stored.output_kinds["odd"] == "text"
    assert "task 'odd'" in caplog.text and "not JSON-serializable" in caplog.text
    assert any(kind == "warning" for _, kind, _ in stored.logs["odd"])
    json.dumps(store.export_run(state.run_id))


async def test_log_lines_beyond_the_limit_drop_the_oldest(tmp_path):
    with RunStore(tmp_path / "h.db", max_log_lines=10) as store:
        workflow = WorkflowDefinition(id="chatty", tasks=[TaskDefinition(
            id="talk", task_type="shell", parameters={"command": "seq 100"})])
        state = await make_orchestrator(store).execute_workflow(workflow)
        stored = store.load_run(state.run_id)
    lines = [text for _, _, text in stored.logs["talk"]]
    assert 10 <= len(lines) <= 13 and lines[-1] == "100"
    assert stored.log_dropped["talk"] == 101 - len(lines)
    assert stored.state.task_results["talk"].output.endswith("99\n100")


async def test_sync_commit_records_a_completion_before_the_next_task_starts(tmp_path):
    db = tmp_path / "h.db"
    seen: list[str] = []

    def peek(task, params, outputs):
        with sqlite3.connect(db) as conn:
            seen.extend(row[0] for row in conn.execute(
                "SELECT status FROM tasks WHERE task_id = 'first'"))
        return None

    with RunStore(db, sync_commit=True) as store:
        orchestrator = make_orchestrator(store)
        orchestrator.register_callable("peek", peek)
        await orchestrator.execute_workflow(WorkflowDefinition(id="sync", tasks=[
            TaskDefinition(id="first", task_type="callable", parameters={"callable": "add"}),
            TaskDefinition(id="second", task_type="callable", depends_on=["first"],
                           parameters={"callable": "peek"})]))
    assert seen == ["completed"]


# ---------------------------------------------------------------- reading


async def test_export_is_one_json_document_with_everything(store):
    state = await make_orchestrator(store).execute_workflow(chain())
    document = json.loads(json.dumps(store.export_run(state.run_id)))
    assert document["format"] == "deeptui-run"
    assert document["schema_version"] == store_schema.CURRENT_VERSION
    assert document["run"]["run_id"] == state.run_id
    assert document["run"]["status"] == "completed" and document["run"]["model"] == "simulated"
    assert document["workflow"]["id"] == "chain"
    assert [t["task_id"] for t in document["tasks"]] == ["one", "two", "say", "write"]
    say = document["tasks"][2]
    assert say["output"] == "hello\nworld" and say["attempts"] == 1
    assert [line["text"] for line in say["logs"]][1:] == ["hello", "world"]
    assert document["metrics"]["completed_tasks"] == 4
    assert document["events"][0]["kind"] == "workflow_started"


async def test_list_runs_is_newest_first_and_filters_by_workflow(store):
    orchestrator = make_orchestrator(store)
    first = await orchestrator.execute_workflow(chain("alpha"))
    second = await orchestrator.execute_workflow(chain("beta"))
    assert [r.run_id for r in store.list_runs()] == [second.run_id, first.run_id]
    assert [r.run_id for r in store.list_runs(workflow_id="alpha")] == [first.run_id]
    assert len(store.list_runs(limit=1)) == 1


async def test_unknown_and_ambiguous_run_ids_are_clear_errors(store):
    orchestrator = make_orchestrator(store)
    await orchestrator.execute_workflow(chain(), run_id="chain@a1")
    await orchestrator.execute_workflow(chain(), run_id="chain@a2")
    with pytest.raises(UnknownRunError, match="no run 'nope' in the history database"):
        store.load_run("nope")
    with pytest.raises(UnknownRunError, match="ambiguous.*chain@a"):
        store.load_run("chain@a")
    assert store.load_run("chain@a2").summary.run_id == "chain@a2"


async def test_aggregate_stats_survive_reopening(tmp_path):
    db = tmp_path / "h.db"
    with RunStore(db) as store:
        orchestrator = make_orchestrator(store)
        good = await orchestrator.execute_workflow(chain())
        broken = chain("broken")
        broken.tasks[1] = broken.tasks[1].model_copy(update={
            "task_type": "shell", "parameters": {"command": "exit 1"}, "retry_config": NO_RETRY})
        bad = await orchestrator.execute_workflow(broken)
        live_stats = orchestrator.get_aggregate_stats()
    expected = aggregate_stats([WorkflowMetrics.from_state(chain(), good),
                                WorkflowMetrics.from_state(broken, bad)])
    with RunStore(db) as reopened:
        stats = reopened.aggregate_stats()
        assert TaskOrchestrator(store=reopened).get_aggregate_stats() == stats
    assert stats == live_stats
    for key in ("total_workflows", "total_tasks", "average_success_rate", "total_failed",
                "total_skipped", "successful_workflows", "failed_workflows"):
        assert stats[key] == expected[key], key
    assert stats["average_duration"] == pytest.approx(expected["average_duration"], abs=0.011)
    assert (stats["total_workflows"], stats["total_tasks"]) == (2, 8)


async def test_workflow_metrics_from_the_store_match_the_run(store):
    state = await make_orchestrator(store).execute_workflow(chain())
    metrics = store.workflow_metrics(state.run_id)
    assert (metrics.total_tasks, metrics.completed_tasks, metrics.success_rate) == (4, 4, 100.0)
    assert metrics.run_id == state.run_id


# ---------------------------------------------------------------- resume


async def test_resume_runs_only_what_did_not_complete(store, tmp_path):
    flag = tmp_path / "fixed"
    calls: list[str] = []

    def count(task, params, outputs):
        calls.append(task.id)
        return {"sum": 1}

    orchestrator = make_orchestrator(store)
    orchestrator.register_callable("count", count)
    workflow = WorkflowDefinition(id="mend", tasks=[
        TaskDefinition(id="a", task_type="callable", parameters={"callable": "count"}),
        TaskDefinition(id="b", task_type="shell", depends_on=["a"], retry_config=NO_RETRY,
                       parameters={"command": f"test -e {flag} && echo mended"}),
        TaskDefinition(id="c", task_type="callable", depends_on=["b"],
                       parameters={"callable": "count"}),
    ])
    first = await orchestrator.execute_workflow(workflow)
    assert first.status is WorkflowStatus.FAILED and calls == ["a"]

    flag.touch()
    fresh = make_orchestrator(store)  # as a new process would
    fresh.register_callable("count", count)
    state = await resume_run(fresh, store, first.run_id)
    assert state.run_id == first.run_id and state.status is WorkflowStatus.COMPLETED
    assert calls == ["a", "c"]
    assert state.task_results["b"].output == "mended"
    [summary] = store.list_runs()
    assert summary.status is WorkflowStatus.COMPLETED and summary.resumes == 1

    with pytest.raises(DeeptuiError, match="completed; there is nothing to resume"):
        await resume_run(fresh, store, first.run_id)


async def test_start_resume_returns_at_once_and_refuses_a_run_in_progress(store, tmp_path):
    orchestrator = make_orchestrator(store)
    workflow = WorkflowDefinition(id="slow", tasks=[
        TaskDefinition(id="wait", task_type="shell", retry_config=NO_RETRY,
                       parameters={"command": f"test -e {tmp_path / 'ok'} && sleep 0.2"})])
    failed = await orchestrator.execute_workflow(workflow)
    (tmp_path / "ok").touch()
    rid = start_resume(orchestrator, store, failed.run_id)
    assert rid == failed.run_id
    with pytest.raises(DeeptuiError, match="is running in this process"):
        start_resume(orchestrator, store, rid)
    state = await orchestrator.wait(rid)
    assert state.status is WorkflowStatus.COMPLETED


def _pretend_running(db: Path, run_id: str, pid: int, token: str | None) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET status = 'running', pid = ?, proc_token = ? "
                     "WHERE run_id = ?", (pid, token, run_id))


async def test_a_run_of_a_live_process_is_not_resumed_and_a_dead_one_is_interrupted(tmp_path):
    db = tmp_path / "h.db"
    with RunStore(db) as store:
        state = await make_orchestrator(store).execute_workflow(chain(), run_id="chain@x")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _pretend_running(db, state.run_id, sleeper.pid, process_token(sleeper.pid))
        with RunStore(db) as store:
            assert store.list_runs()[0].status is WorkflowStatus.RUNNING
            with pytest.raises(DeeptuiError, match=f"still running \\(process {sleeper.pid}"):
                await resume_run(make_orchestrator(store), store, "chain@x")
    finally:
        sleeper.kill()
        sleeper.wait()
    with RunStore(db) as store:  # the process is gone: its run is interrupted
        summary = store.list_runs()[0]
        assert summary.status is WorkflowStatus.INTERRUPTED
        assert f"pid {sleeper.pid}" in summary.error
        resumed = await resume_run(make_orchestrator(store), store, "chain@x")
        assert resumed.status is WorkflowStatus.COMPLETED


async def test_a_reused_pid_does_not_keep_a_run_running(tmp_path):
    db = tmp_path / "h.db"
    with RunStore(db) as store:
        await make_orchestrator(store).execute_workflow(chain(), run_id="chain@y")
    _pretend_running(db, "chain@y", os.getppid(), "not-its-start-time")
    with RunStore(db) as store:
        assert store.list_runs()[0].status is WorkflowStatus.INTERRUPTED


# ---------------------------------------------------------------- the file


def test_default_path_is_in_the_user_data_dir_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv("DEEPTUI_DB", raising=False)
    assert default_db_path() == Path(os.environ["XDG_DATA_HOME"]) / "deeptui" / "history.db"
    monkeypatch.setenv("DEEPTUI_DB", str(tmp_path / "elsewhere.db"))
    assert default_db_path() == tmp_path / "elsewhere.db"
    with RunStore() as store:
        assert store.path == tmp_path / "elsewhere.db" and store.path.exists()


def test_a_new_file_has_a_schema_version_and_uses_wal(tmp_path):
    RunStore(tmp_path / "h.db").close()
    with sqlite3.connect(tmp_path / "h.db") as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() \
            == (str(store_schema.CURRENT_VERSION),)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_file_of_a_newer_version_is_refused_and_left_alone(tmp_path):
    db = tmp_path / "h.db"
    RunStore(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    before = db.read_bytes()
    with pytest.raises(StoreError, match=f"{db}.*schema version 99, newer than"):
        RunStore(db)
    assert db.read_bytes() == before


async def test_an_older_file_is_migrated_and_keeps_its_runs(tmp_path, monkeypatch):
    db = tmp_path / "h.db"
    with RunStore(db) as store:
        state = await make_orchestrator(store).execute_workflow(chain())

    def add_notes(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE runs ADD COLUMN notes TEXT DEFAULT 'migrated'")

    version = store_schema.CURRENT_VERSION
    monkeypatch.setattr(store_schema, "CURRENT_VERSION", version + 1)
    monkeypatch.setitem(store_schema.MIGRATIONS, version, add_notes)
    with RunStore(db) as store:
        assert store.load_run(state.run_id).state.task_results["two"].output == {"sum": 3}
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() \
            == (str(version + 1),)
        assert conn.execute("SELECT DISTINCT notes FROM runs").fetchall() == [("migrated",)]


@pytest.mark.parametrize("content", [
    os.urandom(4096),
    b"SQLite format 3\x00" + os.urandom(4080),
])
def test_a_corrupted_file_is_a_clear_error_and_is_not_overwritten(tmp_path, content):
    db = tmp_path / "h.db"
    db.write_bytes(content)
    with pytest.raises(StoreError, match=f"{db}.*(not an SQLite database|corrupted).*left as it"):
        RunStore(db)
    assert db.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.db"]


def test_an_sqlite_file_of_another_program_is_refused(tmp_path):
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER)")
    before = db.read_bytes()
    with pytest.raises(StoreError, match="not a deeptui history.*photos"):
        RunStore(db)
    assert db.read_bytes() == before


def test_a_locked_file_is_a_clear_error_after_a_short_wait(tmp_path):
    db = tmp_path / "h.db"
    RunStore(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match=f"{db} is locked by another process.*0.2s"):
            RunStore(db, timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    RunStore(db, timeout=0.2).close()  # fine once the lock is gone
