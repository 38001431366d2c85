"""The history store records a run from the bus events alone: a real SQLite file fed by a
`StateManager` that no orchestrator owns (so nothing can be looked up behind the events)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from deeptui.bus import EventBus
from deeptui.models import (TaskDefinition, TaskResult, TaskStatus, TaskUsage,
                            WorkflowDefinition, WorkflowStatus)
from deeptui.state import StateManager
from deeptui.store import RunStore

WORKFLOW = WorkflowDefinition(id="wf", name="Events only", tasks=[
    TaskDefinition(id="a", description="first"),
    TaskDefinition(id="b", description="second", depends_on=["a"]),
    TaskDefinition(id="c", description="third", depends_on=["b"]),
], metadata={"template": "demo", "parameters": {"n": 3}})


def near(stored, live) -> bool:
    return abs(stored - live) < timedelta(milliseconds=1)


def test_a_run_is_recorded_from_its_events_without_asking_an_orchestrator(tmp_path: Path):
    bus = EventBus()
    store = RunStore(tmp_path / "history.db", sync_commit=True)
    nobody = SimpleNamespace(bus=bus, find_run=lambda run_id: None)  # knows no run at all
    store.attach(nobody)
    sm = StateManager(WORKFLOW, "wf@1", bus, model="test:model")
    sm.start_workflow()
    sm.running("a", 1, "general")
    sm.retrying("a", 1, 0.0, "flaky")
    sm.running("a", 2, "general")
    sm.completed("a", {"rows": 3}, TaskUsage(input_tokens=5, output_tokens=7, requests=2,
                                            cost_usd=0.25))
    sm.running("b", 1, "coder")
    sm.failed("b", "boom", TaskUsage(input_tokens=1, requests=1))
    sm.skipped("c", "dependency 'b' failed")
    sm.finish_workflow(WorkflowStatus.FAILED, "task 'b' failed")
    assert store.sync() is None

    stored = store.load_run("wf@1")
    assert stored.model == "test:model"
    assert stored.summary.template == "demo" and stored.parameters == {
        "template": "demo", "parameters": {"n": 3}}
    assert [t.id for t in stored.workflow.tasks] == ["a", "b", "c"]
    a, b = stored.state.task_results["a"], stored.state.task_results["b"]
    live_a, live_b = sm.result("a"), sm.result("b")
    assert (a.status, a.output, a.attempts, a.agent_used) == (
        TaskStatus.COMPLETED, {"rows": 3}, 2, "general")
    assert (a.usage.input_tokens, a.usage.output_tokens, a.usage.requests, a.usage.cost_usd) == (
        5, 7, 2, 0.25)
    assert near(a.started_at, live_a.started_at) and near(a.completed_at, live_a.completed_at)
    assert (b.status, b.error, b.attempts, b.agent_used, b.usage.input_tokens) == (
        TaskStatus.FAILED, "boom", 1, "coder", 1)
    assert near(b.started_at, live_b.started_at) and near(b.completed_at, live_b.completed_at)
    assert stored.state.task_results["c"].status is TaskStatus.SKIPPED
    store.close()


def test_a_resumed_run_keeps_the_results_its_start_event_carries(tmp_path: Path):
    bus = EventBus()
    store = RunStore(tmp_path / "history.db", sync_commit=True)
    store.attach(SimpleNamespace(bus=bus, find_run=lambda run_id: None))
    done = TaskResult(task_id="a", status=TaskStatus.COMPLETED, output="kept", attempts=1)
    sm = StateManager(WORKFLOW, "wf@2", bus, initial_results={"a": done})
    sm.start_workflow(resumed=True)
    done.output = "changed after the start"  # the event carried a copy
    sm.running("b", 1, None)
    sm.completed("b", "fresh")
    sm.running("c", 1, None)
    sm.completed("c", "fresh too")
    sm.finish_workflow(WorkflowStatus.COMPLETED)
    assert store.sync() is None
    results = store.load_run("wf@2").state.task_results
    assert [(t, r.status.value, r.output) for t, r in results.items()] == [
        ("a", "completed", "kept"), ("b", "completed", "fresh"), ("c", "completed", "fresh too")]
    store.close()


def test_a_task_changed_in_a_later_batch_keeps_what_its_stored_row_holds(tmp_path: Path):
    """Each step is its own batch: the writer reads the task's row back from the file (it
    keeps no copy), so dropped log lines, the output and the attempts carry across."""
    bus = EventBus()
    store = RunStore(tmp_path / "history.db", max_log_lines=4)
    store.attach(SimpleNamespace(bus=bus, find_run=lambda run_id: None))
    sm = StateManager(WORKFLOW, "wf@2", bus, model="test:model")
    lines = 0

    def log(n: int) -> None:
        nonlocal lines
        for _ in range(n):
            lines += 1
            sm.log("a", "text", f"line {lines}")

    steps = [sm.start_workflow, lambda: sm.running("a", 1, "general"), lambda: log(10),
             lambda: sm.completed("a", {"x": 1}), lambda: log(3),
             lambda: sm.running("b", 1, "coder"), lambda: sm.reset("b"),
             lambda: sm.running("b", 1, "coder"), lambda: sm.completed("b", {"y": 2})]
    for step in steps:
        step()
        assert store.flush()
    stored = store.load_run("wf@2")
    a, b = stored.state.task_results["a"], stored.state.task_results["b"]
    assert (a.status, a.output, a.attempts, a.agent_used) == (
        TaskStatus.COMPLETED, {"x": 1}, 1, "general")
    assert [text for _, _, text in stored.logs["a"]][-1] == "line 13"
    assert len(stored.logs["a"]) <= 5 and len(stored.logs["a"]) + stored.log_dropped["a"] == 13
    assert (b.status, b.output, b.attempts, b.agent_used) == (
        TaskStatus.COMPLETED, {"y": 2}, 1, "coder")
    assert [e["kind"] for e in store.events("wf@2") if e["task_id"] == "b"] == ["reset"]
    assert stored.state.task_results["c"].status is TaskStatus.PENDING
    store.close()
