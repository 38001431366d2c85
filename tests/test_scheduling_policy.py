"""Scheduling policy across a wider DAG: which ready task takes a free slot first."""

from __future__ import annotations

import asyncio

from deeptui import CacheConfig, TaskDefinition, TaskOrchestrator, WorkflowDefinition
from deeptui import bus as ev


def task(tid: str, *deps: str, priority: int = 5) -> TaskDefinition:
    return TaskDefinition(id=tid, task_type="callable", depends_on=list(deps), priority=priority,
                          parameters={"callable": "noop"})


async def test_one_slot_order_is_priority_then_remaining_path_then_definition_order():
    # three chains of lengths 1, 2, 3 and a lone high-priority task, one slot
    workflow = WorkflowDefinition(id="policy", max_parallel_tasks=1, tasks=[
        task("c1"), task("b1"), task("b2", "b1"),
        task("a1"), task("a2", "a1"), task("a3", "a2"),
        task("p", priority=9),
    ])
    orch = TaskOrchestrator(cache_config=CacheConfig(strategy="none"))
    orch.register_callable("noop", lambda t, params, deps: t.id)
    started: list[str] = []
    orch.bus.tap(lambda e: started.append(e.task_id) if isinstance(e, ev.TaskStarted) else None)

    state = await orch.execute_workflow(workflow)

    assert len(state.completed_tasks) == 7
    # p: priority beats path length; a1: longest path (3); b1 before a2: same path (2),
    # defined first; a2 (2) before c1 (1); then the length-1 tasks in definition order
    assert started == ["p", "a1", "b1", "a2", "c1", "b2", "a3"]


async def test_many_slots_never_exceed_the_limit_on_a_wide_dag():
    sources = [task(f"s{i}") for i in range(40)]
    sink = task("sink", *(t.id for t in sources))
    workflow = WorkflowDefinition(id="wide", max_parallel_tasks=3, tasks=[*sources, sink])
    orch = TaskOrchestrator(cache_config=CacheConfig(strategy="none"))

    async def yielding(t, params, deps):
        await asyncio.sleep(0)  # let the other started tasks run meanwhile
        return t.id

    orch.register_callable("noop", yielding)
    running = peak = 0

    def watch(event: ev.Event) -> None:
        nonlocal running, peak
        if isinstance(event, ev.TaskStarted):
            running += 1
            peak = max(peak, running)
        elif isinstance(event, ev.TaskCompleted):
            running -= 1

    orch.bus.tap(watch)
    state = await orch.execute_workflow(workflow)
    assert len(state.completed_tasks) == 41
    assert peak == 3
    assert state.task_results["sink"].output == "sink"
