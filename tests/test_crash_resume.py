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
