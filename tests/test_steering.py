"""Cancel and retry while a run goes on and after it ended; failure policy; the bus."""

from __future__ import annotations

import asyncio
import sys

import pytest
from conftest import Recorder, pid_alive, until

from deeptui import (
    CacheConfig,
    ExecutionStrategy,
    OrchestrationConfig,
    RetryConfig,
    TaskDefinition,
    TaskOrchestrator,
    WorkflowDefinition,
)
from deeptui import bus as ev

NO_RETRY = RetryConfig(max_retries=0)


class Gates:
    """Callables that block until the test opens their gate, and count their calls."""

    def __init__(self, orchestrator: TaskOrchestrator) -> None:
        self.events: dict[str, asyncio.Event] = {}
        self.calls: dict[str, int] = {}
        self.fail: set[str] = set()
        orchestrator.register_callable("gate", self._run)

    def event(self, tid: str) -> asyncio.Event:
        return self.events.setdefault(tid, asyncio.Event())

    async def _run(self, task, params, deps):
        self.calls[task.id] = self.calls.get(task.id, 0) + 1
        if params.get("wait"):
            await self.event(task.id).wait()
        if task.id in self.fail:
            raise RuntimeError(f"{task.id} broke")
        return f"{task.id} done"


def gated(tid: str, *deps: str, wait: bool = False, **kwargs) -> TaskDefinition:
    return TaskDefinition(id=tid, task_type="callable", depends_on=list(deps),
                          parameters={"callable": "gate", "wait": wait},
                          retry_config=NO_RETRY, **kwargs)


@pytest.fixture
def orch():
    orchestrator = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0, 0.01)),
                                    cache_config=CacheConfig(strategy="none"))
    yield orchestrator
    orchestrator.close()


async def test_cancelled_task_ends_cancelled_and_its_dependents_skipped(orch):
    gates = Gates(orch)
    workflow = WorkflowDefinition(id="wf", tasks=[
        gated("slow", wait=True), gated("after-slow", "slow"), gated("last", "after-slow"),
        gated("independent")])
    rid = orch.start_workflow(workflow)
    state = orch.get_workflow_state("wf")
    await until(lambda: state.task_results["slow"].status == "running")
    assert orch.cancel_task("wf", "slow") is True
    final = await orch.wait(rid)
    statuses = {tid: r.status.value for tid, r in final.task_results.items()}
    assert statuses == {"slow": "cancelled", "after-slow": "skipped", "last": "skipped",
                        "independent": "completed"}
    assert final.task_results["after-slow"].skip_reason == "dependency 'slow' cancelled"
    assert final.status == "cancelled"


async def test_cancelling_a_shell_task_kills_its_process(orch, tmp_path):
    pidfile = tmp_path / "pid"
    command = f"{sys.executable} -c \"import os,time; open('{pidfile}','w').write(str(os.getpid())); time.sleep(60)\""
    workflow = WorkflowDefinition(id="sh", tasks=[
        TaskDefinition(id="sleepy", task_type="shell", parameters={"command": command},
                       retry_config=NO_RETRY),
        TaskDefinition(id="next", task_type="shell", parameters={"command": "echo hi"},
                       depends_on=["sleepy"])])
    rid = orch.start_workflow(workflow)
    await until(lambda: pidfile.exists() and pidfile.read_text())
    pid = int(pidfile.read_text())
    assert pid_alive(pid)
    assert orch.cancel_task("sh", "sleepy")
    final = await orch.wait(rid)
    assert final.task_results["sleepy"].status == "cancelled"
    assert final.task_results["next"].status == "skipped"
    await until(lambda: not pid_alive(pid))


async def test_timeout_kills_the_shell_process(orch, tmp_path):
    pidfile = tmp_path / "pid"
    command = f"{sys.executable} -c \"import os,time; open('{pidfile}','w').write(str(os.getpid())); time.sleep(60)\""
    result = await orch.execute_task(TaskDefinition(
        id="hang", task_type="shell", parameters={"command": command}, timeout_seconds=0.5,
        retry_config=NO_RETRY))
    assert result.status == "failed" and result.error == "timed out after 0.5s"
    await until(lambda: not pid_alive(int(pidfile.read_text())))


async def test_shell_output_streams_and_failures_carry_the_exit_code(orch):
    rec = Recorder(orch.bus)
    workflow = WorkflowDefinition(id="sh", continue_on_failure=True, tasks=[
        TaskDefinition(id="ok", task_type="shell",
                       parameters={"command": "echo one; echo two", "env": {"X": "1"}}),
        TaskDefinition(id="bad", task_type="shell",
                       parameters={"command": "echo oops; exit 3"}, retry_config=NO_RETRY),
        TaskDefinition(id="missing", task_type="shell",
                       parameters={"command": "definitely-not-a-command-xyz"},
                       retry_config=NO_RETRY),
    ])
    final = await orch.execute_workflow(workflow)
    assert final.task_results["ok"].output == "one\ntwo"
    assert [e.text for e in rec.of(ev.TaskLog) if e.task_id == "ok" and e.kind == "stdout"] == \
        ["one", "two"]
    assert final.task_results["bad"].error == "exit code 3: oops"
    assert final.task_results["missing"].error.startswith("command not found (exit code 127)")


async def test_cancel_workflow_cancels_running_and_pending_tasks(orch):
    gates = Gates(orch)
    workflow = WorkflowDefinition(id="wf", max_parallel_tasks=2, tasks=[
        gated("a", wait=True), gated("b", wait=True), gated("c", wait=True), gated("d", "a")])
    rid = orch.start_workflow(workflow)
    state = orch.get_workflow_state("wf")
    await until(lambda: len(state.running_tasks) == 2)
    assert orch.cancel_workflow("wf")
    final = await orch.wait(rid)
    assert final.status == "cancelled"
    assert {r.status.value for r in final.task_results.values()} == {"cancelled"}
    assert orch.get_workflow_progress("wf")["running"] == 0
    assert set(gates.calls) == {"a", "b"}  # nothing started after the cancel
    assert orch.cancel_workflow("wf") is False  # already over


async def test_retry_after_the_run_failed_reruns_the_task_and_its_downstream_only(orch):
    gates = Gates(orch)
    gates.fail.add("build")
    workflow = WorkflowDefinition(id="wf", tasks=[
        gated("fetch"), gated("build", "fetch"), gated("test", "build"), gated("ship", "test")])
    final = await orch.execute_workflow(workflow)
    assert final.status == "failed"
    assert final.task_results["build"].status == "failed"
    assert [final.task_results[t].status.value for t in ("test", "ship")] == ["skipped"] * 2

    gates.fail.clear()
    assert orch.retry_task("wf", "build") is True
    final = await orch.wait("wf")
    assert final.status == "completed"
    assert all(r.status == "completed" for r in final.task_results.values())
    assert gates.calls == {"fetch": 1, "build": 2, "test": 1, "ship": 1}
    assert final.run_id == orch.get_workflow_state("wf").run_id  # the same run


async def test_retry_while_running_reruns_a_cancelled_task_in_the_same_run(orch):
    gates = Gates(orch)
    workflow = WorkflowDefinition(id="wf", continue_on_failure=True, tasks=[
        gated("a", wait=True), gated("a-child", "a"), gated("other", wait=True)])
    rid = orch.start_workflow(workflow)
    state = orch.get_workflow_state("wf")
    await until(lambda: state.task_results["a"].status == "running"
                and state.task_results["other"].status == "running")
    orch.cancel_task("wf", "a")
    await until(lambda: state.task_results["a-child"].status == "skipped")
    assert orch.retry_task("wf", "a")
    await until(lambda: state.task_results["a"].status == "running")
    gates.event("a").set()
    gates.event("other").set()
    final = await orch.wait(rid)
    assert final.status == "completed"
    assert gates.calls == {"a": 2, "a-child": 1, "other": 1}


async def test_retry_of_a_running_or_unknown_task_is_refused(orch):
    gates = Gates(orch)
    rid = orch.start_workflow(WorkflowDefinition(id="wf", tasks=[gated("a", wait=True)]))
    await until(lambda: orch.get_workflow_state("wf").task_results["a"].status == "running")
    assert orch.retry_task("wf", "a") is False
    assert orch.retry_task("wf", "ghost") is False
    assert orch.retry_task("no-such-run", "a") is False
    gates.event("a").set()
    await orch.wait(rid)


async def test_continue_on_failure_lets_independent_branches_finish(orch):
    gates = Gates(orch)
    gates.fail.add("left")
    workflow = WorkflowDefinition(id="wf", continue_on_failure=True, tasks=[
        gated("left"), gated("left-child", "left"), gated("right"), gated("right-child", "right")])
    final = await orch.execute_workflow(workflow)
    assert final.status == "failed"
    assert final.completed_tasks == ["right", "right-child"]
    assert final.failed_tasks == ["left"] and final.skipped_tasks == ["left-child"]


async def test_without_continue_on_failure_the_first_failure_stops_the_run(orch):
    gates = Gates(orch)
    gates.fail.add("bad")
    workflow = WorkflowDefinition(id="wf", max_parallel_tasks=2, tasks=[
        gated("slow", wait=True), gated("bad"), gated("later", "slow"), gated("queued")])
    final = await orch.execute_workflow(workflow)
    statuses = {tid: r.status.value for tid, r in final.task_results.items()}
    assert final.status == "failed" and final.error == "task 'bad' failed"
    assert statuses["bad"] == "failed"
    assert statuses["slow"] == "cancelled"
    assert statuses["later"] == "skipped" and statuses["queued"] == "skipped"
    assert orch.get_workflow_progress("wf")["running"] == 0
    assert "queued" not in gates.calls


async def test_a_slow_subscriber_never_stalls_the_run_and_sees_final_statuses(orch):
    gates = Gates(orch)
    slow = orch.bus.subscribe(maxsize=5)
    workflow = WorkflowDefinition(id="wf", max_parallel_tasks=4,
                                  tasks=[gated(f"t{i}") for i in range(50)])
    final = await orch.execute_workflow(workflow)  # nobody reads `slow` meanwhile
    assert final.status == "completed"
    events = slow.drain()
    assert slow.dropped > 0
    last = {}
    for event in events:
        if isinstance(event, ev.TaskEvent):
            last[event.task_id] = event
    assert len(last) == 50
    assert all(isinstance(e, ev.TaskCompleted) for e in last.values())
    assert any(isinstance(e, ev.WorkflowFinished) for e in events)


@pytest.mark.parametrize("strategy", list(ExecutionStrategy))
async def test_every_strategy_honours_dependencies_and_the_limit(orch, strategy):
    rec = Recorder(orch.bus)
    gates = Gates(orch)
    tasks = [gated("root")] + [gated(f"mid{i}", "root") for i in range(4)] + \
        [gated("sink", *[f"mid{i}" for i in range(4)])]
    final = await orch.execute_workflow(WorkflowDefinition(
        id="wf", execution_strategy=strategy, max_parallel_tasks=3, tasks=tasks))
    assert final.status == "completed" and len(gates.calls) == 6
    order = rec.started()
    assert order[0] == "root" and order[-1] == "sink"
    assert rec.max_running <= (1 if strategy == ExecutionStrategy.SEQUENTIAL else 3)


async def test_with_one_slot_priority_beats_path_length_and_path_length_breaks_ties(orch):
    rec = Recorder(orch.bus)
    Gates(orch)
    tasks = [
        gated("short-low"),                      # path 1, priority 5
        gated("long-head"), gated("long-tail", "long-head"),  # path 2, priority 5
        gated("urgent", priority=9),             # path 1, priority 9
    ]
    await orch.execute_workflow(WorkflowDefinition(id="wf", max_parallel_tasks=1, tasks=tasks))
    # then equal priority and equal path: definition order
    assert rec.started() == ["urgent", "long-head", "short-low", "long-tail"]


async def test_running_the_same_workflow_again_starts_a_new_run(orch):
    Gates(orch)
    workflow = WorkflowDefinition(id="wf", tasks=[gated("a")])
    first = await orch.execute_workflow(workflow)
    second = await orch.execute_workflow(workflow)
    assert first.run_id != second.run_id
    assert orch.get_workflow_state("wf").run_id == second.run_id
    assert orch.get_workflow_state(first.run_id).run_id == first.run_id


async def test_clean_up_and_notification_tasks_still_run_when_a_failure_stops_the_run(orch):
    gates = Gates(orch)
    gates.fail.add("build")
    workflow = WorkflowDefinition(id="wf", tasks=[
        gated("build"), gated("test", "build"), gated("deploy", "test"),
        gated("cleanup", "build", "test", trigger_rule="all_done"),
        gated("alert", "build", "test", trigger_rule="one_failed"),
        gated("report", "deploy", trigger_rule="all_failed"),  # its dependency only skipped
        gated("audit", "build"),  # default rule: does not run after the failure
    ])
    final = await orch.execute_workflow(workflow)
    statuses = {tid: r.status.value for tid, r in final.task_results.items()}
    assert final.status == "failed" and final.error == "task 'build' failed"
    assert statuses == {"build": "failed", "test": "skipped", "deploy": "skipped",
                        "cleanup": "completed", "alert": "completed", "report": "skipped",
                        "audit": "skipped"}
    assert set(gates.calls) == {"build", "cleanup", "alert"}


async def test_cancelling_the_run_does_not_start_clean_up_tasks(orch):
    gates = Gates(orch)
    workflow = WorkflowDefinition(id="wf", tasks=[
        gated("work", wait=True), gated("cleanup", "work", trigger_rule="all_done")])
    rid = orch.start_workflow(workflow)
    await until(lambda: orch.get_workflow_state("wf").task_results["work"].status == "running")
    orch.cancel_workflow("wf")
    final = await orch.wait(rid)
    assert {r.status.value for r in final.task_results.values()} == {"cancelled"}
    assert set(gates.calls) == {"work"}


async def test_execute_task_runs_a_task_alone_even_with_a_condition(orch):
    Gates(orch)
    result = await orch.execute_task(gated("solo", "upstream", condition="upstream.completed"))
    assert result.status == "completed" and result.output == "solo done"


async def test_a_run_id_still_running_cannot_be_reused(orch):
    from deeptui.scheduler.run import RunActiveError

    gates = Gates(orch)
    workflow = WorkflowDefinition(id="wf", tasks=[gated("a", wait=True)])
    rid = orch.start_workflow(workflow, run_id="fixed-id")
    with pytest.raises(RunActiveError, match="run 'fixed-id' is still running"):
        orch.start_workflow(workflow, run_id="fixed-id")
    gates.event("a").set()
    assert (await orch.wait(rid)).status == "completed"
    second = orch.start_workflow(workflow, run_id="fixed-id")  # over: the id may be reused
    assert (await orch.wait(second)).status == "completed"


async def test_retrying_the_failure_also_reruns_what_the_failure_stopped(orch):
    gates = Gates(orch)
    gates.fail.add("a")
    workflow = WorkflowDefinition(id="wf", tasks=[
        gated("a"), gated("b", wait=True), gated("c", "b"), gated("a-child", "a")])
    rid = orch.start_workflow(workflow)
    final = await orch.wait(rid)
    statuses = {tid: r.status.value for tid, r in final.task_results.items()}
    assert statuses == {"a": "failed", "b": "cancelled", "c": "skipped", "a-child": "skipped"}
    gates.fail.clear()
    gates.event("b").set()
    assert orch.retry_task("wf", "a")
    final = await orch.wait(rid)
    # b and c were not downstream of a, but they only ended because a's failure stopped the run
    assert final.status == "completed"
    assert {r.status.value for r in final.task_results.values()} == {"completed"}
    assert gates.calls == {"a": 2, "b": 2, "c": 1, "a-child": 1}


async def test_an_orchestrator_open_all_day_keeps_only_the_latest_finished_runs():
    orchestrator = TaskOrchestrator(
        config=OrchestrationConfig(simulated_latency=(0, 0), keep_finished_runs=2),
        cache_config=CacheConfig(strategy="none"))
    gates = Gates(orchestrator)
    long_run = orchestrator.start_workflow(
        WorkflowDefinition(id="long", tasks=[gated("wait", wait=True)]))
    ids = [(await orchestrator.execute_workflow(
        WorkflowDefinition(id=f"wf{i}", tasks=[gated("a")]))).run_id for i in range(4)]
    assert [orchestrator.get_workflow_state(rid) is not None for rid in ids] == \
        [False, False, True, True]
    assert orchestrator.get_workflow_state(long_run).status == "running"  # never forgotten
    gates.event("wait").set()
    await orchestrator.wait(long_run)
    assert orchestrator.get_workflow_state(long_run) is not None  # the newest finished run
    assert orchestrator.get_workflow_state(ids[2]) is None


async def test_a_script_running_workflows_in_a_loop_keeps_the_latest_hundred_by_default():
    orchestrator = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0, 0)),
                                    cache_config=CacheConfig(strategy="none"))
    orchestrator.register_callable("one", lambda task, parameters, deps: 1)
    ids = [(await orchestrator.execute_workflow(WorkflowDefinition(id=f"wf{i}", tasks=[
        TaskDefinition(id="a", description="a", task_type="callable",
                       parameters={"callable": "one"})]))).run_id for i in range(103)]
    kept = [orchestrator.get_workflow_state(rid) is not None for rid in ids]
    assert kept == [False] * 3 + [True] * 100
    assert orchestrator.get_workflow_state(ids[-1]).task_results["a"].output == 1
