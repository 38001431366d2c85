"""Output and logs, caching you can see, the form, the palette (issue 13), as a user meets them.

The output viewer, the log search, running a task again without the cache (in the app and
with ``deeptui run --refresh`` in a subprocess), the cached task naming its run, the form
remembering its last values in a real data directory, and the palette speaking like help.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from textual.widgets import Input, Markdown, Static, TextArea

from conftest import wait_for
from deeptui import OrchestrationConfig, TaskOrchestrator
from deeptui.app import DeeptuiApp
from deeptui.cache import CacheConfig
from deeptui.last_values import values_path
from deeptui.models import TaskDefinition, TaskStatus, WorkflowDefinition, WorkflowStatus
from deeptui.screens.output import OutputScreen
from deeptui.screens.parameters import ParametersScreen
from deeptui.screens.run import RunScreen
from deeptui.settings import Settings
from deeptui.widgets.log_search import LogSearch
from deeptui.widgets.param_form import ParamForm
from deeptui.widgets.task_detail import TaskDetail
from test_cli import deeptui

FAST = OrchestrationConfig(simulated_latency=(0.0, 0.0), simulated_seed=3)


def appending_workflow(marker: Path) -> WorkflowDefinition:
    """One cached shell task that appends a line to ``marker`` each time it really runs."""
    command = f'"{sys.executable}" -c "open(r\'{marker}\', \'a\').write(\'ran\\n\')"'
    return WorkflowDefinition(id="append", name="Append", tasks=[
        TaskDefinition(id="append", task_type="shell",
                       parameters={"command": command, "cache": True})])


def disk_orchestrator(tmp_path: Path) -> TaskOrchestrator:
    return TaskOrchestrator(config=FAST, cache_config=CacheConfig(
        strategy="disk", cache_dir=str(tmp_path / "cache")))


def detail_text(screen: RunScreen) -> str:
    console = Console(width=120, record=True)
    console.print(screen.query_one(TaskDetail).content)
    return console.export_text()


def runs_of(marker: Path) -> int:
    return marker.read_text().count("ran") if marker.exists() else 0


# ---------------------------------------------------------------- caching you can see


async def test_rerun_ignoring_the_cache_really_runs_the_task(tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    workflow = appending_workflow(marker)
    first = disk_orchestrator(tmp_path)
    produced = await first.execute_workflow(workflow)  # e.g. a CLI run before the app
    first.close()
    assert runs_of(marker) == 1
    app = DeeptuiApp(Settings(cache="none"), orchestrator=disk_orchestrator(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        app.start_run(workflow)
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        result = screen.state.task_results["append"]
        await wait_for(pilot, lambda: screen.state.status is WorkflowStatus.COMPLETED)
        assert result.cached and result.attempts == 0 and runs_of(marker) == 1
        # the detail names the run that produced the cached result
        detail = detail_text(screen)
        assert f"from run {produced.run_id}" in detail
        await pilot.press("R")  # run it again without reading the cache
        await wait_for(pilot, lambda: screen.state.status is WorkflowStatus.COMPLETED
                       and result.status is TaskStatus.COMPLETED and not result.cached)
        assert result.attempts == 1 and result.cached_from is None
        assert runs_of(marker) == 2
        # the detail follows the bus a frame or more later (it was asserted after one pause)
        await wait_for(pilot, lambda: "(cached)" not in detail_text(screen)
                       and "attempts 1" in detail_text(screen))
        await pilot.press("ctrl+r")  # the whole workflow again, as a new run, no cache read
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen is not screen)
        whole = app.screen
        await wait_for(pilot, lambda: whole.state.status is WorkflowStatus.COMPLETED)
        assert whole.run_id != screen.run_id
        assert not whole.state.task_results["append"].cached
        assert whole.state.task_results["append"].attempts == 1 and runs_of(marker) == 3
    # the fresh result was stored: the next run reads it, naming the app's last run
    again = disk_orchestrator(tmp_path)
    state = await again.execute_workflow(workflow)
    again.close()
    assert runs_of(marker) == 3
    assert state.task_results["append"].cached_from == whole.run_id


def test_refresh_flag_runs_every_task_again(tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    path = tmp_path / "append.json"
    path.write_text(appending_workflow(marker).model_dump_json())
    first = deeptui(tmp_path, "run", path, "--headless", "--format", "json")
    assert first.returncode == 0, first.stderr
    first_id = json.loads(first.stdout)["run_id"]
    cached = deeptui(tmp_path, "run", path, "--headless")
    assert cached.returncode == 0, cached.stderr
    assert runs_of(marker) == 1
    assert f"cached from run {first_id}" in cached.stdout  # which run produced it, and when
    fresh = deeptui(tmp_path, "run", path, "--headless", "--refresh", "--format", "json")
    assert fresh.returncode == 0, fresh.stderr
    task = json.loads(fresh.stdout)["tasks"][0]
    assert (task["status"], task["attempts"], task["cached"]) == ("completed", 1, False)
    assert runs_of(marker) == 2
    after = json.loads(deeptui(tmp_path, "run", path, "--headless", "--format", "json").stdout)
    assert after["tasks"][0]["cached_from"] == json.loads(fresh.stdout)["run_id"]
    assert runs_of(marker) == 2


# ---------------------------------------------------------------- output and logs


def stored_run(output: object, kind: str = "agent", log_lines: int = 0):
    """A stored (read-only) run screen of one completed task with ``output``."""
    from deeptui.models import TaskResult, WorkflowState

    task = TaskDefinition(id="writer", task_type="callable" if kind != "agent" else "agent",
                          parameters={"callable": "x"} if kind != "agent" else {},
                          agent_type="research" if kind == "agent" else None)
    workflow = WorkflowDefinition(id="wf", name="Stored", tasks=[task])
    state = WorkflowState(workflow_id="wf", run_id="run-1", workflow_name="Stored",
                          status=WorkflowStatus.COMPLETED, task_results={
                              "writer": TaskResult(task_id="writer", status=TaskStatus.COMPLETED,
                                                   output=output, attempts=1)})
    logs = {"writer": [(1.0 + n, "text" if n % 3 else "info",
                        f"line {n} " + ("needle here" if n % 10 == 0 else "hay") + "\n")
                       for n in range(log_lines)]}
    return RunScreen("run-1", workflow=workflow, state=state, logs=logs)


async def test_output_viewer_shows_markdown_and_pretty_json() -> None:
    app = DeeptuiApp(Settings(cache="none"))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = stored_run("# Findings\n\n- **one** point\n- another" + "\n- more" * 100)
        app.push_screen(screen)
        await pilot.pause()
        assert "(o: the whole output)" in detail_text(screen)  # the preview is cut
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OutputScreen))
        assert app.screen.form == "markdown"
        assert app.screen.query_one(Markdown)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        app.pop_screen()
        app.push_screen(stored_run({"rows": 3, "files": ["a.py"]}, kind="callable"))
        await pilot.pause()
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OutputScreen))
        assert app.screen.form == "json"
        assert app.screen.text == json.dumps({"rows": 3, "files": ["a.py"]}, indent=2)
        assert not app.screen.query(Markdown)


async def test_log_search_moves_between_matches_and_counts_them() -> None:
    app = DeeptuiApp(Settings(cache="none"))
    app.log_times = False
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(stored_run("done", log_lines=200))
        await pilot.pause()
        screen = app.screen
        log = screen.log_view
        log.focus()
        await pilot.press("slash")
        await wait_for(pilot, lambda: bool(screen.query(LogSearch)))
        await pilot.press(*"needle")
        count = screen.query_one("#log-search-count", Static)
        await wait_for(pilot, lambda: log.matches.count.endswith("/20"))
        assert str(count.render()) == log.matches.count
        first, index = log.matches.line, log.matches.current
        assert first is not None and "needle" in log.lines[first].text
        await pilot.press("enter")  # the next match (after the last: the first)
        second = log.matches.line
        assert log.matches.current == (index + 1) % 20
        assert second is not None and second != first and "needle" in log.lines[second].text
        assert str(count.render()) == f"{(index + 1) % 20 + 1}/20"
        assert log.scroll_y <= second < log.scroll_y + log.scrollable_content_region.height
        await pilot.press("escape")  # close the bar; n / N in the log still move
        await wait_for(pilot, lambda: not screen.query(LogSearch))
        assert log.matches.count == ""
        log.focus()
        await pilot.press("slash", *"needle")
        await wait_for(pilot, lambda: log.matches.count.endswith("/20"))
        log.focus()
        before = log.matches.current
        await pilot.press("N")
        assert log.matches.current == (before - 1) % 20
        await pilot.press("n", "n")
        assert log.matches.current == (before + 1) % 20
        count = screen.query_one("#log-search-count", Static)  # the new bar's
        assert str(count.render()) == f"{(before + 1) % 20 + 1}/20"


# ---------------------------------------------------------------- the form


async def test_fixed_field_loses_its_error_at_once_and_labels_are_words() -> None:
    app = DeeptuiApp(Settings(cache="none"))
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(ParametersScreen(template="etl"))
        await wait_for(pilot, lambda: bool(app.screen.query(ParamForm)))
        form = app.screen.query_one(ParamForm)
        form.set_value("workflow_id", "")
        form.set_value("destination_config", "{not json")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert set(form.errors) >= {"workflow_id", "destination_config"}
        editor = app.screen.query_one("#param-destination_config", TextArea)
        editor.text = '{"type": "db"}'
        await wait_for(pilot, lambda: "destination_config" not in form.errors)
        assert "workflow_id" in form.errors  # not fixed yet: its message stays
        names = [str(label.render()) for label in app.screen.query(".field-name")]
        assert "Workflow id" in names[0] and "_" not in " ".join(names)


async def test_form_remembers_the_last_values_per_template(tmp_path: Path) -> None:
    path = values_path()
    assert str(path).startswith(str(tmp_path.parent.parent))  # the test's own HOME (conftest)
    app = DeeptuiApp(Settings(cache="none", latency_min=0, latency_max=0))
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(ParametersScreen(template="ci-cd"))
        await wait_for(pilot, lambda: bool(app.screen.query(ParamForm)))
        form = app.screen.query_one(ParamForm)
        form.set_value("workflow_id", "remembered-ci")
        form.set_value("run_security_scan", False)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
    stored = json.loads(path.read_text())
    assert stored["ci-cd"]["workflow_id"] == "remembered-ci"
    app = DeeptuiApp(Settings(cache="none"))
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(ParametersScreen(template="ci-cd"))
        await wait_for(pilot, lambda: bool(app.screen.query(ParamForm)))
        assert app.screen.query_one("#param-workflow_id", Input).value == "remembered-ci"
        assert app.screen.query_one("#param-run_security_scan").value is False
        app.pop_screen()
        app.push_screen(ParametersScreen(template="etl"))  # another template: its defaults
        await wait_for(pilot, lambda: bool(app.screen.query(ParamForm)))
        assert app.screen.query_one("#param-workflow_id", Input).value == "etl-pipeline"


# ---------------------------------------------------------------- the palette


async def test_palette_names_commands_as_help_does() -> None:
    app = DeeptuiApp(Settings(cache="none"))
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(stored_run("done"))
        await pilot.pause()
        commands = {c.title: c.help for c in app.get_system_commands(app.screen)}
        assert commands["Follow log (f)"] == "binding id follow"
        assert "toggle_follow" not in " ".join(commands.values())
        assert commands["Output (o)"].endswith("binding id output")


async def test_multi_select_marks_checked_and_unchecked_items_in_text() -> None:
    app = DeeptuiApp(Settings(cache="none"))
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(ParametersScreen(template="documentation"))
        await wait_for(pilot, lambda: bool(app.screen.query(ParamForm)))
        checks = app.screen.query_one("#param-doc_types")

        def prompts() -> list[str]:
            return [str(checks.get_option_at_index(i).prompt) for i in range(checks.option_count)]

        assert prompts() == ["[x] api", "[x] guide", "[x] tutorial"]
        checks.deselect("guide")
        await wait_for(pilot, lambda: prompts() == ["[x] api", "[ ] guide", "[x] tutorial"])
        assert app.screen.query_one(ParamForm).json_values()["doc_types"] == ["api", "tutorial"]


async def test_tool_calls_collapse_to_one_line_each_and_expand_again() -> None:
    app = DeeptuiApp(Settings(cache="none"))
    app.log_times = False
    log_entries = [(1.0, "text", "Looking at the code.\n"),
                   (2.0, "tool_call", "read_file pkg/io.py"),
                   (3.0, "tool_result", "read_file -> " + "x = 1; " * 60),
                   (4.0, "tool_call", "grep eval("),
                   (5.0, "tool_result", "grep -> pkg/io.py:12: eval(text)"),
                   (6.0, "text", "Found it.\n")]
    async with app.run_test(size=(100, 30)) as pilot:
        screen = stored_run("done")
        screen.stored_logs = {"writer": log_entries}
        app.push_screen(screen)
        await pilot.pause()
        log = screen.log_view

        def shown() -> list[str]:
            return [strip.text.rstrip() for strip in log.lines]

        assert any("← read_file -> x = 1;" in line for line in shown())
        expanded = len(shown())
        log.focus()
        await pilot.press("t")
        await wait_for(pilot, lambda: log.tools_collapsed)
        assert shown() == ["Looking at the code.", "▸ read_file pkg/io.py", "▸ grep eval(",
                           "Found it."]
        assert expanded > len(shown())
        assert "x = 1;" in log.plain_text()  # the export keeps the results
        await pilot.press("t")
        await wait_for(pilot, lambda: len(shown()) == expanded)
        assert any(line.startswith("→ grep eval(") for line in shown())
