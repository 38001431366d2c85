"""Cache hits end when the executor looks the task up (no asyncio task, no slot): every
strategy still runs to its end, and a long run of hits still lets the event loop run, so
a cancel gets in."""

from __future__ import annotations

import asyncio

import pytest

from deeptui import (ExecutionStrategy, OrchestrationConfig, TaskDefinition, TaskOrchestrator,
                     TaskStatus, TaskUsage, WorkflowDefinition, WorkflowStatus)
from deeptui.cache import CacheConfig


def layers(strategy: ExecutionStrategy, width: int = 3, depth: int = 4) -> WorkflowDefinition:
    tasks = []
    for level in range(depth):
        for i in range(width):
            deps = [f"l{level - 1}-{j}" for j in range(width)] if level else []
            tasks.append(TaskDefinition(id=f"l{level}-{i}", task_type="callable",
                                        parameters={"callable": "square", "n": level * 10 + i},
                                        depends_on=deps))
    return WorkflowDefinition(id=f"layers-{strategy.value}", tasks=tasks,
                              execution_strategy=strategy, max_parallel_tasks=2)


def square(task, parameters, deps):
    calls.append(task.id)
    return parameters["n"] ** 2


calls: list[str] = []


@pytest.mark.parametrize("strategy", list(ExecutionStrategy))
async def test_every_strategy_runs_a_workflow_of_hits_to_its_end(strategy):
    orchestrator = TaskOrchestrator(config=OrchestrationConfig())
    orchestrator.register_callable("square", square)
    calls.clear()
    first = await orchestrator.execute_workflow(layers(strategy))
    assert first.status is WorkflowStatus.COMPLETED and len(calls) == 12
    calls.clear()
    second = await orchestrator.execute_workflow(layers(strategy))
    assert second.status is WorkflowStatus.COMPLETED
    assert calls == []  # nothing ran again
    assert all(r.cached and r.attempts == 0 for r in second.task_results.values())
    assert {t: r.output for t, r in second.task_results.items()} == \
        {t: r.output for t, r in first.task_results.items()}
    assert orchestrator.get_cache_stats()["hits"] == 12


async def test_a_long_run_of_hits_lets_the_event_loop_run_and_a_cancel_get_in():
    n = 20_000
    workflow = WorkflowDefinition(id="many", max_parallel_tasks=8, tasks=[
        TaskDefinition(id=f"t{i}", task_type="callable", parameters={"callable": "square", "n": i})
        for i in range(n)])
    orchestrator = TaskOrchestrator(config=OrchestrationConfig(),
                                    cache_config=CacheConfig(max_size=n))
    orchestrator.register_callable("square", square)
    await orchestrator.execute_workflow(workflow)
    calls.clear()
    rid = orchestrator.start_workflow(workflow)
    state = orchestrator.get_workflow_state(rid)
    while not state.completed_tasks:  # the run's first slice of hits (this loop ran after it)
        await asyncio.sleep(0)
    assert orchestrator.cancel_workflow(rid)
    final = await orchestrator.wait(rid)
    assert final.status is WorkflowStatus.CANCELLED and calls == []
    hits = [r.task_id for r in final.task_results.values() if r.status is TaskStatus.COMPLETED]
    assert 0 < len(hits) < n and all(final.task_results[t].cached for t in hits)
    assert hits == [f"t{i}" for i in range(len(hits))]  # in the ready queue's order
    assert sum(r.status is TaskStatus.CANCELLED for r in final.task_results.values()) == \
        n - len(hits)
    orchestrator.close()


async def test_a_task_whose_key_cannot_be_made_fails_naming_the_reason():
    class Unsortable:  # its canonical JSON falls back to repr, which raises
        def __repr__(self) -> str:
            raise RuntimeError("no text for this value")

    def broken(task, parameters, deps):
        return Unsortable()

    orchestrator = TaskOrchestrator(config=OrchestrationConfig())
    orchestrator.register_callable("broken", broken)
    orchestrator.register_callable("square", square)
    workflow = WorkflowDefinition(id="bad-key", continue_on_failure=True, tasks=[
        TaskDefinition(id="a", task_type="callable", parameters={"callable": "broken"}),
        TaskDefinition(id="b", task_type="callable", parameters={"callable": "square", "n": 2},
                       depends_on=["a"]),
    ])
    state = await orchestrator.execute_workflow(workflow)
    assert state.task_results["a"].status.value == "completed"
    b = state.task_results["b"]
    assert b.status.value == "failed" and b.error == "RuntimeError: no text for this value"


def test_a_run_starts_with_one_pending_result_per_task_and_a_started_task_counts_alone():
    from deeptui.blank import own_usage
    from deeptui.bus import EventBus
    from deeptui.models import TaskResult
    from deeptui.state import StateManager

    sm = StateManager(layers(ExecutionStrategy.DAG), "run-1", EventBus())
    results = sm.state.task_results
    assert all(r == TaskResult(task_id=tid) for tid, r in results.items()) and len(results) == 12
    own_usage(results["l0-0"]).requests += 1  # what an agent task's attempts do to its usage
    own_usage(results["l0-1"]).requests += 2
    assert [r.usage.requests for r in results.values()] == [1, 2] + [0] * 10
    assert own_usage(results["l0-0"]) is results["l0-0"].usage  # it keeps what it counted
    assert sm.counts[sm.status("l0-0")] == 12


async def test_cached_results_count_no_usage_and_a_retried_hit_counts_its_own():
    orchestrator = TaskOrchestrator(config=OrchestrationConfig())
    orchestrator.register_callable("square", square)
    await orchestrator.execute_workflow(layers(ExecutionStrategy.DAG))
    state = await orchestrator.execute_workflow(layers(ExecutionStrategy.DAG))
    assert all(r.cached for r in state.task_results.values())
    assert all(r.usage == TaskUsage() and r.usage.model_fields_set == set()
               for r in state.task_results.values())
    # a task run again (a retry) gets a usage of its own: the others' stay zero
    assert orchestrator.retry_task(state.run_id, "l3-0")
    state = await orchestrator.wait(state.run_id)
    assert state.task_results["l3-0"].status is TaskStatus.COMPLETED
    state.task_results["l3-0"].usage.requests += 1
    assert [r.usage.requests for r in state.task_results.values()] == [0] * 9 + [1, 0, 0]
