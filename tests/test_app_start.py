"""Start and parameters screens: templates, forms, workflow files, key map and theme settings."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field
from textual.widgets import Input, Select, Switch, TextArea

from conftest import wait_for
from deeptui.app import DeeptuiApp
from deeptui.models import TaskDefinition, WorkflowDefinition, WorkflowStatus
from deeptui.screens.parameters import ParametersScreen
from deeptui.screens.run import RunScreen
from deeptui.screens.start import StartScreen, example_files
from deeptui.settings import Settings, load_settings
from deeptui.widgets.param_form import ParamForm
from deeptui.workflows.registry import register_template, unregister_template


def fast_settings(**changes) -> Settings:
    return Settings(latency_min=0.0, latency_max=0.0, seed=5, cache="none", **changes)


async def type_into(pilot, app: DeeptuiApp, selector: str, text: str) -> None:
    """Focus an input and replace its text (short texts are typed key by key)."""
    field = app.screen.query_one(selector)
    field.focus()
    if isinstance(field, TextArea):  # a JSON field's editor
        field.text = text
        await pilot.pause()
    elif len(text) <= 12:
        field.value = ""
        await pilot.press(*text) if text else await pilot.pause()
    else:
        field.value = text
        await pilot.pause()


async def test_template_started_from_the_start_screen_with_changed_parameters():
    app = DeeptuiApp(fast_settings())
    async with app.run_test(size=(120, 40)) as pilot:
        assert isinstance(app.screen, StartScreen)
        templates = app.screen.query_one("#template-list")
        # listed in a thread after the first frame (a "loading…" line until then)
        await wait_for(pilot, lambda: templates.get_option_at_index(0).id == "template:ci-cd")
        await pilot.press("enter")  # the first template: CI/CD
        await wait_for(pilot, lambda: isinstance(app.screen, ParametersScreen))
        await type_into(pilot, app, "#param-workflow_id", "my-ci")
        app.screen.query_one("#param-run_security_scan", Switch).focus()
        await pilot.press("space")
        await wait_for(pilot, lambda: not app.screen.query_one("#param-run_security_scan",
                                                                Switch).value)
        await pilot.click("#run")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        assert screen.workflow.id == "my-ci"
        assert "security-scan" not in screen.workflow.task_ids
        assert screen.workflow.metadata["template_parameters"]["run_security_scan"] is False
        await wait_for(pilot, lambda: screen.state.status is WorkflowStatus.COMPLETED, timeout=15)


async def test_form_rejects_bad_values_with_the_message_next_to_the_field():
    app = DeeptuiApp(fast_settings())
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(ParametersScreen(template="etl"))
        await wait_for(pilot, lambda: bool(app.screen.query(ParamForm)))
        await type_into(pilot, app, "#param-source_configs", '[{"path": "x.csv"}]')
        await type_into(pilot, app, "#param-destination_config", "{not json")
        await pilot.press("ctrl+r")
        await pilot.pause()
        form = app.screen.query_one(ParamForm)
        assert isinstance(app.screen, ParametersScreen)  # nothing started
        assert app.orchestrator.runs() == []
        assert "needs a 'type'" in form.errors["source_configs"]
        assert form.errors["destination_config"].startswith("not valid JSON")
        assert app.screen.query_one("#field-source_configs").has_class("-invalid")
        assert not app.screen.query_one("#field-transformation_steps").has_class("-invalid")
        # fixing the values clears the messages and runs
        await type_into(pilot, app, "#param-source_configs", '[{"type": "csv"}]')
        await type_into(pilot, app, "#param-destination_config", '{"type": "db"}')
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        assert app.screen.workflow.id == "etl-pipeline"


class Knobs(BaseModel):
    workflow_id: str = "knobs"
    count: int = Field(2, ge=1, le=5, description="How many tasks.")
    mode: Literal["fast", "slow"] = "fast"
    tags: list[str] = Field(default_factory=lambda: ["a", "b"])


def knobs_factory(workflow_id: str, count: int, mode: str, tags: list[str],
                  **kwargs) -> WorkflowDefinition:
    tasks = [TaskDefinition(id=f"{mode}-{n}", task_type="shell",
                            parameters={"command": "echo " + ",".join(tags)})
             for n in range(count)]
    return WorkflowDefinition(id=workflow_id, tasks=tasks, **kwargs)


@pytest.fixture
def knobs_template():
    register_template("knobs", knobs_factory, Knobs, description="A test template")
    yield "knobs"
    unregister_template("knobs")


async def test_generated_form_has_a_widget_per_field_type_and_a_live_preview(knobs_template):
    app = DeeptuiApp(fast_settings())
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(ParametersScreen(template="knobs"))
        await wait_for(pilot, lambda: bool(app.screen.query(ParamForm)))
        screen = app.screen
        assert screen.query_one("#param-count", Input).type == "integer"
        assert screen.query_one("#param-mode", Select).value == "fast"
        assert screen.query_one("#param-tags", Input).value == "a, b"
        await type_into(pilot, app, "#param-count", "9")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert "less than or equal to 5" in screen.query_one(ParamForm).errors["count"]
        await type_into(pilot, app, "#param-count", "3")
        screen.query_one("#param-mode", Select).value = "slow"
        await wait_for(pilot, lambda: screen.preview_workflow is not None
                       and screen.preview_workflow.task_ids == ["slow-0", "slow-1", "slow-2"])
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        run = app.screen
        await wait_for(pilot, lambda: run.state.status is WorkflowStatus.COMPLETED)
        await wait_for(pilot, lambda: "a,b" in run.log_view.plain_text())  # shell stdout


async def test_example_file_is_previewed_then_run():
    examples = example_files()
    assert {p.name for p in examples} >= {"parallel-analysis.yaml", "shell-pipeline.yaml"}
    app = DeeptuiApp(fast_settings())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        names = [p.name for p in examples]
        for _ in range(names.index("parallel-analysis.yaml")):
            await pilot.press("down")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ParametersScreen))
        assert app.screen.workflow.id == "parallel-analysis"
        assert "analyze-9" in str(app.screen.preview_workflow.task_ids)
        await pilot.click("#run")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        assert app.screen.workflow.id == "parallel-analysis"


async def test_a_bad_workflow_file_is_a_clear_message(tmp_path: Path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("id: x\ntasks:\n  - id: a\n    depends_on: [nope]\n")
    app = DeeptuiApp(fast_settings())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await type_into(pilot, app, "#path-input", str(bad))
        await pilot.press("enter")  # the file is read in a worker: wait for its verdict
        await wait_for(pilot, lambda: "broken.yaml:" in str(app.screen.query_one("#file-error").content))
        assert isinstance(app.screen, StartScreen)
        message = str(app.screen.query_one("#file-error").content)
        assert "broken.yaml" in message and "nope" in message
        assert "Traceback" not in message


async def test_keymap_from_settings_rebinds_a_key(tmp_path: Path):
    app = DeeptuiApp(fast_settings(keymap={"tab_files": "f9"}))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f9")
        await pilot.pause()
        assert app.screen.query_one("#start-tabs").active == "files"


async def test_theme_chosen_in_the_app_is_saved(tmp_path: Path):
    path = tmp_path / "config.toml"
    app = DeeptuiApp(fast_settings(), settings_path=path)
    async with app.run_test(size=(120, 40)) as pilot:
        app.theme = "nord"
        await pilot.pause()
    assert load_settings(path).theme == "nord"


async def test_the_engine_is_built_after_the_first_frame_without_being_asked():
    app = DeeptuiApp(fast_settings())
    assert app._orchestrator is None  # nothing heavy before the first frame
    async with app.run_test(size=(100, 30)) as pilot:
        assert isinstance(app.screen, StartScreen)
        deadline = time.monotonic() + 10
        while app._orchestrator is None:  # the warm-up worker builds it
            assert time.monotonic() < deadline, "the orchestrator was never built"
            await pilot.pause(0.05)
        assert app.session_runs() == []


def test_every_binding_of_every_screen_has_a_known_id_for_the_keymap():
    from textual.screen import Screen as TextualScreen
    from textual.widget import Widget

    from deeptui.keymap import binding_ids, check_keymap
    from deeptui.screens import (approvals, cache, confirm, diff, help, history, metrics,
                                 parameters, run, start)

    known = binding_ids()
    seen = set()
    for module in (approvals, cache, confirm, diff, help, history, metrics, parameters, run, start):
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, (TextualScreen, Widget))
                    and value.__module__ == module.__name__):
                for binding in value.__dict__.get("BINDINGS", []):
                    assert binding.id in known, (value.__name__, binding)
                    seen.add(binding.id)
    assert {"cache.invalidate", "history.resume", "metrics.export", "confirm_yes",
            "approvals.deny", "diff.apply"} <= seen
    assert check_keymap({"cache.invalidate": "x", "nope": "z"}) == ["nope"]


async def test_footer_keys_are_clickable_on_the_start_screen():
    from textual.widgets import TabbedContent
    from textual.widgets._footer import FooterKey

    app = DeeptuiApp(fast_settings())
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        files_key = next(key for key in app.screen.query(FooterKey) if key.description == "Files")
        await pilot.click(files_key)
        await wait_for(pilot, lambda: app.screen.query_one(TabbedContent).active == "files")


async def test_h_k_m_on_their_own_screen_do_not_open_a_second_copy():
    from deeptui.screens.cache import CacheScreen
    from deeptui.screens.history import HistoryScreen
    from deeptui.screens.metrics import MetricsScreen

    app = DeeptuiApp(fast_settings())
    async with app.run_test(size=(100, 30)) as pilot:
        for key, screen_class in (("k", CacheScreen), ("h", HistoryScreen), ("m", MetricsScreen)):
            await pilot.press(key)
            await wait_for(pilot, lambda: isinstance(app.screen, screen_class))
            await pilot.press(key)
            await pilot.pause()
            assert sum(isinstance(s, screen_class) for s in app.screen_stack) == 1
            await pilot.press("escape")  # one escape is back where the user was
            await wait_for(pilot, lambda: isinstance(app.screen, StartScreen))


@pytest.mark.parametrize("dialog", ["question", "help"])
async def test_h_k_m_and_help_wait_while_a_question_or_the_help_is_open(dialog):
    from deeptui.screens.confirm import ConfirmScreen
    from deeptui.screens.help import HelpScreen

    app = DeeptuiApp(fast_settings())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        kind = ConfirmScreen if dialog == "question" else HelpScreen
        app.push_screen(ConfirmScreen("Really?") if dialog == "question" else HelpScreen())
        await wait_for(pilot, lambda: isinstance(app.screen, kind))
        keys = ("k", "h", "m") if dialog == "help" else ("k", "h", "m", "question_mark")
        for key in keys:  # (on the help, "?" closes it)
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, kind), key
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, StartScreen))


async def test_saving_the_theme_keeps_the_file_and_leaves_command_line_flags_out(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text('cache = "memory"\n')
    settings = load_settings(path, fail_rate=0.3, latency_max=0.5)  # as `deeptui --fail-rate 0.3`
    app = DeeptuiApp(settings, settings_path=path)
    async with app.run_test(size=(100, 30)) as pilot:
        app.theme = "nord"
        await pilot.pause()
    saved = load_settings(path)
    assert saved.theme == "nord" and saved.cache == "memory"
    assert saved.fail_rate == 0.0 and saved.latency_max == Settings().latency_max  # not saved


def test_an_interrupted_run_in_the_runs_tab_keeps_a_space_before_its_name():
    from deeptui.screens.start import _run_label

    assert _run_label("Big Graph", "big@1", "interrupted").plain.startswith("interrupted Big Graph")


async def test_the_help_title_names_the_keymap_table(tmp_path):
    from deeptui.app import DeeptuiApp
    from deeptui.screens.help import HelpScreen

    app = DeeptuiApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        title = str(app.screen.query_one("#help-title").render())
        assert title.endswith("rebind any id in config.toml under [keymap]")


async def test_a_screenshot_without_a_downloads_folder_is_saved_here_and_says_where(
        tmp_path, monkeypatch):
    import deeptui.screenshots
    from deeptui.app import DeeptuiApp

    monkeypatch.setattr(deeptui.screenshots, "user_downloads_path",
                        lambda: tmp_path / "no-such-Downloads")
    monkeypatch.chdir(tmp_path)
    app = DeeptuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.deliver_screenshot()
        await pilot.pause()
        saved = list(tmp_path.glob("*.svg"))
        assert len(saved) == 1 and "<svg" in saved[0].read_text()
        assert any(f"Screenshot saved to {saved[0]}" in n.message for n in app._notifications)


async def test_home_getting_started_names_the_keys_as_rebound(tmp_path: Path):
    app = DeeptuiApp(fast_settings(keymap={"cancel_task": "x", "start.rerun": "ctrl+n"}))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query("#home-welcome")))
        text = str(app.screen.query_one("#home-welcome").render())
        assert "x cancels a task, r retries it, T shows the run as a timeline" in text
        assert "re-run (ctrl+n) or resume (R)" in text
        assert "? lists every key" in text and "{" not in text
        subtitle = str(app.screen.query_one("#home-runs").border_subtitle)
        assert subtitle == "enter open · ctrl+n re-run · R resume"
