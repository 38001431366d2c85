"""The result cache: memory (LRU + TTL), disk (diskcache), hybrid, none.

A key is the sha256 of the canonical JSON of what decides a task's result (see
`deeptui.cache.keys`). A value is stored as JSON text, never pickled: a cache
directory is data, and `JSONTextDisk` (in `deeptui.cache.disk`, the disk tier)
refuses to read or write anything else.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deeptui.blank import ZERO_FIELDS
from deeptui.cache.config import (CacheConfig, CacheStrategy, cache_directory, claim_cache_dir,
                                  default_cache_dir)
from deeptui.cache.disk import CacheError, DiskTier, JSONTextDisk
from deeptui.cache.keys import KEY_VERSION
from deeptui.cache.keys import PreparedKey
from deeptui.cache.policies import DEFAULT, KeyInputs, policy_for
from deeptui.cache.put_later import PutLater
from deeptui.cache.memory import (CREATED, EXPIRES, KEY, SCALARS, TASK, CachedResult,
                                  MemoryTier, deferred, encode, result_of, text_of)
from deeptui.models import TaskDefinition, TaskUsage

__all__ = [
    "KEY_VERSION", "CacheConfig", "CacheEntryInfo", "CacheError", "CacheStrategy",
    "CachedResult", "JSONTextDisk", "ResultCache", "cache_directory", "claim_cache_dir",
    "create_cache", "default_cache_dir",
]


@dataclass
class CacheEntryInfo:
    task_id: str
    key: str
    size_bytes: int
    age_seconds: float
    ttl_remaining: float | None


# --- the cache ------------------------------------------------------------------


class ResultCache(PutLater):
    """Task results by key, with hit/miss statistics. Build one with `create_cache`."""

    def __init__(self, config: CacheConfig | None = None) -> None:
        self.config = config or CacheConfig()
        self._ttl = self.config.ttl_seconds
        strategy = self.config.strategy
        self._lock = threading.RLock()
        self._memory = (MemoryTier(self.config.max_size) if strategy in (
            CacheStrategy.MEMORY, CacheStrategy.HYBRID) else None)
        self._disk: DiskTier | None = None
        directory = cache_directory(self.config)
        if directory is not None:
            bound = self.config.max_size if strategy is CacheStrategy.DISK else None
            self._disk = DiskTier(directory, bound)
        self.memory_only = self._disk is None and self._memory is not None  # (the default)
        self.init_waiting()  # (`PutLater`: a run's results put without the lock)
        # what decides a task's key (a task may name its own in parameters.cache_policy)
        self.policy = DEFAULT if self.config.include_dependencies else DEFAULT.without(
            "dependencies")
        self.hits = self.misses = self.evictions = self.invalidations = 0

    @property
    def directory(self) -> Path | None:
        return self._disk.directory if self._disk is not None else None

    def make_key(self, task: TaskDefinition, dependency_outputs: Mapping[str, Any],
                 model_name: str | None, function: Callable[..., Any] | None = None) -> str:
        """The key of the task's result under its policy (whether or not that caches it);
        ``function``: a callable task's registered function (its source is in the key)."""
        inputs = KeyInputs(task, dependency_outputs, model_name, function)
        return policy_for(task, self.policy).key(inputs)

    def key_for(self, task: TaskDefinition, dependency_outputs: Mapping[str, Any],
                model_name: str | None, function: Callable[..., Any] | None = None,
                output_texts: dict[str, tuple[Any, str]] | None = None,
                files: str | None = None) -> PreparedKey | None:
        """The key a run looks the task up and stores it under (`get`, `put`), not hashed
        yet (`PreparedKey.hex`); None: the task's policy does not cache it (a shell task
        that did not opt in, ``cache_policy: none``). ``dependency_outputs``: keyed by the
        task's dependencies, as a run passes them (`make_key` leaves out any other key);
        ``output_texts``: the run's memo of
        its outputs' JSON (one dict per run); ``files``: the fingerprint of the run's
        workspace, for an agent task on one."""
        return policy_for(task, self.policy).prepare_task(task, dependency_outputs, model_name,
                                                          function, output_texts, files)

    def surely_misses(self, task_id: str | None, run: object = None) -> bool:
        """True, counted as a miss, when no lookup is needed to tell that a key of the task's
        definition (``task_id``; None: a key without it) misses: a memory-only cache holds
        no entry of the task (most lookups of a first run). ``run``: who looks up; the
        results `waiting` are of tasks it looked up already when it put them (else: False,
        and a lookup stores them first)."""
        if not self.memory_only or task_id is None:
            return False
        if self.waiting and self.waiting_run is not run:
            return False
        memory = self._memory
        if task_id in memory.by_task or task_id in memory.recent_tasks:  # (no lock: a run
            return False  # looks up every task)
        self.misses += 1
        return True

    def get(self, key: str | PreparedKey, zero: TaskUsage | None = None) -> CachedResult | None:
        """The result stored under ``key``, or None. In a memory-only cache a `PreparedKey`
        is compared with its task's unhashed entries (`MemoryTier.find`): a run of misses,
        and of hits on entries it stored, hashes nothing. ``zero``: a zero usage the caller
        owns, given to a hit stored with zero usage instead of a new one."""
        lock = self._lock
        lock.acquire()  # (not `with`: a run of hits looks up every task)
        try:
            result = None
            memory = self._memory
            if memory is not None:
                if memory.recent or self.waiting:
                    self._settle()
                task_id = None
                if type(key) is PreparedKey:
                    task_id = key.task_id
                    if task_id is not None and self._disk is None:
                        found = memory.find(key) if memory.holds(task_id) else None
                        if found is None:
                            self.misses += 1
                            return None
                        if found is not False:
                            self.hits += 1
                            return result_of(found, zero)  # type: ignore[arg-type]
                    key = key.hex()
                entry = memory.get(key, task_id)  # type: ignore[arg-type]
                if entry is not None:
                    result = result_of(entry)
            elif type(key) is PreparedKey:
                key = key.hex()
            if result is None and self._disk is not None:
                result = self._disk_get(key)  # type: ignore[arg-type]
            if result is None:
                self.misses += 1
            else:
                self.hits += 1
            self._count(hits=int(result is not None), misses=int(result is None))
            return result
        finally:
            lock.release()

    def settle(self) -> None:
        """Store the results put later and put the entries the memory tier holds aside in
        its LRU (`MemoryTier.put_recent`): a run does at its end and before it retries a
        task; every read does first. No run's pump owns what is put later now (the cache
        holds no run that ended)."""
        with self._lock:
            self._settle()
            self.waiting_run = None

    def _settle(self) -> None:
        memory = self._memory
        if self.waiting:
            self._store_waiting()
        if memory is not None and memory.recent:
            self._evicted(memory.settle())

    def _count(self, flush: bool = False, **deltas: int) -> None:
        """Add to the counts kept in the cache directory (`DiskTier.tally`)."""
        if self._disk is not None:
            self._disk.tally(flush, **deltas)

    def _disk_get(self, key: str) -> CachedResult | None:
        found = self._disk.result(key)  # type: ignore[union-attr]
        if found is None:
            return None
        result, payload, expire_time = found
        if self._memory is not None:  # promote into the hot tier
            ttl = None if expire_time is None else max(expire_time - time.time(), 0.0)
            self._evicted(self._memory.put(key, payload, result.task_id, ttl, result.created_at))
        return result

    def _evicted(self, count: int) -> None:
        self.evictions += count
        if count:
            self._count(evictions=count)

    def put(
        self,
        key: str | PreparedKey | tuple[Any, ...],
        task_id: str,
        output: Any,
        usage: TaskUsage | None = None,
        agent_used: str | None = None,
        run_id: str | None = None,
    ) -> bool:
        """Store a completed task's result (``run_id``: the run that produced it); False
        (nothing stored) when the strategy is NONE or the output is not JSON-serializable.
        A memory-only cache keeps a `PreparedKey` of the task's definition unhashed until
        a lookup needs it. ``key``: also the values of ``task_id``'s `PreparedKey`, as
        `look_up` gives them for a lookup that surely missed."""
        memory = self._memory
        if self._disk is None:  # memory only (the default): no directory counts to keep
            if memory is None:
                return False
            if type(output) in SCALARS and (usage is None or (  # `deferred`'s common
                    type(usage) is TaskUsage and usage.__dict__ == ZERO_FIELDS)):  # case, inline
                payload: Any = (task_id, output, usage is not None, agent_used, run_id)
            else:
                payload = deferred(task_id, output, usage, agent_used, run_id)
                if payload is None:
                    payload = encode(task_id, output, usage, agent_used, run_id=run_id)
                    if payload is None:
                        return False
            if type(key) is PreparedKey:  # unhashed and of the task's definition: its values
                key = key.values if key.task_id is not None and key.values else key.hex()
            if type(key) is tuple:  # (most puts: `look_up` gives a surely missed key's values)
                lock = self._lock
                lock.acquire()  # (not `with`: its lookups cost twice the lock itself)
                try:
                    if self.waiting:  # (put before this one)
                        self._store_waiting()
                    self.evictions += memory.put_recent(key, payload, task_id, self._ttl,
                                                        time.time())
                finally:
                    lock.release()
                return True
            with self._lock:
                self._settle()
                self.evictions += memory.put(key, payload, task_id, self._ttl, time.time())
            return True
        payload = encode(task_id, output, usage, agent_used, run_id=run_id)
        if payload is None:
            return False
        if type(key) is tuple:
            key = PreparedKey(task_id, *key)
        if type(key) is PreparedKey:
            key = key.hex()
        ttl = self.config.ttl_seconds
        with self._lock:
            disk = self._disk
            text = payload
            try:
                try:
                    self._evicted(disk.put(key, text, task_id, ttl))
                except UnicodeEncodeError:  # lone surrogates: JSON escapes keep them exact
                    text = encode(task_id, output, usage, agent_used, ascii=True,
                                  run_id=run_id) or ""
                    self._evicted(disk.put(key, text, task_id, ttl))
            except sqlite3.DatabaseError as exc:
                disk.failed(exc)
                return False
            except OSError as exc:  # a full disk, a value folder that is not a folder
                warnings.warn(f"cache directory '{disk.directory}': result of task "
                              f"'{task_id}' not stored ({exc})", RuntimeWarning, 3)
                return False
            if memory is not None:
                self._evicted(memory.put(key, payload, task_id, ttl, time.time()))
            self._count(flush=True)  # a write anyway: bring the directory's counts up to date
        return True

    def invalidate(self, task_id: str) -> int:
        """Remove every entry of `task_id`; returns how many were removed."""
        with self._lock:
            self._settle()
            removed = self._memory.invalidate(task_id) if self._memory is not None else 0
            if self._disk is not None:
                disk = self._disk
                evicted = disk.guarded(lambda: disk.cache.evict(task_id, retry=True), 0)
                removed = max(removed, evicted)
            self.invalidations += removed
            self._count(flush=True, invalidations=removed)
            return removed

    def clear(self) -> int:
        """Remove every entry and start the statistics from zero; returns how many were removed."""
        with self._lock:
            removed = 0
            if self._memory is not None:
                if self.waiting:
                    self._store_waiting()
                self._memory.settle()  # (no evictions to count: the counts start from zero)
                self._memory.hash_all()  # two unhashed entries may be one
                removed = len(self._memory)
                self._memory.clear()
            self.hits = self.misses = self.evictions = self.invalidations = 0
            if self._disk is not None:
                disk = self._disk
                disk.forget_tally()
                removed = max(removed, disk.guarded(lambda: disk.cache.clear(retry=True), 0))
                disk.guarded(disk.reset_counters, None)
            return removed

    def __len__(self) -> int:
        """How many live (unexpired) entries the cache holds."""
        with self._lock:
            if self._disk is not None:
                return self._disk.guarded(self._disk.live_count, 0)
            self._settle()
            return len(self._memory.live()) if self._memory is not None else 0

    def stats(self) -> dict[str, Any]:
        """The statistics the orchestration guide names. With a disk tier the counts are the
        directory's totals, across every process that used it; otherwise this process's."""
        self.settle()  # (its evictions are counted)
        hits, misses = self.hits, self.misses
        evictions, invalidations = self.evictions, self.invalidations
        with self._lock:
            disk = self._disk
            if disk is not None:
                disk.flush_tally()
                kept = disk.guarded(disk.counters, None)
                if kept is not None:
                    hits, misses = kept["hits"], kept["misses"]
                    evictions = kept["deeptui_evictions"]
                    invalidations = kept["deeptui_invalidations"]
        looked_up = hits + misses
        rate = hits / looked_up * 100 if looked_up else 0.0
        return {
            "strategy": str(self.config.strategy),
            "hits": hits,
            "misses": misses,
            "hit_rate": f"{rate:.1f}%",
            "evictions": evictions,
            "invalidations": invalidations,
            "cache_size": len(self),
            "max_size": self.config.max_size,
        }

    def entries(self) -> list[CacheEntryInfo]:
        """Live entries, newest first (for the cache inspector)."""
        now = time.time()
        with self._lock:
            if self._disk is not None:
                return [
                    CacheEntryInfo(
                        task_id=tag or "",
                        key=key,
                        size_bytes=int(size or 0),
                        age_seconds=max(now - stored, 0.0),
                        ttl_remaining=None if expires is None else max(expires - now, 0.0),
                    )
                    for key, tag, size, stored, expires in self._disk.guarded(self._disk.rows, [])
                ]
            if self._memory is None:
                return []
            self._settle()
            mono = time.monotonic()
            infos = [
                CacheEntryInfo(
                    task_id=e[TASK],
                    key=e[KEY],  # live() hashed them
                    size_bytes=len(text_of(e).encode("utf-8")),
                    age_seconds=max(now - e[CREATED], 0.0),
                    ttl_remaining=None if e[EXPIRES] is None else max(e[EXPIRES] - mono, 0.0),
                )
                for e in self._memory.live()
            ]
            return infos[::-1]

    def close(self) -> None:
        with self._lock:
            if self._disk is not None:
                self._disk.flush_tally()
                self._disk.cache.close()

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def create_cache(config: CacheConfig | None = None) -> ResultCache:
    """The cache `config` asks for (MEMORY when None); NONE never stores or hits."""
    return ResultCache(config)
