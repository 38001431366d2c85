"""Engine review: defects found in the scheduler, the orchestrator and the bus, one test each."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest
from pydantic_ai import Agent
from pydantic_ai.models.function import FunctionModel

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
from deeptui import bus as ev

NO_RETRY = RetryConfig(max_retries=0)


async def until(predicate, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def callable_task(tid: str, name: str, *deps: str, **kwargs) -> TaskDefinition:
    kwargs.setdefault("retry_config", NO_RETRY)
    return TaskDefinition(id=tid, task_type="callable", depends_on=list(deps),
                          parameters={"callable": name}, **kwargs)


@pytest.fixture
def orch():
    orchestrator = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0, 0.01)),
                                    cache_config=CacheConfig(strategy="none"))
    yield orchestrator
    orchestrator.close()


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


async def test_retry_while_the_run_is_stopping_after_a_failure_runs_the_task_again(orch):
    calls: dict[str, int] = {}
    fail = {"bad"}
    stopping, release = asyncio.Event(), asyncio.Event()

    async def flaky(task, params, deps):
        calls[task.id] = calls.get(task.id, 0) + 1
        await asyncio.sleep(0)
        if task.id in fail:
            raise RuntimeError("broke")
        return "ok"

    async def stubborn(task, params, deps):
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopping.set()
            await release.wait()  # a slow clean-up keeps the run stopping
            raise

    orch.register_callable("flaky", flaky)
    orch.register_callable("stubborn", stubborn)
    workflow = WorkflowDefinition(id="wf", tasks=[
        callable_task("bad", "flaky"), callable_task("after", "flaky", "bad"),
        callable_task("slow", "stubborn")])
    rid = orch.start_workflow(workflow)
    await asyncio.wait_for(stopping.wait(), 5)
    fail.clear()
    assert orch.retry_task("wf", "bad") is True
    release.set()
    final = await asyncio.wait_for(orch.wait(rid), 5)
    assert final.task_results["bad"].status == "completed"
    assert final.task_results["after"].status == "completed"
    assert final.task_results["slow"].status == "cancelled"
    assert calls == {"bad": 2, "after": 1}


async def test_a_body_raising_timeout_error_without_a_timeout_is_retried_with_a_clear_error(orch):
    calls = []

    async def slow_upstream(task, params, deps):
        calls.append(1)
        raise TimeoutError("upstream did not answer")

    orch.register_callable("slow", slow_upstream)
    orch.retry_sleep = lambda delay: asyncio.sleep(0)
    task = callable_task("t", "slow", retry_config=RetryConfig(max_retries=1, initial_delay=0))
    final = await orch.execute_workflow(WorkflowDefinition(id="wf", tasks=[task]))
    assert len(calls) == 2
    assert final.task_results["t"].error == "timed out"


async def test_an_async_progress_callback_has_run_when_execute_workflow_returns(orch, caplog):
    seen = []

    async def progress(state):
        await asyncio.sleep(0.02)
        seen.append(state.status.value)
        if state.status.finished:
            raise RuntimeError("callback bug")

    orch.register_callable("ok", lambda task, params, deps: "ok")
    with caplog.at_level(logging.ERROR):
        final = await orch.execute_workflow(
            WorkflowDefinition(id="wf", tasks=[callable_task("t", "ok")]), progress)
    assert final.status == "completed"
    assert seen and seen[-1] == "completed"
    assert "progress callback failed" in caplog.text


def test_a_tap_removing_itself_does_not_hide_the_event_from_the_next_tap():
    bus = ev.EventBus()
    got: list[str] = []

    def once(event):
        got.append("once")
        remove()

    remove = bus.tap(once)
    bus.tap(lambda event: got.append("store"))
    bus.publish(ev.WorkflowStarted("r", "w"))
    bus.publish(ev.WorkflowFinished("r", "w"))
    assert got == ["once", "store", "store"]


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


async def test_cancelling_a_task_in_its_retry_wait_ends_it_cancelled(orch):
    waiting = asyncio.Event()

    async def never(delay):
        waiting.set()
        await asyncio.Event().wait()

    async def broken(task, params, deps):
        raise RuntimeError("broke")

    orch.register_callable("broken", broken)
    orch.retry_sleep = never
    rid = orch.start_workflow(WorkflowDefinition(id="wf", tasks=[
        callable_task("t", "broken", retry_config=RetryConfig(max_retries=3)),
        callable_task("child", "broken", "t")]))
    await asyncio.wait_for(waiting.wait(), 5)
    assert orch.cancel_task("wf", "t") is True
    final = await asyncio.wait_for(orch.wait(rid), 5)
    assert final.task_results["t"].status == "cancelled"
    assert final.task_results["t"].attempts == 1
    assert final.task_results["child"].status == "skipped"
    assert orch.get_workflow_progress("wf")["running"] == 0


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
