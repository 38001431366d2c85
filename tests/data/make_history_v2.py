"""How tests/data/history-v2.db was made: with deeptui main cc8561a (schema version 2),
run in an empty directory (`python make_history_v2.py`), not by the tests."""
import asyncio, os, sqlite3
from deeptui import (OrchestrationConfig, RetryConfig, TaskDefinition, TaskOrchestrator,
                     WorkflowDefinition)
from deeptui.cache import CacheConfig
from deeptui.store import RunStore

def workflow():
    return WorkflowDefinition(id="mend", name="Mend", tasks=[
        TaskDefinition(id="a", task_type="shell", parameters={"command": "echo a"}),
        TaskDefinition(id="b", task_type="shell", depends_on=["a"],
                       retry_config=RetryConfig(max_retries=0),
                       parameters={"command": 'test -n "$MENDED" && echo mended'}),
        TaskDefinition(id="c", task_type="shell", depends_on=["b"],
                       parameters={"command": "echo c"})])

async def main():
    with RunStore("history-v2.db") as store:
        orch = TaskOrchestrator(config=OrchestrationConfig(), store=store,
                                cache_config=CacheConfig(strategy="none"))
        os.environ.pop("MENDED", None)
        failed = await orch.execute_workflow(workflow(), run_id="v2-failed")
        os.environ["MENDED"] = "1"
        done = await orch.execute_workflow(workflow(), run_id="v2-done")
        print(failed.status, done.status)
        orch.close()
    conn = sqlite3.connect("history-v2.db")
    conn.execute("PRAGMA journal_mode=DELETE"); conn.execute("VACUUM")
    print(conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone(),
          conn.execute("SELECT run_id, status FROM runs").fetchall())
    conn.close()
asyncio.run(main())
