"""Two processes running workflows at once against one history database and one disk cache."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from deeptui import TaskStatus, WorkflowStatus
from deeptui.store import RunStore

DRIVER = textwrap.dedent('''
    import asyncio, sys, time
    from pathlib import Path
    from deeptui import OrchestrationConfig, TaskDefinition, TaskOrchestrator, WorkflowDefinition
    from deeptui.cache import CacheConfig
    from deeptui.store import RunStore

    db, cache_dir, go, run_id = sys.argv[1:5]

    async def square(task, parameters, outputs):
        await asyncio.sleep(0.005)
        return {"n": parameters["n"], "square": parameters["n"] ** 2,
                "inputs": sorted(outputs)}

    def workflow():
        tasks = []
        for i in range(30):
            after = [f"calc{i - 1}"] if i % 5 else []
            tasks.append(TaskDefinition(id=f"calc{i}", task_type="callable", depends_on=after,
                                        parameters={"callable": "square", "n": i}))
            command = f"for k in $(seq 20); do echo {i}-$k; done"
            tasks.append(TaskDefinition(id=f"echo{i}", task_type="shell", depends_on=[f"calc{i}"],
                                        parameters={"command": command, "cache": True}))
        return WorkflowDefinition(id="shared", max_parallel_tasks=4, tasks=tasks)

    async def main():
        store = RunStore(db, timeout=20)
        orchestrator = TaskOrchestrator(
            config=OrchestrationConfig(), store=store,
            cache_config=CacheConfig(strategy="disk", cache_dir=cache_dir))
        orchestrator.register_callable("square", square)
        while not Path(go).exists():  # both processes start together
            await asyncio.sleep(0.005)
        state = await orchestrator.execute_workflow(workflow(), run_id=run_id)
        orchestrator.close()
        store.close()
        print(state.status)

    asyncio.run(main())
''')


def test_two_processes_share_the_store_and_the_disk_cache(tmp_path: Path) -> None:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    db, cache, go = tmp_path / "history.db", tmp_path / "cache", tmp_path / "go"
    RunStore(db).close()  # the file exists before both start (they could also race to create it)
    procs = [subprocess.Popen([sys.executable, str(script), str(db), str(cache), str(go), rid],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for rid in ("shared@one", "shared@two")]
    go.touch()
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.strip() == "completed", err

    with RunStore(db) as store:
        runs = {run.run_id: run for run in store.list_runs()}
        assert set(runs) == {"shared@one", "shared@two"}
        outputs = []
        for rid, run in runs.items():
            assert run.status is WorkflowStatus.COMPLETED
            assert (run.total_tasks, run.completed, run.failed) == (60, 60, 0)
            stored = store.load_run(rid)
            results = stored.state.task_results
            assert all(r.status is TaskStatus.COMPLETED for r in results.values())
            assert results["calc7"].output == {"n": 7, "square": 49, "inputs": ["calc6"]}
            assert results["echo7"].output == "\n".join(f"7-{k}" for k in range(1, 21))
            for i in range(30):  # tasks that ran (not served from the cache) kept their logs
                if not results[f"echo{i}"].cached:
                    lines = [text for _, kind, text in stored.logs[f"echo{i}"] if kind == "stdout"]
                    assert lines == [f"{i}-{k}" for k in range(1, 21)]
            outputs.append({tid: r.output for tid, r in results.items()})
        assert outputs[0] == outputs[1]
        stats = store.aggregate_stats()
        assert (stats["total_workflows"], stats["total_tasks"]) == (2, 120)
        assert stats["average_success_rate"] == 100.0
