"""The result cache: memory (LRU + TTL), disk (diskcache), hybrid or none; JSON values only.

`result_cache` is the cache a run uses, `config` how it is configured; `policies` says what a task's key hashes and
whether the task is cached at all (composable parts, a default, a per-task choice);
`material` is what the built-in parts put in a key (and a callable's source digest);
`keys` is the canonical JSON they are hashed from (and `PreparedKey`, hashed only when
needed); `memory` and `disk` are the two
tiers; `directory` decides which directory the disk tier may use and which files in
it it may touch.
"""

from deeptui.cache.result_cache import (
    CacheConfig,
    CacheEntryInfo,
    CacheError,
    CacheStrategy,
    ResultCache,
    claim_cache_dir,
    create_cache,
    default_cache_dir,
)

__all__ = ["CacheConfig", "CacheEntryInfo", "CacheError", "CacheStrategy", "ResultCache",
           "claim_cache_dir", "create_cache", "default_cache_dir"]
