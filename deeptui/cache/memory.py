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
from typing import TYPE_CHECKING, Any

from deeptui.blank import zero_usage
from deeptui.models import TaskUsage

from deeptui.cache.keys import PreparedKey

if TYPE_CHECKING:
    from collections.abc import Iterable


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
    run_id: str | None = None, created: float | None = None,
) -> str | None:
    """The payload: a JSON object of the result (None when the output is not JSON).

    Written as text around the encoded output: a no-op task's result (a None output,
    zero usage) costs no encoder call. ``created``: when it was stored (default: now)."""
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
            f'{float.__repr__(time.time() if created is None else created)}, "usage": {used}, '
            f'"agent_used": {agent_text}, "run_id": {run_text}}}')


# built once: json.dumps with options builds a new encoder per call
_TEXT = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
_ASCII = json.JSONEncoder(ensure_ascii=True, allow_nan=False)
_string, _ascii_string = json.encoder.encode_basestring, json.encoder.encode_basestring_ascii
_ZERO_USAGE = _TEXT.encode(TaskUsage().model_dump(mode="json"))


_SCALARS = frozenset({type(None), str, int, bool})  # (a float may be NaN: JSON refuses it)


def deferred(task_id: str, output: Any, usage: TaskUsage | None, agent: str | None,
             run_id: str | None = None) -> tuple[Any, ...] | None:
    """What `encode` needs later, for an output no later change can reach (None, a string,
    a number) and no usage to count; None: encode it now."""
    if type(output) not in _SCALARS and not (type(output) is float and math.isfinite(output)):
        return None
    if usage is not None and (type(usage) is not TaskUsage or usage.input_tokens
                              or usage.output_tokens or usage.requests
                              or usage.cost_usd is not None):
        return None
    return (task_id, output, usage is not None, agent, run_id)


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


class Entry:
    """One memory entry: its payload, task, expiry (monotonic) and creation (wall) time,
    and its key, or the `PreparedKey` it is hashed from when first compared. The payload
    may be `deferred` (a tuple): encoded when first read."""

    __slots__ = ("key", "payload", "task_id", "expires", "created", "order")

    def __init__(self, key: str | PreparedKey, payload: str | tuple[Any, ...], task_id: str,
                 expires: float | None, created: float, order: int) -> None:
        self.key, self.payload, self.task_id = key, payload, task_id
        self.expires, self.created, self.order = expires, created, order

    def result(self) -> CachedResult:
        """The stored result (a new object each time: a caller may change it)."""
        payload = self.payload
        if type(payload) is tuple:  # what decode(encode(...)) gives, without either
            task_id, output, has_usage, agent, run_id = payload
            return CachedResult(output, task_id, self.created,
                                zero_usage() if has_usage else None, agent, run_id)
        return decode(payload)  # type: ignore[arg-type]

    def text(self) -> str:
        payload = self.payload
        if type(payload) is tuple:
            task_id, output, has_usage, agent, run_id = payload
            payload = encode(task_id, output, TaskUsage() if has_usage else None, agent,
                             run_id=run_id, created=self.created)
            assert payload is not None  # `deferred` holds only what encodes
            self.payload = payload
        return payload  # type: ignore[return-value]


class MemoryTier:
    """An LRU of payload texts with monotonic-clock expiry, indexed by key and by task.

    An entry may be stored under a `PreparedKey` of its task (not hashed yet): it is
    hashed when a lookup of the same task, or of any key, first needs it. A run whose
    tasks have no entries hashes nothing."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.lru: OrderedDict[Entry, None] = OrderedDict()  # least recently used first
        self.by_key: dict[str, Entry] = {}  # hashed entries
        self.by_task: dict[str, list[Entry]] = {}  # each task's entries, in put order
        self.unhashed = 0  # how many entries' keys are a PreparedKey
        self._order = 0  # puts so far: of two entries hashed to one key, the later wins

    def __len__(self) -> int:
        return len(self.lru)

    def holds(self, task_id: str) -> bool:
        """Whether any entry (live or expired) is the task's."""
        return task_id in self.by_task

    def get(self, key: str, task_id: str | None = None) -> Entry | None:
        """The entry stored under ``key``; ``task_id``: the key's task when the key holds
        the task's definition (only that task's unhashed entries can match)."""
        if self.unhashed:
            self._hash(self.by_task.get(task_id, ()) if task_id is not None else self.lru)
        entry = self.by_key.get(key)
        if entry is None:
            return None
        if entry.expires is not None and entry.expires <= time.monotonic():
            self._remove(entry)
            return None
        self.lru.move_to_end(entry)
        return entry

    def find(self, key: PreparedKey) -> Entry | None | bool:
        """The entry of ``key``'s task stored under the same key, compared without hashing
        (newest first): the entry, None when none is, or False when only hashing can tell
        (an entry of the task was hashed)."""
        for entry in reversed(self.by_task.get(key.task_id, ())):  # type: ignore[arg-type]
            stored = entry.key
            same = None if type(stored) is str else stored.same(key)  # type: ignore[union-attr]
            if same is None:
                return False
            if same:
                if entry.expires is not None and entry.expires <= time.monotonic():
                    self._remove(entry)
                    return None
                self.lru.move_to_end(entry)
                return entry
        return None

    def put(self, key: str | PreparedKey, payload: str | tuple[Any, ...], task_id: str,
            ttl: float | None, created: float) -> int:
        """Store, and return how many entries were evicted to make room."""
        expires = time.monotonic() + ttl if ttl is not None else None
        self._order += 1
        entry = Entry(key, payload, task_id, expires, created, self._order)
        if type(key) is str:
            old = self.by_key.get(key)
            if old is not None:
                self._remove(old)
            self.by_key[key] = entry
        else:
            self.unhashed += 1
        lru = self.lru
        lru[entry] = None
        same_task = self.by_task.get(task_id)
        if same_task is None:
            self.by_task[task_id] = [entry]
        else:
            same_task.append(entry)
        evicted = 0
        while len(lru) > self.max_size:
            self._unindex(lru.popitem(last=False)[0])
            evicted += 1
        return evicted

    def _hash(self, entries: Iterable[Entry]) -> None:
        """Give unhashed entries their key; of two with one key, the later put stays."""
        for entry in list(entries):
            key = entry.key
            if type(key) is str or entry not in self.lru:
                continue
            entry.key = key = key.hex()
            self.unhashed -= 1
            old = self.by_key.get(key)
            if old is not None and old.order > entry.order:
                self._remove(entry)
                continue
            if old is not None:
                self._remove(old)
            self.by_key[key] = entry

    def _remove(self, entry: Entry) -> None:
        del self.lru[entry]
        self._unindex(entry)

    def _unindex(self, entry: Entry) -> None:
        """Take an entry out of the key and task indexes (it has left the LRU)."""
        key = entry.key
        if type(key) is str:
            if self.by_key.get(key) is entry:
                del self.by_key[key]
        else:
            self.unhashed -= 1
        same_task = self.by_task[entry.task_id]
        if len(same_task) == 1:
            del self.by_task[entry.task_id]
        else:
            same_task.remove(entry)

    def invalidate(self, task_id: str) -> int:
        doomed = list(self.by_task.get(task_id, ()))
        for entry in doomed:
            self._remove(entry)
        return len(doomed)

    def clear(self) -> None:
        self.lru.clear()
        self.by_key.clear()
        self.by_task.clear()
        self.unhashed = 0

    def hash_all(self) -> None:
        if self.unhashed:
            self._hash(self.lru)

    def live(self) -> list[Entry]:
        """Unexpired entries, least recently used first, each hashed."""
        self.hash_all()
        now = time.monotonic()
        return [e for e in self.lru if e.expires is None or e.expires > now]
