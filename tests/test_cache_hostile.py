"""A hostile or mistaken cache directory: nothing outside it is read, written or deleted.

A cache directory may be restored from elsewhere (a CI cache) with rows planted in
its ``cache.db``, or ``--cache-dir`` may name a folder of the user's. These tests
plant rows with sqlite3 in real diskcache directories created by deeptui, run the
real CLI in subprocesses, and hash every file that must survive.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import diskcache
import pytest

from deeptui.cache import CacheConfig, CacheError, CacheStrategy, ResultCache, create_cache
from tests.test_cli import FAST, deeptui, one_line_error

SECRET = "STOLEN-SECRET-9f3a"
VALUE_NAME = "ab/cd/" + "0" * 28 + ".val"  # the shape deeptui writes
VARIANTS = ["absolute", "dotdot", "symlink", "symlinked-dir", "hardlink"]
MODE_TEXT = diskcache.core.MODE_TEXT


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(root: Path) -> dict[str, str]:
    """Every file under `root` (links not followed) with its sha256."""
    return {str(p.relative_to(root)): digest(p) for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()}


def payload(task_id: str) -> str:
    """What a planted file holds when it tries to become a task's output."""
    return json.dumps({"task_id": task_id, "output": SECRET, "created_at": 0.0,
                       "usage": None, "agent_used": None})


def plant_file(tmp_path: Path, directory: Path, variant: str, content: str) -> tuple[Path, str]:
    """The user's file outside the cache, and the ``filename`` a planted row gives it."""
    outside = tmp_path / "outside"
    if variant == "symlinked-dir":  # ab/ -> outside/, so ab/cd/<name> is outside/cd/<name>
        target = outside / VALUE_NAME.split("/", 1)[1]
        target.parent.mkdir(parents=True)
        target.write_text(content)
        (directory / "ab").symlink_to(outside, target_is_directory=True)
        return target, VALUE_NAME
    outside.mkdir()
    target = outside / "precious.txt"
    target.write_text(content)
    if variant == "absolute":
        return target, str(target)
    if variant == "dotdot":
        return target, os.path.relpath(target, directory)
    (directory / "ab" / "cd").mkdir(parents=True)
    link = directory / VALUE_NAME
    if variant == "symlink":
        link.symlink_to(target)
    else:
        os.link(target, link)
    return target, VALUE_NAME


def plant_rows(directory: Path, filename: str, expire_time: float | None = None) -> int:
    """Point every row of the cache at `filename` (as diskcache stores a large text value)."""
    db = sqlite3.connect(directory / "cache.db")
    with db:
        count = db.execute("UPDATE Cache SET mode = ?, filename = ?, value = NULL, size = 10,"
                           " expire_time = ?", (MODE_TEXT, filename, expire_time)).rowcount
    db.close()
    return count


def disk_cache(tmp_path: Path, **config: object) -> ResultCache:
    return create_cache(CacheConfig(strategy=CacheStrategy.DISK, cache_dir=tmp_path / "cache",
                                    **config))


def seeded(tmp_path: Path, *task_ids: str) -> Path:
    """A real cache directory created by deeptui, one small entry per task."""
    cache = disk_cache(tmp_path)
    for task_id in task_ids:
        assert cache.put(f"key-{task_id}", task_id, {"real": task_id})
    cache.close()
    return tmp_path / "cache"


# --------------------------------------------------------------- planted rows


@pytest.mark.parametrize("content", ["payload", "user-data"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_a_planted_row_is_a_miss_that_reads_and_deletes_nothing(
        tmp_path: Path, variant: str, content: str) -> None:
    directory = seeded(tmp_path, "t")
    text = payload("t") if content == "payload" else "the user's own data, not JSON\n"
    outside, filename = plant_file(tmp_path, directory, variant, text)
    before = digest(outside)
    assert plant_rows(directory, filename) == 1
    cache = disk_cache(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = cache.get("key-t")  # a lookup, and the drop path when the value is not JSON
    assert outside.exists() and digest(outside) == before
    assert found is None or SECRET not in json.dumps(found.output)
    assert found is None
    assert [str(w.message) for w in caught if "refusing to read" in str(w.message)]
    stats = cache.stats()
    assert (stats["hits"], stats["misses"]) == (0, 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cache.put("key-t", "t", {"fresh": True})  # replacing the row removes its file
    assert outside.exists() and digest(outside) == before
    assert [str(w.message) for w in caught if "refusing to delete" in str(w.message)]
    assert cache.get("key-t").output == {"fresh": True}
    cache.close()


@pytest.mark.parametrize("variant", VARIANTS)
def test_expiry_and_eviction_delete_no_file_outside(tmp_path: Path, variant: str) -> None:
    directory = seeded(tmp_path, "old", "older")
    outside, filename = plant_file(tmp_path, directory, variant, "user data\n")
    before = digest(outside)
    plant_rows(directory, filename, expire_time=1.0)  # long expired
    cache = disk_cache(tmp_path, max_size=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache.put("new", "t", "x" * 100_000)  # over max_size: expire, then cull
    assert outside.exists() and digest(outside) == before
    assert outside.parent.is_dir()  # no os.removedirs of the user's folders
    assert [str(w.message) for w in caught if "refusing to delete" in str(w.message)]
    assert cache.get("new").output == "x" * 100_000 and len(cache) == 1
    cache.close()


@pytest.mark.parametrize("variant", VARIANTS)
def test_cache_clear_in_the_cli_deletes_no_file_outside(tmp_path: Path, variant: str) -> None:
    directory = seeded(tmp_path, "t1", "t2")
    outside, filename = plant_file(tmp_path, directory, variant, "user data\n")
    before = digest(outside)
    assert plant_rows(directory, filename) == 2
    flags = ["--cache", "disk", "--cache-dir", directory]
    for action in (["cache", "clear", "--task", "t1"], ["cache", "clear"]):
        proc = deeptui(tmp_path, *flags, *action)
        assert outside.exists() and digest(outside) == before
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        assert "refusing to delete" in proc.stderr, proc.stderr
        assert all(line.startswith("deeptui: warning: ") for line in proc.stderr.splitlines())
    stats = deeptui(tmp_path, *flags, "cache", "stats", "--format", "json")
    assert json.loads(stats.stdout)["entries"] == 0
    assert outside.read_text() == "user data\n" and outside.parent.is_dir()


# the template's agents work on this folder, which the runs do not change (the cache and the
# history live in tmp_path): an agent task's key covers its workspace's files
REPO = ["--param", f"repository_path={Path(__file__).parent / 'data'}"]


@pytest.mark.parametrize("variant", ["absolute", "dotdot", "symlink", "symlinked-dir"])
def test_a_planted_file_never_becomes_a_task_output(tmp_path: Path, variant: str) -> None:
    """The real thing: a headless run over a cache whose every row names the planted file."""
    directory = tmp_path / "cache"
    flags = ["--cache", "disk", "--cache-dir", directory, *FAST]
    first = deeptui(tmp_path, *flags, "run", "ci-cd", *REPO, "--headless")
    assert first.returncode == 0, first.stderr
    outside, filename = plant_file(tmp_path, directory, variant, payload("lint-code"))
    before = digest(outside)
    assert plant_rows(directory, filename) == 5
    second = deeptui(tmp_path, *flags, "run", "ci-cd", *REPO, "--headless")
    db = sqlite3.connect(tmp_path / "history.db")
    outputs = [row[0] or "" for row in db.execute("SELECT output FROM tasks")]
    db.close()
    assert len(outputs) == 10 and not any(SECRET in text for text in outputs)
    assert SECRET not in second.stdout and digest(outside) == before
    assert second.returncode == 0, second.stderr
    assert "cached" not in second.stdout  # every lookup was a miss: the tasks ran
    assert "Traceback" not in second.stderr and "refusing to read" in second.stderr


def test_value_folders_planted_as_links_get_no_file_written_through_them(tmp_path: Path) -> None:
    directory = seeded(tmp_path, "t")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for index in range(256):  # every first-level value folder is a link out of the cache
        (directory / f"{index:02x}").symlink_to(elsewhere, target_is_directory=True)
    cache = disk_cache(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stored = cache.put("big", "t", "v" * 100_000)
    assert list(elsewhere.iterdir()) == []
    assert not stored and any("not stored" in str(w.message) for w in caught)
    assert cache.put("small", "t", "fits in the database") and cache.get("small") is not None
    cache.close()


def test_settings_planted_in_the_database_redirect_nothing(tmp_path: Path) -> None:
    """diskcache turns Settings rows into attributes and PRAGMAs; planted ones are ignored."""
    directory = seeded(tmp_path, "t")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    db = sqlite3.connect(directory / "cache.db")
    with db:
        db.executemany("INSERT OR REPLACE INTO Settings VALUES (?, ?)", [
            ("_directory", str(elsewhere)),  # the database diskcache connects to
            ("disk__directory", str(elsewhere)),  # where the Disk joins file names
            ("disk_min_file_size", "not a number"),
            ("sqlite_query_only", 1),  # a PRAGMA that would stop every write
            ("eviction_policy", "no-such-policy"),
            ("size", "junk"),
        ])
    db.close()
    cache = disk_cache(tmp_path)
    assert cache.put("big", "t", "y" * 100_000)
    assert cache.get("big").output == "y" * 100_000
    assert cache.get("key-t").output == {"real": "t"}
    cache.close()
    assert list(elsewhere.iterdir()) == []
    assert len(list(directory.rglob("*.val"))) == 1


def test_a_settings_table_diskcache_cannot_read_is_rebuilt(tmp_path: Path) -> None:
    directory = seeded(tmp_path, "t")
    db = sqlite3.connect(directory / "cache.db")
    with db:
        db.execute("INSERT INTO Settings VALUES (?, 1)", (b"\x00blob key",))
    db.close()
    with pytest.warns(RuntimeWarning, match="corrupted.*Settings table is damaged"):
        cache = disk_cache(tmp_path)
    assert cache.put("k", "t", "again") and cache.get("k").output == "again"
    cache.close()


# ------------------------------------------------------- someone else's folder


def _user_folder(tmp_path: Path, kind: str) -> Path:
    folder = tmp_path / "project"
    (folder / "de").mkdir(parents=True)
    (folder / "ab").mkdir()
    (folder / "de" / "x.po").write_text('msgid "Hello"\nmsgstr "Hallo"\n')
    (folder / "ab" / "data.bin").write_bytes(bytes(range(256)) * 64)
    if kind == "not-sqlite":
        (folder / "cache.db").write_bytes(b"my own cache format\x00" * 50)
    elif kind == "other-sqlite":
        db = sqlite3.connect(folder / "cache.db")
        db.execute("CREATE TABLE pages (url TEXT, body BLOB)")
        db.commit()
        db.close()
    elif kind == "other-diskcache":  # another program's diskcache (its default settings)
        other = diskcache.Cache(str(folder))
        other.set("theirs", "value")
        other.close()
    return folder


FOLDERS = ["not-sqlite", "other-sqlite", "other-diskcache", "no-cache-db"]


@pytest.mark.parametrize("kind", FOLDERS)
@pytest.mark.parametrize("command", [["run", "ci-cd", "--headless"], ["cache", "clear"], []])
def test_a_folder_of_user_files_is_refused_and_left_as_it_is(
        tmp_path: Path, kind: str, command: list[str]) -> None:
    """`[]` is the app: refused before it opens, with the same one line."""
    folder = _user_folder(tmp_path, kind)
    before = tree(folder)
    try:
        proc = deeptui(tmp_path, "--cache-dir", folder, *FAST, *command, timeout=30)
    finally:
        assert tree(folder) == before  # every file byte-identical, nothing added
    line = one_line_error(proc)
    assert f"cache_dir '{folder}'" in line and "not a deeptui cache" in line


def test_the_library_refuses_the_folder_too(tmp_path: Path) -> None:
    folder = _user_folder(tmp_path, "not-sqlite")
    before = tree(folder)
    with pytest.raises(CacheError, match="not a deeptui cache"):
        create_cache(CacheConfig(strategy="hybrid", cache_dir=folder))
    assert tree(folder) == before


async def test_the_app_refuses_the_folder_with_one_line(tmp_path: Path) -> None:
    from deeptui.app import DeeptuiApp
    from deeptui.settings import Settings

    folder = _user_folder(tmp_path, "not-sqlite")
    before = tree(folder)
    app = DeeptuiApp(Settings(cache_dir=str(folder), db=str(tmp_path / "h.db")))
    async with app.run_test() as pilot:
        for _ in range(50):
            await pilot.pause(0.05)
            if app.return_code is not None:
                break
    assert app.return_code == 2
    assert app.error.startswith(f"deeptui: error: cache_dir '{folder}' is not empty and is not")
    assert "\n" not in app.error
    assert tree(folder) == before


def test_an_empty_folder_and_an_older_deeptui_cache_are_used(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with create_cache(CacheConfig(strategy="disk", cache_dir=empty)) as cache:
        assert cache.put("k", "t", 1)
    older = tmp_path / "older"  # what deeptui wrote before it tagged its directories
    old = diskcache.Cache(str(older), eviction_policy="least-recently-used", tag_index=True)
    old.set("k", json.dumps({"task_id": "t", "output": 7, "created_at": 0.0,
                             "usage": None, "agent_used": None}), tag="t")
    old.close()
    with create_cache(CacheConfig(strategy="disk", cache_dir=older)) as cache:
        assert cache.get("k").output == 7
    assert (older / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172")


# ------------------------------------------------------ permissions and counts


def test_the_cache_is_private_to_its_user(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    old = os.umask(0o022)  # the usual umask: files would be 0644
    try:
        proc = deeptui(tmp_path, "--cache", "disk", "--cache-dir", directory, *FAST,
                       "run", "ci-cd", "--headless")
        assert proc.returncode == 0, proc.stderr
        with disk_cache(tmp_path) as cache:
            cache.put("big", "t", "z" * 100_000)  # a value file and its two directories
            modes = {str(p.relative_to(directory)): stat.S_IMODE(p.lstat().st_mode)
                     for p in directory.rglob("*")}
    finally:
        os.umask(old)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert {"cache.db", "cache.db-wal", "cache.db-shm", "CACHEDIR.TAG"} <= set(modes)
    for name, mode in modes.items():
        expected = 0o700 if (directory / name).is_dir() else 0o600
        assert mode == expected, (name, oct(mode))


def test_hit_and_miss_counts_survive_the_process(tmp_path: Path) -> None:
    flags = ["--cache", "disk", "--cache-dir", tmp_path / "cache", *FAST]
    for _ in range(2):  # five misses, then five hits, in two processes
        proc = deeptui(tmp_path, *flags, "run", "ci-cd", *REPO, "--headless")
        assert proc.returncode == 0, proc.stderr
    stats = deeptui(tmp_path, *flags, "cache", "stats", "--format", "json")
    assert stats.returncode == 0, stats.stderr
    shown = json.loads(stats.stdout)
    assert (shown["hits"], shown["misses"], shown["hit_rate"]) == (5, 5, "50.0%")
    code = ("from deeptui.cache import CacheConfig, create_cache;"
            f"c = create_cache(CacheConfig(strategy='hybrid', cache_dir={str(tmp_path / 'cache')!r}));"
            "c.get('nothing'); print(c.stats()['misses'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.strip() == "6"
