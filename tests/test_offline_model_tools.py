"""The offline model on a real workspace: it lists, globs, greps and reads the files, and
answers from them with real path:line citations; a writing task changes one file."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from deeptui.workflows.registry import build_workflow
from pydantic_ai.capabilities import LocalWorkspace
from pydantic_ai.messages import (
    ModelRequest,
    ModelResponse,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.workspaces import LocalWorkspaceBackend, ReadOnlyWorkspace, Workspace
from pydantic_deep import (
    BranchIsolation,
    ConfinedWorkspace,
    branch_workspace,
    create_deep_agent,
    create_default_deps,
)

from deeptui.models import TaskDefinition
from deeptui.runners.context import TaskContext, build_prompt
from deeptui.runners.simulated import SimulatedModel
from deeptui.skills_manager import SkillManager
from conftest import tree_hash

MOD = '''"""Things that evaluate expressions."""

import os


def helper(x):
    return x + 1


def run(expr):
    """Evaluate an expression."""
    return eval(expr)


API_KEY = "sk-live-1234567890"
LABELS = {"total_tokens": "Tokens"}
'''
EVAL_LINE = MOD.splitlines().index("    return eval(expr)") + 1
HELPER_LINE = MOD.splitlines().index("def helper(x):") + 1
OTHER = '''"""Other helpers."""


def unused(a, b):
    """Add two numbers."""
    return a + b
'''


def make_repo(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text('"""The package."""\n')
    (root / "pkg" / "mod.py").write_text(MOD)
    (root / "pkg" / "other.py").write_text(OTHER)
    (root / "tests" / "test_mod.py").write_text("from pkg.mod import helper\n\n\ndef test_helper():\n"
                                               "    assert helper(1) == 2\n")
    (root / "pyproject.toml").write_text('[project]\nname = "fixture"\n\n[project.scripts]\n'
                                         'fixture = "pkg.mod:run"\n')
    # never reviewed: an environment and vendored code with the same smell
    for hidden in (".venv/lib", "node_modules/x"):
        (root / hidden).mkdir(parents=True)
        (root / hidden / "bad.py").write_text("eval(input())\n")
    return root


def task_named(task_id: str, root: Path, **params: Any) -> TaskDefinition:
    template = "documentation" if task_id in ("generate-api-docs", "build-documentation") else "code-review"
    if template == "code-review":
        params.setdefault("auto_fix", True)
    workflow = build_workflow(template, {"repository_path": str(root), **params})
    return next(t for t in workflow.tasks if t.id == task_id)


def prompt_for(task: TaskDefinition, *, writes: bool = False, upstream: dict[str, Any] | None = None,
               root: Path | None = None) -> str:
    """deeptui's prompt, with the lines a run on a workspace adds (``root``: the Workspace line)."""
    ctx = TaskContext(task=task, workflow_id="w", run_id="r", dependency_outputs=upstream or {},
                      agent_type=None, log=lambda kind, text: None)
    where = f"\nWorkspace: {root} (use the file tools with paths relative to it)" if root else ""
    return build_prompt(ctx) + where + ("\nWrites: yes (your changes become a diff the user reviews)" if writes else "")


def make_agent(task: TaskDefinition, workspace: Any = None, seed: int = 1, **options: Any) -> Any:
    """As deeptui's AgentProvider builds it, with a workspace."""
    skills = tuple(task.required_skills)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return create_deep_agent(
            model=SimulatedModel(latency=(0, 0), seed=seed), instructions=None,
            skills=SkillManager().skills_for(skills) if skills else None, skill_directories=[],
            include_skills=bool(skills), include_memory=False, include_history_archive=False,
            web_search=False, web_fetch=False, cost_tracking=False,
            **({"workspace": workspace} if workspace is not None else {}), **options)


async def run_task(task_id: str, root: Path, *, read_only: bool = True, writes: bool = False,
                   seed: int = 1, upstream: dict[str, Any] | None = None, **options: Any) -> Any:
    task = task_named(task_id, root)
    agent = make_agent(task, LocalWorkspace(root, read_only=read_only), seed, **options)
    return await agent.run(prompt_for(task, writes=writes, upstream=upstream), deps=create_default_deps())


def calls_of(result: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(p.tool_name, p.args_as_dict()) for m in result.all_messages() if isinstance(m, ModelResponse)
            for p in m.parts if isinstance(p, ToolCallPart)]


def returns_of(result: Any, tool: str) -> list[str]:
    return [str(p.content) for m in result.all_messages() if isinstance(m, ModelRequest)
            for p in m.parts if isinstance(p, ToolReturnPart) and p.tool_name == tool]


async def test_security_review_cites_the_eval_line_from_real_tool_calls(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    before = tree_hash(root)
    result = await run_task("security-review", root)
    output = result.output
    assert f"`pkg/mod.py:{EVAL_LINE}` — `eval(` runs code built at run time in `run()`" in output
    assert "(high)" in output and "eval/exec 1" in output
    # the API key is reported without its value; a label that merely says "Tokens" is not a secret
    assert 'API_KEY = "sk***"' in output and "sk-live" not in output and "Tokens" not in output
    assert ".venv" not in output and "node_modules" not in output and "bad.py" not in output
    calls = calls_of(result)
    tools = [name for name, _ in calls]
    assert {"ls", "glob", "grep", "read_file"} <= set(tools)
    assert ("read_file", {"path": "pkg/mod.py", "offset": 0, "limit": 500}) in calls
    assert any(name == "glob" and args["path"] == "pkg" for name, args in calls)
    assert any(f"pkg/mod.py:{EVAL_LINE}:" in text for text in returns_of(result, "grep"))
    assert tree_hash(root) == before  # read-only: every file byte-identical


async def test_documentation_review_names_the_function_without_a_docstring(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    result = await run_task("review-documentation", root)
    assert f"`pkg/mod.py:{HELPER_LINE}` — `helper()` (function) has no docstring" in result.output
    assert "`run()`" not in result.output and "unused" not in result.output  # documented ones
    assert "public definitions checked 3 in 2 files; without a docstring 1" in result.output


async def test_structure_analysis_lists_the_real_modules_and_entry_point(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    output = (await run_task("analyze-code-structure", root)).output
    assert "### Modules (2)" in output
    assert f"- `pkg/mod.py` — {len(MOD.splitlines())} lines — Things that evaluate expressions." in output
    assert "- `pkg/other.py` — 6 lines — Other helpers." in output
    assert "- `fixture` → `pkg.mod:run`" in output
    assert "- `pkg/`" in output and "`tests/` — 1 Python file" in output


async def test_test_coverage_names_the_module_no_test_covers(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    output = (await run_task("evaluate-test-coverage", root)).output
    assert "`pkg/other.py:4` — no test file (`test_other.py`) and no test imports it" in output
    assert "pkg/mod.py" not in output.split("### Findings")[1]  # tests/test_mod.py imports it
    assert "modules 2; test files 1; modules without tests 1" in output


async def test_same_seed_same_answer_and_same_calls(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    first = await run_task("check-code-quality", root, seed=3)
    second = await run_task("check-code-quality", root, seed=3)
    assert first.output == second.output
    assert calls_of(first) == calls_of(second)


async def test_a_writing_task_adds_one_docstring_and_says_where(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    before = tree_hash(root)
    result = await run_task("apply-auto-fixes", root, read_only=False, writes=True, edit_format="str_replace")
    after = tree_hash(root)
    assert [p for p in after if after[p] != before.get(p)] == ["pkg/mod.py"] and after.keys() == before.keys()
    new = (root / "pkg" / "mod.py").read_text()
    assert new == MOD.replace("def helper(x):\n", 'def helper(x):\n    """Helper."""\n')
    assert f'- `pkg/mod.py:{HELPER_LINE}` — added a docstring to `helper()`: `"""Helper."""`.' in result.output
    assert [name for name, _ in calls_of(result)].count("edit_file") == 1


async def test_a_writing_task_with_hashline_edits_works_too(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    await run_task("apply-auto-fixes", root, read_only=False, writes=True)  # pydantic-deep's default format
    assert '    """Helper."""\n    return x + 1' in (root / "pkg" / "mod.py").read_text()


async def test_a_refused_write_is_reported_not_raised(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    before = tree_hash(root)
    result = await run_task("apply-auto-fixes", root, read_only=True, writes=True, edit_format="str_replace")
    assert "tried to add a docstring to `helper()`" in result.output
    assert "This workspace is read-only" in result.output and "### Tool errors (1)" in result.output
    assert tree_hash(root) == before


async def test_without_writes_yes_nothing_is_edited(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    result = await run_task("apply-auto-fixes", root, read_only=False, edit_format="str_replace")
    assert not {"edit_file", "write_file"} & {name for name, _ in calls_of(result)}
    assert "### Change" not in result.output


async def test_on_a_confined_run_workspace_and_a_branch_overlay(tmp_path: Path) -> None:
    """The way a run passes workspaces: read-only tasks see the confined directory, a writing
    task a branch overlay whose change stays out of the real files."""
    root = make_repo(tmp_path / "repo")
    before = tree_hash(root)
    real = ConfinedWorkspace(Workspace(LocalWorkspaceBackend(root)))
    options = {"workspace": False, "include_execute": True, "interrupt_on": {"execute": True},
               "edit_format": "str_replace"}
    task = task_named("security-review", root)
    result = await make_agent(task, **options).run(prompt_for(task), deps=create_default_deps(),
                                                   workspace=ReadOnlyWorkspace(real))
    assert f"`pkg/mod.py:{EVAL_LINE}`" in result.output
    task = task_named("apply-auto-fixes", root, auto_fix=True)
    branch, overlay = branch_workspace(real, BranchIsolation(workspace="copy"))
    result = await make_agent(task, **options).run(prompt_for(task, writes=True), deps=create_default_deps(),
                                                   workspace=ConfinedWorkspace(branch))
    assert "added a docstring to `helper()`" in result.output
    assert [(c.op, Path(c.path).name) for c in overlay.changes()] == [("write", "mod.py")]
    assert b'"""Helper."""' in overlay.overlay_bytes(overlay.changes()[0].path)
    assert tree_hash(root) == before


async def test_the_report_reads_back_what_the_reviews_cited(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    security = (await run_task("security-review", root)).output
    docs = (await run_task("review-documentation", root)).output
    (root / "pkg" / "mod.py").write_text(MOD.replace("def helper(x):\n", 'def helper(x):\n    """Helper."""\n'))
    result = await run_task("generate-review-report", root, upstream={"security-review": security,
                                                                        "review-documentation": docs})
    output = result.output
    assert output.index("### High") < output.index("### Low")
    assert f"`pkg/mod.py:{EVAL_LINE}` — `eval(` runs code" in output
    assert f"checked (now line {EVAL_LINE + 1}): still there: `return eval(expr)`" in output
    assert "`helper()` has a docstring now" in output
    assert ("read_file", {"path": "pkg/mod.py", "offset": 0, "limit": 500}) in calls_of(result)


async def test_a_documentation_task_writes_one_new_document(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    before = tree_hash(root)
    result = await run_task("generate-api-docs", root, read_only=False, writes=True)
    after = tree_hash(root)
    assert set(after) - set(before) == {"docs/api.md"} and all(after[p] == before[p] for p in before)
    api = (root / "docs" / "api.md").read_text()
    assert f"### `helper(x)`\n\nNo docstring yet. Defined at `pkg/mod.py:{HELPER_LINE}`." in api
    assert "### `run(expr)`\n\nEvaluate an expression." in api
    assert "- `docs/api.md` — wrote api document" in result.output
    assemble = await run_task("build-documentation", root, read_only=False, writes=True)
    assert "- [API reference of fixture](api.md)" in (root / "docs" / "index.md").read_text()
    assert "documents 1; links 0; broken links 0" in assemble.output


async def test_caps_are_said_plainly(tmp_path: Path) -> None:
    root = tmp_path / "big"
    (root / "app").mkdir(parents=True)
    for n in range(30):
        (root / "app" / f"m{n:02}.py").write_text(f'"""Module {n}."""\n\n\ndef f{n}(s):\n    return eval(s)\n')
    output = (await run_task("security-review", root)).output
    assert "### Findings (30)" in output and output.count("runs code built at run time") == 20
    assert "showed 20 of 30 findings" in output and "read 8 of 30 files worth reading" in output


@pytest.mark.parametrize("workspace", ["memory", "empty"])
async def test_without_files_the_answer_is_the_canned_one(tmp_path: Path, workspace: str) -> None:
    task = task_named("security-review", tmp_path)
    agent = make_agent(task, None if workspace == "memory" else LocalWorkspace(tmp_path, read_only=True))
    result = await agent.run(prompt_for(task), deps=create_default_deps())
    requests = [m for m in result.all_messages() if isinstance(m, ModelResponse)]
    assert len(requests) == 2  # the first step and the answer, as before
    # in memory (pydantic-deep's default workspace) not even a look: the run is as it always was
    looked = [] if workspace == "memory" else ["ls"]
    assert [name for name, _ in calls_of(result)] == ["load_skill", "add_todo", *looked]
    assert result.output.startswith("## security-review\n\nGoal: Review the repository")
    assert re.search(r"^1\. .+\n2\. .+\n3\. .+$", result.output, re.MULTILINE)


async def test_tool_errors_are_read_and_mentioned(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x.py").write_text("eval(1)\n")
    (root / "link").symlink_to(tmp_path / "outside")  # a directory that leads out of the workspace
    task = task_named("security-review", root)
    agent = make_agent(task, workspace=False, include_execute=False)  # no commands: the prompt names the workspace
    result = await agent.run(prompt_for(task, root=root), deps=create_default_deps(),
                             workspace=ConfinedWorkspace(ReadOnlyWorkspace(Workspace(LocalWorkspaceBackend(root)))))
    assert "### Tool errors (1)" in result.output
    assert f"- `glob link *.py`: Error: 'link' is outside the workspace ({root})" in result.output
    assert f"`pkg/mod.py:{EVAL_LINE}`" in result.output and "x.py" not in result.output.split("### Tool errors")[0]
