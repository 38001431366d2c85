"""Shell output however it comes: lines longer than asyncio's 64 KiB stream limit are
read whole (the output keeps them; only the log view cuts them on screen)."""

from __future__ import annotations

import sys

import pytest

from deeptui import CacheConfig, OrchestrationConfig, TaskOrchestrator
from deeptui.models import RetryConfig, TaskDefinition


@pytest.fixture
def orch():
    orchestrator = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0, 0.01)),
                                    cache_config=CacheConfig(strategy="none"))
    yield orchestrator
    orchestrator.close()


async def test_a_line_longer_than_64_kib_is_kept_whole_in_one_attempt(orch):
    result = await orch.execute_task(TaskDefinition(
        id="long", task_type="shell", retry_config=RetryConfig(max_retries=2),
        parameters={"command": [sys.executable, "-c",
                                "print('x' * 70000); print('tail', end='')"]}))
    assert (result.status, result.attempts) == ("completed", 1), result.error
    assert result.output == "x" * 70000 + "\ntail"


async def test_the_log_view_cuts_a_huge_line_on_screen_and_keeps_it_whole_in_its_text():
    from textual.app import App, ComposeResult

    from deeptui.widgets.task_log import DISPLAY_LINE_CHARS, TaskLogView

    class LogApp(App[None]):
        def compose(self) -> ComposeResult:
            yield TaskLogView()

    line = "y" * 1_000_000
    app = LogApp()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(TaskLogView)
        view.show("long", [(0.0, "info", "before"), (0.0, "stdout", line), (0.0, "stdout", "after")])
        await pilot.pause()
        shown = "\n".join(strip.text for strip in view.lines)
        assert "before" in shown and "after" in shown  # the long line did not push them out
        assert shown.count("y") == DISPLAY_LINE_CHARS
        assert "(990,000 more characters)" in shown
        assert line in view.plain_text()
