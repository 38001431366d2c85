"""A stored run keeps where its cached results came from, and every reader shows it.

Real runs with a real result cache write a real SQLite history; it is read back in
process (`load_run`, a resume), by the command line in a subprocess (`history show`,
`history show --format json`, `history export`) and in the app (the task detail of a
run opened from the history). A history file of schema version 1 (which kept only that
a result was cached) opens, migrates and loads with the provenance empty.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
from rich.console import Console

from conftest import wait_for
from deeptui import OrchestrationConfig, TaskOrchestrator
from deeptui.app import DeeptuiApp
from deeptui.cache import CacheConfig
from deeptui.errors import StoreError
from deeptui.models import RetryConfig, TaskDefinition, WorkflowDefinition, WorkflowStatus
from deeptui.screens.history import HistoryScreen
from deeptui.screens.run import RunScreen
from deeptui.store import RunStore, resume_run
from deeptui.store import schema as store_schema
from deeptui.widgets.task_detail import TaskDetail
from test_cli import deeptui

FAST = OrchestrationConfig(simulated_latency=(0.0, 0.0), simulated_seed=3)


def cached_orchestrator(store: RunStore, strategy: str = "memory") -> TaskOrchestrator:
    orchestrator = TaskOrchestrator(config=FAST, cache_config=CacheConfig(strategy=strategy),
                                    store=store)
    orchestrator.register_callable("add", lambda task, params, outputs: {"sum": params["n"]})
    return orchestrator


def sums() -> WorkflowDefinition:
    return WorkflowDefinition(id="sums", name="Sums", tasks=[
        TaskDefinition(id="one", task_type="callable", parameters={"callable": "add", "n": 1}),
        TaskDefinition(id="two", task_type="shell", depends_on=["one"],
                       parameters={"command": "echo not cached"}),
    ])


async def two_runs(store: RunStore):
    """The workflow run twice on one cache: the second run's ``one`` is a hit."""
    orchestrator = cached_orchestrator(store)
    first = await orchestrator.execute_workflow(sums())
    second = await orchestrator.execute_workflow(sums())
    hit = second.task_results["one"]
    assert hit.cached and hit.cached_from == first.run_id and hit.cached_at is not None
    assert not second.task_results["two"].cached
    return first, second


async def test_a_loaded_run_has_the_provenance_the_live_run_had(tmp_path: Path) -> None:
    with RunStore(tmp_path / "h.db") as store:
        first, second = await two_runs(store)
        live = second.task_results["one"]
    with RunStore(tmp_path / "h.db") as store:  # as another process reads it
        loaded = store.load_run(second.run_id).state.task_results
        assert (loaded["one"].cached, loaded["one"].cached_from, loaded["one"].cached_at) \
            == (True, first.run_id, live.cached_at)
        assert (loaded["two"].cached, loaded["two"].cached_from,
                loaded["two"].cached_at) == (False, None, None)
        assert store.load_run(first.run_id).state.task_results["one"].cached_from is None


async def test_a_resumed_run_keeps_the_provenance_of_its_kept_results(tmp_path: Path) -> None:
    flag = tmp_path / "fixed"
    workflow = sums().model_copy(update={"tasks": [
        sums().tasks[0],
        TaskDefinition(id="two", task_type="shell", depends_on=["one"],
                       retry_config=RetryConfig(max_retries=0),
                       parameters={"command": f"test -e {flag} && echo mended"})]})
    with RunStore(tmp_path / "h.db") as store:
        orchestrator = cached_orchestrator(store)
        first = await orchestrator.execute_workflow(workflow)
        second = await orchestrator.execute_workflow(workflow)  # `one` from the cache
        assert second.status is WorkflowStatus.FAILED
        flag.touch()
        resumed = await resume_run(cached_orchestrator(store, "none"), store, second.run_id)
        assert resumed.status is WorkflowStatus.COMPLETED
        assert resumed.task_results["one"].cached_from == first.run_id  # the live resumed run
    with RunStore(tmp_path / "h.db") as store:
        one = store.load_run(second.run_id).state.task_results["one"]
        assert (one.cached, one.cached_from) == (True, first.run_id)
        assert one.cached_at == second.task_results["one"].cached_at


# ---------------------------------------------------------------- the command line


def cached_shell_workflow(tmp_path: Path) -> Path:
    """A workflow file of one cached shell task (the CLI's cache is on disk: a second
    `deeptui run` reads it)."""
    command = f'"{sys.executable}" -c "print(6 * 7)"'
    path = tmp_path / "answer.json"
    path.write_text(WorkflowDefinition(id="answer", name="Answer", tasks=[
        TaskDefinition(id="answer", task_type="shell",
                       parameters={"command": command, "cache": True})]).model_dump_json())
    return path


def test_history_show_and_export_name_the_run_a_cached_result_came_from(tmp_path: Path) -> None:
    path = cached_shell_workflow(tmp_path)
    runs = []
    for _ in range(2):
        proc = deeptui(tmp_path, "run", path, "--headless", "--format", "json")
        assert proc.returncode == 0, proc.stderr
        runs.append(json.loads(proc.stdout))
    first_id, live = runs[0]["run_id"], runs[1]["tasks"][0]
    assert live["cached_from"] == first_id and live["cached_at"]  # what the live run said
    second_id = runs[1]["run_id"]

    shown = deeptui(tmp_path, "history", "show", second_id)
    assert shown.returncode == 0, shown.stderr
    line = next(text for text in shown.stdout.splitlines() if " answer " in text)
    # the live report's words: "cached from run <id>, <UTC time>"
    when = live["cached_at"][:19].replace("T", " ")
    assert f"cached from run {first_id}, {when} UTC" in line
    first_shown = deeptui(tmp_path, "history", "show", first_id)
    assert "cached" not in first_shown.stdout.split("detail", 1)[1]

    as_json = json.loads(deeptui(tmp_path, "history", "show", second_id, "--format",
                                 "json").stdout)
    task = as_json["tasks"][0]
    assert (task["cached"], task["cached_from"], task["cached_at"]) == (
        True, first_id, live["cached_at"])

    exported = json.loads(deeptui(tmp_path, "history", "export", second_id).stdout)
    task = exported["tasks"][0]
    assert (task["cached"], task["cached_from"], task["cached_at"]) == (
        True, first_id, live["cached_at"])
    assert exported["schema_version"] == store_schema.CURRENT_VERSION


# ---------------------------------------------------------------- the app


def detail_text(screen: RunScreen) -> str:
    console = Console(width=120, record=True)
    console.print(screen.query_one(TaskDetail).content)
    return console.export_text()


async def test_the_app_shows_where_a_stored_runs_cached_result_came_from(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "h.db")
    first, second = await two_runs(store)
    orchestrator = TaskOrchestrator(config=FAST, store=store)  # as a new process: no live runs
    app = DeeptuiApp(orchestrator=orchestrator)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            app.open_screen("history")  # the History tab: the newest run first
            await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen)
                           and app.screen.focused is not None)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
            screen = app.screen
            assert screen.run_id == second.run_id and screen.read_only
            await wait_for(pilot, lambda: bool(screen.query(TaskDetail))
                           and "one" in detail_text(screen).split("\n", 1)[0])
            detail = detail_text(screen)
            assert "(cached)" in detail
            assert f"from run {first.run_id}" in detail
            at = second.task_results["one"].cached_at
            assert f"{at:%Y-%m-%d %H:%M:%S} UTC" in detail
    finally:
        orchestrator.close()
        store.close()


# ---------------------------------------------------------------- older and newer files

# the definitions table of schema versions 1 and 2 (each run's text inline; no workflows table)
DEFINITIONS_V2 = """CREATE TABLE definitions (
    run_id TEXT PRIMARY KEY, workflow_json TEXT NOT NULL, parameters_json TEXT)"""
# the tasks table of schema version 1 (the other tables are unchanged in version 2)
TASKS_V1 = """CREATE TABLE tasks (
    run_id TEXT NOT NULL, task_id TEXT NOT NULL, position INTEGER NOT NULL,
    status TEXT NOT NULL, output TEXT, output_kind TEXT NOT NULL DEFAULT 'json', error TEXT,
    skip_reason TEXT, attempts INTEGER NOT NULL DEFAULT 0, started_at REAL, completed_at REAL,
    agent_used TEXT, cached INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0, cost_usd REAL,
    log_dropped INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, task_id)) WITHOUT ROWID"""
V1_COLUMNS = ", ".join(store_schema.TASK_COLUMNS[:-2])


def version_1_copy(source: Path, target: Path) -> None:
    """``target``: a history of schema version 1 holding the runs of ``source``."""
    conn = sqlite3.connect(target)
    try:
        for statement in store_schema.SCHEMA:
            if "CREATE TABLE workflows" not in statement:
                conn.execute(TASKS_V1 if "CREATE TABLE tasks" in statement else
                             DEFINITIONS_V2 if "CREATE TABLE definitions" in statement else
                             statement)
        conn.execute("ATTACH DATABASE ? AS src", (str(source),))
        for table in ("meta", "runs", "events", "logs"):
            conn.execute(f"INSERT INTO {table} SELECT * FROM src.{table}")
        conn.execute("INSERT INTO definitions SELECT d.run_id, "  # each run's text inline
                     "COALESCE(w.workflow_json, d.workflow_json), d.parameters_json "
                     "FROM src.definitions d LEFT JOIN src.workflows w ON w.digest = d.digest")
        conn.execute(f"INSERT INTO tasks SELECT {V1_COLUMNS} FROM src.tasks")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        conn.commit()
    finally:
        conn.close()


async def test_a_version_1_file_migrates_and_its_cached_task_loads_without_provenance(
        tmp_path: Path) -> None:
    with RunStore(tmp_path / "new.db") as store:
        first, second = await two_runs(store)
    old = tmp_path / "old.db"
    version_1_copy(tmp_path / "new.db", old)
    with sqlite3.connect(old) as conn:
        assert "cached_from" not in {r[1] for r in conn.execute("PRAGMA table_info(tasks)")}

    with RunStore(old) as store:
        one = store.load_run(second.run_id).state.task_results["one"]
        assert (one.status, one.output, one.cached) == ("completed", {"sum": 1}, True)
        assert (one.cached_from, one.cached_at) == (None, None)  # not known: empty
        # the migrated file takes new runs, provenance and all
        orchestrator = cached_orchestrator(store)
        third = await orchestrator.execute_workflow(sums())
        fourth = await orchestrator.execute_workflow(sums())
    with RunStore(old) as store:
        assert store.load_run(fourth.run_id).state.task_results["one"].cached_from \
            == third.run_id
    with sqlite3.connect(old) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() \
            == (str(store_schema.CURRENT_VERSION),)

    shown = deeptui(tmp_path, "--db", old, "history", "show", second.run_id)
    assert shown.returncode == 0, shown.stderr
    line = next(text for text in shown.stdout.splitlines() if " one " in text)
    assert line.rstrip().endswith("cached") and "from run" not in line
    exported = json.loads(deeptui(tmp_path, "--db", old, "history", "export",
                                  second.run_id).stdout)
    assert [(t["cached"], t["cached_from"], t["cached_at"]) for t in exported["tasks"]] == [
        (True, None, None), (False, None, None)]


def test_a_file_newer_than_this_code_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    RunStore(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                     (str(store_schema.CURRENT_VERSION + 1),))
    before = db.read_bytes()
    with pytest.raises(StoreError, match=f"schema version {store_schema.CURRENT_VERSION + 1}, "
                                         "newer than this deeptui understands"):
        RunStore(db)
    assert db.read_bytes() == before


def test_a_version_1_file_missing_its_tasks_table_opens_with_the_current_one(
        tmp_path: Path) -> None:
    RunStore(tmp_path / "new.db").close()
    old = tmp_path / "old.db"
    version_1_copy(tmp_path / "new.db", old)
    with sqlite3.connect(old) as conn:
        conn.execute("DROP TABLE tasks")
    with pytest.warns(RuntimeWarning, match="missing the table.*tasks"):
        RunStore(old).close()  # recreated as version 2 has it, then the migration: no error
    with sqlite3.connect(old) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(tasks)")]
        assert columns == list(store_schema.TASK_COLUMNS)
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() \
            == (str(store_schema.CURRENT_VERSION),)
