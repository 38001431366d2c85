"""The app on the run's files: a writing task's diff reviewed and applied by key, approvals
answered by key, the files an agent read, and the approvals policy the app runs with.

Real pydantic-deep agents on pydantic-ai FunctionModels that call the file tools (the
`scripted_model` of test_workspace.py) work on a directory made by each test; the files
are hashed before and after.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from conftest import tree_hash
from test_workspace import Script, scripted_model

from deeptui import OrchestrationConfig, TaskDefinition, TaskOrchestrator, WorkflowDefinition
from deeptui.app import DeeptuiApp
from deeptui.models import TaskChanges, TaskStatus, TaskUsage
from deeptui.screens.approvals import ApprovalsScreen
from deeptui.screens.diff import DiffScreen
from deeptui.screens.run import RunScreen
from deeptui.settings import Settings, build_orchestrator

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
FIX: Script = {"fix": [[("edit_file", {"path": "pkg/mod.py", "old_string": "    return a + b\n",
                                       "new_string": '    """Add."""\n    return b + a\n'}),
                        ("write_file", {"path": "pkg/new.py", "content": "x = 1\n"})]]}
BUILD: Script = {"build": [[("execute", {"command": "touch made-by-command"})]]}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "README.md").write_text("# demo\n")
    return root


def make_app(script: Script, approvals: str = "ask") -> DeeptuiApp:
    orch = TaskOrchestrator(model=scripted_model(script),
                            config=OrchestrationConfig(approvals=approvals))
    app = DeeptuiApp(orchestrator=orch)
    app.clock = lambda: T0 + timedelta(seconds=12.5)
    app.log_times = False
    return app


def workflow(repo: Path, *tasks: TaskDefinition) -> WorkflowDefinition:
    return WorkflowDefinition(id="files", name="Files demo", tasks=list(tasks), workspace=str(repo))


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.02)


async def open_run(pilot, wf: WorkflowDefinition, select: str) -> str:
    app = pilot.app
    run_id = app.orchestrator.start_workflow(wf, run_id=f"{wf.id}@test")
    app.open_run(run_id)
    await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and bool(app.screen.query("#dag")))
    app.screen.select_task(select)
    await wait_for(pilot, lambda: app.screen.log_view.task_id == select)
    return run_id


async def finished(pilot, run_id: str) -> None:
    app = pilot.app
    await app.orchestrator.wait(run_id)
    await pilot.pause(0.3)  # the run screen's last batch


def rendered(renderable) -> str:
    console = Console(width=120, record=True)
    console.print(renderable)
    return console.export_text()


def detail_text(app: DeeptuiApp) -> str:
    return rendered(app.screen.query_one("#task-detail").content)


def header_text(app: DeeptuiApp) -> str:
    return rendered(app.screen.query_one("#run-title").content)


def messages(app: DeeptuiApp) -> list[str]:
    return [n.message for n in app._notifications]


# -- the approvals policy the app runs with ------------------------------------------


def test_the_app_asks_for_approvals_unless_the_settings_say_otherwise() -> None:
    assert DeeptuiApp(Settings()).orchestrator.approvals.policy == "ask"
    assert DeeptuiApp(Settings(approvals="never")).orchestrator.approvals.policy == "never"
    assert DeeptuiApp(Settings(approvals="always")).orchestrator.approvals.policy == "always"
    # headless, nobody can answer: denied unless the run says --approve always
    assert build_orchestrator(Settings()).approvals.policy == "never"
    assert build_orchestrator(Settings(approvals="always")).approvals.policy == "never"


# -- diffs ---------------------------------------------------------------------------


async def test_a_writing_tasks_diff_is_shown_and_applied_by_its_key(repo: Path) -> None:
    app = make_app(FIX)
    async with app.run_test(size=(120, 36)) as pilot:
        run_id = await open_run(pilot, workflow(repo, TaskDefinition(id="fix", writes=True)), "fix")
        await finished(pilot, run_id)
        detail = detail_text(app)
        assert "1 added, 1 modified  +3 -1  not applied" in detail
        before = tree_hash(repo)

        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen))
        shown = app.screen.text
        for line in ("--- a/pkg/mod.py", "+++ b/pkg/mod.py", "-    return a + b",
                     '+    """Add."""', "+    return b + a", "+++ b/pkg/new.py", "+x = 1",
                     "M pkg/mod.py  modified  +2 -1", "A pkg/new.py  added  +1 -0"):
            assert line in shown
        assert "@@ -1,2 +1,3 @@" in shown
        assert "not applied" in shown and tree_hash(repo) == before  # nothing written yet

        await pilot.press("a")
        await wait_for(pilot, lambda: "written to" in app.screen.text)
        assert "applied" in app.screen.text and "not applied" not in app.screen.text
        assert (repo / "pkg" / "mod.py").read_text() == 'def add(a, b):\n    """Add."""\n    return b + a\n'
        assert (repo / "pkg" / "new.py").read_text() == "x = 1\n"
        after = tree_hash(repo)
        assert {k for k in after if after[k] != before.get(k)} == {"pkg/mod.py", "pkg/new.py"}
        assert any("Applied fix's changes: 2 file(s) written" in m for m in messages(app))

        await pilot.press("a")  # once only
        assert any("already applied" in m for m in messages(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        await wait_for(pilot, lambda: "+3 -1  applied" in detail_text(app))


async def test_applying_over_a_file_changed_since_is_refused_naming_it(repo: Path) -> None:
    app = make_app(FIX)
    async with app.run_test(size=(120, 36)) as pilot:
        run_id = await open_run(pilot, workflow(repo, TaskDefinition(id="fix", writes=True)), "fix")
        await finished(pilot, run_id)
        (repo / "pkg" / "mod.py").write_text("edited by the user\n")
        before = tree_hash(repo)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen))
        await pilot.press("a")
        await pilot.pause()
        [refusal] = [m for m in messages(app) if "changed since" in m]
        assert "\n" not in refusal and "Traceback" not in refusal
        assert "pkg/mod.py (changed since the task read it)" in refusal
        assert tree_hash(repo) == before and "not applied" in app.screen.text

        await pilot.press("x")  # discard, after a yes
        await pilot.press("y")
        await wait_for(pilot, lambda: "discarded" in app.screen.text)
        assert app.orchestrator.find_run(run_id).state.task_results["fix"].changes is None
        assert tree_hash(repo) == before


async def test_a_task_that_writes_nothing_has_no_diff_to_open(repo: Path) -> None:
    app = make_app({"look": [[("read_file", {"path": "README.md"})]]})
    async with app.run_test(size=(120, 36)) as pilot:
        run_id = await open_run(pilot, workflow(repo, TaskDefinition(id="look")), "look")
        await finished(pilot, run_id)
        await pilot.press("d")
        assert isinstance(app.screen, RunScreen)
        assert "look has nothing to review: it does not write files" in messages(app)


async def test_a_stored_runs_diff_is_shown_read_only(repo: Path) -> None:
    from deeptui.models import TaskResult, WorkflowState, WorkflowStatus
    from deeptui.workspace.changes import file_change

    change = file_change("pkg/mod.py", (repo / "pkg" / "mod.py").read_bytes(), b"changed\n")
    state = WorkflowState(workflow_id="files", run_id="files@stored", status=WorkflowStatus.COMPLETED,
                          task_results={"fix": TaskResult(task_id="fix", status=TaskStatus.COMPLETED,
                                                          changes=TaskChanges(files=[change]))})
    wf = workflow(repo, TaskDefinition(id="fix", writes=True))
    before = tree_hash(repo)
    app = make_app({})
    async with app.run_test(size=(120, 36)) as pilot:
        app.push_screen(RunScreen("files@stored", workflow=wf, state=state))
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and bool(app.screen.query("#dag")))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DiffScreen))
        assert "+changed" in app.screen.text and "(stored run, read-only)" in app.screen.text
        await pilot.press("a", "x")
        assert isinstance(app.screen, DiffScreen)  # no question: nothing to discard here
        assert messages(app)[-2:] == [
            "Stored runs are read-only: apply these changes with `deeptui apply files@stored fix`",
            "Stored runs are read-only: discard these changes with "
            "`deeptui apply files@stored fix --discard`"]
    assert tree_hash(repo) == before


# -- the files an agent read -----------------------------------------------------------


async def test_the_task_detail_names_the_files_an_agent_read_and_searched(repo: Path) -> None:
    script = {"look": [[("ls", {"path": "."}), ("read_file", {"path": "pkg/mod.py"})],
                       [("grep", {"pattern": "return"}), ("read_file", {"path": "README.md"}),
                        ("read_file", {"path": "pkg/mod.py"})]]}
    app = make_app(script)
    async with app.run_test(size=(120, 36)) as pilot:
        run_id = await open_run(pilot, workflow(repo, TaskDefinition(id="look")), "look")
        await finished(pilot, run_id)
        detail = " ".join(detail_text(app).split())
        assert "read pkg/mod.py, README.md searched ls . · grep return output" in detail
        assert "changes" not in detail  # a read-only task has none


# -- approvals -------------------------------------------------------------------------


async def test_an_approval_request_is_shown_and_denied_by_its_key(repo: Path) -> None:
    app = make_app(BUILD)
    async with app.run_test(size=(120, 36)) as pilot:
        run_id = await open_run(pilot, workflow(repo, TaskDefinition(id="build", writes=True)),
                                "build")
        gate = app.orchestrator.approvals
        await wait_for(pilot, lambda: "1 waiting for approval (a)" in header_text(app))
        [request] = gate.pending_for(run_id)
        assert any("build wants to run: execute touch made-by-command\nPress a on its run screen"
                   in m for m in messages(app))
        assert app.screen.log_view.plain_text().endswith(
            "[approval] waiting for approval: execute touch made-by-command")

        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ApprovalsScreen))
        listed = app.screen.approval_list
        assert [r.request_id for r in listed.requests] == [request.request_id]
        option = rendered(listed.get_option_at_index(0).prompt)
        assert "execute  touch made-by-command" in option and "task build" in option

        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))  # nothing left: closed
        await finished(pilot, run_id)
        result = app.orchestrator.find_run(run_id).state.task_results["build"]
        assert result.status is TaskStatus.COMPLETED and "denied" in result.output
        log = app.screen.log_view.plain_text()
        assert "[approval] denied by a person: execute touch made-by-command" in log
        assert "waiting for approval" not in header_text(app)
        assert not gate.pending_for(run_id) and not (repo / "made-by-command").exists()
        changes = app.orchestrator.find_run(run_id).state.task_results["build"].changes
        assert changes is not None and changes.files == []  # the command never ran


async def test_approve_always_covers_the_same_tool_for_the_rest_of_the_run(repo: Path) -> None:
    script = {"build": [[("execute", {"command": "touch one"})],
                        [("execute", {"command": "touch two"})]]}
    app = make_app(script)
    async with app.run_test(size=(120, 36)) as pilot:
        run_id = await open_run(pilot, workflow(repo, TaskDefinition(id="build", writes=True)),
                                "build")
        await wait_for(pilot, lambda: "1 waiting for approval" in header_text(app))
        await pilot.press("a", "A")
        await finished(pilot, run_id)
        log = [text for _, kind, text in app.orchestrator.get_task_log(run_id, "build")
               if kind == "approval"]
        assert [line.split(":")[0] for line in log] == [
            "waiting for approval", "approved by a person, for the rest of the run",
            "waiting for approval", "approved by an earlier 'always for this run'"]
        changes = app.orchestrator.find_run(run_id).state.task_results["build"].changes
        assert sorted(c.path for c in changes.files) == ["one", "two"]  # both ran, on the copy
        assert not (repo / "one").exists()
        assert sum("Approval needed" in n.title for n in app._notifications) == 1


async def test_cancelling_a_task_that_waits_for_approval_clears_its_request(repo: Path) -> None:
    app = make_app(BUILD)
    async with app.run_test(size=(120, 36)) as pilot:
        run_id = await open_run(pilot, workflow(repo, TaskDefinition(id="build", writes=True)),
                                "build")
        await wait_for(pilot, lambda: "1 waiting for approval" in header_text(app))
        await pilot.press("c")
        await finished(pilot, run_id)
        assert app.screen.state.task_results["build"].status is TaskStatus.CANCELLED
        await wait_for(pilot, lambda: "waiting for approval" not in header_text(app))
        await pilot.press("a")
        assert isinstance(app.screen, RunScreen)
        assert messages(app)[-1] == "Nothing is waiting for your approval"


async def test_a_request_of_a_run_whose_screen_is_closed_is_still_notified(repo: Path) -> None:
    app = make_app(BUILD)
    async with app.run_test(size=(120, 36)) as pilot:
        wf = workflow(repo, TaskDefinition(id="build", writes=True))
        run_id = app.orchestrator.start_workflow(wf, run_id="files@test")  # no run screen
        await wait_for(pilot, lambda: any("Open run files@test" in m for m in messages(app)))
        assert any("build wants to run: execute touch made-by-command" in m for m in messages(app))
        app.open_run(run_id)  # the badge is there at once
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and bool(app.screen.query("#dag")))
        assert "1 waiting for approval" in header_text(app)
        await pilot.press("a", "y")
        await finished(pilot, run_id)
        changes = app.orchestrator.find_run(run_id).state.task_results["build"].changes
        assert [c.path for c in changes.files] == ["made-by-command"]  # it ran, on the copy
        assert not (repo / "made-by-command").exists()


# -- snapshots -----------------------------------------------------------------------


def _pin(app: DeeptuiApp, run_id: str) -> None:
    """Fixed times and usage, so the screen never changes between runs of the test."""
    state = app.orchestrator.find_run(run_id).state
    state.started_at = T0
    for result in state.task_results.values():
        if result.started_at is not None:
            result.started_at = T0
        if result.completed_at is not None:
            result.completed_at = T0 + timedelta(seconds=1.5)
            result.usage = TaskUsage(input_tokens=900, output_tokens=80, requests=2)
    state.completed_at = T0 + timedelta(seconds=2) if state.completed_at else None


def test_diff_view_snapshot(snap_compare, tmp_path: Path) -> None:
    root = tmp_path / "repo"

    async def diff(pilot) -> None:
        (root / "pkg").mkdir(parents=True)
        (root / "pkg" / "mod.py").write_text("def add(a, b):\n    return a + b\n")
        wf = workflow(root, TaskDefinition(id="fix", writes=True))
        run_id = await open_run(pilot, wf, "fix")
        await finished(pilot, run_id)
        _pin(pilot.app, run_id)
        pilot.app.screen.refresh_all()
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DiffScreen))
        pilot.app.screen.workspace = "~/projects/demo"  # not the test's temporary path
        pilot.app.screen._show_title()
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(make_app(FIX), terminal_size=(100, 30), run_before=diff)


def test_approvals_list_snapshot(snap_compare, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    script = {"build": [[("execute", {"command": "make test"})]],
              "lint": [[("execute", {"command": "ruff check --fix pkg/"})]],
              "deps": [[("execute", {"command": "pip install -e ."})]]}

    async def approvals(pilot) -> None:
        (root / "pkg").mkdir(parents=True)
        wf = workflow(root, *(TaskDefinition(id=t, writes=True) for t in ("build", "lint", "deps")))
        run_id = await open_run(pilot, wf, "build")
        gate = pilot.app.orchestrator.approvals
        await wait_for(pilot, lambda: len(gate.pending_for(run_id)) == 3)
        await wait_for(pilot, lambda: "3 waiting for approval" in header_text(pilot.app))
        _pin(pilot.app, run_id)
        pilot.app.screen.refresh_all()
        await pilot.pause(0.3)  # every batch in, every toast posted
        pilot.app.clear_notifications()  # on the run screen: the list would cover them dimmed
        await pilot.pause()
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ApprovalsScreen))
        await pilot.pause()

    assert snap_compare(make_app(script), terminal_size=(100, 30), run_before=approvals)
