"""Agent tasks: a pydantic-deep agent per agent type, streamed as log lines, usage counted.

A "provider:name" model string is resolved once, up front, so a bad name, a missing
provider package or a missing key is one clear error before anything runs.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
import logging
import warnings
from typing import TYPE_CHECKING, Any

from deeptui.errors import DeeptuiError
from deeptui.models import AgentRouting
from deeptui.runners.agent_workspace import (
    NEEDS_APPROVAL,
    PATH_ARGS,
    approval_capability,
    describe_call,
)
from deeptui.runners.context import TaskContext, TaskFailure, build_prompt, one_line

if TYPE_CHECKING:
    from deeptui.skills_manager import SkillManager
    from deeptui.workspace import ApprovalGate, RunWorkspace


class ModelConfigError(DeeptuiError, ValueError):
    """A model name pydantic-ai cannot resolve (unknown provider, missing package or key)."""


# pydantic-ai-slim's extras that deeptui re-exports (pip install "deeptui[EXTRA]")
DEEPTUI_EXTRAS = {"openai": "openai", "anthropic": "anthropic", "google": "google",
                  "groq": "all-models", "mistral": "all-models"}
_OFFLINE = "or drop --model to run the offline model"
COST_TRACKING_LOGGER = "pydantic_ai_shields.guardrails"  # pydantic-deep's CostTracking
_UNPRICED: set[str] = set()  # model names genai-prices does not know: not looked up again


def resolve_model(model: Any) -> Any:
    """A "provider:name" string becomes a pydantic-ai Model now, so a bad name, a
    missing provider package or a missing API key is one clear error (saying what to
    install or which variable to set) before anything runs."""
    if not isinstance(model, str):
        return model
    from pydantic_ai.models import infer_model

    try:
        return infer_model(model)
    except Exception as exc:  # noqa: BLE001 - UserError, ImportError, provider errors
        raise ModelConfigError(f"model '{model}': {_model_advice(str(exc))}") from None


def _model_advice(message: str) -> str:
    """pydantic-ai's message in deeptui's words: the extra to install, the variable to set."""
    import re

    if extra := re.search(r'pydantic-ai-slim\[([\w-]+)\]', message):
        ours = DEEPTUI_EXTRAS.get(extra[1])
        command = f"pip install 'deeptui[{ours}]'" if ours else \
            f"pip install 'pydantic-ai-slim[{extra[1]}]'"
        return f"its provider package is not installed; install it with {command} ({_OFFLINE})"
    if var := re.search(r"Set the `([A-Z0-9_]+)` environment variable", message):
        hint = " (or OPENAI_BASE_URL for an OpenAI-compatible server)" \
            if var[1] == "OPENAI_API_KEY" else ""
        return f"set the {var[1]} environment variable{hint}, {_OFFLINE}"
    return message.splitlines()[0] if message else "cannot be used"


OFFLINE_MODEL_NAME = "simulated"  # `SimulatedModel`'s model_name (a test holds them equal)


def simulated_model(config: Any) -> Any:
    """The offline model an `OrchestrationConfig` describes (latency, fail rate, seed)."""
    from deeptui.runners.simulated import SimulatedModel

    return SimulatedModel(latency=config.simulated_latency, fail_rate=config.simulated_fail_rate,
                          seed=config.simulated_seed)


class _Once(logging.Filter):
    """Lets each distinct message through once: pydantic-deep's cost tracking (on a user's
    own agent) warns "failed to resolve price" on every run of a model it cannot price."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


_quiet = False


def _quieten() -> None:
    """Once per process: no Logfire banner on an agent's first run (pydantic-ai prints one),
    and each cost-tracking warning said once, not on every task."""
    global _quiet
    if _quiet:
        return
    import pydantic_ai

    pydantic_ai.BANNER_ENABLED = False
    logging.getLogger(COST_TRACKING_LOGGER).addFilter(_Once())
    _quiet = True


# Every capability of a pydantic-deep agent costs each run a copy of its context per hook;
# these change nothing a task sees: no task run has a message history to patch, and the
# thinking effort goes to the model as the setting the `Thinking` capability would give it
LEAN: dict[str, Any] = dict(patch_tool_calls=False, thinking=False,
                            model_settings={"thinking": "high"})  # pydantic-deep's default
# a task without the run's files: no scratch files in memory and no todo list, which vanish
# with the run (the workflow is the plan); nothing large to evict, no tool loop to catch
NO_FILES: dict[str, Any] = dict(include_todo=False, include_filesystem=False, workspace=False,
                                eviction_token_limit=None, stuck_loop_detection=False)


class AgentProvider:
    """Agents per agent type: the user's own agent, or pydantic-deep agents built on demand.

    When the user passes an agent (as in the orchestration guide), every agent task runs on
    it, with required skills' instructions put into the prompt. Otherwise one
    pydantic-deep agent is built per (agent type, skills) on the configured
    model — the offline SimulatedModel when none is named.
    """

    def __init__(
        self,
        agent: Any,
        deps: Any,
        routing: list[AgentRouting],
        model: Any,
        skill_manager: SkillManager,
        offline: Callable[[], Any] | None = None,
    ) -> None:
        self.user_agent = agent
        self.user_deps = deps
        self.routing = {r.agent_type: r for r in routing}
        # a Model instance or "provider:name" string; None: the offline model, which
        # ``offline`` builds when an agent first needs it (importing pydantic-ai takes
        # ~0.5 s that a run of shell and callable tasks does not pay)
        self._model = model
        self._offline = offline
        self.skill_manager = skill_manager
        self._agents: dict[tuple[str | None, tuple[str, ...], bool], Any] = {}
        self._user_model: Any = None  # the user's agent's model, streamed (`run_options`)
        self.workspaces: dict[str, RunWorkspace] = {}  # run id -> its files (runs that have one)
        self.approvals: ApprovalGate | None = None

    @property
    def _offline_pending(self) -> bool:
        """The offline model is the one, and it is not built yet."""
        return self._model is None and self._offline is not None

    @property
    def model(self) -> Any:
        if self._offline_pending:
            self._model = self._offline()  # type: ignore[misc]
        return self._model

    @property
    def model_name(self) -> str:
        if self.user_agent is not None:
            model = getattr(self.user_agent, "model", None)
            return str(getattr(model, "model_name", None) or model or "custom-agent")
        if self._offline_pending:
            return OFFLINE_MODEL_NAME  # without building it
        return str(getattr(self.model, "model_name", None) or self.model)

    def agent_for(self, agent_type: str | None, skills: tuple[str, ...], on_files: bool = False) -> Any:
        """The agent for a task; ``on_files``: one that takes each run's workspace."""
        if self.user_agent is not None:
            return self.user_agent
        key = (agent_type, skills, on_files)
        agent = self._agents.get(key)
        if agent is None:
            agent = self._build(agent_type, skills, on_files)
            self._agents[key] = agent
        return agent

    def _build(self, agent_type: str | None, skills: tuple[str, ...], on_files: bool) -> Any:
        from pydantic_deep import create_deep_agent

        from deeptui.runners.streamed_model import streamed

        routing = self.routing.get(agent_type or "")
        model = streamed((routing.model if routing and routing.model else None) or self.model)
        # on files: no workspace of its own (each run passes the task's), commands need a yes;
        # the context manager (long explorations) and the monitors (they run commands) too
        files: dict[str, Any] = dict(workspace=False, include_execute=True, interrupt_on=NEEDS_APPROVAL,
                                     edit_format="str_replace") if on_files else NO_FILES
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _instructions_inline(create_deep_agent(
                model=model,
                instructions=routing.instructions if routing else None,
                skills=self.skill_manager.skills_for(skills) if skills else None,
                skill_directories=[],
                include_skills=bool(skills),
                include_memory=False,
                include_history_archive=False,
                web_search=False,
                web_fetch=False,
                cost_tracking=False,
                # a task is one unit of the workflow: deeptui orchestrates, no subagents (or
                # planner) inside it; these cost more per run than the model call itself
                include_subagents=False,
                include_plan=False,
                include_builtin_subagents=False,
                context_manager=on_files,
                include_monitoring=on_files,
                **LEAN,
                **files,
            ))

    def run_options(self) -> dict[str, Any]:
        """What every run of the user's own agent is given: its model, streamed into the
        task's log (deeptui's own agents are built on a streamed model)."""
        if self.user_agent is None or getattr(self.user_agent, "model", None) is None:
            return {}
        if self._user_model is None:
            from deeptui.runners.streamed_model import streamed

            self._user_model = streamed(self.user_agent.model)
        return {"model": self._user_model}

    def deps_for_run(self) -> Any:
        """Fresh deps for one agent run, so concurrent runs never share state."""
        if self.user_deps is not None and dataclasses.is_dataclass(self.user_deps):
            # pydantic-deep's per-run state; a user's own deps type may have neither
            names = {f.name for f in dataclasses.fields(self.user_deps) if f.init}
            fresh = {k: v for k, v in (("todos", []), ("uploads", {})) if k in names}
            return dataclasses.replace(self.user_deps, **fresh) if fresh else self.user_deps
        if self.user_deps is not None:
            return self.user_deps
        from pydantic_deep import create_default_deps

        return create_default_deps()


def _instructions_inline(agent: Any) -> Any:
    """pydantic-deep's instructions rendered on the event loop, not in a worker thread.

    pydantic-ai runs a plain ``def`` instruction function in a thread on every request;
    pydantic-deep's joins strings it already holds (no I/O), so the hop only waits: for a
    thread, then for the GIL (up to 5 ms while other tasks run) and for the loop to be woken.
    The same function, awaited in place, gives the same text. It is found in the agent's
    ``_instructions`` (pydantic-ai's, private): if a release moves it, nothing is replaced and
    tests/test_agent_path.py says so."""
    sourced = getattr(agent, "_instructions", None)
    for i, item in enumerate(sourced or ()):
        fn = item.instruction
        if callable(fn) and not inspect.iscoroutinefunction(fn) and \
                fn.__qualname__ == "create_deep_agent.<locals>.dynamic_instructions":
            sourced[i] = dataclasses.replace(item, instruction=_awaited(fn))
    return agent


def _awaited(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    async def inline(ctx: Any) -> Any:
        return fn(ctx)

    inline.__qualname__ = fn.__qualname__
    return inline


def _add_usage(ctx: TaskContext, result: Any) -> None:
    usage = getattr(result, "usage", None)
    usage = usage() if callable(usage) else usage
    if usage is not None:
        ctx.usage.input_tokens += getattr(usage, "input_tokens", 0) or 0
        ctx.usage.output_tokens += getattr(usage, "output_tokens", 0) or 0
        ctx.usage.requests += getattr(usage, "requests", 0) or 0
    cost = 0.0
    priced = False
    for message in getattr(result, "all_messages", lambda: [])():
        price = getattr(message, "cost", None)
        name = getattr(message, "model_name", None)
        if price is None or name in _UNPRICED:
            continue
        try:
            cost += float(price().total_price)
            priced = True
        except Exception:  # noqa: BLE001 - unknown price: leave cost unset
            if name:
                _UNPRICED.add(name)
    if priced:
        ctx.usage.cost_usd = (ctx.usage.cost_usd or 0.0) + cost


async def run_agent_task(ctx: TaskContext, agents: AgentProvider) -> Any:
    """Run the task on its agent, its text and tool calls logged as they come."""
    _quieten()
    task = ctx.task
    skills = tuple(task.required_skills)
    run_files = agents.workspaces.get(ctx.run_id) if agents.user_agent is None else None
    agent = agents.agent_for(ctx.agent_type, skills, on_files=run_files is not None)
    extra: dict[str, Any] = agents.run_options()
    if agents.user_agent is not None and skills:
        # the user's own agent: the skills' instructions are added to its own for this run
        extra["instructions"] = agents.skill_manager.instructions_for(skills)
    task_files = None
    if run_files is not None:
        task_files = await run_files.for_task(task)
        extra["workspace"] = task_files.workspace
        extra["capabilities"] = [approval_capability(ctx, agents.approvals, task_files)]
    prompt = build_prompt(ctx, str(run_files.root) if run_files is not None else None)
    result = await _logged_run(ctx, agent, prompt, agents.deps_for_run(), extra)
    if result is None:
        raise TaskFailure("the agent ended without a result")
    if type(result.output).__name__ == "DeferredToolRequests":
        raise TaskFailure("the agent stopped waiting for tool approvals nobody answered")
    _add_usage(ctx, result)
    if task_files is not None and run_files is not None and task_files.overlay is not None:
        ctx.changes = await run_files.finish(task_files)
        ctx.log("info", f"changes kept for review: {ctx.changes.summary() if ctx.changes else 'none'}")
    return result.output


async def _logged_run(ctx: TaskContext, agent: Any, prompt: str, deps: Any,
                      extra: dict[str, Any]) -> Any:
    """One agent run driven node by node, logged as it goes: the model's text piece by piece
    as it streams (`StreamedModel`), its tool calls when the model asks for them, their
    results when the next request carries them back."""
    from deeptui.runners.streamed_model import TEXT_LOG

    token = TEXT_LOG.set(lambda text: ctx.log("text", text))
    try:
        return await _drive(ctx, agent.iter(prompt, deps=deps, **extra))
    finally:
        TEXT_LOG.reset(token)


async def _drive(ctx: TaskContext, iteration: Any) -> Any:
    """The run's steps as log lines (its text is logged by the model); its result."""
    from pydantic_ai import Agent
    from pydantic_ai.messages import RetryPromptPart, ToolCallPart, ToolReturnPart

    async with iteration as run:
        schema = getattr(run.ctx.deps, "output_schema", None)
        output_tools = set(getattr(getattr(schema, "toolset", None), "processors", ()))
        async for node in run:
            if Agent.is_model_request_node(node):
                for part in node.request.parts:  # the previous step's tool results
                    if isinstance(part, ToolReturnPart | RetryPromptPart) and part.tool_name \
                            and part.tool_name not in output_tools:
                        ctx.log("tool_result", f"{part.tool_name} -> {one_line(part.content)}")
            elif Agent.is_call_tools_node(node):
                for part in node.model_response.parts:
                    if isinstance(part, ToolCallPart) and part.tool_name not in output_tools:
                        ctx.log("tool_call", _call_line(part))
    return run.result


def _call_line(part: Any) -> str:
    """A tool call as a log line: ``read_file pkg/mod.py`` for the file tools, else
    ``name(arguments)``."""
    try:
        args = part.args_as_dict()
    except Exception:  # noqa: BLE001 - arguments the model garbled: show them raw
        args = {}
    if any(args.get(key) not in (None, "") for key in PATH_ARGS):
        return describe_call(part.tool_name, args)
    return f"{part.tool_name}({one_line(part.args)})"
