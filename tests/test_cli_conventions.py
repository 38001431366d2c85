"""Command-line conventions, run as a user runs them: real subprocesses, real pipes.

--version, options after the command, a closed pipe, output formats from the
file suffix, machine-readable (JSON) output, whole tables in files and pipes,
provider errors in deeptui's words, and no third-party banner.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.test_cli import FAST, cli_env, deeptui, home, one_line_error  # noqa: F401 (home)

DEEPTUI = f"{shlex.quote(sys.executable)} -m deeptui.cli"


def shell(home: Path, pipeline: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``pipeline`` in bash with pipefail: the exit status is deeptui's as well as head's."""
    return subprocess.run(["/bin/bash", "-o", "pipefail", "-c", pipeline], capture_output=True,
                          text=True, env={**cli_env(home), **env}, cwd=home, timeout=120)


def big_workflow(home: Path, tasks: int = 3000) -> Path:
    """A workflow whose drawing is far larger than a pipe's buffer."""
    lines = ["id: big", "tasks:"]
    for i in range(tasks):
        lines += [f"  - id: task-{i:05d}-with-a-rather-long-name", "    task_type: shell",
                  "    parameters: {command: 'true'}"]
    path = home / "big.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_version_is_the_package_metadata_version(home: Path) -> None:
    proc = deeptui(home, "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"deeptui {version('deeptui')}"


def test_settings_are_accepted_after_the_command_too(home: Path) -> None:
    after = deeptui(home, "run", "ci-cd", "--headless", "--fail-rate", "1", *FAST)
    assert after.returncode == 1, after.stderr  # every agent call failed: the flag applied
    assert "unrecognized" not in after.stderr
    before = deeptui(home, "--fail-rate", "1", *FAST, "run", "ci-cd", "--headless")
    assert before.returncode == 1, before.stderr  # a flag before the command still counts


@pytest.mark.parametrize("pipeline", [
    "{deeptui} viz {big} | head -1",
    "{deeptui} viz {big} --format json | head -2",
])
def test_a_closed_pipe_ends_quietly(home: Path, pipeline: str) -> None:
    big = big_workflow(home)
    proc = shell(home, pipeline.format(deeptui=DEEPTUI, big=shlex.quote(str(big))))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.strip()


def test_history_export_into_a_closed_pipe_ends_quietly(home: Path) -> None:
    big = big_workflow(home, 1500)
    run = deeptui(home, "run", big, "--headless", "--run-id", "big-run", timeout=300)
    assert run.returncode == 0, run.stderr
    proc = shell(home, f"{DEEPTUI} history export big-run | head -3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and proc.stdout.startswith("{")


@pytest.mark.parametrize(("name", "starts"), [
    ("out.mmd", "graph "), ("out.md", "```mermaid"), ("out.dot", "digraph"),
    ("out.gv", "digraph"), ("out.json", "{"), ("out.txt", "Workflow:"),
])
def test_viz_output_format_comes_from_the_suffix(home: Path, name: str, starts: str) -> None:
    proc = deeptui(home, "viz", "ci-cd", "-o", name)
    assert proc.returncode == 0, proc.stderr
    text = (home / name).read_text()
    assert text.startswith(starts), text[:80]
    if name.endswith(".json"):
        assert json.loads(text)


def test_an_explicit_format_wins_over_the_suffix(home: Path) -> None:
    assert deeptui(home, "viz", "ci-cd", "-o", "out.txt", "--format", "mermaid").returncode == 0
    assert (home / "out.txt").read_text().startswith("graph ")


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
@pytest.mark.parametrize(("name", "magic"), [("out.png", b"\x89PNG"), ("out.svg", b"<?xml")])
def test_viz_draws_png_and_svg_through_graphviz(home: Path, name: str, magic: bytes) -> None:
    proc = deeptui(home, "viz", "ci-cd", "-o", name)
    assert proc.returncode == 0, proc.stderr
    assert (home / name).read_bytes().startswith(magic)


def test_viz_png_never_holds_text(home: Path) -> None:
    line = one_line_error(deeptui(home, "viz", "ci-cd", "-o", "out.png", "--format", "ascii"))
    assert "graphviz" in line and not (home / "out.png").exists()
    env = {"PATH": str(Path(sys.executable).parent)}  # no dot on this PATH
    proc = shell(home, f"{DEEPTUI} viz ci-cd -o out.png", **env)
    assert proc.returncode == 2 and "Graphviz" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (home / "out.png").exists()


# ------------------------------------------------------------- headless


def many_tasks(home: Path, count: int = 32, bad: int = 7) -> tuple[Path, list[str], str]:
    """``count`` tasks with long ids; task number ``bad`` fails with a long reason."""
    reason = "the deployment target refused the artifact " + "because of reasons " * 8
    ids = [f"stage-{i:02d}-" + "x" * 50 for i in range(count)]
    lines = ["id: wide", "continue_on_failure: true", "tasks:"]
    for i, tid in enumerate(ids):
        command = f"echo {shlex.quote(reason.strip())} >&2; exit 3" if i == bad else "true"
        lines += [f"  - id: {tid}", "    task_type: shell",
                  f"    parameters: {{command: {json.dumps(command)}}}",
                  "    retry_config: {max_retries: 0}"]
    path = home / "wide.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path, ids, reason.strip()


def test_a_piped_headless_table_lists_every_task_whole(home: Path) -> None:
    path, ids, reason = many_tasks(home)
    env = {k: v for k, v in cli_env(home).items() if k != "COLUMNS"}  # a pipe's own width
    proc = subprocess.run([sys.executable, "-m", "deeptui.cli", "run", str(path), "--headless"],
                          capture_output=True, text=True, env=env, cwd=home, timeout=120)
    assert proc.returncode == 1, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if "stage-" in line]
    for tid in ids:
        assert any(tid in row for row in rows), tid
    failed = next(row for row in rows if ids[7] in row and "failed" in row)
    assert reason in failed
    assert "more not shown" not in proc.stdout


def test_headless_json_is_one_document_with_every_task(home: Path) -> None:
    path, ids, reason = many_tasks(home, 5, bad=3)
    proc = deeptui(home, "run", path, "--headless", "--format", "json")
    assert proc.returncode == 1, proc.stderr  # a failed task: the exit code is unchanged
    doc = json.loads(proc.stdout)
    assert doc["run_id"].startswith("wide") and doc["status"] == "failed"
    assert [t["id"] for t in doc["tasks"]] == ids
    by_id = {t["id"]: t for t in doc["tasks"]}
    assert by_id[ids[3]]["status"] == "failed" and reason in by_id[ids[3]]["error"]
    assert all(t["status"] == "completed" and t["attempts"] == 1
               and t["duration_seconds"] is not None for t in doc["tasks"] if t["id"] != ids[3])
    ok = deeptui(home, *FAST, "run", "ci-cd", "--headless", "--format", "json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["status"] == "completed"


def test_history_list_and_show_as_json(home: Path) -> None:
    assert deeptui(home, *FAST, "run", "ci-cd", "--headless", "--run-id", "r1").returncode == 0
    runs = json.loads(deeptui(home, "history", "--format", "json").stdout)
    assert [r["run_id"] for r in runs] == ["r1"] and runs[0]["status"] == "completed"
    listed = json.loads(deeptui(home, "history", "list", "--format", "json").stdout)
    assert listed == runs
    show = json.loads(deeptui(home, "history", "show", "r1", "--format", "json").stdout)
    assert show["run_id"] == "r1" and len(show["tasks"]) == 5
    assert all(t["status"] == "completed" for t in show["tasks"])


def test_cache_stats_is_a_table_or_json(home: Path) -> None:
    assert deeptui(home, *FAST, "run", "ci-cd", "--headless").returncode == 0
    table = deeptui(home, "cache", "stats")
    assert table.returncode == 0, table.stderr
    assert "hit rate" in table.stdout and "entries" in table.stdout
    assert not table.stdout.lstrip().startswith("{")
    data = json.loads(deeptui(home, "cache", "stats", "--format", "json").stdout)
    assert data["entries"] == 5


# -------------------------------------------------------------- models


def test_a_provider_without_its_package_names_the_extra(home: Path) -> None:
    pytest.importorskip("openai")  # the test extra installs openai, not anthropic
    if _installed("anthropic"):
        pytest.skip("anthropic is installed here")
    line = one_line_error(deeptui(home, "--model", "anthropic:claude-sonnet-4-5", "run",
                                  "ci-cd", "--headless"))
    assert "pip install 'deeptui[anthropic]'" in line
    assert "drop --model" in line


def test_a_provider_without_its_key_names_the_variable(home: Path) -> None:
    pytest.importorskip("openai")
    line = one_line_error(deeptui(home, "run", "ci-cd", "--headless", "--model", "openai:gpt-4o"))
    assert "OPENAI_API_KEY" in line and "OPENAI_BASE_URL" in line
    assert "drop --model to run the offline model" in line


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_no_pydantic_ai_banner(home: Path) -> None:
    """pydantic-ai shows its banner to a coding agent's pipe too (AI_AGENT), unless in CI
    or pytest: take those away and the run must still print no banner."""
    env = {k: v for k, v in cli_env(home).items() if k not in ("CI", "PYTEST_VERSION")}
    env["AI_AGENT"] = "1"
    proc = subprocess.run([sys.executable, "-m", "deeptui.cli", "--cache", "none", *FAST,
                           "run", "ci-cd", "--headless"], capture_output=True, text=True,
                          env=env, cwd=home, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Logfire" not in proc.stdout + proc.stderr
    assert "pydantic-ai v" not in proc.stderr
    assert proc.stderr == ""
