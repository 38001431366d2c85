"""Results put later: what a run's pump puts in a memory-only cache without its lock.

A plain callable run inline in the pump (`deeptui.scheduler.inline`) whose lookup surely
missed and which returned a scalar is put with `put_later`: a deque's append of (key
values, task, output, usage, run id, the time it was put). What waits is stored, in order,
in one call (`MemoryTier.put_waiting`) before anything reads or writes the cache, before
another run's pump (`claim_waiting`), before a retry and when the run ends
(`ResultCache.settle`). Between a run's pumps only as many wait as the memory tier holds
(`hold_waiting`): a 10,000-task run makes entries of its last 1,000 results, not of all of
them. What anyone reads is what one put after the other gives, each entry's age and
expiry counted from when it was put.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deeptui.cache.memory import MemoryTier


class PutLater:
    """`ResultCache`'s results put later (a mixin: the cache's lock, memory tier, TTL and
    eviction count are its own)."""

    _lock: threading.RLock
    _memory: MemoryTier | None
    _ttl: float | None
    evictions: int

    def init_waiting(self) -> None:
        self.waiting: deque[tuple[Any, ...]] = deque()
        self.put_later = self.waiting.append  # (a deque's append needs no lock)
        self.waiting_run: object = None  # the run whose pump puts later now (`claim_waiting`)

    def store_waiting(self) -> None:
        """Store the results put with `put_later` (`claim_waiting` does another run's)."""
        with self._lock:
            self._store_waiting()

    def _store_waiting(self) -> None:
        """(Under the lock) the results `put_later` left, in order: set aside as a `put` of
        each would set them (`MemoryTier.put_waiting`)."""
        waiting = self.waiting
        results = [waiting.popleft() for _ in range(len(waiting))]  # (a put_later now waits)
        self.evictions += self._memory.put_waiting(results, self._ttl)  # type: ignore[union-attr]

    def claim_waiting(self, run: object) -> None:
        """``run``'s pump starts: what it puts later is its own. Results another run left
        waiting are stored first (its lookups that surely miss would not read them)."""
        if self.waiting_run is not run:
            if self.waiting:
                self.store_waiting()
            self.waiting_run = run

    def hold_waiting(self, run: object) -> None:
        """``run``'s pump ends with results put later: they wait for the next read or write
        of the cache, another run's pump, a retry or the run's end, so a run of more tasks
        than the memory tier holds makes entries of its newest results only. Those the
        newer ones would evict are dropped now, counted as evicted. (Each keeps the time it
        was put: its entry's age and expiry are as if stored then.)"""
        with self._lock:
            if self.waiting_run is not run:  # (a pump inside another's: stored, as a read would)
                self._store_waiting()
                return
            waiting = self.waiting
            excess = len(waiting) - self._memory.max_size  # type: ignore[union-attr]
            if excess > 0:
                for _ in range(excess):
                    waiting.popleft()
                self.evictions += excess
