"""A scripted OpenAI-compatible server on 127.0.0.1, for tests that use the real OpenAI client.

It speaks both APIs pydantic-ai's OpenAI models use: Chat Completions
(``POST /v1/chat/completions``, the ``openai-chat:`` models and every local server) and
Responses (``POST /v1/responses``, the ``openai:`` models), streamed (server-sent events,
when the request says ``"stream": true``) or not. Each request takes the next reply of
its script: a tool call, or a text answer; each reports the usage it was given. Every
request's body is kept for the test to read. Bounded: it serves as many requests as
the script has replies plus ``spare`` (answered with an error), then stops; `stop()`
ends it early and always returns.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One model turn: ``text``, or a call of ``tool`` with ``args``; the usage it reports."""

    text: str = ""
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class Request:
    path: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case

    @property
    def streamed(self) -> bool:
        return bool(self.body.get("stream"))

    def tool_results(self) -> list[str]:
        """The tool results this request sends back to the model, in either API's shape."""
        found = []
        for item in self.body.get("messages") or self.body.get("input") or []:
            if item.get("role") == "tool":  # chat completions
                content = item.get("content")
                found.append(content if isinstance(content, str) else json.dumps(content))
            elif item.get("type") == "function_call_output":  # responses
                found.append(str(item.get("output")))
        return found

    def tool_names(self) -> list[str]:
        tools = self.body.get("tools") or []
        return [t.get("function", t).get("name") for t in tools]

    def tool_parameters(self, name: str) -> dict[str, Any]:
        tool = next(t for t in self.body.get("tools") or [] if t.get("function", t).get("name") == name)
        return tool.get("function", tool).get("parameters", {})


class FakeOpenAI:
    """The server: ``with FakeOpenAI(replies) as server:`` then point the client at ``server.base_url``."""

    def __init__(self, replies: list[Reply], spare: int = 2) -> None:
        self.replies = list(replies)
        self.requests: list[Request] = []
        self._limit = len(replies) + spare
        self._stopped = threading.Event()
        self._httpd = HTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.timeout = 0.05  # handle_request returns this often to see a stop
        self._thread = threading.Thread(target=self._serve, name="fake-openai", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._httpd.server_close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _serve(self) -> None:
        try:
            while not self._stopped.is_set() and len(self.requests) < self._limit:
                self._httpd.handle_request()
        finally:  # a client that calls again is refused at once, never left waiting
            self._httpd.server_close()

    def answer(self, request: Request) -> tuple[int, list[str] | dict[str, Any]]:
        """The status and the body (a JSON document, or the SSE events of a stream)."""
        self.requests.append(request)
        turn = len(self.requests) - 1
        if turn >= len(self.replies):
            return 500, {"error": {"message": f"unscripted request #{turn + 1}", "type": "server_error"}}
        reply = self.replies[turn]
        model = request.body.get("model", "unknown")
        if request.path.endswith("/chat/completions"):
            shape = _chat_stream if request.streamed else _chat_document
        elif request.path.endswith("/responses"):
            shape = _responses_stream if request.streamed else _responses_document
        else:
            return 404, {"error": {"message": f"no route {request.path}", "type": "not_found"}}
        return 200, shape(reply, model, turn)


def _handler(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: the end of a stream is the close

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            status, answer = server.answer(Request(self.path, body, {k.lower(): v for k, v in self.headers.items()}))
            self.send_response(status)
            if isinstance(answer, list):
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for event in answer:
                    self.wfile.write(event.encode())
                    self.wfile.flush()
            else:
                data = json.dumps(answer).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        def log_message(self, *args: object) -> None:  # quiet
            pass

    return Handler


def _sse(data: dict[str, Any] | str, event: str | None = None) -> str:
    payload = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


def _words(text: str) -> list[str]:
    """The text in a few pieces, as a model streams it."""
    pieces = text.split(" ")
    return [p + (" " if i < len(pieces) - 1 else "") for i, p in enumerate(pieces)]


# ------------------------------------------------------------------ chat completions


def _chat_usage(reply: Reply) -> dict[str, int]:
    return {"prompt_tokens": reply.input_tokens, "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens}


def _chat_document(reply: Reply, model: str, turn: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool:
        message["tool_calls"] = [{"id": f"call_{turn}", "type": "function",
                                  "function": {"name": reply.tool, "arguments": json.dumps(reply.args)}}]
    return {"id": f"chatcmpl-{turn}", "object": "chat.completion", "created": 1_700_000_000,
            "model": model, "usage": _chat_usage(reply),
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if reply.tool else "stop"}]}


def _chat_stream(reply: Reply, model: str, turn: int) -> list[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        return _sse({"id": f"chatcmpl-{turn}", "object": "chat.completion.chunk", "created": 1_700_000_000,
                     "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    events = [chunk({"role": "assistant", "content": ""})]
    if reply.tool:
        arguments = json.dumps(reply.args)
        events.append(chunk({"tool_calls": [{"index": 0, "id": f"call_{turn}", "type": "function",
                                             "function": {"name": reply.tool, "arguments": ""}}]}))
        half = len(arguments) // 2
        for part in (arguments[:half], arguments[half:]):
            events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": part}}]}))
        events.append(chunk({}, "tool_calls"))
    else:
        events += [chunk({"content": piece}) for piece in _words(reply.text)]
        events.append(chunk({}, "stop"))
    # stream_options.include_usage: a last chunk with no choices and the usage
    events.append(_sse({"id": f"chatcmpl-{turn}", "object": "chat.completion.chunk", "created": 1_700_000_000,
                        "model": model, "choices": [], "usage": _chat_usage(reply)}))
    return [*events, _sse("[DONE]")]


# ------------------------------------------------------------------ responses


def _responses_usage(reply: Reply) -> dict[str, Any]:
    return {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
            "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}


def _responses_item(reply: Reply, turn: int, done: bool) -> dict[str, Any]:
    status = "completed" if done else "in_progress"
    if reply.tool:
        return {"type": "function_call", "id": f"fc_{turn}", "call_id": f"call_{turn}", "name": reply.tool,
                "arguments": json.dumps(reply.args) if done else "", "status": status}
    content = [{"type": "output_text", "text": reply.text, "annotations": []}] if done else []
    return {"type": "message", "id": f"msg_{turn}", "role": "assistant", "status": status, "content": content}


def _responses_document(reply: Reply, model: str, turn: int, done: bool = True) -> dict[str, Any]:
    return {"id": f"resp_{turn}", "object": "response", "created_at": 1_700_000_000, "model": model,
            "status": "completed" if done else "in_progress", "output": [_responses_item(reply, turn, True)] if done else [],
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
            "usage": _responses_usage(reply) if done else None}


def _responses_stream(reply: Reply, model: str, turn: int) -> list[str]:
    sequence = iter(range(1000))

    def event(kind: str, **data: Any) -> str:
        return _sse({"type": kind, "sequence_number": next(sequence), **data}, kind)

    item_id = f"fc_{turn}" if reply.tool else f"msg_{turn}"
    events = [event("response.created", response=_responses_document(reply, model, turn, done=False)),
              event("response.output_item.added", output_index=0, item=_responses_item(reply, turn, False))]
    if reply.tool:
        arguments = json.dumps(reply.args)
        events.append(event("response.function_call_arguments.delta", item_id=item_id, output_index=0,
                            delta=arguments))
        events.append(event("response.function_call_arguments.done", item_id=item_id, output_index=0,
                            arguments=arguments, name=reply.tool))
    else:
        part = {"type": "output_text", "text": "", "annotations": []}
        events.append(event("response.content_part.added", item_id=item_id, output_index=0,
                            content_index=0, part=part))
        events += [event("response.output_text.delta", item_id=item_id, output_index=0, content_index=0,
                         delta=piece, logprobs=[]) for piece in _words(reply.text)]
        events.append(event("response.output_text.done", item_id=item_id, output_index=0, content_index=0,
                            text=reply.text, logprobs=[]))
    events.append(event("response.output_item.done", output_index=0, item=_responses_item(reply, turn, True)))
    events.append(event("response.completed", response=_responses_document(reply, model, turn)))
    return events
