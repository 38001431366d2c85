"""A headless run of tens of thousands of tasks, as a user runs it: Ctrl-C in the middle
stops it with its finished tasks kept in the history, the summary's counts match the
history's, and a large run makes no full garbage collection while it runs."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

from test_cli import cli_env, deeptui
from test_signals import wait_for_files

from deeptui import CacheConfig, OrchestrationConfig, TaskOrchestrator
from deeptui.cli.gc_policy import LARGE_RUN, headless_run_gc
from deeptui.models import TaskDefinition, WorkflowDefinition

NOOP = {"task_type": "callable", "parameters": {"callable": "noop"}}


def gated_file(home: Path, n: int) -> Path:
    """``n`` no-op tasks, a shell task after all of them that writes ``gate.started`` and
    sleeps, then ``n`` no-op tasks after it: while the gate sleeps, half the run is done."""
    first = [{"id": f"a{i:05d}", **NOOP} for i in range(n)]
    gate = {"id": "gate", "task_type": "shell", "depends_on": [t["id"] for t in first],
            "parameters": {"command": "echo started > gate.started; sleep 300"}}
    second = [{"id": f"b{i:05d}", **NOOP, "depends_on": ["gate"]} for i in range(n)]
    path = home / "gated.json"
    path.write_text(json.dumps({"id": "gated", "max_parallel_tasks": 8,
                                "tasks": [*first, gate, *second]}))
    return path


def test_ctrl_c_in_a_20000_task_run_keeps_its_finished_tasks(tmp_path: Path) -> None:
    n = 10_000
    path = gated_file(tmp_path, n)
    proc = subprocess.Popen([sys.executable, "-m", "deeptui.cli", "run", str(path),
                             "--headless", "--run-id", "big"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env(tmp_path),
                            cwd=tmp_path)
    try:
        wait_for_files([tmp_path / "gate.started"], proc, timeout=240)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 1, (proc.returncode, out[-2000:], err)
    assert "Traceback" not in out + err, err
    assert "SIGINT: cancelling the run" in out
    assert "✗ run big cancelled" in out
    # the summary a user reads: every task accounted for
    summary = re.search(r"^(\d+)/(\d+) tasks  ·  (.*)  ·  [\d.]+s$", out, re.M)
    assert summary is not None, out[-2000:]
    assert summary[1] == summary[2] == str(2 * n + 1)
    counts = {k: int(v) for v, k in (part.split() for part in summary[3].split("  "))}
    assert counts == {"completed": n, "cancelled": n + 1}, counts  # the gate and the rest
    rows = [line.split()[1:3] for line in out.splitlines() if re.match(r" . +[ab]\d{5} ", line)]
    assert len(rows) == 2 * n
    # the history has the run as cancelled, the first half completed, none of it lost
    shown = deeptui(tmp_path, "history", "show", "big", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["status"] == "cancelled"
    statuses = {t["id"]: t["status"] for t in doc["tasks"]}
    assert len(statuses) == 2 * n + 1 and statuses["gate"] == "cancelled"
    assert all(statuses[f"a{i:05d}"] == "completed" for i in range(n))
    assert all(statuses[f"b{i:05d}"] == "cancelled" for i in range(n))


async def _noop(task, parameters, dependency_outputs):  # noqa: ANN001
    return None


def test_a_large_headless_run_collects_rarely_never_fully_and_restores_the_thresholds() -> None:
    workflow = WorkflowDefinition(id="many", max_parallel_tasks=8, tasks=[
        TaskDefinition(id=f"t{i}", task_type="callable", parameters={"callable": "mine"},
                       depends_on=[f"t{i - 1}"] if i % 10 else [])
        for i in range(LARGE_RUN)])
    collections: list[int] = []  # the generation of each collection

    def count(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(info["generation"])

    def run() -> list[int]:
        orch = TaskOrchestrator(config=OrchestrationConfig(),
                                cache_config=CacheConfig(strategy="none"))
        orch.register_callable("mine", _noop)
        collections.clear()
        gc.callbacks.append(count)
        try:
            state = asyncio.run(orch.execute_workflow(workflow))
        finally:
            gc.callbacks.remove(count)
            orch.close()
        assert len(state.completed_tasks) == LARGE_RUN
        return list(collections)

    before = gc.get_threshold()
    usual = run()
    with headless_run_gc(len(workflow.tasks)):
        assert gc.get_threshold() != before
        tuned = run()
    assert gc.get_threshold() == before
    gc.unfreeze()  # (the policy froze the run's objects; this process goes on)
    assert 2 not in tuned, tuned
    assert len(tuned) * 4 < len(usual), (len(tuned), len(usual))


def test_the_live_view_of_a_big_run_shows_running_then_failed_then_the_latest_finished() -> None:
    from datetime import UTC, datetime, timedelta

    from rich.console import Console

    from deeptui.cli.headless import MAX_ROWS, render
    from deeptui.models import TaskResult, TaskStatus, WorkflowState

    start = datetime(2026, 1, 1, tzinfo=UTC)
    results = {f"done-{i}": TaskResult(task_id=f"done-{i}", status=TaskStatus.COMPLETED,
                                       attempts=1, started_at=start,
                                       completed_at=start + timedelta(seconds=(i * 7) % 1000))
               for i in range(1000)}
    results |= {f"wait-{i}": TaskResult(task_id=f"wait-{i}") for i in range(1000)}
    results["run-b"] = TaskResult(task_id="run-b", status=TaskStatus.RUNNING, started_at=start)
    results["bad"] = TaskResult(task_id="bad", status=TaskStatus.FAILED, error="boom",
                                completed_at=start)
    results["run-a"] = TaskResult(task_id="run-a", status=TaskStatus.RUNNING, started_at=start)
    state = WorkflowState(workflow_id="w", run_id="w@1", task_results=results)
    progress = {"total_tasks": len(results), "finished": 1001, "percent": 49.9,
                "completed": 1000, "running": 2, "failed": 1, "pending": 1000}
    console = Console(width=120, record=True, force_terminal=True)
    console.print(render(state, progress, 3.0))
    screen = console.export_text()
    shown = [line.split()[1] for line in screen.splitlines()
             if line.split() and line.split()[0] in "⟳✗✓○"]
    latest = sorted(range(1000), key=lambda i: -((i * 7) % 1000))[:MAX_ROWS - 3]
    assert shown == ["run-b", "run-a", "bad", *(f"done-{i}" for i in latest)]
    assert f"{len(results) - MAX_ROWS} more not shown" in screen
