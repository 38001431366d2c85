"""The disk tier of the result cache: a diskcache directory holding JSON text only.

`JSONTextDisk` refuses to pickle or unpickle anything (a cache directory is
data); `DiskTier` opens the directory, rebuilds it when its database is
corrupted, tags entries with their task id and culls the least recently used.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
import warnings
from pathlib import Path
from typing import Any

import diskcache
from diskcache.core import EVICTION_POLICY, MODE_RAW, MODE_TEXT

from deeptui.errors import DeeptuiError

EVICTION = "least-recently-used"


class CacheError(DeeptuiError):
    """A cache directory that cannot be used (for example, a file is in its place)."""


class JSONTextDisk(diskcache.Disk):
    """A diskcache Disk that stores str keys and JSON text values only.

    Values arrive already encoded (the cache writes JSON text); anything that
    would be pickled is refused on write, and a pickled row is refused on read.
    """

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
        return super().store(value, read, key=key)

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode not in (MODE_RAW, MODE_TEXT) or read:
            raise ValueError(f"refusing a non-JSON cache value (mode {mode})")
        data = super().fetch(mode, filename, value, read)
        if type(data) is not str:
            raise ValueError("cache value is not JSON text")
        return data


_DB_FILES = ("cache.db", "cache.db-wal", "cache.db-shm", "cache.db-journal")


class DiskTier:
    """A diskcache directory: tags are task ids, expiry is the TTL, LRU culling."""

    def __init__(self, directory: Path, max_size: int | None) -> None:
        self.directory = directory
        self.max_size = max_size  # None: bounded by diskcache's size_limit only
        self.cache = self._open()

    def _connect(self) -> diskcache.Cache:
        cache = diskcache.Cache(
            str(self.directory), disk=JSONTextDisk, eviction_policy=EVICTION, tag_index=True
        )
        len(cache)  # touch the database so a broken one fails here
        return cache

    def _open(self) -> diskcache.Cache:
        if self.directory.exists() and not self.directory.is_dir():
            raise CacheError(
                f"cache_dir '{self.directory}' is a file, not a directory: "
                "choose another cache_dir or remove the file"
            )
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
        warnings.warn(
            f"cache directory '{self.directory}' is corrupted ({exc}); rebuilding it",
            RuntimeWarning,
            stacklevel=4,
        )
        for name in _DB_FILES:
            (self.directory / name).unlink(missing_ok=True)
        for child in self.directory.iterdir():  # diskcache's value folders: two hex digits
            if child.is_dir() and len(child.name) == 2 and _is_hex(child.name):
                shutil.rmtree(child, ignore_errors=True)

    def rebuild(self, exc: BaseException) -> None:
        try:
            self.cache.close()
        except sqlite3.Error:
            pass
        self._warn_and_wipe(exc)
        self.cache = self._connect()

    def get(self, key: str) -> tuple[str, float | None] | None:
        found = self.cache.get(key, default=None, expire_time=True, retry=True)
        value, expire_time = found
        return None if value is None else (value, expire_time)

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


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)
