"""How results are cached (`CacheConfig`, `CacheStrategy`) and where a disk cache lives."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from platformdirs import user_cache_dir
from pydantic import BaseModel, ConfigDict, Field

from deeptui.cache.directory import claim


class CacheStrategy(StrEnum):
    MEMORY = "memory"  # the default: LRU with TTL, in this process
    DISK = "disk"  # diskcache directory, shared by processes
    HYBRID = "hybrid"  # memory in front of disk; every result on disk
    NONE = "none"  # never stores, never hits


class CacheConfig(BaseModel):
    """How results are cached. `max_size` bounds the entries held in memory
    (MEMORY, and HYBRID's hot tier) or on disk (DISK); HYBRID keeps every
    result on disk, bounded only by diskcache's size limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: CacheStrategy = CacheStrategy.MEMORY
    max_size: int = Field(default=1000, ge=1)
    ttl_seconds: float | None = Field(default=None, gt=0)
    cache_dir: str | Path | None = None
    include_dependencies: bool = True


def default_cache_dir() -> Path:
    """Where DISK and HYBRID caches live when `cache_dir` is not given."""
    return Path(user_cache_dir("deeptui")) / "results"


def cache_directory(config: CacheConfig) -> Path | None:
    """The directory `config`'s disk tier uses (None for MEMORY and NONE)."""
    if config.strategy not in (CacheStrategy.DISK, CacheStrategy.HYBRID):
        return None
    return Path(config.cache_dir or default_cache_dir()).expanduser()


def claim_cache_dir(config: CacheConfig) -> Path | None:
    """Check (creating it if new) that `config`'s cache directory is deeptui's, without
    opening the cache: `CacheError` for a file or a folder deeptui did not create."""
    directory = cache_directory(config)
    if directory is not None:
        claim(directory)
    return directory
