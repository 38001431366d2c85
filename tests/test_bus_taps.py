"""Bus taps that skip TaskQueued (the store's): they miss nothing else, others still get them."""

from __future__ import annotations

from deeptui import CacheConfig, RetryConfig, TaskDefinition, TaskOrchestrator, WorkflowDefinition
from deeptui import bus as ev


def two_tasks() -> WorkflowDefinition:
    no_retry = RetryConfig(max_retries=0)
    return WorkflowDefinition(id="wf", tasks=[
        TaskDefinition(id="a", task_type="callable", parameters={"callable": "f"},
                       retry_config=no_retry),
        TaskDefinition(id="b", task_type="callable", depends_on=["a"],
                       parameters={"callable": "f"}, retry_config=no_retry),
    ])


def orchestrator() -> TaskOrchestrator:
    orch = TaskOrchestrator(cache_config=CacheConfig(strategy="none"))
    orch.register_callable("f", lambda task, params, deps: task.id)
    return orch


async def test_a_tap_without_queued_events_sees_every_other_event_of_a_run():
    orch = orchestrator()
    seen: list[str] = []
    orch.bus.tap(lambda e: seen.append(type(e).__name__), queued=False)
    state = await orch.execute_workflow(two_tasks())
    assert state.task_results["b"].output == "b"
    assert seen == ["WorkflowStarted", "TaskStarted", "TaskCompleted", "TaskStarted",
                    "TaskCompleted", "WorkflowFinished"]


async def test_other_taps_and_subscribers_still_get_queued_events():
    orch = orchestrator()
    quiet: list[str] = []
    everything: list[str] = []
    orch.bus.tap(lambda e: quiet.append(type(e).__name__), queued=False)
    orch.bus.tap(lambda e: everything.append(type(e).__name__))
    sub = orch.bus.subscribe()
    await orch.execute_workflow(two_tasks())
    assert everything.count("TaskQueued") == 2
    assert [type(e).__name__ for e in sub.drain()].count("TaskQueued") == 2
    assert "TaskQueued" not in quiet


def test_removing_a_tap_without_queued_events_stops_all_its_events():
    bus = ev.EventBus()
    got: list[str] = []
    remove = bus.tap(lambda e: got.append(type(e).__name__), queued=False)
    bus.publish(ev.TaskStarted("r", "w", task_id="a"))
    remove()
    bus.publish(ev.TaskStarted("r", "w", task_id="a"))
    bus.publish(ev.TaskQueued("r", "w", task_id="a"))
    assert got == ["TaskStarted"]
    assert not bus.has_listeners and not bus.wants_queued
