"""The memory cache keeps a run's keys unhashed until a lookup of the same task needs them:
a changed definition, parameter or dependency output still misses, a hit is still exact,
and what a task changes after its lookup does not change the key it was stored under."""

from __future__ import annotations

from typing import Any

from deeptui import (CacheConfig, OrchestrationConfig, RetryConfig, TaskDefinition,
                     TaskOrchestrator, WorkflowDefinition)
from deeptui.cache import create_cache

FAST = OrchestrationConfig(simulated_latency=(0.0, 0.0), simulated_seed=3)
ONCE = RetryConfig(max_retries=0)


def chain(n: int = 1) -> WorkflowDefinition:
    """source (returns parameters["n"]) -> double (returns its input * 2)."""
    return WorkflowDefinition(id="wf", tasks=[
        TaskDefinition(id="source", task_type="callable", retry_config=ONCE,
                       parameters={"callable": "source", "n": n}),
        TaskDefinition(id="double", task_type="callable", retry_config=ONCE,
                       parameters={"callable": "double"}, depends_on=["source"]),
    ])


def orchestrator(calls: list[str]) -> TaskOrchestrator:
    orch = TaskOrchestrator(config=FAST)  # the default: the memory cache
    orch.register_callable("source", lambda t, p, d: calls.append("source") or p["n"])
    orch.register_callable("double", lambda t, p, d: calls.append("double") or d["source"] * 2)
    return orch


def ran(state: Any) -> list[str]:
    return [t for t, r in state.task_results.items() if not r.cached]


async def test_a_changed_parameter_misses_and_its_downstream_too_and_the_old_value_hits():
    calls: list[str] = []
    orch = orchestrator(calls)
    first = await orch.execute_workflow(chain(1))
    assert ran(first) == ["source", "double"]
    assert ran(await orch.execute_workflow(chain(1))) == []
    changed = await orch.execute_workflow(chain(2))
    # source's parameter changed; double's dependency output changed (2 -> 4)
    assert ran(changed) == ["source", "double"]
    assert changed.task_results["double"].output == 4
    back = await orch.execute_workflow(chain(1))  # the entries of the first run are exact
    assert ran(back) == [] and back.task_results["double"].output == 2
    assert calls == ["source", "double", "source", "double"]


async def test_a_definition_edited_in_place_between_runs_misses():
    calls: list[str] = []
    orch = orchestrator(calls)
    workflow = chain(1)
    await orch.execute_workflow(workflow)
    workflow.tasks[0].parameters["n"] = 3  # the same objects, changed
    workflow.tasks[1].description = "double it"
    again = await orch.execute_workflow(workflow)
    assert ran(again) == ["source", "double"] and again.task_results["double"].output == 6
    workflow.tasks[1].required_skills.append("api-design")
    assert ran(await orch.execute_workflow(workflow)) == ["double"]


async def test_what_a_task_changes_while_it_runs_is_not_in_the_key_it_was_stored_under():
    """A callable that edits its own parameters: the key is taken before it ran (as the
    next run's lookup takes it), so the next run with the edited parameters misses, and
    a run with the original ones hits."""
    orch = TaskOrchestrator(config=FAST)

    def grow(task: Any, params: dict[str, Any], deps: Any) -> int:
        params["seen"] = params.get("seen", 0) + 1
        return params["seen"]

    orch.register_callable("grow", grow)

    def workflow(parameters: dict[str, Any]) -> WorkflowDefinition:
        return WorkflowDefinition(id="wf", tasks=[TaskDefinition(
            id="grow", task_type="callable", retry_config=ONCE, parameters=parameters)])

    edited = workflow({"callable": "grow"})
    first = await orch.execute_workflow(edited)
    assert first.task_results["grow"].output == 1
    assert edited.tasks[0].parameters == {"callable": "grow", "seen": 1}
    second = await orch.execute_workflow(edited)  # {"seen": 1} was never stored: runs
    assert ran(second) == ["grow"] and second.task_results["grow"].output == 2
    fresh = await orch.execute_workflow(workflow({"callable": "grow"}))
    assert ran(fresh) == [] and fresh.task_results["grow"].output == 1


async def test_the_keys_listed_are_the_keys_computed_up_front():
    """What the cache lists (hashing the run's entries then) equals each task's key
    computed directly, with the values the tasks had when they were looked up."""
    calls: list[str] = []
    orch = orchestrator(calls)
    workflow = chain(5)
    state = await orch.execute_workflow(workflow)
    expected = {
        "source": orch.cache.make_key(chain(5).tasks[0], {}, orch.model_name,
                                      orch.callables.find(workflow.tasks[0])),
        "double": orch.cache.make_key(chain(5).tasks[1], {"source": 5}, orch.model_name,
                                      orch.callables.find(workflow.tasks[1])),
    }
    workflow.tasks[0].parameters["n"] = 6  # after the run: must not reach the stored keys
    assert {e.task_id: e.key for e in orch.cache.entries()} == expected
    assert state.task_results["double"].output == 10


async def test_a_policy_without_the_definition_still_hits_another_tasks_entry():
    """Without the definition in the key, two tasks with the same parameters share it."""
    orch = TaskOrchestrator(config=FAST)
    orch.register_callable("f", lambda t, p, d: t.id)
    params = {"callable": "f", "cache_policy": ["parameters"]}
    workflow = WorkflowDefinition(id="wf", tasks=[
        TaskDefinition(id="a", task_type="callable", retry_config=ONCE, parameters=params),
        TaskDefinition(id="b", task_type="callable", retry_config=ONCE, parameters=params,
                       depends_on=["a"]),
    ])
    state = await orch.execute_workflow(workflow)
    assert ran(state) == ["a"] and state.task_results["b"].output == "a"


async def test_nested_parameters_and_outputs_miss_when_changed_and_hit_when_equal():
    orch = TaskOrchestrator(config=FAST)
    orch.register_callable("rows", lambda t, p, d: {"rows": list(range(p["spec"]["n"]))})
    orch.register_callable("count", lambda t, p, d: len(d["rows"]["rows"]))

    def workflow(n: int) -> WorkflowDefinition:
        return WorkflowDefinition(id="wf", tasks=[
            TaskDefinition(id="rows", task_type="callable", retry_config=ONCE,
                           parameters={"callable": "rows", "spec": {"n": n}}),
            TaskDefinition(id="count", task_type="callable", retry_config=ONCE,
                           parameters={"callable": "count"}, depends_on=["rows"]),
        ])

    assert ran(await orch.execute_workflow(workflow(2))) == ["rows", "count"]
    assert ran(await orch.execute_workflow(workflow(2))) == []
    changed = await orch.execute_workflow(workflow(3))
    assert ran(changed) == ["rows", "count"] and changed.task_results["count"].output == 3


def test_two_unhashed_entries_with_one_key_are_one_entry_the_later_one():
    cache = create_cache(CacheConfig())
    task = TaskDefinition(id="t", parameters={"x": 1})
    first = cache.key_for(task, {}, "m")
    second = cache.key_for(task, {}, "m")
    assert first is not None and second is not None
    cache.put(first, "t", "old")
    cache.put(second, "t", "new")
    assert len(cache) == 1
    hit = cache.get(cache.key_for(task, {}, "m"))
    assert hit is not None and hit.output == "new"
    assert cache.stats()["cache_size"] == 1 and cache.clear() == 1


def test_an_unhashed_entry_is_found_by_its_plain_key_and_evicted_in_order():
    cache = create_cache(CacheConfig(max_size=2))
    tasks = [TaskDefinition(id=name) for name in "abc"]
    for task in tasks:
        key = cache.key_for(task, {}, "m")
        assert key is not None
        cache.put(key, task.id, task.id.upper())
    assert cache.stats()["evictions"] == 1
    assert cache.get(cache.make_key(tasks[0], {}, "m")) is None  # the oldest went
    hit = cache.get(cache.make_key(tasks[1], {}, "m"))
    assert hit is not None and hit.output == "B"
    assert cache.invalidate("c") == 1 and len(cache) == 1


def prepared_put(cache, task: TaskDefinition) -> None:
    key = cache.key_for(task, {}, "m")
    assert key is not None
    cache.put(key, task.id, task.id.upper())


def test_more_misses_than_the_cache_keeps_leave_the_newest_and_count_each_eviction():
    cache = create_cache(CacheConfig(max_size=3))
    for name in "ab":  # two entries there already
        cache.put(cache.make_key(TaskDefinition(id=name), {}, "m"), name, name)
    tasks = [TaskDefinition(id=f"t{i}") for i in range(5)]
    for task in tasks:
        prepared_put(cache, task)
    stats = cache.stats()
    # stored one by one: 7 results into 3 places, 4 evicted
    assert stats["evictions"] == 4 and stats["cache_size"] == 3
    assert [e.task_id for e in cache.entries()] == ["t4", "t3", "t2"]
    hit = cache.get(cache.key_for(tasks[4], {}, "m"))
    assert hit is not None and hit.output == "T4"
    assert cache.get(cache.make_key(TaskDefinition(id="a"), {}, "m")) is None


def test_unhashed_puts_of_a_task_with_an_entry_evict_in_lru_order():
    cache = create_cache(CacheConfig(max_size=2))
    cache.put(cache.make_key(TaskDefinition(id="a"), {}, "m"), "a", "first")
    for task in [TaskDefinition(id="a", description="changed"), TaskDefinition(id="b"),
                 TaskDefinition(id="c")]:
        prepared_put(cache, task)
    stats = cache.stats()
    assert stats["evictions"] == 2 and stats["cache_size"] == 2
    assert [e.task_id for e in cache.entries()] == ["c", "b"]
    assert cache.clear() == 2 and cache.stats()["evictions"] == 0


async def test_values_python_finds_equal_but_json_does_not_miss_without_a_hash():
    """True == 1 == 1.0 in Python, not in a key: a parameter or a dependency's output that
    changes between them misses, though the entries are compared unhashed."""
    calls: list[str] = []
    orch = orchestrator(calls)
    states = [await orch.execute_workflow(chain(n)) for n in (1, True, 1.0, 1)]
    assert [ran(s) for s in states] == [["source", "double"], ["source", "double"],
                                        ["source", "double"], []]
    assert [s.task_results["double"].output for s in states] == [2, 2, 2.0, 2]
    assert orch.cache._memory.unhashed  # (compared without hashing: nothing was hashed)


async def test_parameters_and_dependencies_in_another_order_are_the_same_key():
    calls: list[str] = []
    orch = TaskOrchestrator(config=FAST)
    orch.register_callable("f", lambda t, p, d: calls.append(t.id) or t.id)

    def workflow(params: dict[str, Any], deps: list[str]) -> WorkflowDefinition:
        return WorkflowDefinition(id="wf", tasks=[
            TaskDefinition(id="a", task_type="callable", parameters={"callable": "f"}),
            TaskDefinition(id="b", task_type="callable", parameters={"callable": "f"}),
            TaskDefinition(id="c", task_type="callable", parameters=params, depends_on=deps),
        ])

    await orch.execute_workflow(workflow({"callable": "f", "x": 1, "y": "z"}, ["a", "b"]))
    again = await orch.execute_workflow(workflow({"y": "z", "x": 1, "callable": "f"}, ["b", "a"]))
    assert calls == ["a", "b", "c"]  # the second run: every task a hit
    assert all(r.cached for r in again.task_results.values())
