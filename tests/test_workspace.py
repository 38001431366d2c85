"""Agent tasks on the real files: confined, read-only unless they write, writes as diffs, approvals.

Each test runs real pydantic-deep agents (pydantic-ai FunctionModels that call the file
tools) through the orchestrator on a directory made by the test, and hashes the files
before and after.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, \
    ToolReturnPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from deeptui import OrchestrationConfig, TaskDefinition, TaskOrchestrator, WorkflowDefinition
from deeptui import bus as ev
from deeptui.errors import WorkflowValidationError
from deeptui.models import TaskStatus
from deeptui.workspace import ApplyConflictError
from conftest import tree_hash

Script = dict[str, list[list[tuple[str, dict[str, Any]]]]]  # task id -> tool calls per step


def scripted_model(script: Script) -> FunctionModel:
    """Per task (the prompt's `Task:` line): the given tool calls step by step, then a text
    answer that quotes every tool result it got, so outputs show what the tools returned."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        prompt = next(p.content for m in messages if isinstance(m, ModelRequest) for p in m.parts
                      if getattr(p, "part_kind", "") == "user-prompt")
        task = re.search(r"^Task: (.+)$", prompt, re.M).group(1)
        step = sum(isinstance(m, ModelResponse) for m in messages)
        calls = script.get(task, [])
        if step < len(calls):
            return ModelResponse(parts=[ToolCallPart(name, args, tool_call_id=f"{task}-{step}-{i}")
                                        for i, (name, args) in enumerate(calls[step])])
        results = [f"{p.tool_name}: {p.content}" for m in messages if isinstance(m, ModelRequest)
                   for p in m.parts if isinstance(p, ToolReturnPart)]
        return ModelResponse(parts=[TextPart("\n".join(results) or "nothing to do")])

    async def stream(messages: list[ModelMessage], info: AgentInfo):
        for i, part in enumerate(respond(messages, info).parts):
            if isinstance(part, ToolCallPart):
                yield {i: DeltaToolCall(name=part.tool_name, json_args=part.args_as_json_str(),
                                        tool_call_id=part.tool_call_id)}
            else:
                yield part.content

    return FunctionModel(respond, stream_function=stream)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "README.md").write_text("# demo\n")
    (tmp_path / "secret.txt").write_text("TOP SECRET outside the workspace\n")
    (root / "link_out").symlink_to(tmp_path / "secret.txt")
    return root


def orchestrator(script: Script, approvals: str = "never") -> TaskOrchestrator:
    return TaskOrchestrator(model=scripted_model(script),
                            config=OrchestrationConfig(approvals=approvals))


def workflow(repo: Path, *tasks: TaskDefinition) -> WorkflowDefinition:
    return WorkflowDefinition(id="files", tasks=list(tasks), workspace=str(repo))


async def test_file_tools_read_the_real_files_and_nothing_outside(repo: Path) -> None:
    before = tree_hash(repo)
    script = {"look": [[("ls", {"path": "."}), ("read_file", {"path": "pkg/mod.py"})],
                       [("read_file", {"path": "../secret.txt"}),
                        ("read_file", {"path": "/etc/passwd"}),
                        ("read_file", {"path": "link_out"})]]}
    orch = orchestrator(script)
    state = await orch.execute_workflow(workflow(repo, TaskDefinition(id="look")))
    output = state.task_results["look"].output
    assert state.status == "completed"
    assert "pkg/" in output and "return a + b" in output  # the real tree and file
    assert "TOP SECRET" not in output and "root:" not in output
    assert output.count("outside the workspace") == 3
    log = [text for _, kind, text in orch.get_task_log(state.run_id, "look") if kind == "tool_call"]
    assert "read_file pkg/mod.py" in log and "ls ." in log
    assert tree_hash(repo) == before


async def test_a_read_only_task_cannot_write(repo: Path) -> None:
    before = tree_hash(repo)
    script = {"look": [[("write_file", {"path": "new.txt", "content": "x"}),
                        ("edit_file", {"path": "pkg/mod.py", "old_string": "a + b",
                                       "new_string": "a - b"})]]}
    state = await orchestrator(script).execute_workflow(workflow(repo, TaskDefinition(id="look")))
    output = state.task_results["look"].output
    assert output.count("read-only") >= 2
    assert state.task_results["look"].changes is None
    assert tree_hash(repo) == before


async def test_a_writing_task_leaves_a_diff_and_the_files_untouched(repo: Path) -> None:
    before = tree_hash(repo)
    script = {"fix": [[("edit_file", {"path": "pkg/mod.py", "old_string": "def add(a, b):\n",
                                      "new_string": "def add(a, b):\n    \"\"\"Add.\"\"\"\n"}),
                       ("write_file", {"path": "pkg/new.py", "content": "x = 1\n"}),
                       ("write_file", {"path": "../escape.txt", "content": "no"})]],
              "check": [[("read_file", {"path": "pkg/mod.py"})]]}
    orch = orchestrator(script)
    seen: list[ev.Event] = []
    orch.bus.tap(seen.append)
    wf = workflow(repo, TaskDefinition(id="fix", writes=True),
                  TaskDefinition(id="check", depends_on=["fix"]))
    state = await orch.execute_workflow(wf)
    assert state.status == "completed"
    changes = state.task_results["fix"].changes
    assert [(c.path, c.status) for c in changes.files] == [("pkg/mod.py", "modified"),
                                                           ("pkg/new.py", "added")]
    assert '+    """Add."""' in changes.diff and "+++ b/pkg/new.py" in changes.diff
    assert "outside the workspace" in state.task_results["fix"].output
    assert '"""Add."""' in state.task_results["check"].output  # downstream sees the change
    assert tree_hash(repo) == before and not (repo.parent / "escape.txt").exists()
    assert [e.task_id for e in seen if isinstance(e, ev.TaskChangesReady)] == ["fix"]

    assert orch.apply_changes(state.run_id, "fix")
    assert '"""Add."""' in (repo / "pkg" / "mod.py").read_text()
    assert (repo / "pkg" / "new.py").read_text() == "x = 1\n"
    assert state.task_results["fix"].changes.applied
    assert not orch.apply_changes(state.run_id, "fix")  # once


async def test_applying_refuses_when_the_file_changed_since(repo: Path) -> None:
    script = {"fix": [[("edit_file", {"path": "pkg/mod.py", "old_string": "a + b",
                                      "new_string": "b + a"})]]}
    orch = orchestrator(script)
    state = await orch.execute_workflow(workflow(repo, TaskDefinition(id="fix", writes=True)))
    (repo / "pkg" / "mod.py").write_text("edited by the user\n")
    with pytest.raises(ApplyConflictError, match=r"pkg/mod.py \(changed since the task read it\)"):
        orch.apply_changes(state.run_id, "fix")
    assert (repo / "pkg" / "mod.py").read_text() == "edited by the user\n"


@pytest.mark.parametrize("policy, ran", [("never", False), ("always", True)])
async def test_commands_need_approval(repo: Path, policy: str, ran: bool) -> None:
    script = {"build": [[("execute", {"command": "touch made-by-command && echo hi"})]]}
    orch = orchestrator(script, approvals=policy)
    seen: list[ev.Event] = []
    orch.bus.tap(seen.append)
    state = await orch.execute_workflow(workflow(repo, TaskDefinition(id="build", writes=True)))
    assert state.status == "completed"
    asked = [e for e in seen if isinstance(e, ev.ApprovalRequested)]
    answered = [e for e in seen if isinstance(e, ev.ApprovalAnswered)]
    assert [e.tool for e in asked] == ["execute"] and [e.approved for e in answered] == [ran]
    log = [text for _, kind, text in orch.get_task_log(state.run_id, "build") if kind == "approval"]
    assert log[-1].startswith("approved" if ran else "denied")
    assert not (repo / "made-by-command").exists()  # a command runs on the task's copy
    changes = state.task_results["build"].changes
    assert [c.path for c in changes.files] == (["made-by-command"] if ran else [])


async def test_a_person_answers_while_the_task_waits(repo: Path) -> None:
    import asyncio

    script = {"build": [[("execute", {"command": "echo hi"})]]}
    orch = orchestrator(script, approvals="ask")
    wf = workflow(repo, TaskDefinition(id="build", writes=True, timeout_seconds=0.5))
    run_id = orch.start_workflow(wf)
    for _ in range(200):
        if orch.approvals.pending_for(run_id):
            break
        await asyncio.sleep(0.01)
    [request] = orch.approvals.pending_for(run_id)
    await asyncio.sleep(0.8)  # longer than the timeout: it is paused while the person decides
    assert orch.answer_approval(request.request_id, approve=False)
    state = await orch.wait(run_id)
    assert state.task_results["build"].status == TaskStatus.COMPLETED
    assert "denied" in state.task_results["build"].output


def test_a_workspace_that_is_not_a_directory_is_refused(tmp_path: Path) -> None:
    orch = TaskOrchestrator()
    wf = WorkflowDefinition(id="w", tasks=[TaskDefinition(id="a")], workspace=str(tmp_path / "nope"))
    with pytest.raises(WorkflowValidationError, match="workspace .*nope' is not a directory"):
        orch.validate(wf)


async def test_a_stored_diff_is_applied_later_from_the_command_line(repo: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from deeptui.cli.main import main
    from deeptui.store import RunStore

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    db = tmp_path / "history.db"
    script = {"fix": [[("edit_file", {"path": "pkg/mod.py", "old_string": "a + b",
                                      "new_string": "b + a"})]],
              "build": [[("execute", {"command": "echo hi"})]]}
    with RunStore(db, sync_commit=True) as store:
        orch = TaskOrchestrator(model=scripted_model(script), store=store)
        state = await orch.execute_workflow(workflow(
            repo, TaskDefinition(id="fix", writes=True),
            TaskDefinition(id="build", writes=True, depends_on=["fix"])))
        orch.close()
    before = tree_hash(repo)
    kinds = [(e["task_id"], e["kind"]) for e in RunStore(db).events(state.run_id)
             if e["kind"].startswith(("changes", "approval"))]
    assert kinds == [("fix", "changes"), ("build", "approval_requested"),
                     ("build", "approval_answered"), ("build", "changes")]

    assert main(["--db", str(db), "apply", state.run_id, "fix", "--diff"]) == 0
    assert "+    return b + a" in capsys.readouterr().out and tree_hash(repo) == before
    assert main(["--db", str(db), "apply", state.run_id, "build"]) == 2
    assert "has no changes to apply" in capsys.readouterr().err
    assert main(["--db", str(db), "apply", state.run_id, "fix"]) == 0
    assert "applied 1 file" in capsys.readouterr().out
    assert (repo / "pkg" / "mod.py").read_text() == "def add(a, b):\n    return b + a\n"
    assert main(["--db", str(db), "apply", state.run_id, "fix"]) == 2  # once
    assert "already applied" in capsys.readouterr().err


async def test_applying_from_history_refuses_a_file_edited_since(repo: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from deeptui.cli.main import main
    from deeptui.store import RunStore

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    db = tmp_path / "history.db"
    script = {"fix": [[("edit_file", {"path": "pkg/mod.py", "old_string": "a + b",
                                      "new_string": "b + a"})]]}
    with RunStore(db, sync_commit=True) as store:
        orch = TaskOrchestrator(model=scripted_model(script), store=store)
        state = await orch.execute_workflow(workflow(repo, TaskDefinition(id="fix", writes=True)))
        orch.close()
    (repo / "pkg" / "mod.py").write_text("# mine\n")
    assert main(["--db", str(db), "apply", state.run_id, "fix"]) != 0
    err = capsys.readouterr().err
    assert "pkg/mod.py (changed since the task read it)" in err and len(err.strip().splitlines()) == 1
    assert (repo / "pkg" / "mod.py").read_text() == "# mine\n"


async def test_the_file_screen_runs_on_the_workspace_typed_in_its_field(repo: Path, tmp_path: Path) -> None:
    from textual.app import App

    from deeptui.screens.parameters import ParametersScreen

    started: list[WorkflowDefinition] = []

    class Host(App[None]):
        def start_run(self, workflow: WorkflowDefinition) -> str:
            started.append(workflow)
            return "run"

    wf = WorkflowDefinition(id="w", tasks=[TaskDefinition(id="a")])
    app = Host()
    async with app.run_test(size=(120, 30)) as pilot:
        app.push_screen(ParametersScreen(workflow=wf, source="w.yaml"))
        await pilot.pause()
        field = app.screen.query_one("#workspace")
        field.value = str(tmp_path / "missing")
        app.screen.action_run_workflow()
        await pilot.pause()
        assert started == [] and any("is not a directory" in n.message for n in app._notifications)
        field.value = str(repo)
        app.screen.action_run_workflow()
        await pilot.pause()
    assert [w.workspace for w in started] == [str(repo)]


async def test_a_cached_review_is_not_reused_after_the_files_changed(repo: Path) -> None:
    from deeptui.cache import CacheConfig

    calls: list[str] = []
    script = {"look": [[("read_file", {"path": "pkg/mod.py"})]],
              "fix": [[("edit_file", {"path": "pkg/mod.py", "old_string": "a + b",
                                      "new_string": "b + a"})]]}
    model = scripted_model(script)
    orch = TaskOrchestrator(model=model, cache_config=CacheConfig(strategy="memory"))
    orch.bus.tap(lambda e: calls.append(e.task_id) if isinstance(e, ev.TaskStarted) else None)
    wf = workflow(repo, TaskDefinition(id="look"), TaskDefinition(id="fix", writes=True))
    first = await orch.execute_workflow(wf)
    second = await orch.execute_workflow(wf)
    assert second.task_results["look"].cached  # same files: the review is reused
    assert not second.task_results["fix"].cached  # a writing task's diff is made each time
    assert second.task_results["fix"].changes.files == first.task_results["fix"].changes.files
    (repo / "README.md").write_text("# demo, edited\n")
    third = await orch.execute_workflow(wf)
    assert not third.task_results["look"].cached
    assert calls == ["look", "fix", "fix", "look", "fix"]
