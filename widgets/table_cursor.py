"""The row key under a DataTable's cursor: what the run tables and the cache table select by."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable


def cursor_row_key(table: DataTable[Any]) -> str | None:
    """The key of the row under the cursor, or None when the table is empty or the cursor is off it."""
    if not table.row_count:
        return None
    try:
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
    except Exception:  # the cursor is off the table
        return None
