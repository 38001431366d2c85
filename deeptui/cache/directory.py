"""The cache directory on disk: which folders deeptui may use, and which files in them it touches.

A cache directory can come from anywhere (a CI cache restored from elsewhere, a
folder named by mistake), so nothing in it is trusted:

- `claim` accepts a directory only when it is new, empty, tagged by deeptui
  (``CACHEDIR.TAG``, the cache directory tagging standard) or already a diskcache
  database; anything else raises `CacheError` and is left exactly as it is. What
  deeptui creates is private: the directory 0700, its files 0600.
- Value files are reached only through `open_value`, `write_value` and
  `remove_value`: the ``filename`` column of a row must have the shape deeptui
  writes (``ab/cd/<28 hex digits>.val``), and every step is opened relative to
  the directory with ``O_NOFOLLOW``, so no absolute path, ``..``, symlink or hard
  link can lead to a file elsewhere. Such a row raises `UnsafeEntry`.
- `wipe` (rebuilding a corrupted cache) deletes only the database files and
  value files of that shape; anything else in the directory stays.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from deeptui.errors import DeeptuiError

TAG_NAME = "CACHEDIR.TAG"
TAG_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by deeptui for its result cache.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
DB_NAME = "cache.db"
DB_FILES = (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal")
SQLITE_HEADER = b"SQLite format 3\x00"
_HEX2 = re.compile(r"[0-9a-f]{2}\Z")
_NAME = re.compile(r"[0-9a-f]{28}\.val\Z")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class CacheError(DeeptuiError):
    """A cache directory that cannot be used (a file in its place, someone else's folder)."""


class UnsafeEntry(OSError):
    """A cache row whose value file is not a plain file inside the cache directory."""


# --- which directory -------------------------------------------------------------


def claim(directory: Path) -> None:
    """Make sure `directory` is deeptui's cache, creating it if needed; else `CacheError`."""
    if directory.exists() and not directory.is_dir():
        raise CacheError(f"cache_dir '{directory}' is a file, not a directory: "
                         "choose another cache_dir or remove the file")
    try:
        if not directory.exists():
            directory.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # another process made it first
                directory.mkdir(mode=0o700)
        for name in DB_FILES:
            _check_db_file(directory, name)
        if not is_tagged(directory):
            if os.listdir(directory):
                _adopt_or_refuse(directory)
            _write_tag(directory)
        _create_private(directory / DB_NAME)
    except OSError as exc:
        raise CacheError(f"cannot use cache_dir '{directory}': {exc.strerror or exc}") from None


def _refuse(directory: Path, why: str) -> CacheError:
    return CacheError(f"cache_dir '{directory}' is not empty and is not a deeptui cache ({why}); "
                      "nothing in it was changed: choose an empty or new directory")


def _check_db_file(directory: Path, name: str) -> None:
    path = directory / name
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise _refuse(directory, f"its {name} is not a regular file")


def _adopt_or_refuse(directory: Path) -> None:
    """An untagged directory with files: a diskcache database (older deeptui) or refused."""
    path = directory / DB_NAME
    if not path.exists():
        raise _refuse(directory, f"it has no {DB_NAME}")
    with path.open("rb") as fh:
        if fh.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise _refuse(directory, f"its {DB_NAME} is not an SQLite database")
    try:
        conn = sqlite3.connect(path, timeout=10)
        try:
            conn.execute("PRAGMA query_only = 1")
            tables = {row[0] for row in
                      conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            settings = dict(conn.execute(
                "SELECT key, value FROM Settings WHERE key IN ('eviction_policy', 'tag_index')"
            ).fetchall()) if {"Cache", "Settings"} <= tables else {}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise _refuse(directory, f"its {DB_NAME} cannot be read: {exc}") from None
    if settings != {"eviction_policy": "least-recently-used", "tag_index": 1}:
        raise _refuse(directory, f"its {DB_NAME} is an SQLite database of another program")


def is_tagged(directory: Path) -> bool:
    """True for a deeptui tag; a tag being written by another process is waited for."""
    for _ in range(100):
        try:
            fd = os.open(directory / TAG_NAME, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return False
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return False
            text = fh.read(len(TAG_TEXT) + 1).decode("utf-8", "replace")
        if text == TAG_TEXT:
            return True
        if not TAG_TEXT.startswith(text):
            return False
        time.sleep(0.01)  # a prefix: another process is writing it
    return False


def _write_tag(directory: Path) -> None:
    try:
        fd = os.open(directory / TAG_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                     0o600)
    except FileExistsError:  # another process tagged it; it must be our tag
        if not is_tagged(directory):
            raise _refuse(directory, f"its {TAG_NAME} is not deeptui's") from None
        return
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(TAG_TEXT)


def _create_private(path: Path) -> None:
    """Create an empty `path` 0600 (SQLite then gives its -wal and -shm the same mode)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))


# --- value files -----------------------------------------------------------------


def _parts(filename: object) -> tuple[str, str, str]:
    if type(filename) is not str:
        raise UnsafeEntry(f"value file name {filename!r} is not text")
    parts = filename.split("/")
    if (len(parts) != 3 or not _HEX2.match(parts[0]) or not _HEX2.match(parts[1])
            or not _NAME.match(parts[2])):
        raise UnsafeEntry(f"value file {filename!r} is not a deeptui value file name")
    return parts[0], parts[1], parts[2]


@contextlib.contextmanager
def _value_dir(root: str, filename: object, create: bool = False) -> Iterator[tuple[int, int, str]]:
    """(the top dir's fd, the value's dir fd, the file name), each opened without following links."""
    top, mid, name = _parts(filename)
    fds: list[int] = []
    try:
        fds.append(os.open(root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)))
        for part in (top, mid):
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o700, dir_fd=fds[-1])
            try:
                fds.append(os.open(part, _DIR_FLAGS, dir_fd=fds[-1]))
            except OSError as exc:
                if isinstance(exc, FileNotFoundError):
                    raise
                raise UnsafeEntry(f"value file {filename!r}: {part} is not a plain directory "
                                  f"inside the cache ({exc.strerror})") from None
        yield fds[0], fds[2], name
    finally:
        for fd in fds:
            os.close(fd)


def open_value(root: str, filename: object) -> bytes:
    """The bytes of a value file; `UnsafeEntry` unless it is a plain file inside `root`."""
    with _value_dir(root, filename) as (_, parent, name):
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                         dir_fd=parent)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise UnsafeEntry(f"value file {filename!r} is not a plain file "
                              f"({exc.strerror})") from None
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                raise UnsafeEntry(f"value file {filename!r} is not a plain file "
                                  "(a hard link or a special file)")
            return fh.read()


def write_value(root: str, filename: str, data: bytes) -> None:
    """Create a new value file 0600 (its directories 0700); never through a link."""
    with _value_dir(root, filename, create=True) as (_, parent, name):
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600,
                     dir_fd=parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)


def remove_value(root: str, filename: object) -> None:
    """Delete a value file inside `root` and its emptied directories (never `root` itself)."""
    top, mid, _ = _parts(filename)
    try:
        with _value_dir(root, filename) as (root_fd, parent, name):
            try:
                info = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                info = None
            if info is not None and (not stat.S_ISREG(info.st_mode) or info.st_nlink != 1):
                raise UnsafeEntry(f"value file {filename!r} is not a plain file "
                                  "(a link or a special file)")
            if info is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=parent)
            with contextlib.suppress(OSError):  # left when another file or process uses it
                top_fd = os.open(top, _DIR_FLAGS, dir_fd=root_fd)
                try:
                    os.rmdir(mid, dir_fd=top_fd)
                finally:
                    os.close(top_fd)
                os.rmdir(top, dir_fd=root_fd)
    except FileNotFoundError:
        return


def wipe(directory: Path) -> None:
    """Delete the database files and deeptui-shaped value files; nothing else."""
    for name in DB_FILES:
        path = directory / name
        if path.is_symlink() or path.is_file():
            path.unlink(missing_ok=True)  # a link itself, never its target
    with os.scandir(directory) as tops:
        for top in tops:
            if not (_HEX2.match(top.name) and top.is_dir(follow_symlinks=False)):
                continue
            with os.scandir(top.path) as mids:
                for mid in mids:
                    if not (_HEX2.match(mid.name) and mid.is_dir(follow_symlinks=False)):
                        continue
                    with os.scandir(mid.path) as files:
                        for entry in files:
                            if _NAME.match(entry.name) and entry.is_file(follow_symlinks=False):
                                with contextlib.suppress(FileNotFoundError):
                                    os.unlink(entry.path)
                    with contextlib.suppress(OSError):
                        os.rmdir(mid.path)
            with contextlib.suppress(OSError):
                os.rmdir(top.path)
