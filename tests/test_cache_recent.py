"""A memory cache's first run of more tasks than it holds: each put waits aside and only
the entries the LRU keeps are inserted (`MemoryTier.put_recent`). What a user sees is what
one put after the other gives: which results are kept, the counts, and the next run's hits."""

from __future__ import annotations

from typing import Any

from deeptui import (CacheConfig, OrchestrationConfig, TaskDefinition, TaskOrchestrator,
                     WorkflowDefinition)
from deeptui.bus import TaskCompleted

CONFIG = OrchestrationConfig()


def chain(n: int, value: int = 0, prefix: str = "t") -> WorkflowDefinition:
    """t0 -> t1 -> ... : each adds one to its dependency's output (t0 returns ``value``)."""
    return WorkflowDefinition(id="wf", max_parallel_tasks=1, tasks=[
        TaskDefinition(id=f"{prefix}{i}", task_type="callable",
                       parameters={"callable": "add", "start": value},
                       depends_on=[f"{prefix}{i - 1}"] if i else [])
        for i in range(n)])


def orchestrator(calls: list[str], max_size: int) -> TaskOrchestrator:
    orch = TaskOrchestrator(config=CONFIG, cache_config=CacheConfig(max_size=max_size))

    def add(task: Any, params: dict[str, Any], deps: dict[str, Any]) -> int:
        calls.append(task.id)
        return next(iter(deps.values())) + 1 if deps else params["start"]

    orch.register_callable("add", add)
    return orch


async def test_a_run_of_more_tasks_than_the_cache_holds_keeps_the_last_ones():
    calls: list[str] = []
    orch = orchestrator(calls, max_size=5)
    first = await orch.execute_workflow(chain(12))
    assert first.task_results["t11"].output == 11
    stats = orch.cache.stats()
    assert (stats["cache_size"], stats["evictions"], stats["misses"]) == (5, 7, 12)
    assert [e.task_id for e in orch.cache.entries()] == ["t11", "t10", "t9", "t8", "t7"]
    # the kept ones are exact: the key of t7..t11 (each with its dependency's output) hits
    workflow = chain(12)
    found = {}
    for i, task in enumerate(workflow.tasks):
        key = orch.cache.key_for(task, {f"t{i - 1}": i - 1} if i else {}, orch.model_name,
                                 orch.callables.find(task))
        hit = orch.cache.get(key)
        found[task.id] = None if hit is None else hit.output
    assert found == {f"t{i}": i if i >= 7 else None for i in range(12)}


async def test_a_second_run_evicts_the_oldest_entries_of_the_first_to_make_room():
    calls: list[str] = []
    orch = orchestrator(calls, max_size=5)
    await orch.execute_workflow(chain(3, prefix="a"))
    await orch.execute_workflow(chain(4, prefix="b"))
    assert [e.task_id for e in orch.cache.entries()] == ["b3", "b2", "b1", "b0", "a2"]
    assert orch.cache.stats()["evictions"] == 2


async def test_counts_read_during_the_run_are_those_of_one_put_after_the_other():
    calls: list[str] = []
    orch = orchestrator(calls, max_size=3)
    seen: list[tuple[str, int, int]] = []

    def completed(event: Any) -> None:  # the cache as the app's panel reads it
        if isinstance(event, TaskCompleted):
            stats = orch.cache.stats()
            seen.append((event.task_id, stats["cache_size"], stats["evictions"]))

    orch.bus.tap(completed, queued=False)
    await orch.execute_workflow(chain(6))
    # a task's completion is published before its result is stored: the counts lag by one
    assert seen == [("t0", 0, 0), ("t1", 1, 0), ("t2", 2, 0), ("t3", 3, 0), ("t4", 3, 1),
                    ("t5", 3, 2)]
    assert (len(orch.cache), orch.cache.stats()["evictions"]) == (3, 3)


async def test_a_result_set_aside_is_found_by_the_next_lookup_of_its_task():
    calls: list[str] = []
    orch = orchestrator(calls, max_size=100)
    workflow = chain(3, value=7)
    cache = orch.cache
    first = await orch.execute_workflow(workflow)
    assert first.task_results["t2"].output == 9
    # the run settled its entries at its end; put one more aside, as a run's task does
    source = workflow.tasks[0]
    key = cache.key_for(source, {}, orch.model_name, orch.callables.find(source))
    assert key is not None and not cache.surely_misses("t0")
    assert cache.put(key.values, "t0", 70, None)  # (values, as a surely missed lookup keeps)
    assert not cache.surely_misses("t0")  # set aside, still found
    hit = cache.get(cache.key_for(source, {}, orch.model_name, orch.callables.find(source)))
    assert hit is not None and hit.output == 70  # the newest entry of the same key wins
    assert cache.stats()["cache_size"] == 3  # one key, one live entry


async def test_clearing_drops_what_was_set_aside_and_the_next_run_misses_everything():
    calls: list[str] = []
    orch = orchestrator(calls, max_size=4)
    await orch.execute_workflow(chain(6))
    assert orch.clear_cache() == 4
    calls.clear()
    await orch.execute_workflow(chain(6))
    assert calls == [f"t{i}" for i in range(6)]
    assert orch.cache.stats()["misses"] == 6
