"""How many agent tasks run at once, and in which order ready tasks start.

The default routing takes as many agent tasks as the run has slots; an agent type's own
limit that keeps slots idle is named (run header, metrics); a blocked task is routed again
only when its agent type frees a slot (route() calls per task stay flat as N grows). With
a history store, ready tasks are ordered by their critical path in seconds (past
durations), the header shows the time expected to be left; without history, by path length.
"""

from __future__ import annotations

import asyncio

from pydantic_ai import Agent
from pydantic_ai.models.function import FunctionModel

from conftest import until, wait_for
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
from deeptui.store import RunStore

NO_RETRY = RetryConfig(max_retries=0)
NO_CACHE = CacheConfig(strategy="none")


def gated_agent(gate: asyncio.Event) -> Agent:
    async def stream(messages, info):
        await gate.wait()
        yield "done"

    return Agent(FunctionModel(stream_function=stream))


def agent_tasks(n: int) -> list[TaskDefinition]:
    return [TaskDefinition(id=f"t{i}", retry_config=NO_RETRY) for i in range(n)]


def capped(limit: int) -> OrchestrationConfig:
    return OrchestrationConfig(agent_routing=[AgentRouting(
        agent_type="solo", capabilities=[AgentCapability.GENERAL], max_concurrent_tasks=limit)])


async def test_default_routing_runs_as_many_agent_tasks_as_the_run_has_slots():
    gate = asyncio.Event()
    orch = TaskOrchestrator(gated_agent(gate), cache_config=NO_CACHE)
    rid = orch.start_workflow(WorkflowDefinition(id="wf", tasks=agent_tasks(12),
                                                 max_parallel_tasks=8))
    state = orch.get_workflow_state("wf")
    await until(lambda: len(state.running_tasks) == 8)
    await asyncio.sleep(0.02)
    assert len(state.running_tasks) == 8  # 8, not the old default limit of 5
    assert orch.find_run(rid).executor.slot_note() is None
    gate.set()
    assert (await orch.wait(rid)).status == "completed"
    assert orch.find_run(rid).executor.max_running == 8
    assert "Concurrency" not in orch.get_workflow_metrics("wf").get_performance_report()
    orch.close()


async def test_an_agent_type_limit_that_keeps_slots_idle_is_named_in_the_metrics():
    gate = asyncio.Event()
    orch = TaskOrchestrator(gated_agent(gate), config=capped(2), cache_config=NO_CACHE)
    rid = orch.start_workflow(WorkflowDefinition(id="wf", tasks=agent_tasks(6),
                                                 max_parallel_tasks=4))
    state = orch.get_workflow_state("wf")
    await until(lambda: len(state.running_tasks) == 2)
    await asyncio.sleep(0.02)
    assert len(state.running_tasks) == 2
    note = "2 of 4 slots: solo limit"
    assert orch.find_run(rid).executor.slot_note() == note
    assert f"Concurrency: {note}" in orch.get_workflow_metrics("wf").get_performance_report()
    gate.set()
    assert (await orch.wait(rid)).status == "completed"
    assert orch.get_workflow_metrics("wf").slot_note == note  # the run's peak, after it ended


async def route_calls(n: int) -> int:
    """route() calls to run ``n`` agent tasks, 8 slots, an agent type limited to 2."""
    async def instant(messages, info):
        yield "ok"

    orch = TaskOrchestrator(Agent(FunctionModel(stream_function=instant)), config=capped(2),
                            cache_config=NO_CACHE)
    calls = 0
    route = orch.router.route

    def counting(task):
        nonlocal calls
        calls += 1
        return route(task)

    orch.router.route = counting
    state = await orch.execute_workflow(WorkflowDefinition(id="wf", tasks=agent_tasks(n),
                                                           max_parallel_tasks=8))
    assert len(state.completed_tasks) == n
    orch.close()
    return calls


async def test_route_calls_per_task_stay_flat_as_the_workflow_grows():
    """A freed slot wakes the tasks it can take, not every blocked task (40 calls per task at
    200 tasks, 429 at 2,000 before)."""
    small, large = await route_calls(50), await route_calls(400)
    assert small <= 2.5 * 50
    assert large <= 2.5 * 400


# -- history-aware order ---------------------------------------------------------


class Recorder:
    """A callable that sleeps ``parameters.seconds`` (0 once ``instant``) and notes the order
    tasks start in."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.instant = False
        self.gate: asyncio.Event | None = None

    async def __call__(self, task, parameters, dependency_outputs):
        self.started.append(task.id)
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0 if self.instant else parameters["seconds"])
        return task.id


def timed(tid: str, seconds: float, *deps: str) -> TaskDefinition:
    return TaskDefinition(id=tid, task_type="callable", depends_on=list(deps),
                          parameters={"callable": "work", "seconds": seconds},
                          retry_config=NO_RETRY)


def one_slot_workflow() -> WorkflowDefinition:
    """``long`` alone (1 task) beside ``a`` -> ``a2`` (2 tasks): by path length ``a`` goes
    first; by the past durations ``long`` (0.3 s) outweighs the chain (0.02 s)."""
    return WorkflowDefinition(id="order", name="Order test", max_parallel_tasks=1, tasks=[
        timed("long", 0.3), timed("a", 0.01), timed("a2", 0.01, "a")])


def orchestrator(store: RunStore | None, work: Recorder) -> TaskOrchestrator:
    orch = TaskOrchestrator(cache_config=NO_CACHE, store=store)
    orch.register_callable("work", work)
    return orch


async def test_without_history_the_longest_path_in_tasks_starts_first(tmp_path):
    store = RunStore(tmp_path / "history.db")
    work = Recorder()
    orch = orchestrator(store, work)
    await orch.execute_workflow(one_slot_workflow())
    assert work.started == ["a", "long", "a2"]  # path length: a (2) before long (1)
    store.close()


async def test_with_history_the_task_that_took_longest_starts_first(tmp_path):
    store = RunStore(tmp_path / "history.db")
    work = Recorder()
    orch = orchestrator(store, work)
    await orch.execute_workflow(one_slot_workflow())  # the history: long took 0.3 s
    assert store.sync() is None
    work.started.clear()
    work.instant = True  # this time every task is instant: only the history can tell
    await orch.execute_workflow(one_slot_workflow())
    assert work.started == ["long", "a", "a2"]
    other = RunStore(tmp_path / "other.db")  # the same workflow with another (empty) history
    work.started.clear()
    await orchestrator(other, work).execute_workflow(one_slot_workflow())
    assert work.started == ["a", "long", "a2"]
    store.close()
    other.close()


async def test_the_run_header_shows_the_time_left_from_the_history(tmp_path):
    from deeptui.app import DeeptuiApp
    from deeptui.screens.run import RunScreen

    store = RunStore(tmp_path / "history.db")
    work = Recorder()
    orch = orchestrator(store, work)
    wf = WorkflowDefinition(id="left", name="Left test", max_parallel_tasks=2, tasks=[
        timed("x", 0.2), timed("y", 0.2), timed("z", 0.2, "x")])
    await orch.execute_workflow(wf)
    assert store.sync() is None
    work.gate = asyncio.Event()
    app = DeeptuiApp(orchestrator=orch)
    async with app.run_test(size=(120, 30)) as pilot:
        run_id = app.start_run(wf)
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen)
                       and app.screen.run_id == run_id and bool(app.screen.query("#run-stats")))
        stats = app.screen.query_one("#run-stats")
        await wait_for(pilot, lambda: "s left" in str(stats.content))
        work.gate.set()
        await wait_for(pilot, lambda: "3/3 finished" in str(stats.content))
        assert "left" not in str(stats.content)  # the run ended: nothing is left
    store.close()


async def test_the_run_header_names_an_agent_type_limit_that_keeps_slots_idle():
    from deeptui.app import DeeptuiApp
    from deeptui.screens.run import RunScreen

    gate = asyncio.Event()
    orch = TaskOrchestrator(gated_agent(gate), config=capped(2), cache_config=NO_CACHE)
    app = DeeptuiApp(orchestrator=orch)
    async with app.run_test(size=(140, 30)) as pilot:
        run_id = app.start_run(WorkflowDefinition(id="wf", tasks=agent_tasks(5),
                                                  max_parallel_tasks=4))
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen)
                       and app.screen.run_id == run_id and bool(app.screen.query("#run-stats")))
        stats = app.screen.query_one("#run-stats")
        await wait_for(pilot, lambda: "2 of 4 slots: solo limit" in str(stats.content))
        gate.set()
        await wait_for(pilot, lambda: "5/5 finished" in str(stats.content))


async def test_headless_output_names_an_agent_type_limit_that_kept_slots_idle():
    import io

    from rich.console import Console

    from deeptui.cli.headless import run_headless

    async def instant(messages, info):
        await asyncio.sleep(0.01)
        yield "ok"

    orch = TaskOrchestrator(Agent(FunctionModel(stream_function=instant)), config=capped(2),
                            cache_config=NO_CACHE)
    out = io.StringIO()
    code = await run_headless(orch, WorkflowDefinition(id="wf", tasks=agent_tasks(6),
                                                       max_parallel_tasks=4),
                              console=Console(file=out, width=120))
    assert code == 0
    assert "concurrency: 2 of 4 slots: solo limit" in out.getvalue()
    out = io.StringIO()
    await run_headless(TaskOrchestrator(Agent(FunctionModel(stream_function=instant)),
                                        cache_config=NO_CACHE),
                       WorkflowDefinition(id="wf", tasks=agent_tasks(6), max_parallel_tasks=4),
                       console=Console(file=out, width=120))
    assert "concurrency" not in out.getvalue()  # the default routing kept no slot idle


async def test_cancelling_a_task_waiting_for_another_runs_agent_slot_ends_its_run_at_once():
    gate = asyncio.Event()
    orch = TaskOrchestrator(gated_agent(gate), config=capped(1), cache_config=NO_CACHE)
    first = orch.start_workflow(WorkflowDefinition(id="first", tasks=agent_tasks(1)))
    await until(lambda: orch.get_workflow_state("first").task_results["t0"].status == "running")
    second = orch.start_workflow(WorkflowDefinition(id="second", tasks=agent_tasks(1)))
    await asyncio.sleep(0.02)
    assert orch.cancel_task("second", "t0") is True
    final = await asyncio.wait_for(orch.wait(second), 2)  # not held until the first run ends
    assert final.status == "cancelled"
    assert orch.get_workflow_state("first").status == "running"
    gate.set()
    assert (await orch.wait(first)).status == "completed"


def test_a_past_duration_weighs_less_the_older_its_run_and_one_outlier_does_not_move_it():
    from deeptui.store.durations import HALF_LIFE, weighted_median

    newest, older = 1.0, 0.5 ** (1 / HALF_LIFE)
    assert weighted_median([(9.0, newest), (1.0, older), (1.0, older ** 2)]) == 1.0  # outlier
    assert weighted_median([(9.0, newest), (1.0, older)]) == 9.0  # the newest weighs most


async def test_history_is_kept_per_workflow_name(tmp_path):
    store = RunStore(tmp_path / "history.db")
    work = Recorder()
    orch = orchestrator(store, work)
    await orch.execute_workflow(one_slot_workflow())
    assert store.sync() is None
    work.started.clear()
    work.instant = True
    renamed = one_slot_workflow().model_copy(update={"name": "Another workflow"})
    await orch.execute_workflow(renamed)
    assert work.started == ["a", "long", "a2"]  # no history under that name: path length
    store.close()


def test_past_durations_follow_runs_another_store_adds_or_changes(tmp_path):
    """A store remembers what it read of each past run; a run recorded (or recorded again)
    through another store on the same file is read anew."""
    from datetime import timedelta

    from stored_runs import NIGHTLY, T0, record_run

    from deeptui.store.durations import HALF_LIFE, expected_durations, weighted_median

    reader = RunStore(tmp_path / "history.db")
    writer = RunStore(tmp_path / "history.db", sync_commit=True)  # another process, in effect

    def plan(fetch: float, scan: float) -> dict[str, list[tuple[float, float, str]]]:
        return {"fetch": [(0, fetch, "completed")], "scan": [(fetch, fetch + scan, "completed")],
                "report": [(fetch + scan, fetch + scan + 1, "completed")]}

    hour = timedelta(hours=1)
    assert expected_durations(reader, NIGHTLY) == {}
    record_run(writer, NIGHTLY, "n1", T0, plan(2, 10), "completed")
    assert expected_durations(reader, NIGHTLY) == {"fetch": 2, "scan": 10, "report": 1}
    record_run(writer, NIGHTLY, "n2", T0 + hour, plan(4, 1), "completed")
    assert expected_durations(reader, NIGHTLY) == {"fetch": 4, "scan": 1, "report": 1}
    record_run(writer, NIGHTLY, "n3", T0 + 2 * hour, plan(3, 30), "completed")
    w = [0.5 ** (rank / HALF_LIFE) for rank in range(3)]
    assert expected_durations(reader, NIGHTLY) == {
        "fetch": weighted_median([(3, w[0]), (4, w[1]), (2, w[2])]),  # 3
        "scan": weighted_median([(30, w[0]), (1, w[1]), (10, w[2])]),  # 10: not the outlier
        "report": 1}
    record_run(writer, NIGHTLY, "n1", T0, plan(5, 8), "completed")  # n1 run again
    assert expected_durations(reader, NIGHTLY) == {
        "fetch": weighted_median([(3, w[0]), (4, w[1]), (5, w[2])]),  # 4
        "scan": weighted_median([(30, w[0]), (1, w[1]), (8, w[2])]), "report": 1}  # 8
    writer.close()
    reader.close()


async def test_a_run_this_store_finished_is_remembered_as_the_history_holds_it(tmp_path):
    """The next start takes the durations of a run the store's own writer recorded from what
    it wrote (no read of that run), and they are the ones the history holds: the same as a
    second store on the file reads, over completed, failed, retried and skipped tasks."""
    from deeptui.store.durations import expected_durations

    tries: dict[str, int] = {}

    def work(task, params, outputs):
        tries[task.id] = tries.get(task.id, 0) + 1
        if task.id == "flaky" and tries[task.id] == 1:
            raise RuntimeError("first try fails")
        if task.id == "broken":
            raise RuntimeError("always fails")
        return task.id

    once = RetryConfig(max_retries=1, initial_delay=0.0, jitter=0.0)
    tasks = [TaskDefinition(id=t, task_type="callable", parameters={"callable": "work"},
                            retry_config=once, depends_on=deps)
             for t, deps in (("a", []), ("flaky", ["a"]), ("b", ["a"]), ("broken", []),
                             ("after", ["broken"]))]
    workflow = WorkflowDefinition(id="mixed", name="Mixed", tasks=tasks)
    store = RunStore(tmp_path / "history.db")
    orchestrator = TaskOrchestrator(cache_config=CacheConfig(strategy="none"), store=store)
    orchestrator.register_callable("work", work)
    for _ in range(2):
        state = await orchestrator.execute_workflow(workflow)
        assert store.sync() is None
    assert state.task_results["after"].status.value == "skipped"
    reads: list[str] = []
    read = store._read
    store._read = lambda sql, args=(): reads.append(sql) or read(sql, args)
    remembered = expected_durations(store, workflow)
    assert not [sql for sql in reads if "json_group_object" in sql]  # nothing read back
    other = RunStore(tmp_path / "history.db")
    assert remembered == expected_durations(other, workflow)
    assert sorted(remembered) == ["a", "b", "flaky"]
    other.close()
    store.close()


def test_each_task_estimate_is_its_weighted_median_over_the_runs_that_ran_it():
    """`combine` (fast when every run has the same tasks) gives each task the weighted
    median of its own samples, whichever runs lack it, ties included."""
    import random

    from deeptui.store.durations import HALF_LIFE, combine, weighted_median

    rng = random.Random(15)
    for _ in range(300):
        runs = []
        for _ in range(rng.randint(0, 8)):
            ids = range(12) if rng.random() < 0.5 else rng.sample(range(12), rng.randint(0, 12))
            runs.append({f"t{i}": rng.choice([0.1, 0.2, 0.3, rng.random()]) for i in ids})
        present = [(0.5 ** (rank / HALF_LIFE), d) for rank, d in enumerate(runs) if d]
        expected = {}
        for task in set().union(*runs):
            samples = [(d[task], w) for w, d in present if task in d]
            expected[task] = samples[0][0] if len(samples) < 3 or len(present) < 3 \
                else weighted_median(samples)
        if len(present) < 3:  # one or two runs: the newer one's sample
            expected = {**present[-1][1], **present[0][1]} if present else {}
        assert combine(runs) == expected, runs
