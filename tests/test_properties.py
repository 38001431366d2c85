"""Property tests: random valid DAGs run to completion in every strategy, limits respected.

Hypothesis draws a DAG (up to 25 agent and callable tasks, async and plain, random priorities
and dependencies), a strategy, ``max_parallel_tasks`` and per-agent-type
concurrency limits; a bus tap then checks what a user watching the run would
see: every task completed, none started before its dependencies completed,
never more running than the limits allow, and PARALLEL's level barrier.
(Byte and structure mutations of workflow files are tests/test_loader.py's.)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deeptui import bus as ev
from deeptui.cache import CacheConfig
from deeptui.graph import WorkflowGraph
from deeptui.models import (
    AgentCapability,
    AgentRouting,
    ExecutionStrategy,
    OrchestrationConfig,
    TaskDefinition,
    TaskStatus,
    WorkflowDefinition,
    WorkflowStatus,
)
from deeptui.orchestrator import TaskOrchestrator

CAPABILITIES = [c for c in AgentCapability if c is not AgentCapability.GENERAL]


@dataclass
class Case:
    workflow: WorkflowDefinition
    routing: list[AgentRouting]


@st.composite
def cases(draw: Any) -> Case:
    n_types = draw(st.integers(1, 3))
    routing = [
        AgentRouting(agent_type=f"type-{i}",
                     capabilities=[AgentCapability.GENERAL, CAPABILITIES[i]],
                     priority=draw(st.integers(1, 10)),
                     max_concurrent_tasks=draw(st.integers(1, 3)))
        for i in range(n_types)
    ]
    n = draw(st.integers(1, 25))
    tasks = []
    for i in range(n):
        deps = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        kind = draw(st.sampled_from(["agent", "agent-typed", "agent-capability", "callable",
                                     "plain"]))
        extra: dict[str, Any] = {}
        if kind == "callable":
            extra = {"task_type": "callable",
                     "parameters": {"callable": "work", "yields": draw(st.integers(0, 3))}}
        elif kind == "plain":  # a plain def: its first attempt runs inline in the pump
            extra = {"task_type": "callable", "parameters": {"callable": "plain"}}
        elif kind == "agent-typed":
            extra = {"agent_type": f"type-{draw(st.integers(0, n_types - 1))}"}
        elif kind == "agent-capability":
            extra = {"required_capabilities": [CAPABILITIES[draw(st.integers(0, n_types - 1))]]}
        tasks.append(TaskDefinition(id=f"t{i}", description=f"task {i}",
                                    depends_on=[f"t{d}" for d in deps],
                                    priority=draw(st.integers(1, 10)), **extra))
    workflow = WorkflowDefinition(
        id="prop", name="prop", tasks=tasks,
        execution_strategy=draw(st.sampled_from(list(ExecutionStrategy))),
        max_parallel_tasks=draw(st.integers(1, 5)))
    return Case(workflow, routing)


async def work(task: TaskDefinition, parameters: dict[str, Any], outputs: dict[str, Any]) -> str:
    for _ in range(parameters["yields"]):  # let other tasks interleave
        await asyncio.sleep(0)
    return f"{task.id} done after {sorted(outputs)}"


def plain(task: TaskDefinition, parameters: dict[str, Any], outputs: dict[str, Any]) -> str:
    return f"{task.id} done after {sorted(outputs)}"


@dataclass
class Watcher:
    """A bus tap checking the invariants as events arrive (violations collected, not raised)."""

    workflow: WorkflowDefinition
    type_limits: dict[str, int]
    completed: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)
    running: dict[str, str | None] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.graph = WorkflowGraph(self.workflow)
        self.limit = (1 if self.workflow.execution_strategy is ExecutionStrategy.SEQUENTIAL
                      else self.workflow.max_parallel_tasks)

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.TaskStarted):
            self._started(event)
        elif isinstance(event, (ev.TaskCompleted, ev.TaskFailed, ev.TaskSkipped,
                                ev.TaskCancelled)):
            self.running.pop(event.task_id, None)
            self.finished.add(event.task_id)
            if isinstance(event, ev.TaskCompleted):
                self.completed.add(event.task_id)

    def _started(self, event: ev.TaskStarted) -> None:
        tid = event.task_id
        self.started.append(tid)
        task = self.graph.tasks[tid]
        missing = [d for d in task.depends_on if d not in self.completed]
        if missing:
            self.problems.append(f"{tid} started before {missing} completed")
        self.running[tid] = event.agent_type
        if len(self.running) > self.limit:
            self.problems.append(f"{len(self.running)} running > limit {self.limit}")
        if event.agent_type is not None:
            same = sum(1 for t in self.running.values() if t == event.agent_type)
            if same > self.type_limits[event.agent_type]:
                self.problems.append(f"{same} running on {event.agent_type}")
        if self.workflow.execution_strategy is ExecutionStrategy.PARALLEL:
            level = self.graph.level_of[tid]
            early = [t for t in self.graph.tasks
                     if self.graph.level_of[t] < level and t not in self.finished]
            if early:
                self.problems.append(f"{tid} (level {level}) started before {early} finished")


async def _run(case: Case) -> tuple[Any, Watcher]:
    config = OrchestrationConfig(agent_routing=case.routing, simulated_latency=(0.0, 0.0),
                                 simulated_seed=3)
    orchestrator = TaskOrchestrator(config=config, cache_config=CacheConfig(strategy="none"))
    orchestrator.register_callable("work", work)
    orchestrator.register_callable("plain", plain)
    watcher = Watcher(case.workflow, {r.agent_type: r.max_concurrent_tasks for r in case.routing})
    orchestrator.bus.tap(watcher)
    try:
        state = await asyncio.wait_for(orchestrator.execute_workflow(case.workflow), 30)
    finally:
        orchestrator.close()
    return state, watcher


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=cases())
def test_random_dags_complete_in_every_strategy_within_limits(case: Case) -> None:
    state, watcher = asyncio.run(_run(case))
    assert watcher.problems == []
    assert state.status is WorkflowStatus.COMPLETED
    assert {t: r.status for t, r in state.task_results.items()} == {
        t.id: TaskStatus.COMPLETED for t in case.workflow.tasks}
    assert sorted(watcher.started) == sorted(t.id for t in case.workflow.tasks)  # each once
    for task in case.workflow.tasks:  # what ran saw its dependencies' outputs
        if task.task_type == "callable":
            expected = f"{task.id} done after {sorted(task.depends_on)}"
            assert state.task_results[task.id].output == expected


def test_the_watcher_catches_a_violation() -> None:
    """The checks above are not vacuous: a start before a dependency finished is seen."""
    workflow = WorkflowDefinition(id="w", name="w", tasks=[
        TaskDefinition(id="a", description="a"),
        TaskDefinition(id="b", description="b", depends_on=["a"])],
        execution_strategy=ExecutionStrategy.PARALLEL, max_parallel_tasks=1)
    watcher = Watcher(workflow, {})
    watcher(ev.TaskStarted("r", "w", task_id="a"))
    watcher(ev.TaskStarted("r", "w", task_id="b"))
    assert any("b started before ['a'] completed" in p for p in watcher.problems)
    assert any("2 running > limit 1" in p for p in watcher.problems)
    assert any("level 1" in p for p in watcher.problems)
