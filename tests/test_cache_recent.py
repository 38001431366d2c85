"""A memory cache's first run of more tasks than it holds: each put waits aside and only
the entries the LRU keeps are inserted (`MemoryTier.put_recent`). What a user sees is what
one put after the other gives: which results are kept, the counts, and the next run's hits."""

from __future__ import annotations

import asyncio
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


def orchestrator(calls: list[str], max_size: int = 1000,
                 ttl: float | None = None) -> TaskOrchestrator:
    orch = TaskOrchestrator(config=CONFIG, cache_config=CacheConfig(max_size=max_size,
                                                                    ttl_seconds=ttl))

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


# a task's completion is published before its result is stored: the counts lag by one
LAG_BY_ONE = [("t0", 0, 0), ("t1", 1, 0), ("t2", 2, 0), ("t3", 3, 0), ("t4", 3, 1),
              ("t5", 3, 2)]


async def test_counts_read_during_the_run_are_those_of_one_put_after_the_other():
    calls: list[str] = []
    orch = orchestrator(calls, max_size=3)  # (plain functions: run inline, put later)
    seen = counts_seen(orch)
    await orch.execute_workflow(chain(6))
    assert seen == LAG_BY_ONE
    assert (len(orch.cache), orch.cache.stats()["evictions"]) == (3, 3)
    assert [e.task_id for e in orch.cache.entries()] == ["t5", "t4", "t3"]


async def test_counts_read_during_a_run_of_awaited_tasks_are_the_same():
    orch = TaskOrchestrator(config=CONFIG, cache_config=CacheConfig(max_size=3))

    async def add(task: Any, params: dict[str, Any], deps: dict[str, Any]) -> int:
        return next(iter(deps.values())) + 1 if deps else params["start"]

    orch.register_callable("add", add)  # (an async def: each result is put as it ends)
    seen = counts_seen(orch)
    await orch.execute_workflow(chain(6))
    assert seen == LAG_BY_ONE
    assert (len(orch.cache), orch.cache.stats()["evictions"]) == (3, 3)


async def test_a_clear_during_the_run_removes_the_results_put_before_it():
    calls: list[str] = []
    orch = orchestrator(calls, max_size=10)
    removed: list[int] = []

    def completed(event: Any) -> None:
        if isinstance(event, TaskCompleted) and event.task_id == "t3":
            removed.append(orch.cache.clear())  # t0..t2 stored; t3's is put after this

    orch.bus.tap(completed, queued=False)
    await orch.execute_workflow(chain(6))
    assert removed == [3]
    assert [e.task_id for e in orch.cache.entries()] == ["t5", "t4", "t3"]


async def test_a_result_put_at_once_comes_after_those_put_before_it():
    orch = TaskOrchestrator(config=CONFIG, cache_config=CacheConfig(max_size=1))
    orch.register_callable("number", lambda task, params, deps: 1)
    orch.register_callable("table", lambda task, params, deps: {"n": deps["t0"]})
    workflow = WorkflowDefinition(id="wf", tasks=[
        TaskDefinition(id="t0", task_type="callable", parameters={"callable": "number"}),
        TaskDefinition(id="t1", task_type="callable", parameters={"callable": "table"},
                       depends_on=["t0"])])
    await orch.execute_workflow(workflow)  # t0's int waits, t1's dict is put at once
    assert [e.task_id for e in orch.cache.entries()] == ["t1"]  # the later one kept
    assert orch.cache.stats()["evictions"] == 1


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


def test_results_put_later_are_what_putting_them_one_by_one_keeps():
    from deeptui.cache import ResultCache
    from deeptui.models import TaskUsage

    def values(i: int) -> tuple[Any, ...]:
        return ((2, "definition", f"t{i}"), (), None, None)

    one_by_one = ResultCache(CacheConfig(max_size=4))
    later = ResultCache(CacheConfig(max_size=4))
    results = [(values(i), f"t{i}", i, TaskUsage() if i % 3 else None) for i in range(10)]
    results[4] = (values(4), "t4", "four", TaskUsage(input_tokens=5))  # (counted usage)
    for key, task_id, output, usage in results:
        assert one_by_one.put(key, task_id, output, usage, None, run_id="r")
    for result in results[:3]:
        later.put_later((*result, "r", time.time()))
    later.store_waiting()  # (as another run's pump does)
    for result in results[3:]:
        later.put_later((*result, "r", time.time()))
    assert len(later.waiting) == 7  # stored by the next read
    for cache in (one_by_one, later):
        assert (cache.stats()["cache_size"], cache.stats()["evictions"]) == (4, 6)
    assert not later.waiting
    assert ([e.task_id for e in later.entries()] == [e.task_id for e in one_by_one.entries()]
            == ["t9", "t8", "t7", "t6"])
    for key, task_id, _, _ in results:
        a = one_by_one.get(PreparedKey(task_id, *key))
        b = later.get(PreparedKey(task_id, *key))
        assert (a and (a.output, a.usage, a.run_id)) == (b and (b.output, b.usage, b.run_id))
    roomy = ResultCache(CacheConfig(max_size=100))
    for result in results[3:6]:
        roomy.put_later((*result, "r", time.time()))
    hit = roomy.get(PreparedKey("t4", *values(4)))  # (a read stores what waits first)
    assert hit is not None and hit.output == "four" and hit.usage.input_tokens == 5
    assert roomy.get(PreparedKey("t3", *values(3))).usage is None  # (put without one)
    assert roomy.get(PreparedKey("t5", *values(5))).usage == TaskUsage()


async def test_a_hit_in_the_same_pump_finds_the_results_before_it_stored_first():
    calls: list[str] = []
    orch = orchestrator(calls, max_size=3)

    def task(tid: str, priority: int) -> TaskDefinition:
        return TaskDefinition(id=tid, task_type="callable", priority=priority,
                              parameters={"callable": "add", "start": 1})

    await orch.execute_workflow(WorkflowDefinition(id="one", tasks=[task("h", 5)]))
    second = WorkflowDefinition(id="two", max_parallel_tasks=1, tasks=[
        task("a", 10), task("h", 9), task("b", 8), task("c", 7)])
    state = await orch.execute_workflow(second)
    assert calls == ["h", "a", "b", "c"] and state.task_results["h"].cached
    # one put after the other: a stored, then h's hit makes h the newest, then b and c:
    # the oldest, a, makes room (had a been stored after the hit, h would have gone)
    assert [e.task_id for e in orch.cache.entries()] == ["c", "b", "h"]


def test_a_wide_fan_in_of_small_outputs_has_the_text_of_one_output_after_the_other():
    from types import MappingProxyType

    from deeptui.cache.default_key import dependency_text
    from deeptui.cache.keys import canonical_json, encode_text

    def one_by_one(depends_on: list[str], outputs: dict[str, Any]) -> str:
        return "{" + ",".join(f"{encode_text(d)}:{canonical_json(outputs[d])}"
                              for d in sorted(set(depends_on)) if d in outputs) + "}"

    depends_on = [f"d{i}" for i in range(40, 0, -1)] + ["é", "\u2028", 'q"t']
    outputs: dict[str, Any] = {d: [None, 7, -2**70, "ü\n", ""][i % 5]
                               for i, d in enumerate(depends_on)}
    assert dependency_text(depends_on, outputs, {}) == one_by_one(depends_on, outputs)
    fewer = dict(outputs)
    del fewer["d7"], fewer["é"]  # (a dependency without an output)
    assert dependency_text(depends_on, fewer, {}) == one_by_one(depends_on, fewer)
    more = {**outputs, "other": 1}  # (an output of no dependency is left out)
    assert dependency_text(depends_on, more, {}) == one_by_one(depends_on, outputs)
    proxy = MappingProxyType(outputs)  # (any mapping)
    assert dependency_text(depends_on, proxy, {}) == one_by_one(depends_on, outputs)


def held_run(orch: TaskOrchestrator, gate: asyncio.Event) -> WorkflowDefinition:
    """t0 (run inline: its result put later), then w, which waits for ``gate``: the run's
    pump ends with t0's result waiting while the run goes on."""
    async def hold(task: Any, params: dict[str, Any], deps: dict[str, Any]) -> int:
        await gate.wait()
        return 0

    orch.register_callable("hold", hold)
    return WorkflowDefinition(id="one", tasks=[
        TaskDefinition(id="t0", task_type="callable", parameters={"callable": "add", "start": 1}),
        TaskDefinition(id="w", task_type="callable", parameters={"callable": "hold"},
                       depends_on=["t0"])])


async def until(condition: Any) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


async def start_held(orch: TaskOrchestrator, calls: list[str]) -> tuple[Any, asyncio.Event]:
    """`held_run` started: its task and its gate, once t0 has run (its result waits)."""
    gate = asyncio.Event()
    run = asyncio.create_task(orch.execute_workflow(held_run(orch, gate)))
    await until(lambda: calls == ["t0"])
    return run, gate


async def test_another_run_finds_a_result_that_waits_while_its_run_goes_on():
    calls: list[str] = []
    orch = orchestrator(calls, max_size=10)
    first, gate = await start_held(orch, calls)
    second = await orch.execute_workflow(chain(1, value=1))  # t0, the same definition
    assert second.task_results["t0"].cached and second.task_results["t0"].output == 1
    assert calls == ["t0"]
    gate.set()
    assert (await first).status.value == "completed"
    assert [e.task_id for e in orch.cache.entries()] == ["w", "t0"]


async def test_a_task_retried_while_its_run_goes_on_finds_its_own_result():
    calls: list[str] = []
    orch = orchestrator(calls, max_size=10)
    run, gate = await start_held(orch, calls)
    assert orch.retry_task("one", "t0")
    await until(lambda: orch.find_run("one").state.task_results["t0"].cached)
    gate.set()
    state = await run
    assert calls == ["t0"] and state.task_results["t0"].output == 1


async def test_a_result_that_waits_expires_from_when_it_was_put():
    calls: list[str] = []
    orch = orchestrator(calls, ttl=0.2)
    first, gate = await start_held(orch, calls)
    await asyncio.sleep(0.3)  # t0's result waits while its run goes on, past its TTL
    second = await orch.execute_workflow(chain(1, value=1))
    assert not second.task_results["t0"].cached and calls == ["t0", "t0"]
    gate.set()
    await first


async def test_a_result_that_waits_is_as_old_as_it_is():
    calls: list[str] = []
    orch = orchestrator(calls)
    first, gate = await start_held(orch, calls)
    await asyncio.sleep(0.25)
    (entry,) = orch.cache.entries()
    assert entry.task_id == "t0" and entry.age_seconds >= 0.25
    gate.set()
    await first


async def test_a_run_finds_a_result_put_by_a_pump_that_ran_inside_its_own():
    """A bus tap retries a task of run B while run A's pump goes on: B's pump runs inside
    A's and puts f's result later; A then looks f up and finds it."""
    calls: list[str] = []
    orch = TaskOrchestrator(config=CONFIG, cache_config=CacheConfig(max_size=100))
    failed_once: list[str] = []

    def body(task: Any, params: dict[str, Any], deps: dict[str, Any]) -> int:
        calls.append(task.id)
        if params.get("fails_once") and not failed_once:
            failed_once.append(task.id)
            raise RuntimeError("first time")
        return 1

    orch.register_callable("body", body)
    gate = asyncio.Event()
    f = {"id": "f", "task_type": "callable", "priority": 1, "retry_config": {"max_retries": 0},
         "parameters": {"callable": "body", "fails_once": True}}
    held = held_run(orch, gate)  # (registers "hold")
    b = WorkflowDefinition(id="B", continue_on_failure=True, tasks=[
        TaskDefinition(**f), held.tasks[1].model_copy(update={"depends_on": []})])
    a = WorkflowDefinition(id="A", max_parallel_tasks=1, tasks=[
        TaskDefinition(id="a1", task_type="callable", priority=10,
                       parameters={"callable": "body"}), TaskDefinition(**f)])
    run_b = asyncio.create_task(orch.execute_workflow(b))
    await until(lambda: calls == ["f"])  # B's f failed; B waits on its held task

    def retry_b(event: Any) -> None:
        if isinstance(event, TaskCompleted) and event.task_id == "a1":
            assert orch.retry_task("B", "f")  # B's pump runs now, inside A's

    orch.bus.tap(retry_b, queued=False)
    state = await orch.execute_workflow(a)
    assert calls == ["f", "a1", "f"] and state.task_results["f"].cached
    gate.set()
    await run_b


async def test_a_run_forgotten_is_not_kept_alive_by_the_cache():
    import gc
    import weakref

    calls: list[str] = []
    orch = orchestrator(calls, max_size=3)
    state = await orch.execute_workflow(chain(6))  # (its results were put later)
    executor = weakref.ref(orch.find_run(state.run_id).executor)
    assert orch.forget_run(state.run_id)
    del state
    gc.collect()
    assert executor() is None
    assert [e.task_id for e in orch.cache.entries()] == ["t5", "t4", "t3"]
