"""A real provider on the same path: pydantic-ai's OpenAI client against a server on 127.0.0.1.

`tests/fake_openai.py` answers the client's requests from a script (a `read_file` tool
call, then a streamed answer), so the real wiring is proved with no network and no key:
the model name resolved by deeptui, the client's streamed requests, pydantic-deep's
file tools on the run's workspace, the answer in the history, tokens counted and the
cost priced from the model name. `openai:` models speak OpenAI's Responses API,
`openai-chat:` models Chat Completions (what local servers such as Ollama, vLLM and
llama.cpp's server speak): both are run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deeptui import TaskDefinition, TaskOrchestrator, WorkflowDefinition
from deeptui.models import TaskUsage
from deeptui.runners.agent import _add_usage
from deeptui.runners.context import TaskContext
from tests.fake_openai import FakeOpenAI, Reply
from tests.test_cli import cli_env
from conftest import tree_hash

pytest.importorskip("openai")  # the test extra installs it

PLAN = "# Plan\nShip the parser on Friday; freeze the API on Monday.\n"
QUOTE = "Ship the parser on Friday; freeze the API on Monday."
SECRET = "TOP SECRET outside the workspace"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The workspace (``tmp_path/repo``) and, next to it, a file it must not reach."""
    root = tmp_path / "repo"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "plan.md").write_text(PLAN)
    (tmp_path / "outside.txt").write_text(SECRET + "\n")
    return root


def price(input_tokens: int, output_tokens: int, model: str = "gpt-4o-mini") -> float:
    """What genai-prices (pydantic-ai's price table) charges OpenAI's ``model`` for a call."""
    from genai_prices import Usage, calc_price

    usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    return float(calc_price(usage, model_ref=model, provider_id="openai").total_price)


def deeptui(home: Path, server: FakeOpenAI, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess, its OpenAI client pointed at ``server``."""
    env = {**cli_env(home), "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "test-key"}
    return subprocess.run([sys.executable, "-m", "deeptui.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=home, timeout=120)


@pytest.mark.parametrize(("model", "endpoint"), [
    ("openai:gpt-4o-mini", "/v1/responses"),
    ("openai-chat:gpt-4o-mini", "/v1/chat/completions"),
])
def test_a_real_openai_client_reads_the_workspace_and_its_answer_is_stored_and_priced(
        tmp_path: Path, repo: Path, model: str, endpoint: str) -> None:
    flow = tmp_path / "plan.yaml"
    flow.write_text("id: plan-review\nworkspace: repo\ntasks:\n"
                    "  - id: summarize\n    description: Quote the plan in notes/plan.md\n")
    answer = f'The plan says: "{QUOTE}"'
    replies = [Reply(tool="read_file", args={"path": "notes/plan.md"}, input_tokens=1000, output_tokens=20),
               Reply(text=answer, input_tokens=1200, output_tokens=30)]
    before = tree_hash(repo)
    with FakeOpenAI(replies) as server:
        run = deeptui(tmp_path, server, "run", flow, "--headless", "--model", model, "--run-id", "real")
    assert not server.running
    assert run.returncode == 0, run.stdout + run.stderr

    # the client's requests: two, streamed, with the key, the file tools, then the tool's result
    assert [r.path for r in server.requests] == [endpoint, endpoint]
    first, second = server.requests
    assert all(r.streamed and r.body["model"] == "gpt-4o-mini" for r in server.requests)
    if endpoint.endswith("/chat/completions"):  # the usage comes in a last chunk when asked for
        assert all(r.body["stream_options"] == {"include_usage": True} for r in server.requests)
    assert first.headers["authorization"] == "Bearer test-key"
    assert {"ls", "read_file", "grep", "glob"} <= set(first.tool_names())
    assert first.tool_parameters("read_file")["required"] == ["path"]
    assert first.tool_results() == []
    [result] = second.tool_results()
    assert "# Plan" in result and QUOTE in result  # the tool read the real file in the workspace

    # the stored task: the streamed answer, the tool call, the server's usage, a price
    export = deeptui(tmp_path, server, "history", "export", "real")
    assert export.returncode == 0, export.stderr
    [task] = json.loads(export.stdout)["tasks"]
    assert (task["status"], task["output"]) == ("completed", answer)
    assert {"kind": "tool_call", "text": "read_file notes/plan.md"} in \
        [{"kind": e["kind"], "text": e["text"]} for e in task["logs"]]
    usage = task["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["requests"]) == (2200, 50, 2)
    assert usage["cost_usd"] > 0
    assert usage["cost_usd"] == pytest.approx(price(1000, 20) + price(1200, 30))
    assert tree_hash(repo) == before


async def test_a_path_outside_the_workspace_goes_back_to_the_model_as_a_tool_error(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    replies = [Reply(tool="read_file", args={"path": "../outside.txt"}, input_tokens=500, output_tokens=10),
               Reply(text="I could not read that file.", input_tokens=600, output_tokens=7)]
    with FakeOpenAI(replies) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)  # and no key: a local server needs none
        orch = TaskOrchestrator(model="openai-chat:qwen2.5-coder")
        try:
            state = await orch.execute_workflow(WorkflowDefinition(
                id="peek", workspace=str(repo),
                tasks=[TaskDefinition(id="peek", description="Read ../outside.txt")]))
        finally:
            orch.close()
    assert len(server.requests) == 2
    [result] = server.requests[1].tool_results()
    assert "outside the workspace" in result
    assert not any(SECRET in json.dumps(r.body) for r in server.requests)
    task = state.task_results["peek"]
    assert (state.status, task.output) == ("completed", "I could not read that file.")
    # tokens counted; a model genai-prices does not know (a local one) has no price, not a zero
    assert (task.usage.input_tokens, task.usage.output_tokens, task.usage.cost_usd) == (1100, 17, None)


@pytest.mark.parametrize("model", ["openai:gpt-4o-mini", "openai-chat:gpt-4o-mini"])
async def test_streamed_and_whole_responses_are_counted_and_priced_alike(
        model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic_ai import Agent
    from pydantic_ai.run import AgentRunResultEvent

    usages: list[TaskUsage] = []
    with FakeOpenAI([Reply(text="done", input_tokens=300, output_tokens=4)] * 2) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        agent = Agent(model)
        results: list[Any] = [await agent.run("go")]
        async with agent.run_stream_events("go") as events:
            results += [e.result async for e in events if isinstance(e, AgentRunResultEvent)]
        for result in results:
            ctx = TaskContext(TaskDefinition(id="t"), "w", "r", {}, None, lambda kind, text: None)
            _add_usage(ctx, result)
            usages.append(ctx.usage)
    assert [r.streamed for r in server.requests] == [False, True]
    assert [r.output for r in results] == ["done", "done"]
    assert usages[0] == usages[1]
    assert (usages[0].input_tokens, usages[0].output_tokens) == (300, 4)
    assert usages[0].cost_usd == pytest.approx(price(300, 4))
