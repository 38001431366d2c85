"""A cached result, its payload (the JSON text stored in every tier) and the memory tier.

A payload is never pickled: `encode` returns None for an output JSON cannot hold
exactly, and `decode` raises ValueError/KeyError/TypeError for text that is not
one (the disk tier drops such an entry).
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from deeptui.models import TaskUsage


@dataclass
class CachedResult:
    output: Any
    task_id: str
    created_at: float  # time.time() when stored
    usage: TaskUsage | None = None
    agent_used: str | None = None
    run_id: str | None = None  # the run that produced it (None: stored before runs were named)


def encode(
    task_id: str, output: Any, usage: TaskUsage | None, agent: str | None, ascii: bool = False,
    run_id: str | None = None,
) -> str | None:
    """The payload: a JSON object of the result (None when the output is not JSON).

    Written as text around the encoded output: a no-op task's result (a None output,
    zero usage) costs no encoder call."""
    encoder, string = (_ASCII, _ascii_string) if ascii else (_TEXT, _string)
    try:
        out = "null" if output is None else encoder.encode(output)
        if usage is None:
            used = "null"
        elif not (usage.input_tokens or usage.output_tokens or usage.requests
                  or usage.cost_usd is not None) and type(usage) is TaskUsage:
            used = _ZERO_USAGE
        else:
            used = encoder.encode(_usage_json(usage))
    except (TypeError, ValueError):
        return None
    agent_text = "null" if agent is None else string(agent)
    run_text = "null" if run_id is None else string(run_id)
    return (f'{{"task_id": {string(task_id)}, "output": {out}, "created_at": '
            f'{float.__repr__(time.time())}, "usage": {used}, "agent_used": {agent_text}, '
            f'"run_id": {run_text}}}')


# built once: json.dumps with options builds a new encoder per call
_TEXT = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
_ASCII = json.JSONEncoder(ensure_ascii=True, allow_nan=False)
_string, _ascii_string = json.encoder.encode_basestring, json.encoder.encode_basestring_ascii
_ZERO_USAGE = _TEXT.encode(TaskUsage().model_dump(mode="json"))


def _usage_json(usage: TaskUsage) -> dict[str, Any]:
    """``usage.model_dump(mode="json")``, without its cost for the common case."""
    cost = usage.cost_usd
    if (cost is not None and not math.isfinite(cost)) or type(usage) is not TaskUsage:
        return usage.model_dump(mode="json")
    return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
            "requests": usage.requests, "cost_usd": cost}


def decode(text: str) -> CachedResult:
    data = json.loads(text)
    usage = data["usage"]
    return CachedResult(
        output=data["output"],
        task_id=data["task_id"],
        created_at=data["created_at"],
        usage=TaskUsage.model_validate(usage) if usage is not None else None,
        agent_used=data["agent_used"],
        run_id=data.get("run_id"),
    )


class MemoryTier:
    """An LRU of payload texts with monotonic-clock expiry."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        # key -> (payload, task_id, expires (monotonic) or None, created_at (wall))
        self.items: OrderedDict[str, tuple[str, str, float | None, float]] = OrderedDict()

    def get(self, key: str) -> str | None:
        item = self.items.get(key)
        if item is None:
            return None
        if item[2] is not None and item[2] <= time.monotonic():
            del self.items[key]
            return None
        self.items.move_to_end(key)
        return item[0]

    def put(self, key: str, payload: str, task_id: str, ttl: float | None, created: float) -> int:
        """Store, and return how many entries were evicted to make room."""
        expires = time.monotonic() + ttl if ttl is not None else None
        self.items[key] = (payload, task_id, expires, created)
        self.items.move_to_end(key)
        evicted = 0
        while len(self.items) > self.max_size:
            self.items.popitem(last=False)
            evicted += 1
        return evicted

    def invalidate(self, task_id: str) -> int:
        doomed = [key for key, item in self.items.items() if item[1] == task_id]
        for key in doomed:
            del self.items[key]
        return len(doomed)

    def live(self) -> list[tuple[str, tuple[str, str, float | None, float]]]:
        now = time.monotonic()
        return [(k, v) for k, v in self.items.items() if v[2] is None or v[2] > now]
