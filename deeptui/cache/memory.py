"""A cached result, its payload (the JSON text stored in every tier) and the memory tier.

A payload is never pickled: `encode` returns None for an output JSON cannot hold
exactly, and `decode` raises ValueError/KeyError/TypeError for text that is not
one (the disk tier drops such an entry).
"""

from __future__ import annotations

import json
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



def encode(
    task_id: str, output: Any, usage: TaskUsage | None, agent: str | None, ascii: bool = False
) -> str | None:
    payload = {
        "task_id": task_id,
        "output": output,
        "created_at": time.time(),
        "usage": usage.model_dump(mode="json") if usage is not None else None,
        "agent_used": agent,
    }
    try:
        return json.dumps(payload, ensure_ascii=ascii, allow_nan=False)
    except (TypeError, ValueError):
        return None


def decode(text: str) -> CachedResult:
    data = json.loads(text)
    usage = data["usage"]
    return CachedResult(
        output=data["output"],
        task_id=data["task_id"],
        created_at=data["created_at"],
        usage=TaskUsage.model_validate(usage) if usage is not None else None,
        agent_used=data["agent_used"],
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
