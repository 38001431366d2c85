"""The cache inspector's widgets: the entries table and the statistics panel.

Ages and times to live are shown coarsely (``<1m``, ``5m``, ``2h 10m``) so the
table does not flicker every second and a screenshot of it is stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import DataTable, Static

from deeptui.cache import CacheEntryInfo
from deeptui.visualize.safe_text import text as safe
from deeptui.widgets.table_cursor import cursor_row_key

KEY_CHARS = 12  # how much of a sha256 key the table shows


def format_bytes(size: int) -> str:
    """``512 B``, ``1.5 KB``, ``3.0 MB``."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def format_span(seconds: float | None, *, nearest: bool = False) -> str:
    """A coarse span: ``<1m``, ``42m``, ``3h 5m``, ``2d 4h``; ``never`` for None.

    `nearest` rounds to the nearest minute, which suits a time to live (59m59s
    left reads ``1h 0m``); the default rounds down, which suits an age (59s
    old reads ``<1m``).
    """
    if seconds is None:
        return "never"
    minutes = round(seconds / 60) if nearest else int(seconds // 60)
    if minutes < 1:
        return "<1m"
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


class CacheTable(DataTable[Any]):
    """One row per live cache entry: task, short key, size, age, time to live.

    Row keys are the full cache keys; `selected_task_id` is the task of the
    row under the cursor (None when the table is empty).
    """

    COLUMNS = ("Task", "Key", "Size", "Age", "TTL")

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._tasks: dict[str, str] = {}

    def on_mount(self) -> None:
        for label in self.COLUMNS:
            self.add_column(label, key=label.lower())

    def show_entries(self, entries: Iterable[CacheEntryInfo]) -> None:
        """Replace the rows, keeping the cursor on the same entry (or task) when it survives."""
        previous_key = self._cursor_key()
        previous_task = self.selected_task_id
        self.clear()
        self._tasks.clear()
        rows = sorted(entries, key=lambda e: (e.task_id, e.key))
        for entry in rows:
            self._tasks[entry.key] = entry.task_id
            self.add_row(
                safe(entry.task_id or "(unknown)"),  # a task id is user text: never markup
                safe(entry.key[:KEY_CHARS]),
                Text(format_bytes(entry.size_bytes), justify="right"),
                Text(format_span(entry.age_seconds), justify="right"),
                Text(format_span(entry.ttl_remaining, nearest=True), justify="right"),
                key=entry.key,
            )
        target = next((i for i, e in enumerate(rows) if e.key == previous_key), None)
        if target is None:
            target = next((i for i, e in enumerate(rows) if e.task_id == previous_task), 0)
        if rows:
            self.move_cursor(row=target)

    def _cursor_key(self) -> str | None:
        return cursor_row_key(self)

    @property
    def selected_task_id(self) -> str | None:
        key = self._cursor_key()
        return self._tasks.get(key) if key is not None else None

    def count_for(self, task_id: str) -> int:
        return sum(1 for task in self._tasks.values() if task == task_id)


STAT_LABELS: dict[str, str] = {
    "strategy": "Strategy",
    "hits": "Hits",
    "misses": "Misses",
    "hit_rate": "Hit rate",
    "evictions": "Evictions",
    "invalidations": "Invalidated",
    "cache_size": "Entries",
    "max_size": "Max entries",
}


def stats_table(stats: Mapping[str, Any]) -> Table:
    """The cache's `stats()` as a two-row grid: labels above, values below."""
    grid = Table.grid(padding=(0, 1), expand=True)
    keys = [key for key in STAT_LABELS if key in stats]
    keys += [key for key in stats if key not in STAT_LABELS]
    for _ in keys:
        grid.add_column(justify="center")
    grid.add_row(*(Text(STAT_LABELS.get(k, k.replace("_", " ").capitalize()), style="dim")
                   for k in keys))
    grid.add_row(*(Text(str(stats[k]), style="bold") for k in keys))
    return grid


class CacheStats(Static):
    """The hit/miss statistics of a cache, one labelled figure per key."""

    stats: dict[str, Any] = {}

    def show_stats(self, stats: Mapping[str, Any]) -> None:
        self.stats = dict(stats)
        self.update(stats_table(stats))
