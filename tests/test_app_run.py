"""The run screen driven with the real engine: cancel, retry, cancel the run, select, filter, export."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conftest import wait_for
from deeptui import OrchestrationConfig, TaskOrchestrator
from deeptui.app import DeeptuiApp
from deeptui.models import (
    RetryConfig,
    TaskDefinition,
    TaskStatus,
    WorkflowDefinition,
    WorkflowStatus,
)
from deeptui.screens.confirm import ConfirmScreen
from deeptui.screens.help import HelpScreen
from deeptui.screens.run import RunScreen

NO_RETRY = RetryConfig(max_retries=0)


class Gates:
    """A callable whose tasks wait until the test opens their gate; ``fail`` makes a task raise."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.fail: set[str] = set()
        self.calls: dict[str, int] = {}

    def gate(self, task_id: str) -> asyncio.Event:
        return self.gates.setdefault(task_id, asyncio.Event())

    def open(self, *task_ids: str) -> None:
        for task_id in task_ids:
            self.gate(task_id).set()

    async def __call__(self, task, parameters, dependency_outputs):
        self.calls[task.id] = self.calls.get(task.id, 0) + 1
        await self.gate(task.id).wait()
        if task.id in self.fail:
            raise RuntimeError(f"{task.id} broke")
        return f"{task.id} output"


def gated(task_id: str, *deps: str) -> TaskDefinition:
    return TaskDefinition(id=task_id, task_type="callable", depends_on=list(deps),
                          parameters={"callable": "gated"}, retry_config=NO_RETRY)


def workflow(*tasks: TaskDefinition, continue_on_failure: bool = True) -> WorkflowDefinition:
    return WorkflowDefinition(id="steer", name="Steering test", tasks=list(tasks),
                              continue_on_failure=continue_on_failure, max_parallel_tasks=5)


@pytest.fixture
def gates() -> Gates:
    return Gates()


@pytest.fixture
def app(gates: Gates) -> DeeptuiApp:
    orch = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0.0, 0.0),
                                                       simulated_seed=1))
    orch.register_callable("gated", gates)
    return DeeptuiApp(orchestrator=orch)


async def start(pilot, app: DeeptuiApp, wf: WorkflowDefinition) -> RunScreen:
    """Start ``wf`` the way the screens do and wait for its run screen to be on show."""
    run_id = app.start_run(wf)
    await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.run_id == run_id
                   and bool(app.screen.query("#dag")))
    return app.screen


async def select(pilot, screen: RunScreen, task_id: str) -> None:
    """Move the selection with the arrow keys, as a user would: in the graph, up/down between
    layers and left/right within one."""
    boxes = screen.dag.graph.geometry.boxes
    for _ in range(50):
        if screen.selected == task_id:
            return
        here, there = boxes[screen.selected], boxes[task_id]
        if here.layer != there.layer:
            key = "down" if there.layer > here.layer else "up"
        else:
            key = "right" if there.x > here.x else "left"
        await pilot.press(key)
    raise AssertionError(f"could not select {task_id}")


async def test_cancel_key_cancels_running_task_and_skips_its_dependents(app, gates):
    wf = workflow(gated("a"), gated("b", "a"), gated("c", "b"), gated("d"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(pilot, app, wf)
        run_id = screen.run_id
        assert isinstance(screen, RunScreen) and screen.run_id == run_id
        gates.open("a")
        await wait_for(pilot, lambda: screen.state.task_results["b"].status is TaskStatus.RUNNING)
        await select(pilot, screen, "b")
        await pilot.press("c")
        await wait_for(pilot, lambda: screen.state.task_results["c"].status is TaskStatus.SKIPPED)
        assert screen.state.task_results["b"].status is TaskStatus.CANCELLED
        gates.open("d")
        await wait_for(pilot, lambda: screen.state.status.finished)
        await wait_for(pilot, lambda: "■ b" in _dag_text(screen))  # the panel shows it
        assert "⊘ c" in _dag_text(screen)
        assert screen.state.task_results["d"].status is TaskStatus.COMPLETED


def _dag_text(screen: RunScreen) -> str:
    return "\n".join(screen.dag.line_text(n) for n in range(screen.dag.line_count))


async def test_retry_key_reruns_failed_task_and_its_downstream(app, gates):
    gates.fail.add("b")
    wf = workflow(gated("a"), gated("b", "a"), gated("c", "b"), continue_on_failure=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(pilot, app, wf)
        gates.open("a", "b", "c")
        await wait_for(pilot, lambda: screen.state.status is WorkflowStatus.FAILED)
        assert screen.state.task_results["c"].status is TaskStatus.SKIPPED
        await select(pilot, screen, "b")
        await wait_for(pilot, lambda: "b broke" in screen.log_view.plain_text())
        gates.fail.clear()
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.state.status is WorkflowStatus.COMPLETED)
        assert screen.state.task_results["b"].status is TaskStatus.COMPLETED
        assert screen.state.task_results["c"].status is TaskStatus.COMPLETED
        assert gates.calls == {"a": 1, "b": 2, "c": 1}
        await wait_for(pilot, lambda: "COMPLETED" in str(
            screen.query_one("#run-title").content))


async def test_ctrl_x_asks_then_cancels_the_run(app, gates):
    wf = workflow(gated("a"), gated("b", "a"), gated("c"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(pilot, app, wf)
        await wait_for(pilot, lambda: screen.state.task_results["a"].status is TaskStatus.RUNNING)
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # keep running
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.state.status is WorkflowStatus.RUNNING
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.click("#confirm-yes")
        await wait_for(pilot, lambda: screen.state.status is WorkflowStatus.CANCELLED)
        assert app.screen is screen


async def test_cancel_on_a_finished_task_is_refused_with_a_message(app, gates):
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(pilot, app, workflow(gated("a")))
        gates.open("a")
        await wait_for(pilot, lambda: screen.state.status.finished)
        await pilot.press("c")
        await pilot.pause()
        assert any("Cannot cancel a" in n.message for n in app._notifications)
        assert screen.state.task_results["a"].status is TaskStatus.COMPLETED


async def test_click_selects_a_task_and_shows_its_details(app, gates):
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(pilot, app, workflow(gated("first"), gated("second", "first")))
        gates.open("first", "second")
        await wait_for(pilot, lambda: screen.state.status.finished)
        row = next(n for n in range(screen.dag.line_count) if "second" in screen.dag.line_text(n)
                   and "depends" in screen.dag.line_text(n))
        await pilot.click("#dag", offset=(4, row + 1))  # +1: the panel's border
        await wait_for(pilot, lambda: screen.selected == "second")
        detail = str(screen.query_one("#task-detail").render())
        assert screen.selected == "second"
        assert detail  # rendered
        assert "second output" in _detail_text(app)


def _detail_text(app: DeeptuiApp) -> str:
    from rich.console import Console

    console = Console(width=80, record=True)
    console.print(app.screen.query_one("#task-detail").content)
    return console.export_text()


async def test_filter_narrows_the_dag_to_matching_tasks_and_escape_clears_it(app, gates):
    gates.fail.add("bad")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(pilot, app, workflow(gated("good"), gated("bad"), gated("other")))
        gates.open("good", "bad", "other")
        await wait_for(pilot, lambda: screen.state.status.finished)
        await pilot.press("slash")
        await pilot.press(*"failed")
        await wait_for(pilot, lambda: screen.dag.task_ids == ["bad"])
        assert screen.selected == "bad"
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(screen.dag.task_ids) == 3)


async def test_export_writes_the_selected_tasks_log_and_output(app, gates, tmp_path: Path):
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(pilot, app, workflow(gated("a")))
        gates.open("a")
        await wait_for(pilot, lambda: screen.state.status.finished)
        screen.action_export(str(tmp_path))
        written = list(tmp_path.glob("*.log"))
        assert len(written) == 1 and written[0].name.endswith("-a.log")
        assert "a output" in written[0].read_text()
        await pilot.press("y")
        await pilot.pause()
        assert any("Copied a's output" in n.message for n in app._notifications)


async def test_exports_of_tasks_a_slash_b_and_a_b_do_not_overwrite_each_other(
        app, gates, tmp_path: Path):
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(pilot, app, workflow(gated("a/b"), gated("a_b")))
        gates.open("a/b", "a_b")
        await wait_for(pilot, lambda: screen.state.status.finished)
        for task_id in ("a/b", "a_b"):
            await select(pilot, screen, task_id)
            screen.action_export(str(tmp_path))
        written = sorted(tmp_path.glob("*.log"))
        assert len(written) == 2, written  # two files, each in the export folder
        assert sorted("a/b output" in w.read_text() for w in written) == [False, True]
        assert all(w.parent == tmp_path for w in written)


async def test_leaving_a_run_keeps_it_running_and_the_runs_tab_reopens_it(app, gates):
    async with app.run_test(size=(120, 40)) as pilot:
        run_id = (await start(pilot, app, workflow(gated("a")))).run_id
        await pilot.press("q")
        await wait_for(pilot, lambda: not isinstance(app.screen, RunScreen))
        assert app.orchestrator.find_run(run_id).state.status is WorkflowStatus.RUNNING
        await pilot.press("3")
        await wait_for(pilot, lambda: app.screen.query_one("#open-runs").option_count == 1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        assert app.screen.run_id == run_id
        gates.open("a")
        await wait_for(pilot, lambda: app.screen.state.status is WorkflowStatus.COMPLETED)


async def test_quitting_with_a_running_run_asks_first(app, gates):
    async with app.run_test(size=(120, 40)) as pilot:
        await start(pilot, app, workflow(gated("a")))
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("ctrl+q")  # pressed again: still one question, not two
        await pilot.pause()
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        assert app.is_running
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        gates.open("a")


async def test_a_burst_of_events_is_applied_in_few_repaints(gates):
    orch = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0.0, 0.0)))

    go = asyncio.Event()

    async def quick(task, parameters, deps):
        await go.wait()
        return task.id

    orch.register_callable("quick", quick)
    tasks = [TaskDefinition(id=f"t{n:03d}", task_type="callable", parameters={"callable": "quick"})
             for n in range(300)]
    app = DeeptuiApp(orchestrator=orch)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(pilot, app, WorkflowDefinition(id="burst", tasks=tasks,
                                                             max_parallel_tasks=300))
        go.set()
        await wait_for(pilot, lambda: screen.state.status.finished, timeout=20)
        await wait_for(pilot, lambda: "300/300" in str(screen.query_one("#run-stats").content))
        assert screen.events_seen >= 300, screen.events_seen  # (a full queue coalesces events)
        assert screen.batches < screen.events_seen / 10


async def click_action(pilot, screen: RunScreen, binding_id: str) -> None:
    """Click an item of the run screen's action bar, as a mouse user would."""
    x, y = screen.query_one("#run-actions").positions[binding_id]
    await pilot.click("#run-actions", offset=(x + 1, y))


async def test_clicking_cancel_task_in_the_action_bar_cancels_it(app, gates):
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(pilot, app, workflow(gated("a"), gated("b", "a")))
        await wait_for(pilot, lambda: screen.state.task_results["a"].status is TaskStatus.RUNNING)
        assert screen.selected == "a"
        await click_action(pilot, screen, "cancel_task")
        await wait_for(pilot, lambda: screen.state.task_results["a"].status is TaskStatus.CANCELLED)
        await wait_for(pilot, lambda: screen.state.task_results["b"].status is TaskStatus.SKIPPED)
        await click_action(pilot, screen, "retry_task")
        await wait_for(pilot, lambda: screen.state.task_results["a"].status is TaskStatus.RUNNING)
        gates.open("a", "b")
        await wait_for(pilot, lambda: screen.state.status is WorkflowStatus.COMPLETED)


async def test_every_run_screen_action_is_clickable_at_80_columns(app, gates, tmp_path: Path,
                                                                   monkeypatch):
    from deeptui.screens.metrics import MetricsScreen
    from deeptui.screens.run import ACTIONS, OPTIONAL

    monkeypatch.chdir(tmp_path)  # where Export writes
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(pilot, app, workflow(gated("a"), gated("b")))
        bar = screen.query_one("#run-actions")
        every = {binding_id for binding_id, _ in ACTIONS}
        assert every - set(OPTIONAL) <= set(bar.positions) <= every
        assert bar.region.height == 3  # the optional ones fill the rows, they add none
        assert all(y < bar.region.height for _, y in bar.positions.values())  # none cut off
        await click_action(pilot, screen, "follow")
        await wait_for(pilot, lambda: not screen.log_view.follow)
        await click_action(pilot, screen, "export")
        await wait_for(pilot, lambda: len(list(tmp_path.glob("*.log"))) == 1)
        await click_action(pilot, screen, "filter")
        await wait_for(pilot, lambda: screen.query_one("#run-filter").has_focus)
        await pilot.press("escape")
        await click_action(pilot, screen, "cancel_run")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.click("#confirm-no")
        await wait_for(pilot, lambda: app.screen is screen)
        await click_action(pilot, screen, "metrics")
        await wait_for(pilot, lambda: isinstance(app.screen, MetricsScreen))
        app.pop_screen()
        await wait_for(pilot, lambda: app.screen is screen)
        await click_action(pilot, screen, "run_back")
        await wait_for(pilot, lambda: not isinstance(app.screen, RunScreen))
        gates.open("a", "b")


async def test_the_dag_views_own_keys_are_in_the_action_bar_and_clickable(app, gates):
    from deeptui.screens.run import ACTIONS
    from deeptui.widgets.timeline import TimelineView

    async with app.run_test(size=(160, 48)) as pilot:
        screen = await start(pilot, app, workflow(gated("a"), gated("b", "a")))
        bar = screen.query_one("#run-actions")
        assert set(bar.positions) == {binding_id for binding_id, _ in ACTIONS}  # all fit
        assert "g Graph/list" in bar.render().plain and "F Follow running" in bar.render().plain
        assert screen.dag.mode == "graph"
        await click_action(pilot, screen, "toggle_graph")
        await wait_for(pilot, lambda: screen.dag.mode == "list")
        await click_action(pilot, screen, "follow_frontier")
        await wait_for(pilot, lambda: "following the frontier" in screen.dag.border_title)
        await click_action(pilot, screen, "timeline")
        await wait_for(pilot, lambda: bool(screen.query(TimelineView)))
        gates.open("a", "b")


async def test_a_followed_log_rewraps_and_keeps_its_last_line_in_view_after_a_resize(app, gates):
    lines = [(0.0, "stdout", f"line {n:03d} " + "word " * 25) for n in range(120)]
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(pilot, app, workflow(gated("a")))
        gates.open("a")
        await wait_for(pilot, lambda: screen.state.status.finished)
        log = screen.log_view
        log.show("a", lines)
        await pilot.pause()
        assert log.follow and log.scroll_y == log.max_scroll_y > 0
        for size in ((80, 24), (120, 40)):  # narrow layout, then wide again
            await pilot.resize_terminal(*size)
            await pilot.pause()
            await pilot.pause()
            assert log.follow
            assert log.scroll_y == log.max_scroll_y, size  # the newest line is in view
            assert log.virtual_size.width <= log.scrollable_content_region.width, size  # no line cut
        await pilot.press("f")  # paused: a resize does not start following again
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not log.follow
        assert "line 119" in log.plain_text()


async def test_a_filter_that_matches_nothing_leaves_no_hidden_task_to_act_on(app, gates):
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(pilot, app, workflow(gated("a"), gated("b")))
        await wait_for(pilot, lambda: screen.state.task_results["a"].status is TaskStatus.RUNNING)
        await pilot.press("slash", *"zzz", "enter")
        await wait_for(pilot, lambda: screen.dag.task_ids == [])
        await pilot.press("c")  # on a task the user cannot see: refused, not done
        await pilot.pause()
        assert screen.selected is None
        assert screen.state.task_results["a"].status is TaskStatus.RUNNING
        assert any("No task selected" in n.message for n in app._notifications)
        await pilot.press("escape")  # cleared: the first task is selected again
        await wait_for(pilot, lambda: screen.selected == "a")
        gates.open("a", "b")


async def test_a_failed_run_shows_its_failures_in_the_bar_and_counts_only_completed_tasks(
        app, gates):
    from deeptui.widgets.run_header import SegmentedBar

    gates.fail.add("b")
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await start(pilot, app, workflow(gated("a"), gated("b"), gated("c", "b"),
                                                  gated("d")))
        gates.open("a", "b", "d")
        await wait_for(pilot, lambda: screen.state.status is WorkflowStatus.FAILED)
        await wait_for(pilot, lambda: "4/4 finished" in str(screen.query_one("#run-stats").content))
        bar = screen.query_one("#run-progress", SegmentedBar).render()
        assert bar.plain.endswith(" 50%")  # 2 of 4 completed, though all 4 finished
        colours = {str(span.style) for span in bar.spans if span.end > span.start}
        assert {"green", "red", "grey50"} <= colours  # completed, failed, skipped (c)


async def test_a_cancelled_then_retried_task_shows_a_separator_between_its_attempts(app, gates):
    """The cancelled attempt's unfinished text stays on its own line, then a rule, then the
    next attempt's text: they never run together."""
    async def streaming(task, parameters, dependency_outputs):
        await gates.gate("screen").wait()  # the test knows the run id
        run = app.orchestrator.find_run(screen.run_id)
        calls = gates.calls[task.id] = gates.calls.get(task.id, 0) + 1
        run.state_manager.log(task.id, "text", f"attempt{calls} half a sent")  # no newline yet
        await gates.gate(f"{task.id}#{calls}").wait()
        run.state_manager.log(task.id, "text", "ence\n")
        return "done"

    app.orchestrator.register_callable("streaming", streaming)
    task = TaskDefinition(id="writer", task_type="callable", parameters={"callable": "streaming"},
                          retry_config=NO_RETRY)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await start(pilot, app, workflow(task))
        gates.open("screen")
        results = screen.state.task_results
        await wait_for(pilot, lambda: "attempt1 half a sent" in screen.log_view.plain_text())
        await pilot.press("c")
        await wait_for(pilot, lambda: results["writer"].status is TaskStatus.CANCELLED)
        await pilot.press("r")
        await wait_for(pilot, lambda: "attempt2 half a sent" in screen.log_view.plain_text())
        gates.open("writer#2")
        await wait_for(pilot, lambda: results["writer"].status is TaskStatus.COMPLETED)
        await wait_for(pilot, lambda: len(screen.log_view.lines) >= 3)
        shown = [strip.text for strip in screen.log_view.lines]
        first = next(i for i, line in enumerate(shown) if "attempt1 half a sent" in line)
        assert shown[first].rstrip().endswith("attempt1 half a sent")  # not joined to attempt 2
        assert shown[first + 1].startswith("── attempt 2 ──")
        assert "attempt2 half a sentence" in shown[first + 2], shown
        # the same separator when the log is shown again (select away and back)
        screen.log_view.show(None, [])
        screen._show_task("writer")
        await pilot.pause()
        assert [strip.text for strip in screen.log_view.lines] == shown


async def test_clearing_the_filter_keeps_the_task_the_user_had_selected(app, gates):
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(pilot, app, workflow(gated("good"), gated("bad"), gated("other")))
        await select(pilot, screen, "other")
        await pilot.press("slash", *"zzz")  # matches nothing on the way
        await wait_for(pilot, lambda: screen.dag.task_ids == [])
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(screen.dag.task_ids) == 3)
        assert screen.selected == "other"  # not the first task
        await wait_for(pilot, lambda: screen.log_view.task_id == "other")
        gates.open("good", "bad", "other")


async def test_at_80x24_the_dag_shows_eight_rows_and_cut_lines_end_in_an_ellipsis(app, gates):
    long_id = "transform-the-quarterly-sales-figures-into-a-report-for-the-board"
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(pilot, app, workflow(gated("a"), gated(long_id, "a")))
        await pilot.pause()
        assert screen.dag.graph.scrollable_content_region.height >= 8
        await pilot.press("g")  # the level list, where lines can be cut
        await pilot.pause()
        dag = screen.dag.list
        assert dag.scrollable_content_region.height >= 8
        rows = [dag.render_line(y).text for y in range(dag.line_count)]
        cut = next(row for row in rows if "transform-the" in row)
        assert cut.endswith("…") and len(cut) == dag.scrollable_content_region.width
        assert not any(row.rstrip().endswith("…") for row in rows if "transform" not in row)
        gates.open("a", long_id)


async def test_the_following_label_of_the_log_is_readable(app, gates):
    def luminance(color) -> float:
        def channel(c: int) -> float:
            c = c / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
        return 0.2126 * channel(color.r) + 0.7152 * channel(color.g) + 0.0722 * channel(color.b)

    async with app.run_test(size=(120, 30)) as pilot:
        screen = await start(pilot, app, workflow(gated("a")))
        log = screen.log_view
        assert log.border_subtitle == "following"
        background = log.background_colors[1]
        label = background + log.styles.border_subtitle_color
        bright, dark = sorted((luminance(label), luminance(background)), reverse=True)
        assert (bright + 0.05) / (dark + 0.05) >= 4.5  # WCAG AA for text
        gates.open("a")
