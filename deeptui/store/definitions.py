"""A run's definition in the history: each distinct text kept once.

A run's ``definitions`` row names its definition by the SHA-256 of the stored text
(``digest``); the text itself is in ``workflows``, once however many runs ran it (schema
version 3). The text is dumped at every start (the workflow object may have changed since
the last run; a resume must read what the run ran), so a changed definition is a new text
with its own digest and the earlier runs keep theirs. What this saves is writing the same
megabytes into the file at every run of an unchanged workflow. `DefinitionTexts` remembers
the latest text of each workflow and its digest, so an unchanged one is compared, not hashed.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import OrderedDict
from typing import Any


_INSERT_TEXT = "INSERT OR IGNORE INTO workflows (digest, workflow_json) VALUES (?, ?)"
_UPSERT = """
INSERT INTO definitions (run_id, workflow_json, parameters_json, digest) VALUES (?, '', ?, ?)
ON CONFLICT (run_id) DO UPDATE SET workflow_json = '', digest = excluded.digest,
    parameters_json = COALESCE(excluded.parameters_json, definitions.parameters_json)"""
REMEMBERED_CHARS = 16_000_000  # the texts a writer keeps, in all (10,000 tasks: ~4.2 million)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class DefinitionTexts:
    """The latest definition text of recent workflows and its digest, at most
    `REMEMBERED_CHARS` in all (the least recent forgotten first; a longer text is hashed
    every time)."""

    def __init__(self) -> None:
        self._latest: OrderedDict[Any, tuple[str, str]] = OrderedDict()
        self._chars = 0

    def digest(self, key: Any, text: str) -> str:
        known = self._latest.pop(key, None)
        if known is not None:
            self._chars -= len(known[0])
        found = known[1] if known is not None and known[0] == text else digest(text)
        if len(text) <= REMEMBERED_CHARS:
            self._latest[key] = (text, found)
            self._chars += len(text)
            while self._chars > REMEMBERED_CHARS:
                self._chars -= len(self._latest.popitem(last=False)[1][0])
        return found


def write_definition(conn: sqlite3.Connection, texts: DefinitionTexts, run_id: str,
                     key: Any, text: str, parameters_json: str | None) -> None:
    """The run's definition row (``text``: `definition_json` of what it ran), and its text
    unless the file has it already."""
    found = texts.digest(key, text)
    conn.execute(_INSERT_TEXT, (found, text))
    conn.execute(_UPSERT, (run_id, parameters_json, found))
