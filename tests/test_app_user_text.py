"""The app with hostile user text and big files, driven by the pilot.

Task ids, errors and outputs holding Rich markup (``deploy[/]``, ``test[py311]``,
``[link=x]``) or terminal controls (ESC, BEL) show as written on every screen
(DAG, task detail, notifications, palette) and never crash the app; a
10,000-task workflow file opens from the Files tab without freezing the app.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import wait_for
from deeptui import OrchestrationConfig, TaskOrchestrator
from deeptui.app import DeeptuiApp
from deeptui.models import RetryConfig, TaskDefinition, WorkflowDefinition
from deeptui.screens.parameters import ParametersScreen
from deeptui.screens.run import RunScreen
from deeptui.screens.start import StartScreen

ESC_ID = "esc\x1b]0;TITLE\x07"
NO_RETRY = RetryConfig(max_retries=0)


def task(tid: str, *deps: str) -> TaskDefinition:
    return TaskDefinition(id=tid, task_type="callable", depends_on=list(deps),
                          parameters={"callable": "work"}, retry_config=NO_RETRY)


GATE: dict[str, asyncio.Event] = {}


async def work(task, parameters, deps):
    if "open" in GATE:  # the run waits until its screen is open (it sees the run end)
        await GATE["open"].wait()
    if task.id == "deploy[/]":
        raise RuntimeError("broke [/] [link=x]here[/link] \x1b]52;c;aGk=\x07")
    return f"{task.id} says [bold]hi[/] \x1b[2J"


def hostile_app() -> DeeptuiApp:
    orch = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0.0, 0.0)))
    orch.register_callable("work", work)
    return DeeptuiApp(orchestrator=orch)


HOSTILE = WorkflowDefinition(
    id="hostile", name="Hostile [bold]names[/]", continue_on_failure=True,
    tasks=[task("deploy[/]"), task("test[py311]"), task("[link=x]"), task(ESC_ID),
           task("after", "deploy[/]", "test[py311]"),
           TaskDefinition(id="shell[/]", task_type="shell", retry_config=NO_RETRY, parameters={
               "command": r"printf 'out [/] \033]0;pwned\007 [link=x]y[/link]\n'"})])


def detail_text(app: DeeptuiApp) -> str:
    from rich.console import Console

    console = Console(width=120, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(app.screen.query_one("#task-detail").content)
    return console.export_text()


async def test_a_run_with_markup_and_control_characters_in_ids_and_errors(tmp_path: Path) -> None:
    app = hostile_app()
    async with app.run_test(size=(140, 44), notifications=True) as pilot:
        GATE["open"] = asyncio.Event()
        run_id = app.start_run(HOSTILE)
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.pause(0.1)
        GATE.pop("open").set()
        await wait_for(pilot, lambda: app.screen.state.status.finished)
        await wait_for(pilot, lambda: any("Run failed" in n.message for n in app._notifications))
        await pilot.pause(0.3)  # the notification is painted
        screen = app.screen
        dag = "\n".join(screen.dag.line_text(n) for n in range(screen.dag.line_count))
        assert "test[py311]" in dag and "deploy[/]" in dag and "[link=x]" in dag
        assert "esc\\x1b]0;TITLE\\x07" in dag and "\x1b" not in dag
        messages = [n.message for n in app._notifications]
        assert any("task 'deploy[/]' failed" in m for m in messages), messages
        assert all("\x1b" not in m and "\x07" not in m for m in messages)
        toasts = [str(toast.render()) for toast in app.screen.query("Toast")]
        assert any("deploy[/]" in t for t in toasts), toasts

        for tid in ("deploy[/]", "after", "test[py311]"):
            screen.dag.select(tid)
            await pilot.pause()
            shown = detail_text(app)
            assert tid in shown, shown
            assert "\x1b" not in shown
        screen.dag.select("deploy[/]")
        await pilot.pause()
        shown = detail_text(app)
        assert "broke [/] [link=x]here[/link] \\x1b]52;c;aGk=\\x07" in shown, shown

        screen.dag.select("shell[/]")  # its log: stdout with markup and an OSC sequence
        await wait_for(pilot, lambda: screen.log_view.task_id == "shell[/]"
                       and any("pwned" in line.text for line in screen.log_view.lines))
        log = "\n".join(line.text for line in screen.log_view.lines)
        assert "out [/] \\x1b]0;pwned\\x07 [link=x]y[/link]" in log, log

        screen.dag.select("after")  # skipped: its dependency failed
        await pilot.pause()
        assert "deploy[/], test[py311]" in detail_text(app)

        screen.dag.select("deploy[/]")  # a failed task: the palette offers to retry it
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"retry")
        await wait_for(pilot, lambda: any("Retry task deploy[/]" in str(o.prompt) for o in
                                          app.screen.query("CommandList").first().options))
        await pilot.press("escape")
        assert app.return_code is None  # still running: nothing crashed
        assert app.orchestrator.find_run(run_id).state.task_results["test[py311]"].output


def shown_cells(table) -> list[str]:
    """The text a DataTable shows in its cells (a str cell is parsed as markup there)."""
    from textual.widgets._data_table import default_cell_formatter

    return [default_cell_formatter(cell).plain for row in range(table.row_count)
            for cell in table.get_row_at(row)]


def printed(renderable) -> str:
    from rich.console import Console

    console = Console(width=160, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


async def test_cache_metrics_and_history_screens_show_hostile_ids_as_written(
        tmp_path: Path) -> None:
    from deeptui.screens.cache import CacheScreen
    from deeptui.screens.history import HistoryScreen
    from deeptui.screens.metrics import MetricsScreen
    from deeptui.store import RunStore

    with RunStore(tmp_path / "history.db") as store:
        orch = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0.0, 0.0)),
                                store=store)
        orch.register_callable("work", work)
        app = DeeptuiApp(orchestrator=orch, store=store)
        try:
            async with app.run_test(size=(160, 44), notifications=True) as pilot:
                state = await orch.execute_workflow(HOSTILE)
                store.flush()
                await app.push_screen(CacheScreen(refresh_interval=None))
                await pilot.pause(0.2)
                cells = shown_cells(app.screen.query_one("#cache-entries"))
                assert {"test[py311]", "[link=x]", "esc\\x1b]0;TITLE\\x07"} <= set(cells), cells
                app.pop_screen()
                await app.push_screen(MetricsScreen(state.run_id, refresh_interval=None))
                await pilot.pause(0.2)
                figures = printed(app.screen.query_one("#metrics-figures").content)
                assert "Hostile [bold]names[/]" in figures, figures
                durations = printed(app.screen.query_one("#metrics-durations").content)
                assert "test[py311]" in durations, durations
                app.pop_screen()
                await app.push_screen(HistoryScreen())
                await pilot.pause(0.2)
                cells = shown_cells(app.screen.query_one("#history-runs"))
                assert "Hostile [bold]names[/]" in cells, cells
                await pilot.pause(0.2)
                assert app.return_code is None
        finally:
            orch.close()


def write_big_file(path: Path, n_tasks: int) -> Path:
    lines = ["id: big-file", f"name: {n_tasks} tasks", "tasks:"]
    for n in range(n_tasks):
        lines.append(f"  - id: t{n:05d}")
        lines.append("    task_type: shell")
        if n % 100:
            lines.append(f"    depends_on: [t{n - 1:05d}]")
        lines.append("    parameters: {command: 'true'}")
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_a_10000_task_file_opens_from_the_files_tab_and_escape_goes_back(
        tmp_path: Path) -> None:
    """The file is read in a thread worker (the event loop keeps answering keys); its
    tasks and DAG are drawn lazily, only the rows on screen. Timings (the longest
    event-loop block) are in benchmarks/app_open_file.py."""
    path = write_big_file(tmp_path / "big.yaml", 10_000)
    app = DeeptuiApp()
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.press("2")  # the Files tab
        field = app.screen.query_one("#path-input")
        field.value = str(path)
        field.focus()
        await pilot.press("enter")  # read in a thread worker, then the screen is pushed
        await wait_for(pilot, lambda: isinstance(app.screen, ParametersScreen)
                       and app.screen.ready, timeout=120)
        screen = app.screen
        tasks = screen.query_one("#file-tasks")
        assert tasks.line_count == 10_001  # a header and every task
        assert tasks.line_text(10_000).startswith("t09999")
        preview = screen.query_one("#preview-lines")
        assert any("t09999" in preview.line_text(n) for n in range(preview.line_count))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, StartScreen), timeout=120)
