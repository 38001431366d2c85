"""Agent tasks run by a user's own pydantic-ai agent: an agent type's concurrency limit is
shared by concurrent runs (a waiting run is woken when it frees, cancelling a run ends its
tasks waiting for it), and an agent with its own dataclass deps type runs."""

from __future__ import annotations

import asyncio
import dataclasses

from pydantic_ai import Agent
from pydantic_ai.models.function import FunctionModel

from conftest import until
from deeptui import (
    AgentCapability,
    AgentRouting,
    CacheConfig,
    OrchestrationConfig,
    RetryConfig,
    TaskDefinition,
    TaskOrchestrator,
    WorkflowDefinition,
)

NO_RETRY = RetryConfig(max_retries=0)


def gated_agent(gate: asyncio.Event, deps_type: type = type(None)) -> Agent:
    async def stream(messages, info):
        await gate.wait()
        yield "done"

    return Agent(FunctionModel(stream_function=stream), deps_type=deps_type)


async def test_a_run_blocked_on_agent_capacity_held_by_another_run_starts_when_it_frees():
    """max_concurrent_tasks is shared by concurrent runs; the waiting run must be woken."""
    gate = asyncio.Event()
    config = OrchestrationConfig(agent_routing=[AgentRouting(
        agent_type="solo", capabilities=[AgentCapability.GENERAL], max_concurrent_tasks=1)])
    orch = TaskOrchestrator(gated_agent(gate), config=config,
                            cache_config=CacheConfig(strategy="none"))
    first = orch.start_workflow(WorkflowDefinition(id="first", tasks=[TaskDefinition(id="t")]))
    await until(lambda: orch.get_workflow_state("first").task_results["t"].status == "running")
    second = orch.start_workflow(WorkflowDefinition(id="second", tasks=[TaskDefinition(id="t")]))
    await asyncio.sleep(0.01)
    assert orch.get_workflow_state("second").task_results["t"].status == "pending"  # shared cap
    gate.set()
    assert (await orch.wait(first)).status == "completed"
    final = await asyncio.wait_for(orch.wait(second), 5)
    assert final.status == "completed"
    orch.close()


async def test_cancel_run_ends_tasks_blocked_on_agent_capacity():
    gate = asyncio.Event()
    config = OrchestrationConfig(agent_routing=[AgentRouting(
        agent_type="solo", capabilities=[AgentCapability.GENERAL], max_concurrent_tasks=1)])
    orch = TaskOrchestrator(gated_agent(gate), config=config,
                            cache_config=CacheConfig(strategy="none"))
    rid = orch.start_workflow(WorkflowDefinition(id="wf", tasks=[
        TaskDefinition(id="a"), TaskDefinition(id="b")]))
    state = orch.get_workflow_state("wf")
    await until(lambda: len(state.running_tasks) == 1)
    assert orch.cancel_workflow("wf") is True
    final = await asyncio.wait_for(orch.wait(rid), 5)
    assert final.status == "cancelled"
    assert sorted(final.cancelled_tasks) == ["a", "b"]
    assert orch.router.load["solo"] == 0
    orch.close()


@dataclasses.dataclass
class MyDeps:
    greeting: str = "hello"


async def test_a_user_agent_with_its_own_dataclass_deps_runs():
    gate = asyncio.Event()
    gate.set()
    orch = TaskOrchestrator(gated_agent(gate, MyDeps), MyDeps(),
                            cache_config=CacheConfig(strategy="none"))
    final = await orch.execute_workflow(WorkflowDefinition(id="wf", tasks=[
        TaskDefinition(id="t", retry_config=NO_RETRY)]))
    assert final.task_results["t"].status == "completed", final.task_results["t"].error
    orch.close()
