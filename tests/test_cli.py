"""The command line, run as a user runs it: the real entry point in a subprocess.

Every user error is one line on stderr and a non-zero exit, never a traceback;
a headless run exits 0 only when the run succeeded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "workflows" / "examples"
BAD = ROOT / "tests" / "data" / "bad"
FAST = ["--latency-min", "0", "--latency-max", "0.02", "--seed", "1"]


def cli_env(home: Path) -> dict[str, str]:
    """The user's config, data, cache and history under ``home``; no API keys."""
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and k not in ("DEEPTUI_MODEL", "DEEPTUI_CONFIG")}
    env.update(XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"), DEEPTUI_DB=str(home / "history.db"),
               COLUMNS="200", NO_COLOR="1", PYTHONWARNINGS="default")
    return env


def deeptui(home: Path, *args: str | Path, cwd: Path | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deeptui.cli", *map(str, args)],
                          capture_output=True, text=True, env=cli_env(home),
                          cwd=cwd or home, timeout=timeout)


def one_line_error(proc: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The error a user sees: exit ``code``, one line on stderr, no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("deeptui: error: "), lines[0]
    return lines[0]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


# ---------------------------------------------------------------- validate


def test_validate_a_good_file(home: Path) -> None:
    proc = deeptui(home, "validate", EXAMPLES / "web-app-dev.yaml")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith(
        "ok: workflow 'web-app-dev' with 6 tasks, strategy dag (recommended: dag)")
    assert proc.stderr == ""


UNKNOWN_SKILL = """\
id: needs-skill
tasks:
  - id: audit
    description: Audit the code
    required_skills: [no-such-skill]
"""


@pytest.mark.parametrize(("name", "expected"), [
    ("syntax.yaml", ":5:23: syntax error: mapping values are not allowed"),
    ("unknown-field.yaml", ":6:5: task 'deploy': unknown field 'dependson' "
                           "(did you mean 'depends_on'?)"),
    ("cycle.yaml", ":7:18: dependency cycle: a -> b -> a"),
    ("missing-dependency.yaml", ":5:18: task 'x' depends on unknown task 'y'"),
    ("unknown-skill.yaml", ": Required skill 'no-such-skill' not found"),
])
def test_validate_names_the_file_and_the_mistake_in_one_line(
        home: Path, name: str, expected: str) -> None:
    path = BAD / name
    if name == "unknown-skill.yaml":  # the orchestrator's check, not the loader's
        path = home / name
        path.write_text(UNKNOWN_SKILL)
    line = one_line_error(deeptui(home, "validate", path))
    assert line.startswith(f"deeptui: error: {path}")
    assert expected in line
    if name == "unknown-skill.yaml":
        assert "task 'audit'" in line and "test-strategy" in line  # what is available


def test_validate_a_missing_file(home: Path) -> None:
    line = one_line_error(deeptui(home, "validate", "nowhere.yaml"))
    assert line == "deeptui: error: nowhere.yaml: no such file"


def test_usage_errors_are_one_line(home: Path) -> None:
    line = one_line_error(deeptui(home, "run", "x.yaml", "--bogus"))
    assert "unrecognized arguments: --bogus" in line and "--help" in line
    line = one_line_error(deeptui(home, "--fail-rate", "often", "templates"))
    assert "argument --fail-rate: invalid float value: 'often'" in line


# --------------------------------------------------------------------- viz


VIZ_START = {"mermaid": "graph TD", "graphviz": "digraph", "ascii": "Workflow: ", "json": "{"}


@pytest.mark.parametrize("fmt", list(VIZ_START))
def test_viz_draws_a_file_and_a_template_in_every_format(home: Path, fmt: str) -> None:
    drawn = deeptui(home, "viz", EXAMPLES / "quality-pipeline.yaml", "--format", fmt)
    assert drawn.returncode == 0, drawn.stderr
    assert drawn.stdout.startswith(VIZ_START[fmt])
    assert "api-design" in drawn.stdout and "test-strategy" in drawn.stdout
    out = home / f"ci.{fmt}"
    template = deeptui(home, "viz", "ci-cd", "--param", "test_command=pytest -q",
                       "--param", "run_security_scan=false", "-f", fmt, "-o", out)
    assert template.returncode == 0, template.stderr
    assert template.stdout.strip() == f"wrote {out}"
    text = out.read_text()
    assert text.startswith(VIZ_START[fmt]) and "run-tests" in text
    assert "security-scan" not in text  # the parameter was applied
    if fmt == "json":
        assert json.loads(drawn.stdout)["workflow"]["id"] == "quality-pipeline"


# ----------------------------------------------------------- listings


def test_templates_and_skills_are_listed(home: Path) -> None:
    templates = deeptui(home, "templates")
    assert templates.returncode == 0, templates.stderr
    for name in ("ci-cd", "etl", "code-review", "documentation"):
        assert f" {name} " in templates.stdout
    assert "test_command=None" in templates.stdout
    skills = deeptui(home, "skills")
    assert skills.returncode == 0, skills.stderr
    for name in ("api-design", "performance-analysis", "python-code-review",
                 "security-audit", "test-strategy"):
        assert name in skills.stdout


# --------------------------------------------------------------------- run


def test_headless_run_of_a_good_workflow_exits_0(home: Path) -> None:
    proc = deeptui(home, *FAST, "run", EXAMPLES / "web-app-dev.yaml", "--headless")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "6/6 tasks" in proc.stdout and "6 completed" in proc.stdout
    assert "✓ run web-app-dev@" in proc.stdout and "completed" in proc.stdout.splitlines()[-1]


FAILING = """\
id: failing
execution_strategy: sequential
tasks:
  - id: ok
    task_type: shell
    parameters: {command: "echo fine"}
  - id: broken
    task_type: shell
    depends_on: [ok]
    parameters: {command: "echo 'about to fail [red]'; exit 3"}
    retry_config: {max_retries: 0}
  - id: after
    task_type: shell
    depends_on: [broken]
    parameters: {command: "echo never"}
"""


def test_headless_run_with_a_failing_shell_task_exits_1(home: Path) -> None:
    path = home / "failing.yaml"
    path.write_text(FAILING)
    proc = deeptui(home, *FAST, "run", path, "--headless")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    last = proc.stdout.strip().splitlines()
    assert any(line.startswith("✗ run failing@") and "failed" in line for line in last)
    assert any(line.strip().startswith("✗ broken:") and "exit" in line for line in last)
    assert "after" in proc.stdout and "skipped" in proc.stdout


def test_a_template_runs_its_real_commands(home: Path) -> None:
    marker = home / "tested.txt"
    command = f'"{sys.executable}" -c "open(\'tested.txt\', \'w\').write(\'ran\')"'
    proc = deeptui(home, *FAST, "run", "ci-cd", "--param", f"test_command={command}",
                   "--param", "run_security_scan=no", "--headless")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert marker.read_text() == "ran"
    assert "run-tests" in proc.stdout and "security-scan" not in proc.stdout


@pytest.mark.parametrize(("param", "expected"), [
    ("nope=1", "unknown parameter 'nope'. Parameters: workflow_id, repository_path"),
    ("command_retries=many", "parameter 'command_retries': expected an integer, got 'many'"),
    ("test_command", "parameter assignment 'test_command' must look like name=value"),
])
def test_bad_template_parameters_are_refused_naming_them(
        home: Path, param: str, expected: str) -> None:
    line = one_line_error(deeptui(home, "run", "ci-cd", "--param", param, "--headless"))
    assert expected in line


def test_unknown_template_lists_the_known_ones(home: Path) -> None:
    line = one_line_error(deeptui(home, "run", "ci_cdd", "--headless"))
    assert "unknown template 'ci_cdd'" in line and "ci-cd, etl, code-review, documentation" in line


def test_param_for_a_workflow_file_is_refused(home: Path) -> None:
    line = one_line_error(deeptui(home, "run", EXAMPLES / "web-app-dev.yaml",
                                  "--param", "x=1", "--headless"))
    assert "--param applies to templates only" in line and "web-app-dev.yaml" in line


@pytest.mark.parametrize(("model", "expected"), [
    ("foo:bar", "model 'foo:bar': Unknown model: foo:bar"),
    ("nosuchprovider", "model 'nosuchprovider': Unknown model"),
])
def test_an_unknown_model_is_refused_before_the_run(home: Path, model: str, expected: str) -> None:
    proc = deeptui(home, "--model", model, "run", EXAMPLES / "web-app-dev.yaml", "--headless")
    assert expected in one_line_error(proc)
    assert proc.stdout == ""  # nothing ran


# ------------------------------------------------------------ settings, cache


def test_cache_stats_after_a_run_and_clear(home: Path) -> None:
    assert deeptui(home, *FAST, "run", EXAMPLES / "web-app-dev.yaml", "--headless").returncode == 0
    stats = deeptui(home, "cache", "stats", "--format", "json")
    assert stats.returncode == 0, stats.stderr
    data = json.loads(stats.stdout)
    assert {"strategy", "hits", "misses", "hit_rate", "evictions", "invalidations",
            "cache_size", "max_size"} <= data.keys()
    assert data["strategy"] == "hybrid" and data["entries"] == 6
    assert data["directory"].startswith(str(home / "cache"))
    cleared = deeptui(home, "cache", "clear")
    assert cleared.stdout.strip() == "removed 6 cache entries (all tasks)"
    assert json.loads(deeptui(home, "cache", "stats", "--format", "json").stdout)["entries"] == 0


@pytest.mark.parametrize(("text", "expected"), [
    ("model = [\n", "not valid TOML"),
    ("fail_rate = 7\n", "setting 'fail_rate': Input should be less than or equal to 1"),
    ("colour = 'blue'\n", "setting 'colour': Extra inputs are not permitted"),
])
def test_a_bad_config_file_is_one_line_naming_it(home: Path, text: str, expected: str) -> None:
    config = home / "config" / "deeptui" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(text)
    line = one_line_error(deeptui(home, "cache", "stats"))
    assert line.startswith(f"deeptui: error: {config}: ") and expected in line
    assert config.read_text() == text


@pytest.mark.parametrize("headless", [True, False])
def test_run_of_a_file_that_fails_validation_is_one_line_before_any_app(
        home: Path, headless: bool) -> None:
    path = home / "unknown-skill.yaml"
    path.write_text(UNKNOWN_SKILL)
    proc = deeptui(home, *FAST, "run", path, *(["--headless"] if headless else []), timeout=20)
    line = one_line_error(proc)
    assert line.startswith(f"deeptui: error: {path}: Required skill 'no-such-skill'")


def test_headless_run_and_history_show_print_whole_task_ids_in_80_columns(home: Path) -> None:
    """Piped output is 80 columns wide: the task ids (what a user greps for) are never cut."""
    from deeptui.workflows import build_workflow

    env = {**cli_env(home), "COLUMNS": "80"}
    shown = []
    for args in ([*FAST, "run", "etl", "--headless"], ["history", "show", "etl"]):
        proc = subprocess.run([sys.executable, "-m", "deeptui.cli", *args], capture_output=True,
                              text=True, env=env, cwd=home, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        shown.append(proc.stdout)
    for task in build_workflow("etl", {}).tasks:
        assert all(f" {task.id} " in out for out in shown), task.id


def test_ctrl_c_in_a_headless_run_cancels_the_run_and_exits_1(home: Path) -> None:
    import signal
    import time

    path = home / "slow.yaml"
    path.write_text("id: slow\ntasks:\n  - id: wait\n    task_type: shell\n"
                    "    parameters: {command: \"touch started && sleep 30\"}\n")
    proc = subprocess.Popen([sys.executable, "-m", "deeptui.cli", *FAST, "run", str(path),
                             "--headless"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=cli_env(home), cwd=home)
    deadline = time.monotonic() + 30
    while not (home / "started").exists():  # the task is running
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1, out + err
    assert "Traceback" not in out + err
    assert out.strip().splitlines()[-1].startswith("✗ run slow@") and "cancelled" in out
