"""The CI/CD template really runs its commands: a passing project builds, a failing test stops the build."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("deeptui.orchestrator")

from deeptui import TaskOrchestrator, create_ci_cd_pipeline  # noqa: E402
from deeptui.cache import CacheConfig  # noqa: E402
from deeptui.models import OrchestrationConfig, TaskStatus, WorkflowStatus  # noqa: E402

PY = f'"{sys.executable}"'

SCRIPTS = {
    "pkg/__init__.py": '''
        def add(a, b):
            return a + b
        ''',
    "tools/lint.py": '''
        import pathlib, py_compile
        for path in pathlib.Path("pkg").rglob("*.py"):
            py_compile.compile(str(path), doraise=True)
        print("lint ok")
        ''',
    "tools/check_format.py": '''
        import pathlib, sys
        bad = [str(p) for p in pathlib.Path("pkg").rglob("*.py")
               if any(line != line.rstrip() for line in p.read_text().splitlines())]
        print("badly formatted:", bad) if bad else print("format ok")
        sys.exit(1 if bad else 0)
        ''',
    "tools/scan.py": '''
        import pathlib, sys
        hits = [str(p) for p in pathlib.Path("pkg").rglob("*.py") if "eval(" in p.read_text()]
        print("scan found:", hits) if hits else print("scan ok")
        sys.exit(1 if hits else 0)
        ''',
    "tests/run_tests.py": '''
        import sys
        sys.path.insert(0, ".")
        import pkg
        expected = int(sys.argv[1]) if len(sys.argv) > 1 else 3
        assert pkg.add(1, 2) == expected, f"add(1, 2) != {expected}"
        print("1 passed")
        ''',
    "tools/build.py": '''
        import pathlib, zipfile
        pathlib.Path("dist").mkdir(exist_ok=True)
        with zipfile.ZipFile("dist/pkg-0.1.zip", "w") as archive:
            archive.write("pkg/__init__.py")
        print("built dist/pkg-0.1.zip")
        ''',
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, text in SCRIPTS.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return tmp_path


def pipeline(project: Path, test_command: str, **kwargs: object):
    return create_ci_cd_pipeline(
        workflow_id="ci-run",
        repository_path=str(project),
        lint_command=f"{PY} tools/lint.py",
        format_command=f"{PY} tools/check_format.py",
        security_command=f"{PY} tools/scan.py",
        test_command=test_command,
        build_command=f"{PY} tools/build.py",
        **kwargs,
    )


def orchestrator() -> TaskOrchestrator:
    return TaskOrchestrator(
        config=OrchestrationConfig(simulated_latency=(0.0, 0.01)),
        cache_config=CacheConfig(strategy="none"),
    )


async def test_passing_project_runs_every_step_and_builds_the_artifact(project: Path) -> None:
    state = await orchestrator().execute_workflow(pipeline(project, f"{PY} tests/run_tests.py"))
    assert state.status == WorkflowStatus.COMPLETED, state.error
    assert set(state.completed_tasks) == {
        "lint-code", "check-formatting", "run-tests", "security-scan", "build-artifacts",
    }
    assert "1 passed" in str(state.task_results["run-tests"].output)
    assert (project / "dist" / "pkg-0.1.zip").is_file()


async def test_failing_tests_fail_the_run_and_skip_the_build(project: Path) -> None:
    wf = pipeline(project, f"{PY} tests/run_tests.py 4", run_security_scan=False)
    state = await orchestrator().execute_workflow(wf)
    assert state.status == WorkflowStatus.FAILED
    assert state.task_results["run-tests"].status == TaskStatus.FAILED
    assert state.task_results["run-tests"].attempts == 1  # command_retries defaults to 0
    assert "add(1, 2) != 4" in (state.task_results["run-tests"].error or "")
    assert state.task_results["build-artifacts"].status == TaskStatus.SKIPPED
    assert not (project / "dist").exists()


async def test_a_lint_failure_stops_the_pipeline_before_the_tests(project: Path) -> None:
    (project / "pkg" / "broken.py").write_text("def oops(:\n")
    state = await orchestrator().execute_workflow(pipeline(project, f"{PY} tests/run_tests.py"))
    assert state.status == WorkflowStatus.FAILED
    assert state.task_results["lint-code"].status == TaskStatus.FAILED
    assert state.task_results["run-tests"].status == TaskStatus.SKIPPED
    assert not (project / "dist").exists()


async def test_guide_example_mixes_shell_steps_with_agent_steps(project: Path) -> None:
    wf = create_ci_cd_pipeline(
        repository_path=str(project),
        test_command=f"{PY} tests/run_tests.py",
        build_command=f"{PY} tools/build.py",
        deploy_target="staging",
    )
    state = await orchestrator().execute_workflow(wf)
    assert state.status == WorkflowStatus.COMPLETED, state.error
    assert state.task_results["lint-code"].agent_used == "code-analysis-agent"
    assert state.task_results["run-tests"].agent_used is None  # a shell task, no agent
    assert (project / "dist" / "pkg-0.1.zip").is_file()
