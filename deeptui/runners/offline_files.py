"""What the offline model's file tools answered: its past calls, their results read back.

pydantic-deep's console tools answer in text. ``ls``: ``Contents of .:`` then ``  dir/``
and ``  name (N bytes)``; ``glob``: ``Found N file(s) matching 'P':`` then paths;
``grep``: ``Matches for 'P':`` then ``  path:line: text`` (``Found N match(es)`` in count
mode); ``read_file``: numbered lines (``     3\\ttext``, or ``3:ab|text`` with hashline
editing) and ``... (N more lines)`` when cut. A workspace that searches with Python
answers absolute paths, one that runs ``find``/``grep`` relative ones: `Paths` turns both
into paths relative to the workspace root.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    ToolCallPart,
    ToolReturnPart,
)

# directories nobody reviews: tools' caches, environments, vendored and built code
SKIPPED_DIRS = frozenset({"node_modules", "venv", "env", "build", "dist", "site-packages",
                          "__pycache__", "target", "vendor", "third_party", "htmlcov"})


@dataclass
class ToolRecord:
    """One tool call the model made and what came back."""

    name: str
    args: dict[str, Any]
    text: str
    ok: bool

    def describe(self) -> str:
        shown = [str(self.args[k]) for k in ("path", "pattern") if self.args.get(k)]
        text = f"{self.name} {' '.join(shown)}".strip()
        return text if len(text) <= 80 else text[:79] + "…"


def transcript(messages: list[ModelMessage]) -> list[ToolRecord]:
    """Every tool call of the run so far with its result, in order."""
    calls: dict[str, ToolCallPart] = {}
    records: list[ToolRecord] = []
    for message in messages:
        if isinstance(message, ModelResponse):
            calls.update((p.tool_call_id, p) for p in message.parts if isinstance(p, ToolCallPart))
            continue
        if not isinstance(message, ModelRequest):
            continue
        for part in message.parts:
            if not isinstance(part, ToolReturnPart | RetryPromptPart) or not part.tool_name:
                continue
            call = calls.get(part.tool_call_id)
            try:
                args = call.args_as_dict() if call is not None else {}
            except Exception:  # noqa: BLE001 - garbled arguments: the call is still recorded
                args = {}
            content = part.content
            text = content if isinstance(content, str) else json.dumps(content, default=str)
            ok = isinstance(part, ToolReturnPart) and getattr(part, "outcome", "success") == "success" \
                and not text.startswith("Error")
            records.append(ToolRecord(part.tool_name, args, text, ok))
    return records


# -- each tool's answer ------------------------------------------------------

_LS_FILE = re.compile(r"^  (?P<name>.+) \((?P<size>\d+) bytes\)$")


def parse_ls(text: str) -> tuple[list[str], list[str]]:
    """(directories, files) of an ``ls``; both empty for an empty or missing directory."""
    if not text.startswith("Contents of"):
        return [], []
    dirs: list[str] = []
    files: list[str] = []
    for line in text.splitlines()[1:]:
        if line.startswith("  ") and line.endswith("/"):
            dirs.append(line[2:-1])
        elif m := _LS_FILE.match(line):
            files.append(m.group("name"))
        elif line.startswith("  "):
            files.append(line[2:])
    return sorted(dirs), sorted(files)


_MORE = re.compile(r"^  \.\.\. and (\d+) more")


def parse_glob(text: str) -> tuple[list[str], int]:
    """(paths shown, how many matched in all)."""
    found = re.match(r"Found (\d+) file", text)
    if not found:
        return [], 0
    paths = [line[2:] for line in text.splitlines()[1:]
             if line.startswith("  ") and not _MORE.match(line)]
    return paths, int(found.group(1))


_GREP_LINE = re.compile(r"^  (?P<path>.+?):(?P<line>\d+): ?(?P<text>.*)$")


@dataclass
class GrepResult:
    """The lines a grep showed (path, line, text) and how many matched in all."""

    matches: list[tuple[str, int, str]] = field(default_factory=list)
    total: int = 0
    counted: bool = False  # a count: no lines shown, by request

    @property
    def cut(self) -> bool:
        return not self.counted and self.total > len(self.matches)


def parse_grep(text: str) -> GrepResult:
    if m := re.match(r"Found (\d+) match", text):
        return GrepResult([], int(m.group(1)), counted=True)
    if not text.startswith("Matches for"):
        return GrepResult()
    result = GrepResult()
    for line in text.splitlines()[1:]:
        if more := _MORE.match(line):
            result.total += int(more.group(1))
        elif m := _GREP_LINE.match(line):
            result.matches.append((m.group("path"), int(m.group("line")), m.group("text")))
            result.total += 1
    return result


_NUMBERED = re.compile(r"^ *(\d+)\t(.*)$")
_HASHLINE = re.compile(r"^(\d+):[0-9a-f]+\|(.*)$")
_MORE_LINES = re.compile(r"^\.\.\. \((\d+) more lines\)$")


def parse_read(text: str) -> tuple[dict[int, str], int]:
    """({line number: text}, total lines in the file as far as the answer tells)."""
    lines: dict[int, str] = {}
    more = 0
    for raw in text.split("\n"):
        if m := _NUMBERED.match(raw) or _HASHLINE.match(raw):
            lines[int(m.group(1))] = m.group(2)
        elif m := _MORE_LINES.match(raw):
            more = int(m.group(1))
    return lines, (max(lines) if lines else 0) + more


# -- paths -------------------------------------------------------------------


class Paths:
    """Turns the paths the tools answer into paths relative to the workspace root.

    The roots: the prompt's ``Workspace:`` line when there is one, and the prefix read
    off the absolute paths a glob of a top-level directory answered (the same directory
    with its symlinks resolved, or the only root known).
    """

    def __init__(self, root: str | None) -> None:
        self.roots = [root.rstrip("/") or "/"] if root else []

    def _add(self, root: str) -> None:
        if root not in self.roots:
            self.roots.append(root)

    def learn(self, unit: str, answered: list[str]) -> None:
        """Infer the root from a glob of ``unit``: the prefix every answered path shares."""
        if not answered or not all(p.startswith("/") for p in answered):
            return
        if any(p.startswith(f"{root.rstrip('/')}/{unit.strip('/')}/") for p in answered for root in self.roots):
            return
        marker = f"/{unit.strip('/')}/"
        common: set[str] | None = None
        for path in answered:
            roots = {path[:i] for i in range(len(path)) if path.startswith(marker, i)}
            common = roots if common is None else common & roots
        if common:
            self._add(max(common, key=len) or "/")

    def learn_file(self, name: str, answered: str) -> None:
        """Infer the root from a grep of the top-level file ``name`` that answered ``answered``."""
        if answered.startswith("/") and answered.endswith("/" + name) and not any(
                answered == f"{root.rstrip('/')}/{name}" for root in self.roots):
            self._add(answered[: -len(name) - 1] or "/")

    def rel(self, path: str) -> str:
        for root in self.roots:
            prefix = root.rstrip("/") + "/"
            if path.startswith(prefix):
                path = path[len(prefix):]
                break
        else:
            path = path.removeprefix("./")
        return posixpath.normpath(path) if path else path


def reviewable(path: str) -> bool:
    """Not in a hidden, cache, environment or vendored directory."""
    parts = path.split("/")[:-1]
    return not any(p.startswith(".") or p in SKIPPED_DIRS or p.endswith(".egg-info")
                   for p in parts)
