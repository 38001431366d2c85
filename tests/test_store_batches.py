"""The store writes rows many per statement: every row lands, in order, whatever the chunking."""

from __future__ import annotations

from pathlib import Path

import pytest

from deeptui import RetryConfig, TaskDefinition, TaskOrchestrator, WorkflowDefinition
from deeptui.store import batch as store_batch
from deeptui.cache import CacheConfig
from deeptui.store import RunStore


@pytest.mark.parametrize("rows_per_insert", [1, 3, 500])
async def test_every_task_event_and_log_line_is_recorded_in_order(tmp_path: Path, monkeypatch,
                                                                  rows_per_insert):
    monkeypatch.setattr(store_batch, "ROWS_PER_INSERT", rows_per_insert)
    once = RetryConfig(max_retries=1, initial_delay=0.0, jitter=0.0)
    tries: dict[str, int] = {}

    def work(task, params, outputs):
        tries[task.id] = tries.get(task.id, 0) + 1
        if task.id == "t03" and tries[task.id] == 1:
            raise RuntimeError("first try fails")
        return {"n": params["n"], "above": sorted(outputs)}

    tasks = [TaskDefinition(id=f"t{i:02d}", task_type="callable", retry_config=once,
                            depends_on=[f"t{i - 1:02d}"] if i else [],
                            parameters={"callable": "work", "n": i}) for i in range(10)]
    with RunStore(tmp_path / "history.db", sync_commit=rows_per_insert == 1) as store:
        orchestrator = TaskOrchestrator(cache_config=CacheConfig(strategy="none"), store=store)
        orchestrator.register_callable("work", work)
        state = await orchestrator.execute_workflow(WorkflowDefinition(id="wf", tasks=tasks))
        stored = store.load_run(state.run_id)
        events = store.events(state.run_id)
    assert [r.output for r in stored.state.task_results.values()] == [
        {"n": i, "above": [f"t{i - 1:02d}"] if i else []} for i in range(10)]
    assert stored.state.task_results["t03"].attempts == 2
    assert [e["kind"] for e in events] == ["workflow_started", "retrying", "started",
                                           "workflow_finished"]
    assert [kind for _, kind, _ in stored.logs["t03"]] == ["error"]
