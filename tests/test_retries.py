"""Retries: a task retried while its run is stopping after a failure runs again; a body
raising TimeoutError (no timeout set) is retried with a clear error; a task cancelled in
its retry wait ends cancelled."""

from __future__ import annotations

import asyncio

import pytest

from deeptui import (
    CacheConfig,
    OrchestrationConfig,
    RetryConfig,
    TaskDefinition,
    TaskOrchestrator,
    WorkflowDefinition,
)

NO_RETRY = RetryConfig(max_retries=0)


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
