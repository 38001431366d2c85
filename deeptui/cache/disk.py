"""The disk tier of the result cache: a diskcache directory holding JSON text only.

`JSONTextDisk` refuses to pickle or unpickle anything (a cache directory is
data) and reaches value files only through `deeptui.cache.directory`, which refuses any
row whose file is not a plain file inside the directory. `GuardedCache` ignores
settings planted in the database (diskcache would set them as attributes or run
them as PRAGMAs). `DiskTier` claims the directory, opens it, rebuilds it when its
database is corrupted, tags entries with their task id, culls the least recently
used, and keeps hit/miss counts in the database so they survive the process.
"""

from __future__ import annotations

import os
import sqlite3
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import diskcache
from diskcache.core import DEFAULT_SETTINGS, ENOVAL, EVICTION_POLICY, METADATA, MODE_RAW, MODE_TEXT

from deeptui.cache.directory import (
    CacheError,
    UnsafeEntry,
    claim,
    is_tagged,
    open_value,
    remove_value,
    wipe,
    write_value,
)
from deeptui.cache.memory import CachedResult, decode

_T = TypeVar("_T")
EVICTION = "least-recently-used"
MIN_FILE_SIZE = 2**15  # values from 32 KiB up live in files
# every setting diskcache reads, given explicitly so none comes from the database
SETTINGS: dict[str, Any] = {
    **DEFAULT_SETTINGS, "statistics": 0, "tag_index": 1, "eviction_policy": EVICTION,
    "disk_min_file_size": MIN_FILE_SIZE,
}
COUNTERS = ("hits", "misses", "deeptui_evictions", "deeptui_invalidations")
FLUSH_SECONDS = 1.0  # how stale the directory's hit/miss counts may be while a process runs


def _warn_unsafe(action: str, exc: UnsafeEntry, root: str) -> None:
    outcome = "treated as a miss" if action == "read" else "the file is left as it is"
    warnings.warn(f"cache directory '{root}': refusing to {action} an entry's file ({exc}); "
                  f"{outcome}", RuntimeWarning, stacklevel=4)


class JSONTextDisk(diskcache.Disk):
    """A diskcache Disk that stores str keys and JSON text values only.

    Values arrive already encoded (the cache writes JSON text); anything that
    would be pickled is refused on write, and a pickled row is refused on read.
    Value files are read, written and removed only inside the directory.
    """

    def __init__(self, directory: str, **settings: Any) -> None:  # other disk_ settings ignored
        super().__init__(directory, min_file_size=MIN_FILE_SIZE)
        object.__setattr__(self, "_root", os.path.realpath(directory))

    def __setattr__(self, name: str, value: Any) -> None:
        # diskcache sets disk_* settings read from the database as attributes
        if name in ("min_file_size", "pickle_protocol") and type(value) is int and value >= 0:
            object.__setattr__(self, name, value)
        elif name == "_directory" and not hasattr(self, "_root"):
            object.__setattr__(self, name, value)

    def put(self, key: Any) -> tuple[Any, bool]:
        if type(key) is not str:
            raise TypeError(f"cache keys are str, got {type(key).__name__}")
        return super().put(key)

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            raise ValueError("refusing a pickled key in the cache database")
        return super().get(key, raw)

    def store(self, value: Any, read: bool, key: Any = diskcache.core.UNKNOWN) -> Any:
        if read or type(value) is not str:
            raise TypeError("cache values are JSON text")
        if len(value) < self.min_file_size:
            return 0, MODE_RAW, None, value
        data = value.encode("utf-8")  # lone surrogates raise: the cache re-encodes as ASCII
        for attempt in range(8):  # a planted link or file in the way: another random name
            filename, _ = self.filename(key, value)
            try:
                write_value(self._root, filename, data)
            except (UnsafeEntry, FileExistsError):
                if attempt == 7:
                    raise
                continue
            return len(data), MODE_TEXT, filename, None
        raise AssertionError("unreachable")

    def filename(self, key: Any = diskcache.core.UNKNOWN,
                 value: Any = diskcache.core.UNKNOWN) -> tuple[str, str]:
        name = os.urandom(16).hex()
        filename = f"{name[:2]}/{name[2:4]}/{name[4:]}.val"
        return filename, os.path.join(self._root, filename)

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode not in (MODE_RAW, MODE_TEXT) or read:
            raise ValueError(f"refusing a non-JSON cache value (mode {mode})")
        if mode == MODE_RAW:
            data = super().fetch(mode, filename, value, read)
        else:
            try:
                data = open_value(self._root, filename).decode("utf-8")
            except UnsafeEntry as exc:
                _warn_unsafe("read", exc, self._root)
                raise  # an OSError: diskcache counts a miss and returns the default
            except UnicodeDecodeError as exc:
                raise ValueError(f"cache value file is not UTF-8 text ({exc})") from None
        if type(data) is not str:
            raise ValueError("cache value is not JSON text")
        return data

    def remove(self, file_path: Any) -> None:
        if file_path is None:
            return
        try:
            remove_value(self._root, file_path)
        except UnsafeEntry as exc:
            _warn_unsafe("delete", exc, self._root)
        except OSError:  # diskcache's own contract: another process may race us
            pass


class GuardedCache(diskcache.Cache):
    """diskcache.Cache that takes no setting from the database it opens.

    diskcache turns every row of the Settings table into an attribute of the cache
    (or of its Disk) and every ``sqlite_*`` row into a PRAGMA; a planted row could
    redirect the directory or run any PRAGMA. Only diskcache's own settings are
    applied, with the values deeptui passes; the counters must be integers.
    """

    def reset(self, key: str, value: Any = ENOVAL, update: bool = True) -> Any:
        if key in METADATA:
            result = super().reset(key, value, update)
            return result if type(result) is int else super().reset(key, 0)
        if key not in DEFAULT_SETTINGS:
            return value
        if value is not ENOVAL and value != SETTINGS[key]:
            value = SETTINGS[key]  # a planted value: deeptui's own instead
        return super().reset(key, value, update)


class DiskTier:
    """A diskcache directory: tags are task ids, expiry is the TTL, LRU culling."""

    def __init__(self, directory: Path, max_size: int | None) -> None:
        self.directory = directory
        self.max_size = max_size  # None: bounded by diskcache's size_limit only
        self.cache = self._open()
        # counts not written to the directory yet (`tally`), and when they last were
        self.pending = dict.fromkeys(("hits", "misses", "evictions", "invalidations"), 0)
        self.tallied_at = time.monotonic()

    def _connect(self) -> diskcache.Cache:
        claim(self.directory)  # refuses someone else's folder; creates cache.db 0600
        try:
            cache = GuardedCache(str(self.directory), disk=JSONTextDisk, **SETTINGS)
        except (TypeError, ValueError, AttributeError) as exc:  # e.g. a blob key in Settings
            raise sqlite3.DatabaseError(f"its Settings table is damaged ({exc})") from exc
        cache._sql_retry("INSERT OR IGNORE INTO Settings VALUES (?, 0), (?, 0)", COUNTERS[2:])
        len(cache)  # touch the database so a broken one fails here
        return cache

    def _open(self) -> diskcache.Cache:
        try:
            try:
                return self._connect()
            except sqlite3.DatabaseError as exc:
                if not is_corruption(exc):
                    raise
                self._warn_and_wipe(exc)
                return self._connect()
        except (OSError, sqlite3.Error) as exc:
            raise CacheError(f"cannot use cache_dir '{self.directory}': {exc}") from exc

    def _warn_and_wipe(self, exc: BaseException) -> None:
        if not is_tagged(self.directory):  # never delete what deeptui did not create
            raise CacheError(f"cache directory '{self.directory}' is corrupted ({exc}) and is "
                             "not tagged as deeptui's; nothing in it was changed: remove it "
                             "or choose another cache_dir") from None
        warnings.warn(
            f"cache directory '{self.directory}' is corrupted ({exc}); rebuilding it",
            RuntimeWarning,
            stacklevel=4,
        )
        wipe(self.directory)

    def rebuild(self, exc: BaseException) -> None:
        try:
            self.cache.close()
        except sqlite3.Error:
            pass
        self._warn_and_wipe(exc)
        self.cache = self._connect()

    def guarded(self, call: Callable[[], _T], default: _T) -> _T:
        """``call()``, or ``default`` when the database fails (`failed`)."""
        try:
            return call()
        except sqlite3.DatabaseError as exc:
            self.failed(exc)
            return default

    def failed(self, exc: sqlite3.DatabaseError) -> None:
        """A database error: rebuild a corrupted directory, else warn (a lookup misses)."""
        if is_corruption(exc):
            self.rebuild(exc)
        else:
            warnings.warn(f"cache unavailable, treated as a miss: {exc}", RuntimeWarning, 5)

    def count(self, **deltas: int) -> None:
        """Add to the counters kept in the database (`COUNTERS`)."""
        keys = [key for key in COUNTERS if deltas.get(key)]
        if keys:
            cases = " ".join("WHEN ? THEN ?" for _ in keys)
            self.cache._sql_retry(
                f"UPDATE Settings SET value = value + CASE key {cases} END"
                f" WHERE key IN ({', '.join('?' for _ in keys)})",
                (*[x for key in keys for x in (key, deltas[key])], *keys))

    def tally(self, flush: bool = False, **deltas: int) -> None:
        """Add to the counts kept in the directory (they outlive the process). Lookups
        served by memory must stay cheap: counts are written at most once a second, on a
        write (put, invalidate), on stats() and on close() (``flush``, `flush_tally`)."""
        pending = self.pending
        for name, delta in deltas.items():
            pending[name] += delta
        if flush or time.monotonic() - self.tallied_at >= FLUSH_SECONDS:
            self.flush_tally()

    def flush_tally(self) -> None:
        pending, self.pending = self.pending, dict.fromkeys(self.pending, 0)
        self.tallied_at = time.monotonic()
        if any(pending.values()):
            self.guarded(lambda: self.count(
                hits=pending["hits"], misses=pending["misses"],
                deeptui_evictions=pending["evictions"],
                deeptui_invalidations=pending["invalidations"]), None)

    def forget_tally(self) -> None:
        """Drop the counts not written yet (the counters start again from zero)."""
        self.pending = dict.fromkeys(self.pending, 0)

    def reset_counters(self) -> None:
        self.cache._sql_retry("UPDATE Settings SET value = 0 WHERE key IN (?, ?, ?, ?)", COUNTERS)

    def counters(self) -> dict[str, int]:
        """The counters kept in the database, across every process that used it."""
        rows = self.cache._sql("SELECT key, value FROM Settings WHERE key IN (?, ?, ?, ?)",
                               COUNTERS).fetchall()
        found = {key: value for key, value in rows if type(value) is int}
        return {key: max(found.get(key, 0), 0) for key in COUNTERS}

    def get(self, key: str) -> tuple[str, float | None] | None:
        found = self.cache.get(key, default=None, expire_time=True, retry=True)
        value, expire_time = found
        return None if value is None else (value, expire_time)

    def result(self, key: str) -> tuple[CachedResult, str, float | None] | None:
        """The entry stored under ``key`` (its result, payload and expire time), or None:
        none, an entry that is not one (dropped, with a warning), or the database failed."""
        try:
            found = self.get(key)
            if found is None:
                return None
            payload, expire_time = found
            return decode(payload), payload, expire_time
        except sqlite3.DatabaseError as exc:
            self.failed(exc)
            return None
        except (ValueError, KeyError, TypeError) as exc:
            warnings.warn(f"cache entry {key[:12]} in '{self.directory}' is not valid JSON "
                          f"({exc}); dropping it", RuntimeWarning, stacklevel=4)
            self.cache.delete(key, retry=True)
            return None

    def put(self, key: str, payload: str, task_id: str, ttl: float | None) -> int:
        self.cache.set(key, payload, expire=ttl, tag=task_id, retry=True)
        if self.max_size is None:
            return 0
        excess = len(self.cache) - self.max_size
        if excess <= 0:
            return 0
        self.cache.expire(retry=True)
        excess = len(self.cache) - self.max_size
        evicted = 0
        if excess > 0:  # least recently used first, diskcache's own cull order
            query = EVICTION_POLICY[EVICTION]["cull"].format(fields="key")
            for (old_key,) in self.cache._sql(query, (excess,)).fetchall():
                evicted += int(self.cache.delete(old_key, retry=True))
        return evicted

    def live_count(self) -> int:
        """How many entries have not expired (diskcache's own count includes expired ones)."""
        query = ("SELECT COUNT(*) FROM Cache WHERE raw = 1"
                 " AND (expire_time IS NULL OR expire_time > ?)")
        return int(self.cache._sql(query, (time.time(),)).fetchone()[0])

    def rows(self) -> list[tuple[str, str, int, float, float | None]]:
        """(key, task_id, size in bytes, stored at, expires at) of live entries."""
        query = (
            "SELECT key, tag, CASE WHEN filename IS NULL"
            " THEN length(CAST(value AS BLOB)) ELSE size END, store_time, expire_time"
            " FROM Cache WHERE raw = 1 AND (expire_time IS NULL OR expire_time > ?)"
            " ORDER BY store_time DESC"
        )
        return list(self.cache._sql(query, (time.time(),)).fetchall())


def is_corruption(exc: BaseException) -> bool:
    """A broken database (rebuild it), as opposed to a locked or unwritable one."""
    if not isinstance(exc, sqlite3.OperationalError):
        return isinstance(exc, sqlite3.DatabaseError)
    text = str(exc).lower()
    return "malformed" in text or "no such" in text

