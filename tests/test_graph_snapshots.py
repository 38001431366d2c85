"""Snapshots of the run screen's DAG graph mid-run: the CI/CD template and a 30-task layered
workflow, at 80x24 and 160x48. Mid-run is made by the real engine: callable tasks wait on
events the test opens; times are pinned as in test_app_snapshots."""

from __future__ import annotations

import asyncio
import importlib.util
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import wait_for
from test_app_snapshots import T0, _pin
from deeptui import OrchestrationConfig, TaskOrchestrator
from deeptui.app import DeeptuiApp
from deeptui.models import RetryConfig, TaskDefinition, TaskStatus, WorkflowDefinition
from deeptui.screens.run import RunScreen
from deeptui.workflows.ci_cd import create_ci_cd_pipeline

ROOT = Path(__file__).resolve().parents[1]


def _layered(n: int) -> dict[str, list[str]]:
    spec = importlib.util.spec_from_file_location("bench_dags", ROOT / "benchmarks" / "_dags.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.layered(n)


def _gated(name: str, dag: dict[str, list[str]]) -> WorkflowDefinition:
    tasks = [TaskDefinition(id=t, task_type="callable", depends_on=deps, parameters={"callable": "gated"},
                            retry_config=RetryConfig(max_retries=0)) for t, deps in dag.items()]
    return WorkflowDefinition(id=name.lower().replace(" ", "-"), name=name, tasks=tasks,
                              max_parallel_tasks=len(tasks), continue_on_failure=True)


CI_CD = _gated("CI/CD Pipeline", {t.id: list(t.depends_on)
                                  for t in create_ci_cd_pipeline(deploy_target="staging").tasks})
LAYERED = _gated("Layered 30", _layered(30))
# (workflow, tasks completed before the snapshot, a failed one, the task selected)
CASES = {
    "ci_cd": (CI_CD, ["lint-code", "check-formatting", "run-tests"], None, "run-tests"),
    "layered30": (LAYERED, [f"t{i:05d}" for i in (*range(9), 12)], "t00021", "t00009"),
}


def make_app() -> DeeptuiApp:
    orch = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0.0, 0.0)))
    gates: dict[str, asyncio.Event] = {}

    async def gated(task, parameters, deps):
        await gates.setdefault(task.id, asyncio.Event()).wait()
        if task.id == app.failing:  # type: ignore[attr-defined]
            raise RuntimeError("exit status 1")
        return task.id

    orch.register_callable("gated", gated)
    app = DeeptuiApp(orchestrator=orch)
    app.gates = gates  # type: ignore[attr-defined]
    app.clock = lambda: T0 + timedelta(seconds=12.5)
    app.log_times = False
    return app


def mid_run(case: str):
    workflow, done, failing, select = CASES[case]

    async def run_before(pilot) -> None:
        app = pilot.app
        app.failing = failing
        orch = app.orchestrator
        run_id = orch.start_workflow(workflow, run_id=f"{workflow.id}@snapshot")
        results = orch.find_run(run_id).state.task_results
        finishing = [*done, *([failing] if failing else [])]
        for task_id in finishing:
            await wait_for(pilot, lambda: results[task_id].status is TaskStatus.RUNNING)
            app.gates.setdefault(task_id, asyncio.Event()).set()
            await wait_for(pilot, lambda: results[task_id].status.finished)
        # everything whose dependencies are done runs (no parallel limit), the rest waits
        ready = [t.id for t in workflow.tasks if not results[t.id].status.finished
                 and all(results[d].status is TaskStatus.COMPLETED for d in t.depends_on)]
        await wait_for(pilot, lambda: all(results[t].status is TaskStatus.RUNNING for t in ready))
        _pin(orch.find_run(run_id).state)
        app.open_run(run_id)
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and bool(app.screen.query("#dag")))
        app.screen.select_task(select)
        await wait_for(pilot, lambda: app.screen.log_view.task_id == select)
        app.screen.refresh_all()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("case", list(CASES))
def test_graph_view_mid_run(snap_compare, case, size):
    app = make_app()
    assert snap_compare(app, terminal_size=size, run_before=mid_run(case))
