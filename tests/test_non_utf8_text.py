"""Text that is not UTF-8 (what Python makes of such bytes in argv or a file name:
surrogate escapes) is keyed and cached by every cache, and neither a cached output nor a
stored output or error loses the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from deeptui import (
    OrchestrationConfig,
    TaskDefinition,
    TaskOrchestrator,
    TaskStatus,
    WorkflowDefinition,
    WorkflowStatus,
)
from deeptui.cache import CacheConfig, CacheStrategy, create_cache
from deeptui.store import RunStore

STORING = [CacheStrategy.MEMORY, CacheStrategy.DISK, CacheStrategy.HYBRID]
# What Python makes of a non-UTF-8 byte in argv or a file name (surrogateescape).
NOT_UTF8 = "caf\udce9"


@pytest.mark.parametrize("strategy", STORING)
def test_text_that_is_not_utf8_is_keyed_and_cached(strategy, tmp_path: Path) -> None:
    cache = create_cache(CacheConfig(strategy=strategy, cache_dir=tmp_path / "c"))
    task = TaskDefinition(id="list", description="d", parameters={"path": NOT_UTF8})
    key = cache.make_key(task, {}, None)
    assert key != cache.make_key(TaskDefinition(id="list", description="d",
                                                parameters={"path": "caf?"}), {}, None)
    assert cache.put(key, "list", [NOT_UTF8]) is True
    assert cache.get(key).output == [NOT_UTF8]
    reopened = create_cache(CacheConfig(strategy=strategy, cache_dir=tmp_path / "c"))
    if strategy is not CacheStrategy.MEMORY:
        assert reopened.get(key).output == [NOT_UTF8]


async def test_a_disk_cached_task_with_non_utf8_output_completes(tmp_path: Path) -> None:
    orchestrator = TaskOrchestrator(
        config=OrchestrationConfig(simulated_latency=(0.0, 0.0)),
        cache_config=CacheConfig(strategy="disk", cache_dir=tmp_path / "c"))
    orchestrator.register_callable("name", lambda task, params, outputs: NOT_UTF8)
    workflow = WorkflowDefinition(id="w", tasks=[
        TaskDefinition(id="a", task_type="callable", parameters={"callable": "name"})])
    state = await orchestrator.execute_workflow(workflow)
    assert state.task_results["a"].status is TaskStatus.COMPLETED
    again = await orchestrator.execute_workflow(workflow)
    assert again.task_results["a"].cached and again.task_results["a"].output == NOT_UTF8


async def test_non_utf8_output_and_error_do_not_lose_the_run(tmp_path: Path) -> None:
    def fails(task, params, outputs):
        raise FileNotFoundError(f"no such file: {NOT_UTF8}")

    with RunStore(tmp_path / "h.db") as store:
        orchestrator = TaskOrchestrator(
            config=OrchestrationConfig(simulated_latency=(0.0, 0.0)),
            cache_config=CacheConfig(strategy="none"), store=store)
        orchestrator.register_callable("name", lambda task, params, outputs: {NOT_UTF8: 1})
        orchestrator.register_callable("fails", fails)
        workflow = WorkflowDefinition(id="w", continue_on_failure=True, tasks=[
            TaskDefinition(id="a", task_type="callable", parameters={"callable": "name"}),
            TaskDefinition(id="b", task_type="callable", parameters={"callable": "fails"},
                           retry_config={"max_retries": 0}),
        ])
        state = await orchestrator.execute_workflow(workflow)
        stored = store.load_run(state.run_id)
    assert stored.summary.status is WorkflowStatus.FAILED
    results = stored.state.task_results
    assert results["a"].status is TaskStatus.COMPLETED
    assert results["a"].output == {NOT_UTF8: 1}  # JSON keeps it exactly
    assert results["b"].status is TaskStatus.FAILED
    assert "no such file: caf\ufffd" in results["b"].error
