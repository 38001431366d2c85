"""A run's definition is kept once per distinct text (schema version 3): runs of an unchanged
workflow share it, a changed workflow gets its own, and every run (its resume, `history
show` and `export`) reads the definition it ran, in a new file and in one of version 2."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import warnings
from pathlib import Path

import pytest

from deeptui import (
    OrchestrationConfig,
    RetryConfig,
    TaskDefinition,
    TaskOrchestrator,
    WorkflowDefinition,
    WorkflowStatus,
)
from deeptui.cache import CacheConfig
from deeptui.errors import StoreError
from deeptui.store import RunStore, resume_run
from deeptui.store import schema as store_schema
from test_store_integrity import deeptui, no_traceback

V2_FILE = Path(__file__).parent / "data" / "history-v2.db"  # made by data/make_history_v2.py


def mend(*extra: TaskDefinition, b_command: str = 'test -n "$MENDED" && echo mended'
         ) -> WorkflowDefinition:
    """The workflow of the version 2 file (same id, name and tasks), plus ``extra`` tasks."""
    return WorkflowDefinition(id="mend", name="Mend", tasks=[
        TaskDefinition(id="a", task_type="shell", parameters={"command": "echo a"}),
        TaskDefinition(id="b", task_type="shell", depends_on=["a"],
                       retry_config=RetryConfig(max_retries=0),
                       parameters={"command": b_command}),
        TaskDefinition(id="c", task_type="shell", depends_on=["b"],
                       parameters={"command": "echo c"}),
        *extra])


def orchestrator(store: RunStore) -> TaskOrchestrator:
    return TaskOrchestrator(config=OrchestrationConfig(), store=store,
                            cache_config=CacheConfig(strategy="none"))


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def shown_ids(home: Path, db: Path, run_id: str) -> list[str]:
    proc = deeptui(home, "--db", db, "history", "show", run_id, "--format", "json")
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    return [t["id"] for t in json.loads(proc.stdout)["tasks"]]


def exported_ids(home: Path, db: Path, run_id: str) -> list[str]:
    proc = deeptui(home, "--db", db, "history", "export", run_id)
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    return [t["id"] for t in document["workflow"]["tasks"]]


async def test_runs_of_an_unchanged_workflow_store_its_text_once(tmp_path, monkeypatch):
    monkeypatch.setenv("MENDED", "1")
    db = tmp_path / "history.db"
    workflow = mend()
    with RunStore(db) as store:
        orch = orchestrator(store)
        for rid in ("r1", "r2", "r3"):
            assert (await orch.execute_workflow(workflow, run_id=rid)).status \
                is WorkflowStatus.COMPLETED
        again = mend()  # an equal definition in another object: the same text
        await orch.execute_workflow(again, run_id="r4")
        orch.close()
        for rid in ("r1", "r2", "r3", "r4"):
            assert store.load_run(rid).workflow == workflow
    [(digest, text)] = rows(db, "SELECT digest, workflow_json FROM workflows")
    assert digest == hashlib.sha256(text.encode()).hexdigest()
    assert WorkflowDefinition.model_validate_json(text) == workflow
    assert rows(db, "SELECT run_id, workflow_json, digest FROM definitions ORDER BY run_id") \
        == [(rid, "", digest) for rid in ("r1", "r2", "r3", "r4")]


async def test_a_changed_definition_is_kept_apart_and_each_run_reads_its_own(
        tmp_path, monkeypatch):
    db = tmp_path / "history.db"
    workflow = mend()
    with RunStore(db) as store:
        orch = orchestrator(store)
        monkeypatch.delenv("MENDED", raising=False)
        failed = await orch.execute_workflow(workflow, run_id="before")
        assert failed.status is WorkflowStatus.FAILED
        # the same object changed in place: a task added, a command changed
        workflow.tasks.append(TaskDefinition(id="d", task_type="shell", depends_on=["c"],
                                             parameters={"command": "echo d"}))
        workflow.tasks[0].parameters["command"] = "echo changed"
        monkeypatch.setenv("MENDED", "1")
        after = await orch.execute_workflow(workflow, run_id="after")
        assert after.status is WorkflowStatus.COMPLETED
        assert after.task_results["a"].output.strip() == "changed"
        assert [t.id for t in store.load_run("before").workflow.tasks] == ["a", "b", "c"]
        assert store.load_run("before").workflow.tasks[0].parameters["command"] == "echo a"
        assert [t.id for t in store.load_run("after").workflow.tasks] == ["a", "b", "c", "d"]
        # a resume of the earlier run runs the definition it ran, not the changed one
        fresh = orchestrator(store)  # as a new process would
        resumed = await resume_run(fresh, store, "before")
        assert resumed.status is WorkflowStatus.COMPLETED
        assert sorted(resumed.task_results) == ["a", "b", "c"]
        assert resumed.task_results["a"].output.strip() == "a"  # not run again
        assert resumed.task_results["b"].output.strip() == "mended"
        orch.close()
        fresh.close()
    assert rows(db, "SELECT COUNT(*) FROM workflows") == [(2,)]
    assert shown_ids(tmp_path, db, "before") == ["a", "b", "c"]
    assert shown_ids(tmp_path, db, "after") == ["a", "b", "c", "d"]
    assert exported_ids(tmp_path, db, "before") == ["a", "b", "c"]
    assert exported_ids(tmp_path, db, "after") == ["a", "b", "c", "d"]


async def test_a_version_2_file_migrates_in_place_and_its_runs_read_their_own_definitions(
        tmp_path, monkeypatch):
    db = tmp_path / "history.db"
    shutil.copy(V2_FILE, db)
    assert rows(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [("2",)]
    inline = dict(rows(db, "SELECT run_id, workflow_json FROM definitions"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no table is reported missing: the migration adds it
        store = RunStore(db)
    with store:
        assert rows(db, "SELECT value FROM meta WHERE key = 'schema_version'") \
            == [(str(store_schema.CURRENT_VERSION),)]
        assert {run.run_id: run.status for run in store.list_runs()} == {
            "v2-failed": WorkflowStatus.FAILED, "v2-done": WorkflowStatus.COMPLETED}
        for rid in inline:
            assert store.load_run(rid).workflow == mend()
        # a run of a changed workflow in the migrated file
        monkeypatch.setenv("MENDED", "1")
        orch = orchestrator(store)
        changed = mend(TaskDefinition(id="d", task_type="shell", depends_on=["c"],
                                      parameters={"command": "echo d"}))
        assert (await orch.execute_workflow(changed, run_id="v3")).status \
            is WorkflowStatus.COMPLETED
        # the old failed run resumed: its own (inline) definition, three tasks
        resumed = await resume_run(orchestrator(store), store, "v2-failed")
        assert resumed.status is WorkflowStatus.COMPLETED
        assert sorted(resumed.task_results) == ["a", "b", "c"]
        orch.close()
    # the old rows kept their text inline (nothing copied); the resume wrote the definition
    # it ran, the same text, now shared; the changed workflow's is another
    assert rows(db, "SELECT run_id, workflow_json, digest FROM definitions "
                    "WHERE digest IS NULL") == [("v2-done", inline["v2-done"], None)]
    assert rows(db, "SELECT w.workflow_json FROM definitions d JOIN workflows w "
                    "ON w.digest = d.digest WHERE d.run_id = 'v2-failed'") \
        == [(inline["v2-failed"],)]
    assert rows(db, "SELECT COUNT(*) FROM workflows") == [(2,)]
    assert shown_ids(tmp_path, db, "v2-done") == ["a", "b", "c"]
    assert shown_ids(tmp_path, db, "v3") == ["a", "b", "c", "d"]
    assert exported_ids(tmp_path, db, "v2-failed") == ["a", "b", "c"]
    assert exported_ids(tmp_path, db, "v3") == ["a", "b", "c", "d"]
    # the same file is refused, and left as it is, by a deeptui of version 2
    before = db.read_bytes()
    monkeypatch.setattr(store_schema, "CURRENT_VERSION", 2)
    with pytest.raises(StoreError, match="schema version 3, newer than this deeptui"):
        RunStore(db)
    assert db.read_bytes() == before


async def test_a_definition_whose_text_is_gone_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MENDED", "1")
    db = tmp_path / "history.db"
    with RunStore(db) as store:
        orch = orchestrator(store)
        await orch.execute_workflow(mend(), run_id="lost")
        orch.close()
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM workflows")
    with RunStore(db) as store, pytest.raises(StoreError, match="run 'lost'.*damaged"):
        store.load_run("lost")
    for args in (["history", "show", "lost"], ["history", "export", "lost"],
                 ["resume", "lost", "--headless"]):
        proc = deeptui(tmp_path, "--db", db, *args)
        no_traceback(proc)
        line, = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and line.startswith("deeptui: error: run 'lost'") \
            and "damaged" in line, (args, proc.stderr)


def test_the_writer_keeps_recent_texts_within_its_bound(monkeypatch):
    from deeptui.store import definitions

    monkeypatch.setattr(definitions, "REMEMBERED_CHARS", 10)
    hashed: list[str] = []
    real = definitions.digest
    monkeypatch.setattr(definitions, "digest", lambda text: hashed.append(text) or real(text))
    texts = definitions.DefinitionTexts()
    assert texts.digest("w1", "aaaa") == real("aaaa") and hashed == ["aaaa"]
    assert texts.digest("w1", "aaaa") == real("aaaa") and hashed == ["aaaa"]  # compared
    assert texts.digest("w1", "aaab") == real("aaab") and hashed[-1] == "aaab"  # changed
    texts.digest("w2", "bbbb")
    texts.digest("w3", "cccc")  # 12 characters kept would be over 10: w1 is forgotten
    assert texts._chars <= 10 and list(texts._latest) == ["w2", "w3"]
    texts.digest("w1", "aaab")
    assert hashed[-1] == "aaab" and len(hashed) == 5
    texts.digest("big", "x" * 11)  # longer than the bound: hashed, not kept
    assert "big" not in texts._latest and texts._chars <= 10
