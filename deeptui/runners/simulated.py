"""The offline model: a pydantic-ai FunctionModel that streams plausible answers.

It is the default whenever no model is named, so deeptui demonstrates
everything on a machine with no network and no API key. It waits a simulated
latency while streaming, can fail with a given probability, and is
deterministic for a given seed. On an agent with file tools whose workspace
holds files, it really works on them first (`offline_explore`): it lists,
globs, greps and reads, and answers from what it found (`offline_answer`).
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator
from datetime import UTC
from typing import TYPE_CHECKING

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

if TYPE_CHECKING:
    from deeptui.runners.offline_explore import Exploration


class SimulatedModelError(RuntimeError):
    """An injected failure of the offline model (see ``fail_rate``)."""


_TASK_LINE = re.compile(r"^Task: (?P<id>.+)$", re.MULTILINE)
_SKILL_NAME = re.compile(r"<skill>\s*<name>(?P<name>[^<]+)</name>")
FIRST_STEP_SHARE = 0.3  # of the latency, spent before the tool calls
FILE_STEP_SHARE = 0.05  # of the latency, spent before each later step of file tool calls
MAX_CHUNKS = 60  # a long answer streams in bigger chunks
_DESC_LINE = re.compile(r"^Description: (?P<desc>.+)$", re.MULTILINE)
_WORKSPACE_LINE = re.compile(r"^Workspace: ", re.MULTILINE)
_FILE_TOOLS = frozenset({"ls", "glob", "grep", "read_file"})  # what the exploration uses

_OPENINGS = [
    "I started by reviewing the inputs",
    "First I looked at what the previous steps produced",
    "I began by restating the goal",
    "To start, I checked the context and constraints",
]
_STEPS = [
    "listed the pieces that matter and the order to handle them",
    "checked each assumption against the inputs",
    "worked through the main cases and the edge cases",
    "kept the changes small and easy to review",
    "wrote down what remains uncertain",
    "verified the result against the task's goal",
]
_CLOSINGS = [
    "The task is complete.",
    "Everything the task asked for is done.",
    "The result is ready for the next step.",
]


def _last_prompt(messages: list[ModelMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    return part.content
    return ""


def _has_tool_results(messages: list[ModelMessage]) -> bool:
    return any(isinstance(part, ToolReturnPart)
               for message in messages if isinstance(message, ModelRequest)
               for part in message.parts)


def _seconds_since_first_step(messages: list[ModelMessage]) -> float:
    first = next((m for m in messages if isinstance(m, ModelResponse)), None)
    if first is None or first.timestamp is None:
        return 0.0
    from datetime import datetime

    return max(0.0, (datetime.now(UTC) - first.timestamp).total_seconds())


def _skills_offered(messages: list[ModelMessage]) -> list[str]:
    for message in messages:
        if isinstance(message, ModelRequest) and message.instructions:
            return [m.group("name").strip() for m in _SKILL_NAME.finditer(message.instructions)]
    return []


async def _pause(seconds: float) -> None:
    """Wait ``seconds``; no event-loop round trip at all for none."""
    if seconds > 0:
        await asyncio.sleep(seconds)


class SimulatedModel(FunctionModel):
    """``SimulatedModel(latency=(0.2, 1.5), fail_rate=0.0, seed=None)``.

    Works anywhere a pydantic-ai model does, e.g.
    ``create_deep_agent(model=SimulatedModel())``.
    """

    def __init__(
        self,
        latency: tuple[float, float] = (0.2, 1.5),
        fail_rate: float = 0.0,
        seed: int | None = None,
        *,
        chunk_words: int = 4,
    ) -> None:
        low, high = latency
        if low < 0 or high < low:
            raise ValueError(f"latency must be (low, high) with 0 <= low <= high, got {latency}")
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError(f"fail_rate must be between 0 and 1, got {fail_rate}")
        self.latency = (float(low), float(high))
        self.fail_rate = fail_rate
        self.seed = seed
        self.chunk_words = max(1, chunk_words)
        self._rng = random.Random(seed)
        super().__init__(self._respond, stream_function=self._stream, model_name="simulated")

    # -- the answer -------------------------------------------------------

    def compose(self, prompt: str, rng: random.Random) -> str:
        """A plausible answer that mentions the task the prompt is about."""
        task = _TASK_LINE.search(prompt)
        desc = _DESC_LINE.search(prompt)
        task_id = task.group("id").strip() if task else "the task"
        description = desc.group("desc").strip().rstrip(".") if desc else "the request"
        steps = rng.sample(_STEPS, 3)
        return (
            f"## {task_id}\n\n"
            f"Goal: {description}.\n\n"
            f"{rng.choice(_OPENINGS)}, then:\n"
            f"1. {steps[0].capitalize()}.\n"
            f"2. {steps[1].capitalize()}.\n"
            f"3. {steps[2].capitalize()}.\n\n"
            f"{rng.choice(_CLOSINGS)}"
        )

    def tool_calls(self, messages: list[ModelMessage], info: AgentInfo) -> list[ToolCallPart]:
        """The first step of an agent run: load the offered skills and plan a todo,
        as a real deep agent does, and look at the workspace (``ls .``) when it is one
        on disk. Then, while the workspace has files, the exploration's next calls;
        none once it is done."""
        tools = {tool.name for tool in info.function_tools}
        if _has_tool_results(messages):
            exploration = self._exploration(messages, tools)
            if exploration is None:
                return []
            from deeptui.runners import offline_change

            return offline_change.next_step(exploration)
        calls: list[ToolCallPart] = []
        if "load_skill" in tools:
            calls += [ToolCallPart("load_skill", {"skill_name": name})
                      for name in _skills_offered(messages)]
        prompt = _last_prompt(messages)
        desc = _DESC_LINE.search(prompt)
        if "add_todo" in tools and desc:
            content = desc.group("desc").strip().rstrip(".")
            calls.append(ToolCallPart("add_todo", {"content": content,
                                                   "active_form": f"Working on: {content}"}))
        # a workspace on disk: the prompt names it, or the agent can run commands there (an
        # in-memory workspace offers no `execute`): the run without one stays as it was
        if _FILE_TOOLS <= tools and ("execute" in tools or _WORKSPACE_LINE.search(prompt)):
            calls.append(ToolCallPart("ls", {"path": "."}))
        return calls

    @staticmethod
    def _exploration(messages: list[ModelMessage], tools: set[str]) -> Exploration | None:
        """What the file tools found so far; None without file tools or files."""
        if not _FILE_TOOLS <= tools:
            return None
        from deeptui.runners import offline_explore
        from deeptui.runners.offline_files import transcript

        task = offline_explore.Task.from_prompt(_last_prompt(messages), _skills_offered(messages))
        exploration = offline_explore.Exploration(task, tools, transcript(messages))
        return exploration if exploration.has_files else None

    def _plan(self, messages: list[ModelMessage], info: AgentInfo) -> tuple[str, float, bool]:
        rng = self._rng
        exploration = self._exploration(messages, {tool.name for tool in info.function_tools})
        if exploration is not None:
            from deeptui.runners import offline_answer, offline_change

            change = offline_change.change_text(exploration) if exploration.task.writes else None
            text = offline_answer.compose(exploration, change)
        else:
            text = self.compose(_last_prompt(messages), rng)
        skills = [str(part.args_as_dict().get("skill_name")) for message in messages
                  if isinstance(message, ModelResponse) for part in message.parts
                  if isinstance(part, ToolCallPart) and part.tool_name == "load_skill"]
        if skills:
            text += f"\n\nApplied the {', '.join(skills)} skill{'s' if len(skills) > 1 else ''}."
        delay = rng.uniform(*self.latency)
        fails = self.fail_rate > 0 and rng.random() < self.fail_rate
        if _has_tool_results(messages):
            delay *= 1 - FIRST_STEP_SHARE
        if exploration is not None:  # the time the file tools took is part of the latency
            delay = max(0.0, delay - _seconds_since_first_step(messages))
        return text, delay, fails

    def _step_delay(self, messages: list[ModelMessage]) -> float:
        """The wait before a step of tool calls: the first step's share, or a small one."""
        share = FILE_STEP_SHARE if _has_tool_results(messages) else FIRST_STEP_SHARE
        return self._rng.uniform(*self.latency) * share

    async def _respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls = self.tool_calls(messages, info)
        if calls:
            await asyncio.sleep(self.latency[0] * FIRST_STEP_SHARE if not _has_tool_results(messages)
                                else self._step_delay(messages))
            return ModelResponse(parts=calls)
        text, delay, fails = self._plan(messages, info)
        await asyncio.sleep(delay)
        if fails:
            raise SimulatedModelError("simulated model failure (injected by fail_rate)")
        return ModelResponse(parts=[TextPart(text)])

    async def _stream(self, messages: list[ModelMessage],
                      info: AgentInfo) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        calls = self.tool_calls(messages, info)
        if calls:
            await _pause(self._step_delay(messages))
            for n, call in enumerate(calls):
                yield {n: DeltaToolCall(name=call.tool_name, json_args=call.args_as_json_str())}
            return
        text, delay, fails = self._plan(messages, info)
        chunks = self.chunks(text, delay)
        pause = delay / (len(chunks) + 1)
        fail_at = len(chunks) // 2 if fails else -1
        for n, chunk in enumerate(chunks):
            await _pause(pause)
            if n == fail_at:
                raise SimulatedModelError("simulated model failure (injected by fail_rate)")
            yield chunk
        await _pause(pause)

    def chunks(self, text: str, delay: float) -> list[str]:
        """The answer in pieces of ``chunk_words`` words (at most ``MAX_CHUNKS``), paced over
        ``delay``; with no delay to pace, one piece: the same text, without ~25 streamed
        events to dispatch through every capability of the agent."""
        if delay <= 0:
            return [text]
        words = text.split(" ")
        size = max(self.chunk_words, -(-len(words) // MAX_CHUNKS))
        chunks = [" ".join(words[i : i + size]) + " " for i in range(0, len(words), size)]
        chunks[-1] = chunks[-1].rstrip(" ")
        return chunks
