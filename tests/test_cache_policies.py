"""Cache policies through the orchestrator: a callable's code is part of its key, shell tasks
are cached only when they opt in, and a task can name its own policy."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from deeptui import (CacheConfig, OrchestrationConfig, RetryConfig, TaskDefinition,
                     TaskOrchestrator, WorkflowDefinition)
from deeptui.cache.policies import DEFAULT, KeyInputs, source_digest
from deeptui.errors import WorkflowValidationError

FAST = OrchestrationConfig(simulated_latency=(0.0, 0.0), simulated_seed=3)


def load_module(path: Path, body: str, name: str):
    """Write ``body`` to ``path`` and import it as a fresh module called ``name``."""
    path.write_text(body, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules.pop(name, None)
    return module


def disk_orchestrator(cache_dir: Path) -> TaskOrchestrator:
    return TaskOrchestrator(config=FAST, cache_config=CacheConfig(strategy="disk",
                                                                  cache_dir=cache_dir))


def one_callable(name: str = "report") -> WorkflowDefinition:
    return WorkflowDefinition(id="wf", tasks=[TaskDefinition(
        id="report", task_type="callable", parameters={"callable": name})])


async def test_editing_a_registered_callable_runs_it_again_instead_of_the_old_output(tmp_path):
    source = tmp_path / "steps.py"
    cache_dir = tmp_path / "cache"
    v1 = load_module(source, "def report(task, parameters, deps):\n    return 'version 1'\n",
                     "steps_v1")
    first = disk_orchestrator(cache_dir)
    first.register_callable("report", v1.report)
    state = await first.execute_workflow(one_callable())
    assert (state.task_results["report"].output, state.task_results["report"].cached) == (
        "version 1", False)
    first.close()

    # the user edits the function's body; a new process (here: a new orchestrator) runs it
    v2 = load_module(source, "def report(task, parameters, deps):\n    return 'version 2!'\n",
                     "steps_v2")
    second = disk_orchestrator(cache_dir)
    second.register_callable("report", v2.report)
    state = await second.execute_workflow(one_callable())
    assert (state.task_results["report"].output, state.task_results["report"].cached) == (
        "version 2!", False)
    # the unchanged function still hits
    state = await second.execute_workflow(one_callable())
    assert (state.task_results["report"].output, state.task_results["report"].cached) == (
        "version 2!", True)
    second.close()


def test_the_source_digest_is_taken_once_per_function_object(tmp_path):
    module = load_module(tmp_path / "f.py", "def f(task, parameters, deps):\n    return 1\n",
                         "digest_once")
    first = source_digest(module.f)
    (tmp_path / "f.py").write_text("def f(task, parameters, deps):\n    return 2\n")
    assert source_digest(module.f) == first  # the same object: the memo answers
    again = load_module(tmp_path / "f.py", (tmp_path / "f.py").read_text(), "digest_twice")
    assert source_digest(again.f) != first


def counting_shell(tmp_path: Path, **parameters) -> WorkflowDefinition:
    marks = tmp_path / "marks.txt"
    return WorkflowDefinition(id="sh", tasks=[TaskDefinition(
        id="build", task_type="shell", retry_config=RetryConfig(max_retries=0),
        parameters={"command": f"echo built >> {marks}", **parameters})])


@pytest.mark.parametrize(("parameters", "runs"), [
    ({}, 2),  # the default policy: a shell task has side effects, it runs every time
    ({"cache": True}, 1),  # opted in
    ({"cache_policy": ["definition", "parameters"]}, 1),  # a policy of its own opts in too
    ({"cache": True, "cache_policy": "none"}, 2),
])
async def test_shell_tasks_are_cached_only_when_they_opt_in(tmp_path, parameters, runs):
    orch = TaskOrchestrator(config=FAST)
    for _ in range(2):
        state = await orch.execute_workflow(counting_shell(tmp_path, **parameters))
        assert state.status.value == "completed"
    assert (tmp_path / "marks.txt").read_text().count("built") == runs


async def test_a_task_policy_without_dependencies_hits_when_only_an_upstream_output_changed():
    orch = TaskOrchestrator(config=FAST)
    calls = []
    upstream = {"value": 1}

    def source(task, parameters, deps):
        return upstream["value"]

    def summary(task, parameters, deps):
        calls.append(deps)
        return f"summary of {deps}"

    orch.register_callable("source", source)
    orch.register_callable("summary", summary)

    def workflow(policy):
        return WorkflowDefinition(id="wf", tasks=[
            TaskDefinition(id="src", task_type="callable",
                           parameters={"callable": "source", "cache_policy": "none"}),
            TaskDefinition(id="sum", task_type="callable", depends_on=["src"],
                           parameters={"callable": "summary", "cache_policy": policy})])

    for value in (1, 2):
        upstream["value"] = value
        await orch.execute_workflow(workflow(["definition", "parameters", "source"]))
    assert calls == [{"src": 1}]  # the second run hit: dependencies are not in its key
    for value in (3, 4):
        upstream["value"] = value
        await orch.execute_workflow(workflow("default"))
    assert calls == [{"src": 1}, {"src": 3}, {"src": 4}]  # the default policy has them


@pytest.mark.parametrize(("policy", "message"), [
    ("everything", "task 't': parameters.cache_policy: unknown part 'everything'"),
    (["model", "inputs"], "task 't': parameters.cache_policy: unknown part 'inputs'"),
    (3, "task 't': parameters.cache_policy must be"),
])
def test_an_unknown_cache_policy_is_one_line_naming_the_task(policy, message):
    orch = TaskOrchestrator(config=FAST)
    with pytest.raises(WorkflowValidationError) as err:
        orch.validate(WorkflowDefinition(id="wf", tasks=[
            TaskDefinition(id="t", parameters={"cache_policy": policy})]))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_each_part_of_the_default_policy_changes_the_key():
    task = TaskDefinition(id="t", description="d", task_type="callable",
                          parameters={"callable": "f"}, depends_on=["up"])

    def f(task, parameters, deps):
        return 1

    def g(task, parameters, deps):
        return 2

    base = KeyInputs(task, {"up": 1}, "m1", f)
    changed = [
        KeyInputs(task.model_copy(update={"description": "e"}), {"up": 1}, "m1", f),
        KeyInputs(task.model_copy(update={"parameters": {"callable": "f", "x": 1}}),
                  {"up": 1}, "m1", f),
        KeyInputs(task, {"up": 2}, "m1", f),
        KeyInputs(task, {"up": 1}, "m2", f),
        KeyInputs(task, {"up": 1}, "m1", g),
    ]
    keys = {DEFAULT.key(base)} | {DEFAULT.key(inputs) for inputs in changed}
    assert len(keys) == 1 + len(changed)
    assert DEFAULT.key(KeyInputs(task, {"up": 1}, "m1", f)) == DEFAULT.key(base)
    assert repr(DEFAULT) == "shell-opt-in + definition + parameters + dependencies + model + source"
