"""The agents deeptui builds carry only what a task uses; the offline model does no work the
user cannot see; a user's own agent's cost-tracking warning is said once, not per task."""

from __future__ import annotations

import logging

from pydantic_ai.messages import ModelResponse, TextPart
from pydantic_ai.models.function import FunctionModel

from deeptui import (
    CacheConfig,
    OrchestrationConfig,
    TaskDefinition,
    TaskOrchestrator,
    WorkflowDefinition,
)

NO_CACHE = CacheConfig(strategy="none")


def recording_model(offered: list[set[str]], asked: list[object] | None = None) -> FunctionModel:
    """An instant model that notes the tools offered to it (and, with ``asked``, each
    request's `AgentInfo`: its settings and instructions)."""
    async def stream(messages, info):
        offered.append({tool.name for tool in info.function_tools})
        if asked is not None:
            asked.append(info)
        yield "ok"

    from pydantic_ai.profiles import ModelProfile

    return FunctionModel(stream_function=stream, profile=ModelProfile(supports_thinking=True))


async def test_a_task_agent_has_no_subagents_and_one_on_files_keeps_its_file_and_command_tools(
        tmp_path):
    offered: list[set[str]] = []
    asked: list[object] = []
    orch = TaskOrchestrator(model=recording_model(offered, asked), cache_config=NO_CACHE)
    state = await orch.execute_workflow(WorkflowDefinition(id="plain", tasks=[
        TaskDefinition(id="t")]))
    assert state.status == "completed"
    # without the run's files: no scratch files or todo list that vanish with the run
    assert offered[-1] == set()
    (tmp_path / "a.py").write_text("x = 1\n")
    state = await orch.execute_workflow(WorkflowDefinition(id="files", workspace=str(tmp_path),
                                                           tasks=[TaskDefinition(id="t")]))
    assert state.status == "completed"
    on_files = offered[-1]
    assert {"read_file", "grep", "execute", "add_todo", "start_monitor",
            "compact_conversation"} <= on_files
    assert "task" not in on_files
    # pydantic-deep's default thinking effort still reaches a model that thinks
    assert [info.model_request_parameters.thinking for info in asked] == ["high", "high"]
    orch.close()


async def test_pydantic_deeps_instructions_reach_the_model_rendered_without_a_thread(
        tmp_path, monkeypatch):
    """pydantic-ai would run pydantic-deep's instruction function in a worker thread on
    every request; deeptui's agents render it on the loop: the same text, no thread."""
    from pydantic_ai import _utils

    threaded: list[object] = []
    run_in_executor = _utils.run_in_executor

    async def counting(func, *args, **kwargs):
        threaded.append(func)
        return await run_in_executor(func, *args, **kwargs)

    monkeypatch.setattr(_utils, "run_in_executor", counting)
    offered: list[set[str]] = []
    asked: list[object] = []
    orch = TaskOrchestrator(model=recording_model(offered, asked), cache_config=NO_CACHE)
    (tmp_path / "a.py").write_text("x = 1\n")
    state = await orch.execute_workflow(WorkflowDefinition(id="files", workspace=str(tmp_path),
                                                           tasks=[TaskDefinition(id="t")]))
    assert state.status == "completed"
    assert "## Console Tools" in asked[-1].instructions  # pydantic-deep's dynamic section
    assert "capable generalist" in asked[-1].instructions  # the agent type's own
    assert threaded == []
    orch.close()


async def offline_text(latency: float) -> tuple[str, int]:
    """The offline model's answer to one task and how many text pieces it streamed."""
    orch = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(latency, latency),
                                                       simulated_seed=7), cache_config=NO_CACHE)
    state = await orch.execute_workflow(WorkflowDefinition(id="w", tasks=[
        TaskDefinition(id="t", description="Summarise the notes")]))
    pieces = [text for _, kind, text in orch.get_task_log("w", "t") if kind == "text"]
    orch.close()
    return str(state.task_results["t"].output), len(pieces)


async def test_the_offline_model_without_latency_gives_the_same_answer_in_one_piece():
    paced, paced_pieces = await offline_text(0.01)
    instant, instant_pieces = await offline_text(0.0)
    assert instant == paced
    assert "Summarise the notes" in instant
    assert paced_pieces > 5  # paced: streamed word by word
    assert instant_pieces == 1  # nothing to pace: one piece, not ~25 events


async def test_a_user_agents_cost_tracking_warning_is_said_once_not_per_task(caplog):
    from pydantic_deep import create_deep_agent, create_default_deps

    def answer(messages, info):
        return ModelResponse(parts=[TextPart("ok")])

    async def stream(messages, info):
        yield "ok"

    agent = create_deep_agent(model=FunctionModel(answer, stream_function=stream))  # prices on
    orch = TaskOrchestrator(agent, deps=create_default_deps(), cache_config=NO_CACHE)
    with caplog.at_level(logging.WARNING):
        state = await orch.execute_workflow(WorkflowDefinition(id="w", tasks=[
            TaskDefinition(id=f"t{i}") for i in range(4)]))
    assert len(state.completed_tasks) == 4
    warned = [r for r in caplog.records if "failed to resolve price" in r.getMessage()]
    assert len(warned) <= 1
    orch.close()


async def test_an_agent_tasks_tool_call_and_result_are_logged_before_its_next_model_request():
    """The log follows the run live: when the model is asked again, its tool call and the
    tool's result are already in the task log; its answer's text comes in the pieces it
    streamed, after them."""
    from pydantic_ai.models.function import DeltaToolCall

    log_at_second_request: list[tuple[str, str]] = []
    orch: TaskOrchestrator

    async def stream(messages, info):
        if len(messages) == 1:
            yield {0: DeltaToolCall(name="read_file", json_args='{"path": "notes.md"}',
                                    tool_call_id="c1")}
            return
        log_at_second_request.extend((k, t) for _, k, t in orch.get_task_log("w", "t"))
        yield "no notes "
        yield "found"

    orch = TaskOrchestrator(model=FunctionModel(stream_function=stream), cache_config=NO_CACHE)
    state = await orch.execute_workflow(WorkflowDefinition(id="w", tasks=[TaskDefinition(id="t")]))
    assert state.status == "completed"
    assert state.task_results["t"].output == "no notes found"
    assert [k for k, _ in log_at_second_request] == ["tool_call", "tool_result"]
    assert log_at_second_request[0][1] == "read_file notes.md"
    assert log_at_second_request[1][1].startswith("read_file -> ")
    log = [(k, t) for _, k, t in orch.get_task_log("w", "t")]
    assert log[2:] == [("text", "no notes "), ("text", "found")]
    orch.close()


async def test_agent_tasks_running_at_once_each_count_their_own_usage_and_a_skip_none():
    async def stream(messages, info):
        yield "ok"

    orch = TaskOrchestrator(model=FunctionModel(stream_function=stream), cache_config=NO_CACHE)
    orch.register_callable("fail", lambda task, parameters, deps: 1 / 0)
    state = await orch.execute_workflow(WorkflowDefinition(
        id="usage", max_parallel_tasks=3, continue_on_failure=True, tasks=[
            TaskDefinition(id="a", description="one"),
            TaskDefinition(id="b", description="two words"),
            TaskDefinition(id="c", description="three words here"),
            TaskDefinition(id="f", task_type="callable", parameters={"callable": "fail"}),
            TaskDefinition(id="s", depends_on=["f"]),
        ]))
    results = state.task_results
    assert [results[t].status.value for t in "abcfs"] == [
        "completed", "completed", "completed", "failed", "skipped"]
    assert [results[t].usage.requests for t in "abc"] == [1, 1, 1]
    assert all(results[t].usage.input_tokens > 0 for t in "abc")
    assert [results[t].usage.requests for t in "fs"] == [0, 0]
    orch.close()
