"""The progress callback of execute_workflow/start_workflow: a bus subscriber of its run."""

from __future__ import annotations

from deeptui import OrchestrationConfig, TaskOrchestrator
from deeptui.models import RetryConfig, TaskDefinition, WorkflowDefinition, WorkflowState


def make() -> TaskOrchestrator:
    return TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0.0, 0.0)))


async def test_the_callback_follows_its_run_through_a_retry_and_leaves_with_it():
    orch = make()
    broken = {"b": True}

    async def work(task, parameters, deps):
        print(f"{task.id} says hello")  # noqa: T201 - a log line is not a progress step
        if broken.get(task.id):
            raise RuntimeError("broken")
        return task.id

    orch.register_callable("work", work)
    tasks = [TaskDefinition(id=t, task_type="callable", parameters={"callable": "work"},
                            retry_config=RetryConfig(max_retries=0), depends_on=deps)
             for t, deps in (("a", []), ("b", ["a"]))]
    seen: list[tuple[str, str, str]] = []

    def progress(state: WorkflowState) -> None:
        r = state.task_results
        seen.append((state.status.value, r["a"].status.value, r["b"].status.value))

    lone = TaskDefinition(id="x", task_type="callable", parameters={"callable": "work"})
    other = await orch.execute_workflow(WorkflowDefinition(id="other", tasks=[lone]))
    state = await orch.execute_workflow(WorkflowDefinition(id="wf", tasks=tasks), progress)
    assert state.status.value == "failed"
    assert seen[0] == ("running", "pending", "pending")
    assert seen[-1] == ("failed", "completed", "failed")
    # one call per status change: start, a running, a completed, b running, b failed, end
    assert len(seen) == 6

    seen.clear()
    broken.clear()
    assert orch.retry_task("wf", "b")  # the run had ended: it restarts, the callback with it
    state = await orch.wait("wf")
    assert state.status.value == "completed"
    assert seen[-1] == ("completed", "completed", "completed")
    assert ("running", "completed", "running") in seen

    seen.clear()
    await orch.execute_workflow(WorkflowDefinition(id="again", tasks=[lone]))
    assert seen == []  # another run's changes are not this run's progress
    assert orch.forget_run(state.run_id)
    assert orch.forget_run(other.run_id)
    assert not orch.bus.has_listeners  # forgotten, its callback is off the bus
