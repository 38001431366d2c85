"""`deeptui validate` and `run` on a file with mistakes: every problem on its own line
(file:line:col, task, field), an unknown task_type refused instead of run as an agent,
and the nearest field name suggested, synonyms from other tools included."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli import deeptui

from deeptui.errors import WorkflowFileError
from deeptui.loader import loads_workflow

MISTAKES = """\
id: mistakes
tasks:
  - id: build
    task_type: shel
    parameters: {command: "touch built"}
  - id: test
    descripton: run the tests
    retries: 3
    depends_on: [build]
  - id: lint
    task_type: magic
    parameters: {command: "touch linted"}
"""


def error_lines(proc) -> list[str]:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert all(line.startswith("deeptui: error: ") for line in lines), lines
    return [line.removeprefix("deeptui: error: ") for line in lines]


@pytest.mark.parametrize("command", [["validate"], ["run", "--headless"], ["run"]])
def test_every_problem_is_reported_on_its_own_line_and_nothing_runs(
        tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "mistakes.yaml"
    path.write_text(MISTAKES)
    proc = deeptui(tmp_path, command[0], path, *command[1:])
    assert error_lines(proc) == [
        f"{path}:4:16: task 'build': task_type 'shel' is not one of agent, shell, callable "
        "(did you mean 'shell'?)",
        f"{path}:7:5: task 'test': unknown field 'descripton' (did you mean 'description'?)",
        f"{path}:8:5: task 'test': unknown field 'retries' (did you mean 'retry_config'?)",
        f"{path}:11:16: task 'lint': task_type 'magic' is not one of agent, shell, callable",
    ]
    assert not (tmp_path / "built").exists() and not (tmp_path / "linted").exists()


def test_an_unknown_task_type_alone_fails_validation_naming_the_task(tmp_path: Path) -> None:
    path = tmp_path / "typo.json"
    path.write_text('{"id": "typo", "tasks": [{"id": "deploy", "task_type": "Shell", '
                    '"parameters": {"command": "touch deployed"}}]}')
    for command in (["validate"], ["run", "--headless"]):
        assert error_lines(deeptui(tmp_path, command[0], path, *command[1:])) == [
            f"{path}: task 'deploy': task_type 'Shell' is not one of agent, shell, callable "
            "(did you mean 'shell'?)"]
    assert not (tmp_path / "deployed").exists()


def test_one_task_and_one_problem_are_singular(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text("id: one\ntasks:\n  - id: only\n    task_type: shell\n"
                    "    parameters: {command: 'echo hi'}\n")
    proc = deeptui(tmp_path, "validate", path)
    assert proc.returncode == 0, proc.stderr
    assert " with 1 task, " in proc.stdout
    two = "id: two\ntasks:\n  - id: a\n    retries: 2\n    timeout: 5\n"
    with pytest.raises(WorkflowFileError) as info:
        loads_workflow(two, "yaml", "two.yaml")
    assert str(info.value).endswith("(did you mean 'retry_config'?) (and 1 more problem)")
    assert info.value.problems == [
        "two.yaml:4:5: task 'a': unknown field 'retries' (did you mean 'retry_config'?)",
        "two.yaml:5:5: task 'a': unknown field 'timeout' (did you mean 'timeout_seconds'?)"]


@pytest.mark.parametrize(("text", "suggestion"), [
    ("id: w\ntasks:\n  - id: a\n    descripton: x\n", "'descripton' (did you mean 'description'?)"),
    ("id: w\ntasks:\n  - id: a\n    retries: 3\n", "'retries' (did you mean 'retry_config'?)"),
    ("id: w\ntasks:\n  - id: a\n    retry_config: {retries: 3}\n",
     "'retries' in retry_config (did you mean 'max_retries'?)"),
    ("id: w\ntasks:\n  - id: a\n    needs: [b]\n  - id: b\n", "'needs' (did you mean 'depends_on'?)"),
    ("id: w\ntasks:\n  - id: a\n    command: make\n",
     "'command' (did you mean 'parameters.command'?)"),
    ("id: w\ntimeout: 5\n", "'timeout' (did you mean 'default_timeout_seconds'?)"),
    ("id: w\nstrategy: dag\n", "'strategy' (did you mean 'execution_strategy'?)"),
])
def test_a_misspelt_or_borrowed_field_name_gets_the_nearest_field(text: str, suggestion: str) -> None:
    with pytest.raises(WorkflowFileError) as info:
        loads_workflow(text, "yaml")
    assert str(info.value).endswith("unknown field " + suggestion)


async def test_a_check_for_the_next_run_is_used_once_and_only_for_that_definition() -> None:
    """`validate(wf, for_next_run=True)` (the CLI's, 0.15 s at 100,000 tasks) spares the
    next start of that same object its checks; any other definition, and any later start,
    is checked again."""
    from deeptui.errors import WorkflowValidationError
    from deeptui.models import TaskDefinition, WorkflowDefinition
    from deeptui.orchestrator import TaskOrchestrator

    def flow(name: str) -> WorkflowDefinition:
        return WorkflowDefinition(id="w", tasks=[TaskDefinition(
            id="t", task_type="callable", parameters={"callable": name})])

    orch = TaskOrchestrator()
    good, bad = flow("noop"), flow("missing")
    orch.validate(good, for_next_run=True)
    with pytest.raises(WorkflowValidationError, match="callable 'missing' is not registered"):
        await orch.execute_workflow(bad)  # another definition: checked
    orch.validate(good, for_next_run=True)
    assert (await orch.execute_workflow(good)).status == "completed"
    good.tasks[0].parameters["callable"] = "missing"  # changed after its run
    with pytest.raises(WorkflowValidationError, match="callable 'missing' is not registered"):
        await orch.execute_workflow(good)  # the check was used once: checked again
    orch.close()
