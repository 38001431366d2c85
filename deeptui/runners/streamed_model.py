"""The model under every agent task: each request streamed, its text logged as it arrives.

An agent task's run is driven whole (``agent.iter``), as pydantic-deep runs its own agents;
the model streams underneath. `StreamedModel` wraps the model the agent calls: asked for a
response, it opens the wrapped model's stream, hands each piece of text to the running
task's log (`TEXT_LOG`, set by the task: one agent serves every task of its type at once),
and answers with the finished response.

Why here and not ``run_stream_events`` or a node's ``stream()``: those pass every event
through each capability of a pydantic-deep agent (nine of them), about 1 ms a task on an
instant model; the model's own stream is read directly here, and the agent sees a plain
request. Outside a task (nothing to log to) it is a plain request; a `FunctionModel` with
no stream function is asked whole.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
)
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

# the running task's text log: set by the task around its agent run (each asyncio task
# sees its own, pydantic-ai's inner tasks inherit it)
TEXT_LOG: ContextVar[Callable[[str], None] | None] = ContextVar("deeptui_text_log", default=None)


class StreamedModel(WrapperModel):
    """A model whose requests stream into the running task's log."""

    async def request(self, messages: list[ModelMessage], model_settings: ModelSettings | None,
                      model_request_parameters: ModelRequestParameters) -> ModelResponse:
        log = TEXT_LOG.get()
        if log is None or getattr(self.wrapped, "stream_function", True) is None:
            return await self.wrapped.request(messages, model_settings, model_request_parameters)
        async with self.wrapped.request_stream(messages, model_settings,
                                               model_request_parameters) as stream:
            async for event in stream:
                if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                    if event.part.content:
                        log(event.part.content)
                elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                    if event.delta.content_delta:
                        log(event.delta.content_delta)
        return stream.get()


def streamed(model: Any) -> Any:
    """``model`` wrapped once (a `StreamedModel` stays as it is; None stays None)."""
    if model is None or isinstance(model, StreamedModel):
        return model
    return StreamedModel(model)
