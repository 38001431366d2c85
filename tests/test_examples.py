"""The programs in examples/ run as a user runs them: `python examples/NAME.py` in a
fresh home (no config, no API key, no DEEPTUI_MODEL), offline, exit code 0, printing
what they demonstrate. They are started together (they mostly wait on the simulated
model) and each test checks one's output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NAMES = ["orchestration_example", "orchestration_with_skills_example",
         "strategy_selection_example", "metrics_and_templates_example",
         "caching_and_visualization_example"]


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    home: Path

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def fresh_env(home: Path, **extra: str) -> dict[str, str]:
    """Only what a program needs: nothing of the user's, no keys, no DEEPTUI_MODEL."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8",
           "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
           "XDG_CACHE_HOME": str(home / "cache"), "XDG_STATE_HOME": str(home / "state"),
           **extra}
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DEEPTUI_MODEL"):
        assert key not in env or key in extra
    return env


def start(name: str, home: Path, *args: str, **env: str) -> tuple[subprocess.Popen, Path]:
    home.mkdir(parents=True)
    process = subprocess.Popen([sys.executable, str(EXAMPLES / f"{name}.py"), *args],
                               cwd=home, env=fresh_env(home, **env), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return process, home


def finish(process: subprocess.Popen, home: Path) -> Finished:
    try:
        stdout, stderr = process.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        pytest.fail(f"{process.args[1]} did not finish:\n{stdout}\n{stderr}")
    return Finished(process.returncode, stdout, stderr, home)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Finished]:
    root = tmp_path_factory.mktemp("examples")
    started = {name: start(name, root / name) for name in NAMES}
    # the same skills example on pydantic-ai's TestModel, named as a user names a real model
    started["on-model"] = start("orchestration_with_skills_example", root / "on-model",
                                DEEPTUI_MODEL="test")
    return {name: finish(*pair) for name, pair in started.items()}


def has(result: Finished, *expected: str) -> None:
    """Each expected text is a whole line of the output (a regex when it starts with ^)."""
    for line in expected:
        if line.startswith("^"):
            assert re.search(line, result.stdout, re.M), f"no line matching {line!r} in\n{result.stdout}"
        else:
            assert line in result.lines, f"no line {line!r} in\n{result.stdout}"


def ok(result: Finished) -> None:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_orchestration_example_shows_each_kind_of_workflow(ran):
    result = ran["orchestration_example"]
    ok(result)
    assert result.stderr == ""
    has(result,
        "Model: offline (SimulatedModel)",
        # basic workflow, on the user's own agent and deps
        "Workflow status: completed", "Completed tasks: 3", "task3 answered: ## task3",
        # parallel: ten tasks, five at a time, routed by capability
        "10 of 10 datasets analysed, at most 5 at a time (max_parallel_tasks=5), "
        "by data-processing-agent",
        # conditional
        "  fix-issues      completed", "  verify          completed",
        "  report-failure  skipped (condition not met: analyze.failed)",
        # complex DAG
        "  testing       testing-agent", "backend and frontend ran side by side: True",
        # progress
        "Progress: 1/3 tasks", "Progress: 3/3 tasks", "^Status: completed after",
        # error handling
        "Workflow status: failed",
        "  flaky-task   completed attempts=3",
        "  broken-task  failed    attempts=2 ValueError: the upstream API returned malformed JSON",
        "  merge        skipped   attempts=0 dependency 'broken-task' failed",
        "  summary      completed attempts=1",
        "Failed tasks: ['broken-task']",
        r"^Refused before running: .*dependency cycle: \w -> \w -> \w -> \w$")


def test_skills_example_discovers_loads_and_refuses_skills(ran):
    result = ran["orchestration_with_skills_example"]
    ok(result)
    missing = f"skill directory '{result.home}/.pydantic-deep/skills' does not exist; ignored"
    assert result.stderr == missing + "\n"  # the logged warning, nothing else
    has(result,
        "Discovered 6 skills", "6 skills available:", f"  ! {missing}",
        "^  release-notes         \\[yours\\]    Write release notes users read",
        "^  python-code-review    \\[bundled\\]  Review Python code",
        "release-notes comes from project-skills/ (bundled: False)",
        "Workflow status: completed",
        "  api-design            needs api-design; its agent loaded api-design",
        "  implementation        needs no skill; its agent loaded none",
        "  comprehensive-review  needs python-code-review, security-audit, performance-analysis;"
        " its agent loaded python-code-review, security-audit, performance-analysis",
        "release-notes answered (last line): Applied the release-notes skill.",
        "^Refused before running: Required skill 'sql-tuning' not found\\. Available skills: "
        "\\['api-design', .*'release-notes'.*\\(required by task 'sql-review'\\)")


def test_strategy_example_recommends_explains_and_times_each_strategy(ran):
    result = ran["strategy_selection_example"]
    ok(result)
    assert result.stderr == ""
    has(result,
        "Nightly Data Checks: recommend_strategy -> parallel",
        "Hotfix: recommend_strategy -> sequential",
        "Feature Delivery: recommend_strategy -> dag",
        "Review with Follow-up: recommend_strategy -> conditional",
        "  Recommended strategy: dag",
        "  Reason: each task waits for the one before it (a chain): none could run side by side",
        "  (it declares sequential; auto_strategy=True runs it as dag)",
        r"^  sequential +\d+\.\d\ds  completed, 8/8 tasks, at most 1 at a time$",
        r"^  parallel +\d+\.\d\ds  completed, 8/8 tasks, at most 3 at a time$",
        r"^  dag +\d+\.\d\ds  completed, 8/8 tasks, at most 3 at a time$",
        r"^  conditional +\d+\.\d\ds  completed, 8/8 tasks, at most 3 at a time$",
        r"^Fastest: \w+ \(\d+\.\dx faster than \w+\)",
        "Declared strategy: sequential",
        "auto_strategy=True ran it as: dag",
        r"^  \d+\.\d\ds, completed, at most 3 at a time \(sequential took \d+\.\d\ds\)$")


def test_metrics_example_runs_the_templates_and_reports_on_them(ran):
    result = ran["metrics_and_templates_example"]
    ok(result)
    assert result.stderr == ""
    has(result,
        "CI/CD Pipeline (5 tasks): lint-code, check-formatting, run-tests, security-scan, "
        "build-artifacts",
        "ETL Pipeline (8 tasks): extract-csv-0, extract-api-1, validate-extracted-data, "
        "transform-step-1, transform-step-2, transform-step-3, load-to-destination, verify-load",
        "Code Review (6 tasks): analyze-code-structure, check-code-quality, security-review, "
        "review-documentation, evaluate-test-coverage, generate-review-report",
        "Documentation (6 tasks): analyze-codebase, generate-api-docs, write-user-guide, "
        "create-tutorial, generate-examples, build-documentation",
        r"^  CI/CD Pipeline failed ",
        r"^  ETL Pipeline   completed 8/8 completed \(100\.0%\), \d+\.\d\ds, slowest: ",
        # the performance report
        "Workflow Performance Report: Code Review", "Status: completed", "  Total Tasks: 6",
        "  Completed: 6 (100.0%)", r"^  Slowest Task: [\w-]+ \(\d+\.\d\ds\)$",
        # bottlenecks and the failed test step, whose command really ran
        r"^Code Review: bottleneck [\w-]+ \(\d+\.\d\ds, \d+% of the run\)$",
        "Failed in CI/CD Pipeline: run-tests after 0 retries: exit code 1: 2 failed, 10 passed",
        "  - run-tests: exit code 1: 2 failed, 10 passed",
        # aggregate statistics
        "Total Workflows: 4", "Total Tasks: 25", r"^Average Success Rate: \d+\.\d%$",
        r"^Successful/failed workflows: 3/1, tokens used: [1-9]\d*$",
        r"^max_parallel_tasks=1: \d+\.\d\ds, parallelism \d\.\d: the six extracts waited",
        r"^max_parallel_tasks=6: \d+\.\d\ds, parallelism \d\.\d: the extracts ran side by side")


def test_caching_example_shows_hits_expiry_invalidation_and_diagrams(ran):
    result = ran["caching_and_visualization_example"]
    ok(result)
    assert result.stderr == ""
    has(result,
        r"^memory  first run: 0/4 from the cache",
        r"^disk    first run: 0/4 from the cache",
        r"^hybrid  first run: 0/4 from the cache",
        r"^        second run: 4/4 from the cache \(",
        "        hits 4, misses 4, hit rate 50.0%, entries 4",
        r"^        a new orchestrator on the same folder: 4/4 from the cache",
        r"^run again at once: +1/1 from the cache",
        r"^run again after 2\.5s \(TTL 2s\): +0/1 from the cache",
        r"^invalidate_cache\('extract'\) removed 1; data unchanged: 3/4 from the cache, "
        r"ran: extract \(",
        r"^invalidate_cache\('extract'\) removed 1; data changed: +0/4 from the cache",
        "clear_cache() removed 7 entries; entries now: 0",
        r"^ETL first run:  0/8 from the cache",
        r"^ETL second run: 8/8 from the cache",
        r"^get_cache_stats\(\): \{'strategy': 'hybrid', 'hits': 8, 'misses': 8, "
        r"'hit_rate': '50\.0%', 'evictions': 0, 'invalidations': 0, 'cache_size': 8, ",
        # the four formats, coloured by the run's state, with its metrics
        "graph TD", r'^    n0\["extract-csv-0<br/>\d+\.\ds<br/>agent: data-processing-agent"\]'
        ":::completed$",
        "digraph Workflow {", r'^    "extract-csv-0" -> "validate-extracted-data";$',
        "Strategy: dag", r"^  ✓ verify-load \(\d+\.\ds, agent: data-processing-agent\) "
        r"\[depends: load-to-destination\]$",
        "workflow: {'id': 'my-etl', 'name': 'ETL Pipeline', 'strategy': 'dag'}",
        "8 nodes, 7 edges; first node:", '  "status": "completed",')
    # its disk caches were in its own temporary folder, not in the user's cache directory
    assert not (result.home / "cache" / "deeptui").exists()


def test_an_example_runs_on_the_model_deeptui_model_names(ran):
    result = ran["on-model"]
    ok(result)
    has(result, "Model: test", "Workflow status: completed")
    answer = next(line for line in result.lines if line.startswith("release-notes answered"))
    assert answer.startswith("release-notes answered (last line): {")  # TestModel's answer
    assert "Applied the release-notes skill." not in result.stdout  # not the offline model's


def test_a_model_that_cannot_be_used_is_one_line_before_anything_runs(tmp_path):
    process, home = start("strategy_selection_example", tmp_path / "home",
                          "--model", "openai:gpt-4o-mini")
    result = finish(process, home)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: model 'openai:gpt-4o-mini': set the OPENAI_API_KEY environment variable (or "
        "OPENAI_BASE_URL for an OpenAI-compatible server), or drop --model to run the offline "
        "model\n")
