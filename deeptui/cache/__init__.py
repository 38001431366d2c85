"""The result cache: memory (LRU + TTL), disk (diskcache), hybrid or none; JSON values only.

`result_cache` is the cache a run uses; `keys` says what a key hashes; `memory` and
`disk` are the two tiers; `directory` decides which directory the disk tier may use
and which files in it it may touch.
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
