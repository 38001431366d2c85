"""A cached result, its payload (the JSON text stored in every tier) and the memory tier.

A payload is never pickled: `encode` returns None for an output JSON cannot hold
exactly, and `decode` raises ValueError/KeyError/TypeError for text that is not
one (the disk tier drops such an entry).
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deeptui.blank import zero_usage
from deeptui.models import TaskUsage

from deeptui.cache.keys import PreparedKey, digest

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


SCALARS = frozenset({type(None), str, int, bool})  # (a float may be NaN: JSON refuses it)


def deferred(task_id: str, output: Any, usage: TaskUsage | None, agent: str | None,
             run_id: str | None = None) -> tuple[Any, ...] | None:
    """What `encode` needs later, for an output no later change can reach (None, a string,
    a number) and no usage to count; None: encode it now."""
    if type(output) not in SCALARS and not (type(output) is float and math.isfinite(output)):
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


# A memory entry is a plain tuple of immutable values (CPython's collector untracks such a
# tuple once it survives a collection, so a cache of 20,000 entries adds nothing for later
# collections to walk): (key, payload, task id, expiry (monotonic) or None, creation (wall)).
# The key is the hex key, or the `PreparedKey.values` it is hashed from when first compared;
# the payload is the JSON text, or what `deferred` kept (encoded when first read as text).
KEY, PAYLOAD, TASK, EXPIRES, CREATED = range(5)
Entry = tuple  # (the type of an entry: see above)


def result_of(entry: Entry, zero: TaskUsage | None = None) -> CachedResult:
    """The stored result (a new object each time: a caller may change it); ``zero``: a
    zero usage the caller owns, the usage of a result stored with zero usage (else a new one)."""
    payload = entry[PAYLOAD]
    if type(payload) is tuple:  # what decode(encode(...)) gives, without either
        task_id, output, has_usage, agent, run_id = payload
        return CachedResult(output, task_id, entry[CREATED], (
            (zero_usage() if zero is None else zero) if has_usage else None), agent, run_id)
    return decode(payload)


def text_of(entry: Entry) -> str:
    """The entry's payload as JSON text."""
    payload = entry[PAYLOAD]
    if type(payload) is tuple:
        task_id, output, has_usage, agent, run_id = payload
        payload = encode(task_id, output, TaskUsage() if has_usage else None, agent,
                         run_id=run_id, created=entry[CREATED])
        assert payload is not None  # `deferred` holds only what encodes
    return payload  # type: ignore[no-any-return]


class MemoryTier:
    """An LRU of entries with monotonic-clock expiry, indexed by key and by task.

    Each index holds put numbers (ints) and each entry is a tuple of immutable values,
    so the collector does not walk them. An entry may be stored under the `PreparedKey`
    values of its task (not hashed yet): it is hashed when a lookup of the same task, or
    of any key, first needs it. A run whose tasks have no entries hashes nothing.
    Such an entry is put in `recent` first (`put_recent`): a run of more tasks than the LRU
    holds inserts only those the LRU would keep."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.lru: OrderedDict[int, Entry] = OrderedDict()  # put number -> entry, LRU first
        self.by_key: dict[str, int] = {}  # hashed entries' put numbers
        self.by_task: dict[str, tuple[int, ...]] = {}  # each task's entries, in put order
        self.unhashed = 0  # how many entries' keys are not hashed yet
        self._order = 0  # puts so far: of two entries hashed to one key, the later wins
        # entries put unhashed and not in the LRU yet, oldest first (`put_recent`), and
        # their tasks (maybe more: a dropped entry's task stays until `settle`)
        self.recent: deque[Entry] = deque(maxlen=max_size)
        self.recent_tasks: dict[str, None] = {}

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
        order = self.by_key.get(key)
        if order is None:
            return None
        entry = self.lru[order]
        expires = entry[EXPIRES]
        if expires is not None and expires <= time.monotonic():
            self._remove(order)
            return None
        self.lru.move_to_end(order)
        return entry

    def find(self, key: PreparedKey) -> Entry | None | bool:
        """The entry of ``key``'s task stored under the same key, compared without hashing
        (newest first): the entry, None when none is, or False when only hashing can tell
        (an entry of the task, or ``key``, was hashed)."""
        values = key.values
        lru = self.lru
        for order in reversed(self.by_task.get(key.task_id, ())):  # type: ignore[arg-type]
            entry = lru[order]
            stored = entry[KEY]
            if type(stored) is str or values is None:
                return False
            if stored == values:  # held values only: equal tuples, equal JSON
                expires = entry[EXPIRES]
                if expires is not None and expires <= time.monotonic():
                    self._remove(order)
                    return None
                lru.move_to_end(order)
                return entry
        return None

    def put_recent(self, values: tuple[Any, ...], payload: str | tuple[Any, ...],
                   task_id: str, ttl: float | None, created: float) -> int:
        """Store an entry under unhashed `PreparedKey.values` of its task, in `recent`
        until `settle` puts it in the LRU; returns how many entries this evicted (1 when
        `recent` was full: its oldest entry has ``max_size`` newer ones, so the LRU would
        evict it before any of them). A run of 10,000 tasks puts 10,000 entries in a
        1,000-entry LRU: only the last 1,000 are ever inserted."""
        recent = self.recent
        dropped = int(len(recent) == self.max_size)
        recent.append((values, payload, task_id,
                       None if ttl is None else time.monotonic() + ttl, created))
        self.recent_tasks[task_id] = None
        return dropped

    def put_waiting(self, results: list[tuple[Any, ...]], ttl: float | None) -> int:
        """`put_recent` of each result put later (`ResultCache.put_later`: key values,
        task, an output in `SCALARS`, usage, run id, when it was put (``time.time()``)),
        in order, each entry made as if stored when it was put; returns how many entries
        that evicted. Of more results than ``max_size``, those the later ones would push
        out are counted without being made into entries."""
        keep = results[-self.max_size:]
        to_monotonic = time.monotonic() - time.time()  # (expiry is on the monotonic clock)
        entries = []
        zero: Any = None  # a usage `deferred` found zero (most likely the run's shared one)
        for values, task_id, output, usage, run_id, created in keep:
            if usage is zero or usage is None:
                payload: Any = (task_id, output, usage is not None, None, run_id)
            else:
                payload = deferred(task_id, output, usage, None, run_id)
                if payload is not None:
                    zero = usage
                else:  # (a counted usage: encoded now, as `ResultCache.put` would)
                    payload = encode(task_id, output, usage, None, run_id=run_id,
                                     created=created)
                    if payload is None:
                        continue
            expires = None if ttl is None else created + to_monotonic + ttl
            entries.append((values, payload, task_id, expires, created))
        recent = self.recent
        dropped = max(len(recent) + len(entries) - self.max_size, 0)
        recent.extend(entries)
        self.recent_tasks.update(dict.fromkeys([entry[TASK] for entry in entries]))
        return len(results) - len(keep) + dropped

    def settle(self) -> int:
        """Put `recent` in the LRU, in put order (what putting them one by one would have
        left); returns how many entries that evicted. Every read of the LRU needs it first
        (`ResultCache` settles before each)."""
        recent = self.recent
        if not recent:
            return 0
        self.recent = deque(maxlen=self.max_size)
        count = len(recent)
        lru = self.lru
        evicted = max(len(lru) + count - self.max_size, 0)  # the oldest make room
        if evicted == len(lru):
            lru.clear()
            self.by_key.clear()
            self.by_task.clear()
            self.unhashed = 0
        else:
            for _ in range(evicted):
                self._unindex(*lru.popitem(last=False))
        self.unhashed += count
        first = self._order + 1
        self._order += count
        orders = range(first, first + count)
        lru.update(zip(orders, recent))
        by_task = self.by_task
        for order, entry in zip(orders, recent):
            same_task = by_task.get(entry[TASK])
            by_task[entry[TASK]] = (order,) if same_task is None else same_task + (order,)
        self.recent_tasks = {}  # (last: `surely_misses` reads both without the lock)
        return evicted

    def put(self, key: str | PreparedKey, payload: str | tuple[Any, ...], task_id: str,
            ttl: float | None, created: float) -> int:
        """Store, and return how many entries were evicted to make room (`settle` first)."""
        expires = time.monotonic() + ttl if ttl is not None else None
        if type(key) is not str:
            values = key.values  # type: ignore[union-attr]
            if values is None:  # hashed already
                key = key.hex()  # type: ignore[union-attr]
        if type(key) is str:
            old = self.by_key.get(key)
            if old is not None:
                self._remove(old)
            self.by_key[key] = self._order + 1
            stored: Any = key
        else:
            stored = values
            self.unhashed += 1
        return self._insert((stored, payload, task_id, expires, created))

    def _insert(self, entry: Entry) -> int:
        """Put an entry at the LRU's newest end (its key indexed already when hashed)."""
        self._order = order = self._order + 1
        lru = self.lru
        lru[order] = entry
        task_id = entry[TASK]
        same_task = self.by_task.get(task_id)
        self.by_task[task_id] = (order,) if same_task is None else same_task + (order,)
        evicted = 0
        while len(lru) > self.max_size:
            self._unindex(*lru.popitem(last=False))
            evicted += 1
        return evicted

    def _hash(self, orders: Iterable[int]) -> None:
        """Give unhashed entries their key; of two with one key, the later put stays."""
        lru = self.lru
        for order in list(orders):
            entry = lru.get(order)
            if entry is None or type(entry[KEY]) is str:
                continue
            key = digest(entry[KEY])
            lru[order] = (key,) + entry[1:]
            self.unhashed -= 1
            old = self.by_key.get(key)
            if old is not None and old > order:
                self._remove(order)
                continue
            if old is not None:
                self._remove(old)
            self.by_key[key] = order

    def _remove(self, order: int) -> None:
        self._unindex(order, self.lru.pop(order))

    def _unindex(self, order: int, entry: Entry) -> None:
        """Take an entry out of the key and task indexes (it has left the LRU)."""
        key = entry[KEY]
        if type(key) is str:
            if self.by_key.get(key) == order:
                del self.by_key[key]
        else:
            self.unhashed -= 1
        task_id = entry[TASK]
        same_task = self.by_task[task_id]
        if len(same_task) == 1:
            del self.by_task[task_id]
        else:
            self.by_task[task_id] = tuple(o for o in same_task if o != order)

    def invalidate(self, task_id: str) -> int:
        doomed = self.by_task.get(task_id, ())
        for order in doomed:
            self._remove(order)
        return len(doomed)

    def clear(self) -> None:
        self.recent.clear()
        self.recent_tasks.clear()
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
        return [e for e in self.lru.values() if e[EXPIRES] is None or e[EXPIRES] > now]
