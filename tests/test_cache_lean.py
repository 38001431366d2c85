"""What a run's cache costs: keys stay the hex they always were (disk caches on users'
machines stay valid), and a full memory cache gives the cyclic collector nothing to walk."""

from __future__ import annotations

import gc

import pytest

from deeptui import (CacheConfig, OrchestrationConfig, TaskDefinition, TaskOrchestrator,
                     WorkflowDefinition)
from deeptui.cache.policies import DEFAULT, KeyInputs

FAST = OrchestrationConfig(simulated_latency=(0.0, 0.0), simulated_seed=3)


def fn(task, params, deps):
    return None


T = TaskDefinition
# (case, task, dependency outputs, model, the key main computed before this change)
CASES = [
    ("callable, no deps", T(id="a", task_type="callable", parameters={"callable": "f"}), {},
     "m", "bd44a0e5faafed72dfd984cfae199114593ca2f854406a1f36a8950d37972f4e"),
    ("agent, capabilities, skills, 2 deps",
     T(id="b", description="review", required_capabilities=["testing", "code_analysis"],
       required_skills=["z", "api-design"], parameters={"path": "src", "n": 3},
       depends_on=["y", "x"]), {"y": "out", "x": None}, "test",
     "cea29119d76e70fd56dd4d41c17b79dbd925f2ea968932c9d96209e17c3c0f58"),
    ("nested parameters, a dict output",
     T(id="c", parameters={"opts": {"k": [1, 2]}, "flag": True}, depends_on=["x"]),
     {"x": {"rows": [1, 2]}}, None,
     "c30b1dd94534626155cdcebf5cf7da232832632f9d55620203dd42b310d18d07"),
    ("three deps, a bool output", T(id="d", parameters={}, depends_on=["p", "q", "r"]),
     {"p": 1, "q": True, "r": "s"}, "m",
     "a4f1b0d2565c915f54c475f9895d09df8f9c47a520409cb83ee1bf735ccd73c3"),
    ("shell opted in", T(id="e", task_type="shell", parameters={"command": "echo hi",
                                                                 "cache": True}), {}, "m",
     "7fb561c57b59c3a5221f14abf1d16bf1f526d56f0fa1c1b36d63b3446fae92f4"),
    ("shell not opted in", T(id="f", task_type="shell", parameters={"command": "echo hi"}),
     {}, "m", None),
    ("writing agent", T(id="g", writes=True), {}, "m", None),
    ("20 deps", T(id="h", depends_on=[f"d{i}" for i in range(20)]),
     {f"d{i}": i for i in range(20)}, "m",
     "4cc715ec534a62f288f569bbf4c9f96c938a7f285350461f0aa4080733048853"),
]


@pytest.mark.parametrize(("task", "outputs", "model", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_runs_key_is_the_hex_main_computed_and_the_general_paths(task, outputs, model,
                                                                  expected):
    function = fn if task.task_type == "callable" else None
    prepared = DEFAULT.prepare_task(task, outputs, model, function, {})  # what a run does
    assert (None if prepared is None else prepared.hex()) == expected
    assert DEFAULT.key_if_cached(KeyInputs(task, outputs, model, function)) == expected


def test_the_run_path_holds_dependency_outputs_in_any_order_as_one_key():
    task = T(id="d", depends_on=["p", "q"])
    one = DEFAULT.prepare_task(task, {"p": 1, "q": "x"}, "m")
    other = DEFAULT.prepare_task(task, {"q": "x", "p": 1}, "m")
    assert one.same(other) is True
    assert DEFAULT.prepare_task(task, {"p": 2, "q": "x"}, "m").same(one) is False
    assert one.hex() == other.hex()


def tracked_objects() -> int:
    gc.collect()
    gc.collect()  # (a tuple inside a tuple is untracked one collection after it)
    return len(gc.get_objects())


async def test_a_full_memory_cache_gives_the_collector_nothing_to_walk():
    """3,000 cached results (None, ints and dict outputs, unhashed and hashed keys) add
    no object the cyclic collector tracks: a cache kept all day costs later collections
    nothing (before: four to five tracked objects per entry)."""
    orch = TaskOrchestrator(config=FAST, cache_config=CacheConfig(max_size=5000))
    outputs = {0: lambda i: None, 1: lambda i: i, 2: lambda i: {"row": [i, str(i)]}}
    orch.register_callable("make", lambda t, p, d: outputs[p["i"] % 3](p["i"]))
    workflow = WorkflowDefinition(id="wf", max_parallel_tasks=8, tasks=[
        T(id=f"t{i}", task_type="callable", parameters={"callable": "make", "i": i},
          depends_on=[f"t{i - 1}"] if i % 5 else []) for i in range(3000)])
    state = await orch.execute_workflow(workflow)
    assert len(state.completed_tasks) == 3000 and orch.get_cache_stats()["cache_size"] == 3000
    orch.forget_run(state.run_id)
    del state
    # the last run's state may outlive forget_run a while (its finished future): measure
    # after a run of hits, then after another (a miss run's pending results share one
    # zero usage; a hit on a dict output decodes a usage of its own)
    for round_ in range(2):
        if round_:
            full = tracked_objects()
        again = await orch.execute_workflow(workflow)  # every task a hit (and its key hashed
        assert all(r.cached for r in again.task_results.values())  # by the listing above)
        orch.forget_run(again.run_id)
        del again
    assert tracked_objects() - full < 60
    assert orch.clear_cache() == 3000
    assert full - tracked_objects() < 60  # the 3,000 entries were not tracked
