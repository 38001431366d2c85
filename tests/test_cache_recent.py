"""A memory cache's first run of more tasks than it holds: each put waits aside and only
the entries the LRU keeps are inserted (`MemoryTier.put_recent`). What a user sees is what
one put after the other gives: which results are kept, the counts, and the next run's hits."""

from __future__ import annotations

import time
from typing import Any

from deeptui import (CacheConfig, OrchestrationConfig, TaskDefinition, TaskOrchestrator,
                     WorkflowDefinition)
from deeptui.bus import TaskCompleted
from deeptui.cache.keys import PreparedKey

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
        time.sleep(params.get("sleep", 0))
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


def counts_seen(orch: TaskOrchestrator) -> list[tuple[str, int, int]]:
    """(task, cache size, evictions) read from a bus tap at each task's completion, as a
    listener of the bus reads the cache."""
    seen: list[tuple[str, int, int]] = []

    def completed(event: Any) -> None:
        if isinstance(event, TaskCompleted):
            stats = orch.cache.stats()
            seen.append((event.task_id, stats["cache_size"], stats["evictions"]))

    orch.bus.tap(completed, queued=False)
    return seen


async def test_counts_read_during_a_run_of_awaited_tasks_lag_by_one():
    orch = TaskOrchestrator(config=CONFIG, cache_config=CacheConfig(max_size=3))

    async def add(task: Any, params: dict[str, Any], deps: dict[str, Any]) -> int:
        return next(iter(deps.values())) + 1 if deps else params["start"]

    orch.register_callable("add", add)  # (an async def: each task is stored as it ends)
    seen = counts_seen(orch)
    await orch.execute_workflow(chain(6))
    # a task's completion is published before its result is stored: the counts lag by one
    assert seen == [("t0", 0, 0), ("t1", 1, 0), ("t2", 2, 0), ("t3", 3, 0), ("t4", 3, 1),
                    ("t5", 3, 2)]
    assert (len(orch.cache), orch.cache.stats()["evictions"]) == (3, 3)


async def test_counts_read_during_a_pump_of_inline_tasks_lag_by_that_pump():
    calls: list[str] = []
    orch = orchestrator(calls, max_size=3)
    seen = counts_seen(orch)
    await orch.execute_workflow(chain(6))
    # six plain functions end in one pump; their results are stored when it ends
    assert seen == [(f"t{i}", 0, 0) for i in range(6)]
    assert (len(orch.cache), orch.cache.stats()["evictions"]) == (3, 3)
    assert [e.task_id for e in orch.cache.entries()] == ["t5", "t4", "t3"]
    # a pump that yields stores what it ran first: the next pump's listeners see it
    orch.clear_cache()
    seen.clear()
    slow = chain(6)
    slow.tasks[2].parameters["sleep"] = 0.01  # t2 runs past the pump's slice: it yields
    await orch.execute_workflow(slow)
    assert seen[:3] == [("t0", 0, 0), ("t1", 0, 0), ("t2", 0, 0)]
    assert seen[3] == ("t3", 3, 0)  # t0..t2, stored when the first pump yielded
    assert (len(orch.cache), orch.cache.stats()["evictions"]) == (3, 3)


async def test_a_dependent_changing_an_output_in_the_same_pump_does_not_change_the_cache():
    orch = TaskOrchestrator(config=CONFIG)
    orch.register_callable("make", lambda task, params, deps: {"n": 1})

    def spoil(task: Any, params: dict[str, Any], deps: dict[str, Any]) -> None:
        deps["a"]["n"] = 99  # the dependency's output object itself

    orch.register_callable("spoil", spoil)
    workflow = WorkflowDefinition(id="wf", tasks=[
        TaskDefinition(id="a", task_type="callable", parameters={"callable": "make"}),
        TaskDefinition(id="b", task_type="callable", parameters={"callable": "spoil"},
                       depends_on=["a"])])
    await orch.execute_workflow(workflow)
    again = await orch.execute_workflow(workflow)
    assert again.task_results["a"].cached and again.task_results["a"].output == {"n": 1}


def test_storing_results_together_keeps_what_storing_them_one_by_one_keeps():
    from deeptui.cache import ResultCache
    from deeptui.models import TaskUsage

    def values(i: int) -> tuple[Any, ...]:
        return ((2, "definition", f"t{i}"), (), None, None)

    one_by_one = ResultCache(CacheConfig(max_size=4))
    together = ResultCache(CacheConfig(max_size=4))
    results = [(values(i), f"t{i}", i, TaskUsage() if i % 3 else None) for i in range(10)]
    results[4] = (values(4), "t4", "four", TaskUsage(input_tokens=5))  # (counted usage)
    for key, task_id, output, usage in results:
        assert one_by_one.put(key, task_id, output, usage, None, run_id="r")
    together.put_values(results[:3], "r")
    together.put_values(results[3:], "r")
    for cache in (one_by_one, together):
        assert (cache.stats()["cache_size"], cache.stats()["evictions"]) == (4, 6)
    assert ([e.task_id for e in together.entries()] == [e.task_id for e in one_by_one.entries()]
            == ["t9", "t8", "t7", "t6"])
    for key, task_id, _, _ in results:
        a = one_by_one.get(PreparedKey(task_id, *key))
        b = together.get(PreparedKey(task_id, *key))
        assert (a and (a.output, a.usage, a.run_id)) == (b and (b.output, b.usage, b.run_id))
    small = ResultCache(CacheConfig(max_size=100))
    small.put_values(results[3:6], "r")  # a counted usage kept exactly
    hit = small.get(PreparedKey("t4", *values(4)))
    assert hit is not None and hit.output == "four" and hit.usage.input_tokens == 5
    assert small.get(PreparedKey("t3", *values(3))).usage is None  # (stored without one)
    assert small.get(PreparedKey("t5", *values(5))).usage == TaskUsage()


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
