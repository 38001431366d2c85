"""The result cache as the orchestration guide's "Result Caching" section describes it."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import diskcache
import pytest

from deeptui.cache import (
    CacheConfig,
    CacheError,
    CacheStrategy,
    ResultCache,
    create_cache,
    default_cache_dir,
)
from deeptui.models import AgentCapability, TaskDefinition, TaskUsage

GUIDE_STATS_KEYS = [
    "strategy",
    "hits",
    "misses",
    "hit_rate",
    "evictions",
    "invalidations",
    "cache_size",
    "max_size",
]
PERSISTENT = [CacheStrategy.DISK, CacheStrategy.HYBRID]
STORING = [CacheStrategy.MEMORY, CacheStrategy.DISK, CacheStrategy.HYBRID]


class FakeClock:
    """Moves time.time and time.monotonic (which diskcache and the memory tier read)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = 0.0
        real_time, real_mono = time.time, time.monotonic
        monkeypatch.setattr(time, "time", lambda: real_time() + self.offset)
        monkeypatch.setattr(time, "monotonic", lambda: real_mono() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    return FakeClock(monkeypatch)


def make(strategy: CacheStrategy, tmp_path: Path, **config: object) -> ResultCache:
    return create_cache(CacheConfig(strategy=strategy, cache_dir=tmp_path / "cache", **config))


def task(task_id: str = "analyze", **fields: object) -> TaskDefinition:
    return TaskDefinition(id=task_id, description=f"Run {task_id}", **fields)


def test_default_config_is_the_guides_memory_cache() -> None:
    config = CacheConfig()
    assert (config.strategy, config.max_size, config.ttl_seconds) == ("memory", 1000, None)
    assert config.cache_dir is None and config.include_dependencies is True
    assert [str(s) for s in CacheStrategy] == ["memory", "disk", "hybrid", "none"]
    assert create_cache(None).config.strategy is CacheStrategy.MEMORY
    assert default_cache_dir().parts[-1] == "results" and "deeptui" in str(default_cache_dir())


def test_stats_have_exactly_the_guides_keys_and_a_percentage_hit_rate() -> None:
    cache = create_cache(CacheConfig(max_size=1000))
    assert list(cache.stats()) == GUIDE_STATS_KEYS
    assert cache.stats()["hit_rate"] == "0.0%"
    key = cache.make_key(task(), {}, "test")
    assert cache.get(key) is None
    assert cache.put(key, "analyze", {"summary": "ok"})
    assert cache.get(key) is not None and cache.get(key) is not None
    assert cache.stats() == {
        "strategy": "memory",
        "hits": 2,
        "misses": 1,
        "hit_rate": "66.7%",
        "evictions": 0,
        "invalidations": 0,
        "cache_size": 1,
        "max_size": 1000,
    }


@pytest.mark.parametrize("strategy", STORING)
def test_a_hit_returns_output_usage_and_agent(strategy: CacheStrategy, tmp_path: Path) -> None:
    cache = make(strategy, tmp_path)
    key = cache.make_key(task(), {}, "openai:gpt-4o")
    usage = TaskUsage(input_tokens=12, output_tokens=30, requests=1, cost_usd=0.002)
    output = {"findings": ["a", "b"], "score": 0.5, "ok": True, "none": None}
    assert cache.put(key, "analyze", output, usage=usage, agent_used="code_analyzer")
    hit = cache.get(key)
    assert hit is not None
    assert hit.output == output and hit.task_id == "analyze"
    assert hit.usage == usage and hit.agent_used == "code_analyzer"
    assert abs(hit.created_at - time.time()) < 60
    hit.output["findings"].append("mutated")  # callers get their own copy
    assert cache.get(key).output == output
    cache.close()


def test_the_key_changes_with_whatever_decides_the_result() -> None:
    cache = create_cache(None)
    base = cache.make_key(task(parameters={"path": "src"}), {}, "m1")
    assert base == create_cache(None).make_key(task(parameters={"path": "src"}), {}, "m1")
    assert len(base) == 64
    variants = [
        cache.make_key(task(parameters={"path": "lib"}), {}, "m1"),
        cache.make_key(task(parameters={"path": "src"}), {}, "m2"),
        cache.make_key(task("other", parameters={"path": "src"}), {}, "m1"),
        cache.make_key(task(parameters={"path": "src"}, required_skills=["api-design"]), {}, "m1"),
        cache.make_key(task(parameters={"path": "src"}, task_type="shell"), {}, "m1"),
        cache.make_key(
            task(parameters={"path": "src"}, required_capabilities=[AgentCapability.TESTING]),
            {},
            "m1",
        ),
    ]
    assert base not in variants and len(set(variants)) == len(variants)
    # dict order in parameters does not matter
    a = cache.make_key(task(parameters={"x": 1, "y": [1, 2]}), {}, None)
    assert a == cache.make_key(task(parameters={"y": [1, 2], "x": 1}), {}, None)
    # values JSON lacks still give a stable key
    odd = {
        "mixed": {1: "int key", "a": 2},
        "s": {3, 1, 2},
        "p": Path("/tmp/x"),
        "when": datetime(2025, 1, 1),
    }
    b = cache.make_key(task(parameters=odd), {}, None)
    assert b == cache.make_key(task(parameters=dict(reversed(odd.items()))), {}, None)


def test_changed_dependency_output_misses_when_dependencies_are_tracked() -> None:
    cache = create_cache(CacheConfig(include_dependencies=True))
    report = task("report", depends_on=["extract"])
    key = cache.make_key(report, {"extract": {"rows": 10}}, "m")
    cache.put(key, "report", "10 rows")
    assert cache.get(cache.make_key(report, {"extract": {"rows": 10}}, "m")) is not None
    assert cache.get(cache.make_key(report, {"extract": {"rows": 11}}, "m")) is None
    # outputs of tasks the task does not depend on do not matter
    other = cache.make_key(report, {"extract": {"rows": 10}, "unrelated": 1}, "m")
    assert other == key


def test_changed_dependency_output_still_hits_without_dependency_tracking() -> None:
    cache = create_cache(CacheConfig(include_dependencies=False))
    report = task("report", depends_on=["extract"])
    cache.put(cache.make_key(report, {"extract": {"rows": 10}}, "m"), "report", "10 rows")
    hit = cache.get(cache.make_key(report, {"extract": {"rows": 11}}, "m"))
    assert hit is not None and hit.output == "10 rows"


@pytest.mark.parametrize("strategy", STORING)
def test_entries_expire_after_the_ttl(
    strategy: CacheStrategy, tmp_path: Path, clock: FakeClock
) -> None:
    cache = make(strategy, tmp_path, ttl_seconds=60)
    cache.put("k", "analyze", "result")
    clock.advance(59)
    assert cache.get("k") is not None
    (entry,) = cache.entries()
    assert entry.ttl_remaining is not None and 0 < entry.ttl_remaining <= 1.5
    assert entry.age_seconds >= 59
    clock.advance(2)
    assert cache.get("k") is None
    assert cache.entries() == []
    assert cache.stats()["hits"] == 1 and cache.stats()["misses"] == 1


@pytest.mark.parametrize("strategy", [CacheStrategy.MEMORY, CacheStrategy.DISK])
def test_least_recently_used_entry_is_evicted_and_counted(
    strategy: CacheStrategy, tmp_path: Path, clock: FakeClock
) -> None:
    cache = make(strategy, tmp_path, max_size=2)
    cache.put("a", "a", 1)
    clock.advance(1)
    cache.put("b", "b", 2)
    clock.advance(1)
    assert cache.get("a") is not None  # a is now more recently used than b
    clock.advance(1)
    cache.put("c", "c", 3)
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None
    stats = cache.stats()
    assert stats["evictions"] == 1 and stats["cache_size"] == 2 and stats["max_size"] == 2


def test_hybrid_keeps_every_result_on_disk_beyond_the_hot_size(tmp_path: Path) -> None:
    cache = make(CacheStrategy.HYBRID, tmp_path, max_size=2)
    for name in "abcd":
        cache.put(name, name, name.upper())
    assert cache.stats()["cache_size"] == 4
    assert [cache.get(name).output for name in "abcd"] == ["A", "B", "C", "D"]


@pytest.mark.parametrize("strategy", STORING)
def test_invalidate_removes_only_that_tasks_entries(
    strategy: CacheStrategy, tmp_path: Path
) -> None:
    cache = make(strategy, tmp_path)
    cache.put("k1", "build", "v1")
    cache.put("k2", "build", "v2")
    cache.put("k3", "test", "v3")
    assert cache.invalidate("build") == 2
    assert cache.get("k1") is None and cache.get("k2") is None
    assert cache.get("k3") is not None
    assert cache.invalidate("nothing-cached") == 0
    assert cache.stats()["invalidations"] == 2 and cache.stats()["cache_size"] == 1
    assert cache.clear() == 1
    assert cache.stats()["cache_size"] == 0 and cache.get("k3") is None


@pytest.mark.parametrize("strategy", STORING)
def test_values_that_are_not_json_are_refused(strategy: CacheStrategy, tmp_path: Path) -> None:
    cache = make(strategy, tmp_path)
    assert cache.put("k1", "t", object()) is False
    assert cache.put("k2", "t", {"value": math.nan}) is False
    assert cache.put("k3", "t", {1, 2}) is False
    assert cache.get("k1") is None and cache.get("k2") is None and cache.get("k3") is None
    assert cache.stats()["cache_size"] == 0


def test_none_strategy_never_hits(tmp_path: Path) -> None:
    cache = make(CacheStrategy.NONE, tmp_path)
    key = cache.make_key(task(), {}, None)
    assert cache.put(key, "analyze", "x") is False
    assert cache.get(key) is None
    assert cache.stats()["strategy"] == "none" and cache.stats()["cache_size"] == 0
    assert cache.entries() == [] and cache.invalidate("analyze") == 0
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("strategy", PERSISTENT)
def test_cache_directory_holds_json_never_pickles(strategy: CacheStrategy, tmp_path: Path) -> None:
    cache = make(strategy, tmp_path)
    small = {"text": "short"}
    large = {"text": "x" * 100_000}  # above diskcache's 32 KiB: stored in a file
    cache.put("small", "a", small, usage=TaskUsage(input_tokens=1))
    cache.put("large", "b", large)
    cache.close()
    db = sqlite3.connect(tmp_path / "cache" / "cache.db")
    rows = db.execute("SELECT key, raw, mode, filename, value FROM Cache").fetchall()
    db.close()
    assert len(rows) == 2
    for key, raw, mode, filename, value in rows:
        assert isinstance(key, str) and raw == 1
        assert mode != diskcache.core.MODE_PICKLE
        text = (tmp_path / "cache" / filename).read_text() if filename else value
        assert isinstance(text, str)
        assert json.loads(text)["output"] in (small, large)
    for path in (tmp_path / "cache").rglob("*.val"):
        assert not path.read_bytes().startswith(b"\x80")  # pickle protocol header
        json.loads(path.read_text())


def test_a_pickled_row_planted_in_the_directory_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    make(CacheStrategy.DISK, tmp_path).close()  # a deeptui cache directory...
    planted = diskcache.Cache(str(tmp_path / "cache"))  # ...written by the default, pickling Disk
    planted.set("evil", _Marker(marker))
    planted.close()
    cache = make(CacheStrategy.DISK, tmp_path)
    with pytest.warns(RuntimeWarning, match="not valid JSON"):
        assert cache.get("evil") is None
    assert not marker.exists()
    assert cache.put("evil", "t", "clean") and cache.get("evil").output == "clean"


class _Marker:
    """Unpickling this creates a file: proof that a cache read ran pickle."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.path,))


@pytest.mark.parametrize("strategy", PERSISTENT)
def test_two_instances_on_one_directory_share_results(
    strategy: CacheStrategy, tmp_path: Path
) -> None:
    first = make(strategy, tmp_path)
    key = first.make_key(task(), {}, "m")
    first.put(key, "analyze", {"answer": 42})
    second = make(strategy, tmp_path)
    hit = second.get(second.make_key(task(), {}, "m"))
    assert hit is not None and hit.output == {"answer": 42}
    assert second.stats()["cache_size"] == 1
    assert [e.task_id for e in second.entries()] == ["analyze"]
    first.close()
    second.close()


@pytest.mark.parametrize("strategy", PERSISTENT)
def test_a_result_stored_by_another_process_hits(strategy: CacheStrategy, tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    code = textwrap.dedent(
        f"""
        from deeptui.cache import CacheConfig, create_cache
        from deeptui.models import TaskDefinition
        cache = create_cache(CacheConfig(strategy="{strategy}", cache_dir={str(directory)!r}))
        task = TaskDefinition(id="analyze", description="Run analyze")
        print(cache.put(cache.make_key(task, {{}}, "m"), "analyze", {{"from": "child"}}))
        cache.close()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "True"
    cache = make(strategy, tmp_path)
    hit = cache.get(cache.make_key(task(), {}, "m"))
    assert hit is not None and hit.output == {"from": "child"}


def test_a_garbage_cache_database_is_rebuilt_with_a_warning(tmp_path: Path) -> None:
    """Only what deeptui wrote goes: the database and its value files, not files put beside them."""
    directory = tmp_path / "cache"
    cache = make(CacheStrategy.DISK, tmp_path)
    cache.put("big", "t", "x" * 100_000)
    cache.close()
    (value_file,) = directory.rglob("*.val")
    (directory / "cache.db").write_bytes(b"this is not sqlite " * 200)
    (directory / "README.txt").write_text("the user's own file")
    (value_file.parent / "notes.txt").write_text("also the user's")
    with pytest.warns(RuntimeWarning, match="corrupted.*rebuilding"):
        cache = make(CacheStrategy.DISK, tmp_path)
    assert cache.put("k", "t", "fresh") and cache.get("k").output == "fresh"
    assert (directory / "README.txt").read_text() == "the user's own file"
    assert (value_file.parent / "notes.txt").read_text() == "also the user's"
    assert not value_file.exists() and cache.get("big") is None


def test_a_cache_database_with_damaged_pages_is_rebuilt(tmp_path: Path) -> None:
    cache = make(CacheStrategy.HYBRID, tmp_path)
    for index in range(200):
        cache.put(f"k{index}", "t", "x" * 500)
    cache.close()
    with open(tmp_path / "cache" / "cache.db", "r+b") as db:
        db.seek(4096 * 2)
        db.write(b"\xde\xad" * 4096 * 8)
    with pytest.warns(RuntimeWarning, match="corrupted"):
        cache = make(CacheStrategy.HYBRID, tmp_path)
        assert cache.get("k0") is None
    assert cache.put("k0", "t", "again") and cache.get("k0").output == "again"


def test_a_garbage_value_file_is_a_miss_not_a_crash(tmp_path: Path) -> None:
    cache = make(CacheStrategy.DISK, tmp_path)
    cache.put("big", "t", "y" * 100_000)
    (value_file,) = (tmp_path / "cache").rglob("*.val")
    value_file.write_text("{not json")
    with pytest.warns(RuntimeWarning, match="not valid JSON"):
        assert cache.get("big") is None
    assert cache.stats()["cache_size"] == 0


def test_a_file_in_place_of_the_cache_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "cache").write_text("not a directory")
    with pytest.raises(CacheError, match="is a file"):
        make(CacheStrategy.DISK, tmp_path)


def test_entries_describe_each_cached_result(tmp_path: Path) -> None:
    cache = make(CacheStrategy.MEMORY, tmp_path)
    cache.put("k1", "extract", {"rows": [1, 2, 3]})
    cache.put("k2", "load", "done")
    entries = cache.entries()
    assert [(e.task_id, e.key) for e in entries] == [("load", "k2"), ("extract", "k1")]
    assert all(e.size_bytes > 0 and e.ttl_remaining is None for e in entries)
    assert all(0 <= e.age_seconds < 60 for e in entries)


@pytest.mark.parametrize("strategy", STORING)
def test_cache_size_leaves_out_expired_entries(strategy, tmp_path: Path, clock: FakeClock) -> None:
    cache = create_cache(CacheConfig(strategy=strategy, cache_dir=tmp_path / "c", ttl_seconds=60))
    cache.put("old", "a", "x")
    clock.advance(30)
    cache.put("new", "b", "y")
    clock.advance(31)  # "old" has expired, "new" has 29 s to go
    assert [e.key for e in cache.entries()] == ["new"]
    assert cache.stats()["cache_size"] == 1 == len(cache)
