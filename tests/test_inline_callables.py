"""Plain (non-async) callable tasks run their first attempt inline in the ready-queue pump
(deeptui.scheduler.inline): what a user sees is the same as for any task — the events in
order, statuses, outputs, retries, failures that stop the run, the cache — and a long run
of them still yields to the event loop, so a cancel gets in. Also: the longest remaining
path (the ready queue's order) is the same whatever order the tasks are listed in."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import networkx as nx

from deeptui import bus as ev
from deeptui.cache import CacheConfig
from deeptui.graph import longest_paths
from deeptui.models import (
    ExecutionStrategy,
    RetryConfig,
    TaskDefinition,
    TaskStatus,
    WorkflowDefinition,
    WorkflowStatus,
)
from deeptui.orchestrator import TaskOrchestrator
from conftest import Recorder

NO_CACHE = CacheConfig(strategy="none")
NO_WAIT = RetryConfig(max_retries=2, initial_delay=0.0, jitter=0.0)


def call(tid: str, fn: str, *deps: str, **fields: Any) -> TaskDefinition:
    return TaskDefinition(id=tid, task_type="callable", parameters={"callable": fn},
                          depends_on=list(deps), **fields)


def orchestrator(cache: CacheConfig = NO_CACHE) -> TaskOrchestrator:
    orch = TaskOrchestrator(cache_config=cache)
    orch.register_callable("echo", lambda t, p, d: f"{t.id}<{','.join(sorted(d.values()))}")

    async def echo_async(t: TaskDefinition, p: dict[str, Any], d: dict[str, Any]) -> str:
        return f"{t.id}<{','.join(sorted(d.values()))}"

    orch.register_callable("echo_async", echo_async)
    return orch


def task_events(recorder: Recorder) -> list[tuple[str, str]]:
    return [(type(e).__name__, e.task_id) for e in recorder.events
            if isinstance(e, ev.TaskEvent) and not isinstance(e, ev.TaskQueued)]


async def test_a_plain_callable_publishes_and_ends_exactly_like_an_async_one() -> None:
    results = {}
    for fn in ("echo", "echo_async"):
        orch = orchestrator()
        recorder = Recorder(orch.bus)
        wf = WorkflowDefinition(id="w", tasks=[call("a", fn), call("b", fn, "a"),
                                                call("c", fn, "a"), call("d", fn, "b", "c")])
        state = await orch.execute_workflow(wf)
        assert state.status is WorkflowStatus.COMPLETED
        events = task_events(recorder)
        for tid in "abcd":  # each task: started, then completed, once
            assert [kind for kind, t in events if t == tid] == ["TaskStarted", "TaskCompleted"]
        results[fn] = {t: (r.status, r.output, r.attempts, r.started_at <= r.completed_at,
                           r.model_fields_set) for t, r in state.task_results.items()}
        orch.close()
    assert results["echo"] == results["echo_async"]
    assert results["echo"]["d"][1] == "d<b<a<,c<a<"


async def test_a_plain_callable_that_raises_is_retried_then_completes() -> None:
    calls: list[int] = []

    def flaky(t: TaskDefinition, p: dict[str, Any], d: dict[str, Any]) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ValueError(f"attempt {len(calls)}")
        return "ok"

    orch = orchestrator()
    orch.register_callable("flaky", flaky)
    recorder = Recorder(orch.bus)
    state = await orch.execute_workflow(WorkflowDefinition(
        id="w", tasks=[call("f", "flaky", retry_config=NO_WAIT), call("g", "echo", "f")]))
    assert state.status is WorkflowStatus.COMPLETED
    assert state.task_results["f"].attempts == 3 and state.task_results["f"].output == "ok"
    assert [e.attempt for e in recorder.of(ev.TaskStarted) if e.task_id == "f"] == [1, 2, 3]
    assert [e.error for e in recorder.of(ev.TaskRetrying)] == ["ValueError: attempt 1",
                                                              "ValueError: attempt 2"]
    assert recorder.first(ev.TaskCompleted, "f") < recorder.first(ev.TaskStarted, "g")
    orch.close()


async def test_a_plain_callable_that_keeps_failing_stops_the_run_and_skips_its_dependents() -> None:
    def broken(t: TaskDefinition, p: dict[str, Any], d: dict[str, Any]) -> str:
        raise RuntimeError("no")

    orch = orchestrator()
    orch.register_callable("broken", broken)
    state = await orch.execute_workflow(WorkflowDefinition(
        id="w", max_parallel_tasks=1, tasks=[
            call("x", "broken", retry_config=RetryConfig(max_retries=0)),
            call("y", "echo", "x"), call("z", "echo", priority=1)]))
    assert state.status is WorkflowStatus.FAILED
    assert state.task_results["x"].status is TaskStatus.FAILED
    assert state.task_results["x"].error == "RuntimeError: no"
    assert state.task_results["y"].status is TaskStatus.SKIPPED
    # z (lower priority) never started: the failure stopped new starts
    assert state.task_results["z"].status is TaskStatus.SKIPPED
    assert state.error == "task 'x' failed"
    orch.close()


async def test_a_plain_function_that_returns_a_coroutine_is_awaited() -> None:
    async def later(value: str) -> str:
        await asyncio.sleep(0)
        return value

    orch = orchestrator()
    orch.register_callable("deferred", lambda t, p, d: later(f"late {t.id}"))
    state = await orch.execute_workflow(WorkflowDefinition(
        id="w", tasks=[call("a", "deferred"), call("b", "echo", "a")]))
    assert state.status is WorkflowStatus.COMPLETED
    assert state.task_results["a"].output == "late a"
    assert state.task_results["b"].output == "b<late a"
    orch.close()


async def test_a_plain_callables_result_is_cached_and_read_back(tmp_path: Any) -> None:
    calls: list[str] = []

    def counted(t: TaskDefinition, p: dict[str, Any], d: dict[str, Any]) -> str:
        calls.append(t.id)
        return f"made {t.id}"

    orch = orchestrator(CacheConfig(strategy="memory"))
    orch.register_callable("counted", counted)
    wf = WorkflowDefinition(id="w", tasks=[call("a", "counted"), call("b", "counted", "a")])
    first = await orch.execute_workflow(wf)
    second = await orch.execute_workflow(wf)
    assert calls == ["a", "b"]  # the second run read both from the cache
    assert [r.cached for r in first.task_results.values()] == [False, False]
    assert [r.cached for r in second.task_results.values()] == [True, True]
    assert second.task_results["b"].output == "made b"
    orch.close()


async def test_priority_then_path_decides_the_order_of_plain_callables() -> None:
    orch = orchestrator()
    recorder = Recorder(orch.bus)
    await orch.execute_workflow(WorkflowDefinition(id="w", max_parallel_tasks=4, tasks=[
        call("low", "echo", priority=1), call("high", "echo", priority=9),
        call("mid", "echo", priority=5), call("long", "echo", priority=5),
        call("after-long", "echo", "long", priority=5)]))
    assert recorder.started() == ["high", "long", "mid", "after-long", "low"]
    orch.close()


async def test_parallel_levels_hold_for_plain_callables() -> None:
    orch = orchestrator()
    recorder = Recorder(orch.bus)
    tasks = [call("r1", "echo"), call("r2", "echo", priority=1), call("c", "echo", "r1"),
             call("free", "echo", priority=1)]
    state = await orch.execute_workflow(WorkflowDefinition(
        id="w", execution_strategy=ExecutionStrategy.PARALLEL, tasks=tasks))
    assert state.status is WorkflowStatus.COMPLETED
    # c (level 1) starts after every level-0 task ended, r2 and free included
    assert recorder.started()[-1] == "c"
    orch.close()


async def test_a_long_run_of_plain_callables_yields_to_the_loop_and_can_be_cancelled() -> None:
    orch = orchestrator()
    n = 20_000
    wf = WorkflowDefinition(id="w", tasks=[call(f"t{i}", "noop") for i in range(n)])
    rid = orch.start_workflow(wf)
    state = orch.get_workflow_state(rid)
    while not state.completed_tasks:  # the run's first slice of tasks
        await asyncio.sleep(0)
    assert orch.cancel_workflow(rid)
    final = await orch.wait(rid)
    assert final.status is WorkflowStatus.CANCELLED
    done = len(final.completed_tasks)
    assert 0 < done < n
    assert sum(r.status is TaskStatus.CANCELLED for r in final.task_results.values()) == n - done
    orch.close()


def heaviest(graph: nx.DiGraph, weight: dict[str, float]) -> dict[str, float]:
    """networkx's answer: each task's heaviest path to a sink, itself included."""
    best: dict[str, float] = {}
    for node in reversed(list(nx.topological_sort(graph))):
        best[node] = weight[node] + max((best[s] for s in graph.successors(node)), default=0)
    return best


def test_longest_paths_do_not_depend_on_the_order_tasks_are_listed_in() -> None:
    rng = random.Random(7)
    for _ in range(30):
        n = rng.randint(1, 60)
        deps = {f"t{i}": sorted({f"t{rng.randrange(i)}" for _ in range(rng.randint(0, 3))})
                if i else [] for i in range(n)}
        weight = {t: rng.choice([0.5, 1.0, 2.0, 7.0]) for t in deps}
        graph = nx.DiGraph()
        graph.add_nodes_from(deps)
        graph.add_edges_from((d, t) for t, ds in deps.items() for d in ds)
        listed = list(deps)
        for listing in (listed, list(reversed(listed)), rng.sample(listed, len(listed))):
            tasks = {t: TaskDefinition(id=t, depends_on=deps[t]) for t in listing}
            below: dict[str, list[str]] = {t: [] for t in tasks}
            for t, task in tasks.items():
                for d in task.depends_on:
                    below[d].append(t)
            assert longest_paths(tasks, below, weight) == heaviest(graph, weight)
            assert longest_paths(tasks, below) == heaviest(graph, dict.fromkeys(deps, 1))
