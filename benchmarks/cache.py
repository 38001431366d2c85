"""Get/put latency of each result-cache strategy, for small and 100 KB values, hits and misses.

For each strategy (memory, disk, hybrid) and value size: ``put`` of a new
key, ``get`` of a stored key (a hit; for hybrid, served by its memory tier),
``get`` of an absent key (a miss), and for hybrid a hit served from disk
(a fresh cache on the same directory, so the memory tier is cold). Each figure
is the median per operation over ``--ops`` operations. The disk directories
are temporary.

Run: ``python benchmarks/cache.py [--ops 300] [--json PATH]``
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from _dags import machine, table, write_json

TARGETS_US = {("memory", "small", "get hit"): 20.0, ("disk", "small", "get hit"): 300.0}
SIZES = {"small": "ok", "100KB": "x" * 100_000}


def per_op(fn: Callable[[int], Any], ops: int) -> float:
    """Median µs of fn(i) over ops calls."""
    times = []
    for i in range(ops):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return 1e6 * statistics.median(times)


def key(prefix: str, i: int) -> str:
    return hashlib.sha256(f"{prefix}{i}".encode()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=300)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    from deeptui.cache import CacheConfig, create_cache

    ops = args.ops
    rows: list[list[Any]] = []
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for strategy in ("memory", "disk", "hybrid"):
            for size, value in SIZES.items():
                directory = f"{tmp}/{strategy}-{size}"
                config = CacheConfig(strategy=strategy, max_size=10 * ops, cache_dir=directory)
                cache = create_cache(config)
                results = {
                    "put": per_op(lambda i: cache.put(key("k", i), "t", value), ops),
                    "get hit": per_op(lambda i: cache.get(key("k", i)), ops),
                    "get miss": per_op(lambda i: cache.get(key("absent", i)), ops),
                }
                cache.close()
                if strategy == "hybrid":
                    cold = create_cache(config)
                    results["get hit (from disk)"] = per_op(lambda i: cold.get(key("k", i)), ops)
                    cold.close()
                for op, us in results.items():
                    figures[f"{strategy}/{size}/{op}"] = us
                    target = TARGETS_US.get((strategy, size, op))
                    verdict = "" if target is None else ("ok" if us < target else "MISSED")
                    rows.append([strategy, size, op, f"{us:.1f}",
                                 f"< {target:g}" if target else "", verdict])
    print(f"result cache latency, µs per operation (median of {ops}) - {machine()['date']}")
    print(table(["strategy", "value", "operation", "µs", "target", ""], rows))
    write_json(args.json, "cache", {"ops": ops, "us": figures})


if __name__ == "__main__":
    main()
