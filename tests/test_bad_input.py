"""Every way a user can get input wrong: one clear message, a non-zero exit, data intact.

Hostile workflow files, unknown templates and parameters, a corrupted cache
directory, a corrupted or locked history database, a task output that is not
JSON, a shell command that does not exist. Through the real CLI (subprocess)
where a user would meet them, through the library otherwise.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from tests.test_cli import BAD, EXAMPLES, FAST, deeptui, one_line_error

WEB_APP = EXAMPLES / "web-app-dev.yaml"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


# ------------------------------------------------------------ workflow files


@pytest.mark.parametrize(("name", "expected"), [
    ("deep-nesting.yaml", "nesting is too deep (more than 100 levels)"),
    ("deep-nesting.json", "nesting is too deep (more than 100 levels)"),
    ("alias-bomb.yaml", "alias bomb"),
    ("unsafe-tag.yaml", "unsupported YAML tag '!!python/object/apply:os.system'"),
    ("wrong-type.yaml", "task 'build': priority: input should be a valid integer"),
    ("self-dependency.yaml", "task 'lint' depends on itself"),
    ("duplicate-id.yaml", "duplicate task id 'build'"),
    ("non-utf8.yaml", "not UTF-8 text"),
    ("workflow.txt", "unknown workflow file type '.txt'"),
])
def test_hostile_workflow_files_are_one_line_errors(
        capsys: pytest.CaptureFixture[str], name: str, expected: str) -> None:
    """In-process (the subprocess path is tests/test_cli.py's): same entry point, faster."""
    from deeptui.cli import main

    assert main(["validate", str(BAD / name)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"deeptui: error: {BAD / name}") and expected in err


def test_a_huge_file_is_refused_unread(home: Path) -> None:
    path = home / "huge.yaml"
    with path.open("wb") as fh:
        fh.write(b"id: huge\ntasks: []\n# ")
        fh.truncate(21 * 1024 * 1024)  # sparse: instant to write
    line = one_line_error(deeptui(home, "run", path, "--headless"))
    assert str(path) in line and "MB" in line


def test_a_workflow_of_ten_thousand_tasks_validates(home: Path) -> None:
    tasks = [{"id": f"t{i}", "description": "step",
              **({"depends_on": [f"t{i // 2}"]} if i else {})} for i in range(10_000)]
    path = home / "big.yaml"
    path.write_text(yaml.safe_dump({"id": "big", "tasks": tasks}, sort_keys=False))
    proc = deeptui(home, "validate", path)
    assert proc.returncode == 0, proc.stderr
    assert "ok: workflow 'big' with 10000 tasks" in proc.stdout


def test_unknown_names_in_viz_are_one_line(home: Path) -> None:
    line = one_line_error(deeptui(home, "viz", "no-such-template"))
    assert "unknown template 'no-such-template'" in line
    line = one_line_error(deeptui(home, "viz", "etl", "--param", "source_configs=[oops"))
    assert "parameter 'source_configs'" in line


# ---------------------------------------------------------------- the cache


def _cache_file(home: Path) -> Path:
    return home / "cache" / "deeptui" / "results" / "cache.db"


def test_a_corrupted_cache_directory_warns_and_is_rebuilt(home: Path) -> None:
    assert deeptui(home, "cache", "stats").returncode == 0  # creates the cache directory
    db = _cache_file(home)
    assert db.is_file()
    db.write_bytes(b"this is not a database" * 100)
    proc = deeptui(home, *FAST, "run", WEB_APP, "--headless")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1, proc.stderr
    assert warnings[0].startswith("deeptui: warning: cache directory")
    assert "corrupted" in warnings[0] and "rebuilding" in warnings[0]
    stats = deeptui(home, "cache", "stats", "--format", "json")  # rebuilt, holding this run's results
    assert stats.returncode == 0 and stats.stderr == ""
    assert json.loads(stats.stdout)["entries"] == 6


def test_a_cache_dir_that_is_a_file_is_one_line_and_left_alone(home: Path) -> None:
    blocker = home / "cache" / "deeptui" / "results"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("mine")
    line = one_line_error(deeptui(home, *FAST, "run", WEB_APP, "--headless"))
    assert str(blocker) in line and "is a file, not a directory" in line
    assert blocker.read_text() == "mine"


# -------------------------------------------------------------- the history


@pytest.mark.parametrize("command", [["history"], [*FAST, "run", str(WEB_APP), "--headless"]])
def test_a_corrupted_history_database_is_named_and_left_unchanged(
        home: Path, command: list[str]) -> None:
    pytest.importorskip("deeptui.store")
    db = home / "history.db"
    garbage = b"SQLite format 2\x00" + bytes(range(256)) * 40
    db.write_bytes(garbage)
    proc = deeptui(home, *command)
    line = one_line_error(proc)
    assert str(db) in line and "not an SQLite database" in line
    assert "6/6" not in proc.stdout  # nothing ran
    assert db.read_bytes() == garbage


def test_a_locked_history_database_is_named_and_left_unchanged(home: Path) -> None:
    store_mod = pytest.importorskip("deeptui.store")
    db = home / "history.db"
    store_mod.RunStore(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        before = db.read_bytes()
        line = one_line_error(deeptui(home, "history"))
        assert str(db) in line and "locked" in line
        assert db.read_bytes() == before
    finally:
        holder.close()
    listed = deeptui(home, "history")  # once the lock is gone, all is well
    assert listed.returncode == 0 and listed.stderr == ""


# --------------------------------------------------------------- task input


NO_COMMAND = """\
id: no-command
tasks:
  - id: missing
    task_type: shell
    parameters: {command: "no-such-command-deeptui --flag"}
    retry_config: {max_retries: 0}
"""


def test_a_shell_command_that_does_not_exist_fails_its_task_clearly(home: Path) -> None:
    path = home / "no-command.yaml"
    path.write_text(NO_COMMAND)
    proc = deeptui(home, *FAST, "run", path, "--headless")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "✗ missing: command not found (exit code 127)" in proc.stdout


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque 42>"


async def test_an_output_that_is_not_json_completes_and_is_not_cached(tmp_path: Path) -> None:
    from deeptui import TaskOrchestrator
    from deeptui.cache import CacheConfig
    from deeptui.models import (
        OrchestrationConfig,
        TaskDefinition,
        TaskStatus,
        WorkflowDefinition,
        WorkflowStatus,
    )

    orchestrator = TaskOrchestrator(
        config=OrchestrationConfig(simulated_latency=(0.0, 0.0)),
        cache_config=CacheConfig(strategy="hybrid", cache_dir=tmp_path / "cache"))
    orchestrator.register_callable("opaque", lambda task, params, deps: Opaque())
    orchestrator.register_callable("show", lambda task, params, deps: repr(deps))
    workflow = WorkflowDefinition(id="opaque", name="opaque", tasks=[
        TaskDefinition(id="make", task_type="callable", parameters={"callable": "opaque"}),
        TaskDefinition(id="use", task_type="callable", parameters={"callable": "show"},
                       depends_on=["make"])])
    try:
        state = await orchestrator.execute_workflow(workflow)
        assert state.status is WorkflowStatus.COMPLETED
        assert state.task_results["use"].status is TaskStatus.COMPLETED
        assert state.task_results["use"].output == "{'make': <Opaque 42>}"
        assert [e.task_id for e in orchestrator.cache.entries()] == ["use"]
    finally:
        orchestrator.close()


async def test_an_output_that_is_not_json_is_stored_as_text_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store_mod = pytest.importorskip("deeptui.store")
    from deeptui import TaskOrchestrator
    from deeptui.cache import CacheConfig
    from deeptui.models import OrchestrationConfig, TaskDefinition, WorkflowDefinition

    store = store_mod.RunStore(tmp_path / "history.db")
    orchestrator = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0.0, 0.0)),
                                    cache_config=CacheConfig(strategy="none"), store=store)
    orchestrator.register_callable("opaque", lambda task, params, deps: Opaque())
    workflow = WorkflowDefinition(id="opaque", name="opaque", tasks=[
        TaskDefinition(id="make", task_type="callable", parameters={"callable": "opaque"})])
    try:
        state = await orchestrator.execute_workflow(workflow)
        store.flush()
        stored = store.load_run(state.run_id)
        assert stored.state.task_results["make"].output == "<Opaque 42>"
        assert "output of type Opaque is not JSON-serializable; stored as its text" in caplog.text
    finally:
        orchestrator.close()
        store.close()
