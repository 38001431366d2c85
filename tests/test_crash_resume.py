"""kill -9 a process in the middle of a run, then resume it: finished work is not redone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from deeptui import OrchestrationConfig, TaskOrchestrator, TaskStatus, WorkflowStatus
from deeptui.cache import CacheConfig
from deeptui.errors import UnknownRunError
from deeptui.store import RunStore, resume_run

RUN_ID = "crash@run-1"
TASKS = 12

DRIVER = textwrap.dedent('''
    """Run a 12-task shell workflow, recording into the store; the test kills it."""
    import asyncio, sys
    from deeptui import OrchestrationConfig, TaskDefinition, TaskOrchestrator, WorkflowDefinition
    from deeptui.cache import CacheConfig
    from deeptui.store import RunStore

    db, workdir, run_id = sys.argv[1:4]

    def workflow():
        # a DAG: a0 -> (b0..b3) -> c0, c1 (two each) -> d0..d4 after c's
        deps = {"a0": [], "b0": ["a0"], "b1": ["a0"], "b2": ["a0"], "b3": ["a0"],
                "c0": ["b0", "b1"], "c1": ["b2", "b3"], "d0": ["c0"], "d1": ["c0"],
                "d2": ["c1"], "d3": ["c1"], "e0": ["d0", "d1", "d2", "d3"]}
        return WorkflowDefinition(id="crash", max_parallel_tasks=2, tasks=[
            TaskDefinition(id=tid, task_type="shell", depends_on=after, parameters={
                "command": f"echo {tid} >> out.txt; sleep 0.1; echo done-{tid}",
                "cwd": workdir})
            for tid, after in deps.items()])

    async def main():
        store = RunStore(db)
        orchestrator = TaskOrchestrator(config=OrchestrationConfig(),
                                        cache_config=CacheConfig(strategy="none"), store=store)
        print(run_id, flush=True)
        state = await orchestrator.execute_workflow(workflow(), run_id=run_id)
        store.close()
        print(state.status, flush=True)

    asyncio.run(main())
''')


def start_driver(tmp: Path) -> tuple[subprocess.Popen[str], Path, Path]:
    work = tmp / "work"
    work.mkdir()
    script = tmp / "driver.py"
    script.write_text(DRIVER)
    db = tmp / "history.db"
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(work), RUN_ID],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, db, work


def completed_in_store(store: RunStore) -> set[str]:
    try:
        stored = store.load_run(RUN_ID)
    except UnknownRunError:
        return set()
    return set(stored.state.completed_tasks)


def appearances(work: Path) -> Counter[str]:
    return Counter((work / "out.txt").read_text().split())


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    proc, db, work = start_driver(tmp_path_factory.mktemp("reference"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.split() == [RUN_ID, "completed"]
    with RunStore(db) as store:
        state = store.load_run(RUN_ID).state
    assert appearances(work) == Counter({tid: 1 for tid in state.task_results})
    return {tid: r.output for tid, r in state.task_results.items()}


@pytest.mark.parametrize("kill_after", [1, 5, 9])
async def test_resume_after_sigkill_runs_each_completed_task_once(
        tmp_path: Path, uninterrupted: dict[str, object], kill_after: int) -> None:
    proc, db, work = start_driver(tmp_path)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == RUN_ID
        with RunStore(db) as watcher:
            deadline = time.monotonic() + 30
            while len(completed_in_store(watcher)) < kill_after:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the driver made no progress"
                time.sleep(0.02)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    with RunStore(db) as store:  # reopened after the kill
        summary = store.list_runs()[0]
        assert summary.run_id == RUN_ID
        assert summary.status is WorkflowStatus.INTERRUPTED
        before = store.load_run(RUN_ID).state
        done_before = set(before.completed_tasks)
        assert len(done_before) >= kill_after
        assert not before.running_tasks  # running tasks of a dead process are not "running"

        orchestrator = TaskOrchestrator(config=OrchestrationConfig(),
                                        cache_config=CacheConfig(strategy="none"), store=store)
        state = await resume_run(orchestrator, store, RUN_ID)

        assert state.run_id == RUN_ID
        assert state.status is WorkflowStatus.COMPLETED
        assert all(r.status is TaskStatus.COMPLETED for r in state.task_results.values())
        counts = appearances(work)
        assert set(counts) == set(uninterrupted)  # every task ran
        assert {tid: counts[tid] for tid in done_before} == {tid: 1 for tid in done_before}
        assert {tid: r.output for tid, r in state.task_results.items()} == uninterrupted

        stored = store.load_run(RUN_ID)
        assert stored.summary.status is WorkflowStatus.COMPLETED
        assert stored.summary.resumes == 1
        assert {tid: r.output for tid, r in stored.state.task_results.items()} == uninterrupted
        assert stored.state.started_at == before.started_at  # the run keeps its start


KILLED_DRIVER = textwrap.dedent('''
    """Callable tasks in a chain; task number `stop` tells the test it started, then waits."""
    import asyncio, sys, time
    from pathlib import Path
    from deeptui import TaskDefinition, TaskOrchestrator, WorkflowDefinition
    from deeptui.cache import CacheConfig
    from deeptui.store import RunStore

    db, marker, stop, sync = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

    def work(task, params, outputs):
        if params["i"] == stop:
            marker.write_text("started")
            time.sleep(120)  # killed before it ends
        return {"i": params["i"], "text": "é" * params["i"]}

    async def main():
        store = RunStore(db, sync_commit=sync == "sync")
        orchestrator = TaskOrchestrator(cache_config=CacheConfig(strategy="none"), store=store)
        orchestrator.register_callable("work", work)
        tasks = [TaskDefinition(id=f"t{i:04d}", task_type="callable",
                                depends_on=[f"t{i - 1:04d}"] if i else [],
                                parameters={"callable": "work", "i": i}) for i in range(stop + 20)]
        await orchestrator.execute_workflow(WorkflowDefinition(id="killed", tasks=tasks),
                                            run_id="killed@1")

    asyncio.run(main())
''')


@pytest.mark.parametrize("finished", [3, 400])
def test_a_run_killed_after_n_tasks_finished_has_those_n_completed_with_outputs(
        tmp_path: Path, finished: int) -> None:
    """sync_commit: each task end is committed before the next task starts, so SIGKILL
    while task n+1 runs leaves exactly n completed tasks, with their outputs."""
    script, marker, db = tmp_path / "driver.py", tmp_path / "started", tmp_path / "history.db"
    script.write_text(KILLED_DRIVER)
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(marker), str(finished),
                             "sync"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the driver made no progress"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    with RunStore(db) as store:
        stored = store.load_run("killed@1")
    results = stored.state.task_results
    assert stored.summary.status is WorkflowStatus.INTERRUPTED
    assert [tid for tid, r in results.items() if r.status is TaskStatus.COMPLETED] == [
        f"t{i:04d}" for i in range(finished)]
    assert [results[f"t{i:04d}"].output for i in range(finished)] == [
        {"i": i, "text": "é" * i} for i in range(finished)]
    assert all(r.attempts == 1 and r.started_at and r.completed_at for r in
               list(results.values())[:finished])
    # the running one (its start may not be written: only ends are committed at once)
    assert results[f"t{finished:04d}"].status in (TaskStatus.CANCELLED, TaskStatus.PENDING)
    assert {r.status for r in list(results.values())[finished + 1:]} == {TaskStatus.PENDING}
