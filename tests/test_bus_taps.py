"""Bus taps and the progress callback: a tap that skips TaskQueued (the store's) misses nothing
else and others still get them; a tap removing itself hides nothing from the next tap; an async
progress callback has run when execute_workflow returns."""

from __future__ import annotations

import asyncio
import logging

from deeptui import (
    CacheConfig,
    OrchestrationConfig,
    RetryConfig,
    TaskDefinition,
    TaskOrchestrator,
    WorkflowDefinition,
)
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


async def test_an_async_progress_callback_has_run_when_execute_workflow_returns(caplog):
    seen = []

    async def progress(state):
        await asyncio.sleep(0.02)
        seen.append(state.status.value)
        if state.status.finished:
            raise RuntimeError("callback bug")

    orch = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0, 0.01)),
                            cache_config=CacheConfig(strategy="none"))
    orch.register_callable("ok", lambda task, params, deps: "ok")
    task = TaskDefinition(id="t", task_type="callable", parameters={"callable": "ok"},
                          retry_config=RetryConfig(max_retries=0))
    with caplog.at_level(logging.ERROR):
        final = await orch.execute_workflow(WorkflowDefinition(id="wf", tasks=[task]), progress)
    orch.close()
    assert final.status == "completed"
    assert seen and seen[-1] == "completed"
    assert "progress callback failed" in caplog.text


async def test_with_only_the_store_listening_no_start_or_completion_event_is_built(
        tmp_path, monkeypatch):
    from deeptui.store import RunStore

    built: list[str] = []
    for cls in (ev.TaskStarted, ev.TaskCompleted):
        real_init = cls.__init__

        def counting_init(self, *args, _init=real_init, **kwargs):
            built.append(type(self).__name__)
            _init(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counting_init)
    with RunStore(tmp_path / "runs.db") as store:
        orch = TaskOrchestrator(cache_config=CacheConfig(strategy="none"), store=store)
        orch.register_callable("f", lambda task, params, deps: task.id)
        state = await orch.execute_workflow(two_tasks())
        assert built == []  # the store took the values
        seen: list[str] = []  # another tap on the same bus: it gets the events again
        orch.bus.tap(lambda e: seen.append(type(e).__name__), queued=False)
        again = await orch.execute_workflow(two_tasks())
        assert seen == ["WorkflowStarted", "TaskStarted", "TaskCompleted", "TaskStarted",
                        "TaskCompleted", "WorkflowFinished"]
        assert built == ["TaskStarted", "TaskCompleted"] * 2
        for run in (state, again):
            stored = store.load_run(run.run_id).state.task_results
            assert {t: (r.status.value, r.output, r.attempts) for t, r in stored.items()} == {
                "a": ("completed", "a", 1), "b": ("completed", "b", 1)}
            assert stored["b"].started_at == run.task_results["b"].started_at
            assert stored["b"].completed_at == run.task_results["b"].completed_at
