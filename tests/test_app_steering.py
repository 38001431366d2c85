"""One way to steer a run: the run screen, the cache screen and quitting all call the
orchestrator's steering methods, and the bus carries no commands.

The orchestrator here records every call to its steering methods (then does the real
work); the app is driven with keys, as a user would.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from deeptui import OrchestrationConfig, TaskOrchestrator
from deeptui.app import DeeptuiApp
from deeptui.models import RetryConfig, TaskDefinition, TaskStatus, WorkflowDefinition
from deeptui.screens.cache import CacheScreen
from deeptui.screens.confirm import ConfirmScreen
from deeptui.screens.run import RunScreen
from deeptui.widgets.cache_table import CacheTable

STEERING = ("cancel_task", "retry_task", "cancel_workflow", "answer_approval", "apply_changes",
            "invalidate_cache", "clear_cache")


class RecordingOrchestrator(TaskOrchestrator):
    """A real orchestrator that notes each call of a steering method, in order."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.steered: list[tuple[Any, ...]] = []
        for name in STEERING:
            real = getattr(self, name)

            def record(*args: Any, _name: str = name, _real: Any = real) -> Any:
                self.steered.append((_name, *args))
                return _real(*args)

            setattr(self, name, record)


async def wait_for(pilot, condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.02)


async def test_run_screen_cache_screen_and_quit_steer_through_the_orchestrator_methods():
    orch = RecordingOrchestrator(config=OrchestrationConfig(simulated_latency=(0.0, 0.0)))
    release = asyncio.Event()

    async def quick(task, parameters, deps):
        return f"{task.id} done"

    async def slow(task, parameters, deps):
        await release.wait()
        return "never"

    orch.register_callable("quick", quick)
    orch.register_callable("slow", slow)
    no_retry = RetryConfig(max_retries=0)
    workflow = WorkflowDefinition(id="steer", name="Steering", continue_on_failure=True, tasks=[
        TaskDefinition(id="quick", task_type="callable", parameters={"callable": "quick"}),
        TaskDefinition(id="slow", task_type="callable", parameters={"callable": "slow"},
                       retry_config=no_retry),
    ])
    assert not hasattr(orch.bus, "send")  # no second way in: the bus only carries events out
    app = DeeptuiApp(orchestrator=orch)
    async with app.run_test(size=(120, 40)) as pilot:
        run_id = app.start_run(workflow)
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen)
                       and bool(app.screen.query("#dag")))
        screen = app.screen
        results = screen.state.task_results
        await wait_for(pilot, lambda: results["quick"].status is TaskStatus.COMPLETED
                       and results["slow"].status is TaskStatus.RUNNING)
        screen.select_task("slow")
        await pilot.press("c")  # the run screen: cancel the task
        await wait_for(pilot, lambda: results["slow"].status is TaskStatus.CANCELLED)
        await pilot.press("r")  # ... and retry it: the run goes on
        await wait_for(pilot, lambda: results["slow"].status is TaskStatus.RUNNING)

        await pilot.press("k")  # the cache screen: invalidate the quick task's entry
        await wait_for(pilot, lambda: isinstance(app.screen, CacheScreen)
                       and app.screen.query_one(CacheTable).row_count == 1)
        app.screen.query_one(CacheTable).move_cursor(row=0)
        await pilot.press("i")
        await wait_for(pilot, lambda: len(orch.cache) == 0)

        await pilot.press("ctrl+q")  # quitting with the run still going: asked, then cancelled
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running)
    assert orch.steered == [
        ("cancel_task", run_id, "slow"),
        ("retry_task", run_id, "slow"),
        ("invalidate_cache", "quick"),
        ("cancel_workflow", run_id),
    ]
    assert results["slow"].status is TaskStatus.CANCELLED
    release.set()
