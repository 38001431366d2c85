"""The config file is the user's (edited in place, comments kept), a bad flag is named
as the flag, and retry waits stay computable however many retries a task has."""

from __future__ import annotations

from pathlib import Path

from test_cli import deeptui, one_line_error

from deeptui import CacheConfig, OrchestrationConfig, TaskOrchestrator
from deeptui.app import DeeptuiApp
from deeptui.models import RetryConfig, TaskDefinition
from deeptui.settings import Settings, load_settings

COMMENTED = """\
# deeptui settings: kept by hand, with notes
cache = "memory"   # the disk cache is on a slow share

# the offline model, slower than by default
latency_max = 3.0
theme = "textual-dark"  # changed from the app

[keymap]
cancel_task = "x"  # my own key
"""


async def test_changing_the_theme_in_the_app_keeps_the_config_files_comments(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED)
    app = DeeptuiApp(Settings(latency_min=0.0, latency_max=0.0, cache="none"), settings_path=path)
    async with app.run_test(size=(100, 30)) as pilot:
        app.theme = "nord"
        await pilot.pause()
    assert path.read_text() == COMMENTED.replace('theme = "textual-dark"', 'theme = "nord"')
    assert load_settings(path).theme == "nord"


async def test_the_theme_is_added_to_a_config_file_without_one(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text("# only a comment\ncache = \"memory\"\n")
    app = DeeptuiApp(Settings(latency_min=0.0, latency_max=0.0, cache="none"), settings_path=path)
    async with app.run_test(size=(100, 30)) as pilot:
        app.theme = "nord"
        await pilot.pause()
    assert path.read_text() == "# only a comment\ncache = \"memory\"\ntheme = \"nord\"\n"


def test_a_bad_flag_is_named_as_the_flag_not_as_a_config_file(tmp_path: Path) -> None:
    for value in ("0", "-5"):
        line = one_line_error(deeptui(tmp_path, "run", "ci-cd", "--headless", "--cache-ttl", value))
        assert line.startswith("deeptui: error: --cache-ttl "), line
        assert "config.toml" not in line and "greater than 0" in line
    assert not (tmp_path / "config").exists()  # no config file was made up either


def test_a_bad_value_in_the_config_file_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "config" / "deeptui" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("cache_ttl = 0\n")
    line = one_line_error(deeptui(tmp_path, "cache", "stats"))
    assert line == f"deeptui: error: {config}: setting 'cache_ttl': Input should be greater than 0"
    # a good flag overrides the bad value: the file is not blamed for what is not used
    assert deeptui(tmp_path, "--cache-ttl", "60", "cache", "stats").returncode == 0


def test_the_retry_wait_stays_at_max_delay_after_hundreds_of_retries() -> None:
    retry = RetryConfig(backoff_multiplier=10)
    assert [retry.delay(n) for n in (0, 1, 2)] == [1.0, 10.0, 60.0]
    assert retry.delay(310) == retry.delay(10_000) == 60.0
    assert RetryConfig(backoff_multiplier=1.5, initial_delay=2, max_delay=1e300).delay(5000) == 1e300


async def test_a_task_retried_hundreds_of_times_with_a_steep_backoff_completes() -> None:
    calls = 0

    async def flaky(task, parameters, dependency_outputs):
        nonlocal calls
        calls += 1
        if calls <= 320:
            raise RuntimeError(f"failure {calls}")
        return "finally"

    orch = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0, 0)),
                            cache_config=CacheConfig(strategy="none"))
    orch.register_callable("flaky", flaky)
    try:
        result = await orch.execute_task(TaskDefinition(
            id="flaky", task_type="callable", parameters={"callable": "flaky"},
            retry_config=RetryConfig(max_retries=400, backoff_multiplier=10,
                                     initial_delay=1e-9, max_delay=1e-6, jitter=0)))
    finally:
        orch.close()
    assert (result.status, result.output, result.attempts) == ("completed", "finally", 321), \
        result.error
