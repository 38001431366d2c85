"""Diagram label text: escaping per format, and the metrics shown under a task id.

Task ids, names and metrics are user text: in Mermaid they become entity codes
(or a quoted label), in Graphviz a double-quoted DOT string, and on ASCII/Rich
lines their control characters become visible escapes, so no id can break a
diagram's syntax or spill onto another line.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from deeptui.models import TaskResult
from deeptui.visualize.safe_text import visible


# Mermaid: entity codes (#name; / #number;, one pass) for every character its
# grammar or HTML labels could take for syntax; Mermaid decodes them on rendering.
_MERMAID_ESCAPES = {'"': "#quot;", "&": "#amp;", "<": "#lt;", ">": "#gt;"} | {
    char: f"#{ord(char)};" for char in "#[](){}|`%\\"
}
_MERMAID_TABLE = str.maketrans(
    {**_MERMAID_ESCAPES, **{chr(i): " " for i in [*range(32), 127] if chr(i) != "\n"}}
)
_MERMAID_PLAIN_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_MERMAID_DURATION = re.compile(r"[0-9]+\.[0-9]s")
_MERMAID_RESERVED = {
    "end", "graph", "flowchart", "subgraph", "style", "classdef", "class", "click",
    "linkstyle", "direction", "call", "href", "callback", "default", "interpolate",
    "tb", "td", "bt", "rl", "lr", "acctitle", "accdescr",
}  # fmt: skip


def mermaid_text(text: str) -> str:
    """One label line for a quoted Mermaid label: entities for syntax, <br/> for newlines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_MERMAID_TABLE)
    return text.replace("\n", "<br/>")


def mermaid_plain_id(task_id: str) -> bool:
    """Whether Mermaid can take ``task_id`` as a node id as it is."""
    return bool(_MERMAID_PLAIN_ID.fullmatch(task_id)) and task_id.lower() not in _MERMAID_RESERVED


def mermaid_label(parts: list[str]) -> str:
    """``[id<br/>2.5s]`` for a plain id and duration (the orchestration guide's shape), else
    ``["..."]``."""
    if mermaid_plain_id(parts[0]) and all(_MERMAID_DURATION.fullmatch(p) for p in parts[1:]):
        return "[" + "<br/>".join(parts) + "]"
    return '["' + "<br/>".join(mermaid_text(part) for part in parts) + '"]'


def dot_string(text: str, label: bool = False) -> str:
    """A double-quoted DOT string; in labels newlines become line breaks and '&' stays literal."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    if label:
        text = text.replace("&", "&amp;")
    return f'"{text}"'


def plain_line(text: str) -> str:
    """Text for one ASCII/Rich line: control characters become visible escapes."""
    return visible(text)


def metric_parts(result: TaskResult | None, include_metrics: bool) -> list[str]:
    """Duration whenever known (as in the orchestration guide's outputs); retries, agent, cache
    hit on request."""
    if result is None:
        return []
    parts: list[str] = []
    duration = result.duration_seconds
    if duration is not None:
        parts.append(f"{duration:.1f}s")
    if include_metrics:
        retries = result.retry_count
        if retries:
            parts.append("1 retry" if retries == 1 else f"{retries} retries")
        if result.agent_used:
            parts.append(f"agent: {result.agent_used}")
        if result.cached:
            parts.append("cached")
    return parts


def cached_note(result: TaskResult) -> str:
    """Where a cached result came from: ``cached from run <id>, <UTC time>`` ("" when not
    cached; ``cached`` alone for an entry stored before entries named their run)."""
    return cache_source_note(result.cached, result.cached_from, result.cached_at)


def cache_source_note(cached: Any, cached_from: str | None, cached_at: datetime | None) -> str:
    """`cached_note` of the values (a stored task row's, as `deeptui history show` reads it)."""
    if not cached:
        return ""
    if cached_from is None:
        return "cached"
    when = f", {cached_at:%Y-%m-%d %H:%M:%S} UTC" if cached_at else ""
    return f"cached from run {cached_from}{when}"
