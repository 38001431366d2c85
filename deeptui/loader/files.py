"""Workflow files (YAML, JSON, TOML) to ``WorkflowDefinition`` and back.

A file maps one-to-one onto ``WorkflowDefinition`` (unknown fields are
errors). Every problem, including hostile input (not UTF-8, huge, deeply
nested, YAML alias bombs), raises one ``WorkflowFileError`` whose message is a
single line naming the file, the line and column where the parser gives one,
the task and the field. Values are JSON-compatible: strings as keys, finite
numbers, no dates or custom tags, so load -> dump -> load is exact.
"""

from __future__ import annotations

import gc
import json
import re
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tomli_w
import yaml
from pydantic import ValidationError

from deeptui.errors import WorkflowFileError
from deeptui.loader.errors import Loc, describe, describe_each, exc_text, kind_of, label, one_line, short, where
from deeptui.loader.limits import MAX_DEPTH, MAX_VALUES, Problem as _Problem
from deeptui.loader.limits import check_nodes as _check_nodes, check_values as _check_values
from deeptui.loader.yaml_events import NodeLoader, read_plain
from deeptui.models import WorkflowDefinition

MAX_FILE_BYTES = 20 * 1024 * 1024  # larger workflow files are refused unread
SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".toml": "toml"}
FORMATS = ("yaml", "json", "toml")

Locator = Callable[[Loc, bool], "tuple[int, int] | None"]

_EMPTY = object()  # what a parser returns for a file without content


# ---------------------------------------------------------------- loading


def load_workflow(path: str | Path) -> WorkflowDefinition:
    """Read a workflow file; the format comes from the suffix (.yaml/.yml/.json/.toml)."""
    source = str(path)
    try:
        file = Path(path)
        fmt = _format_of(file, source)
        try:
            if file.is_dir():
                raise WorkflowFileError(f"{source}: is a directory, not a workflow file")
            size = file.stat().st_size
            if size > MAX_FILE_BYTES:
                raise WorkflowFileError(
                    f"{source}: file is {size / 2**20:.1f} MB, larger than the "
                    f"{MAX_FILE_BYTES // 2**20} MB limit for workflow files")
            raw = file.read_bytes()
        except FileNotFoundError:
            raise WorkflowFileError(f"{source}: no such file") from None
        except OSError as exc:
            raise WorkflowFileError(f"{source}: cannot read: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            raise WorkflowFileError(
                f"{source}:{line}:{col}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                "save the file as UTF-8") from None
        workflow = loads_workflow(text, fmt, source)
        if workflow.workspace is not None:  # `workspace: .` means the file's own folder
            where = (file.parent / Path(workflow.workspace).expanduser()).resolve()
            workflow = workflow.model_copy(update={"workspace": str(where)})
        return workflow
    except WorkflowFileError as exc:
        raise _one_line(exc) from None
    except Exception as exc:  # the boundary: nothing else escapes
        raise WorkflowFileError(one_line(f"{source}: cannot load workflow: {exc_text(exc)}")) from None


def loads_workflow(text: str, format: str, source: str = "<string>") -> WorkflowDefinition:
    """Parse workflow text in ``format`` ("yaml", "yml", "json" or "toml")."""
    try:
        return _loads(text, _normal_format(format, source), source)
    except WorkflowFileError as exc:
        raise _one_line(exc) from None
    except _Problem as exc:
        raise WorkflowFileError(one_line(where(source, exc.pos) + exc.message)) from None
    except RecursionError:
        raise WorkflowFileError(
            f"{source}: nesting is too deep (more than {MAX_DEPTH} levels)") from None
    except Exception as exc:
        raise WorkflowFileError(one_line(f"{source}: cannot load workflow: {exc_text(exc)}")) from None


def _loads(text: str, fmt: str, source: str) -> WorkflowDefinition:
    with _gc_paused():
        return _load_data(text, fmt, source)


def _load_data(text: str, fmt: str, source: str) -> WorkflowDefinition:
    if len(text) > MAX_FILE_BYTES:
        raise WorkflowFileError(f"{source}: text is larger than the "
                                f"{MAX_FILE_BYTES // 2**20} MB limit for workflow files")
    if fmt == "yaml" and isinstance(data := read_plain(text, MAX_DEPTH), dict):
        try:  # the common case, fast: no node tree
            _check_values(data)
            return WorkflowDefinition.model_validate(data)
        except (_Problem, ValidationError):
            pass  # the node tree path below words the error with its line:column
    parse = {"yaml": _parse_yaml, "json": _parse_json, "toml": _parse_toml}[fmt]
    data, locate = parse(text)
    if data is _EMPTY:
        raise WorkflowFileError(f"{source}: file is empty; a workflow needs at least an 'id'")
    if not isinstance(data, dict):
        raise WorkflowFileError(f"{source}: expected a mapping of workflow fields at the "
                                f"top level, got {kind_of(data)}")
    try:
        _check_values(data)
    except _Problem as exc:
        path = exc.path or ()
        raise _Problem(label(data, path) + exc.message, pos=locate(path, True)) from None
    try:
        return WorkflowDefinition.model_validate(data)
    except ValidationError as exc:
        message, loc, at_key = describe(exc, data)
        error = WorkflowFileError(where(source, locate(loc, at_key) if loc else None) + message)
        error.problems = [where(source, locate(loc, at_key) if loc else None) + text
                          for text, loc, at_key in describe_each(exc, data)]
        raise error from None


def _one_line(exc: WorkflowFileError) -> WorkflowFileError:
    """The error with its message, and each of its problems, on one line."""
    error = WorkflowFileError(one_line(str(exc)))
    error.problems = [one_line(problem) for problem in getattr(exc, "problems", None) or []]
    return error


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic GC while parsing and building objects that all stay alive (it took a
    quarter of the time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parse_yaml(text: str) -> tuple[Any, Locator]:
    loader = None
    try:
        loader = NodeLoader(text)
        node = loader.get_single_node()
        if node is None:
            return _EMPTY, _no_position
        if "*" in text:  # aliases: bound their expansion before building anything
            _check_nodes(node)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = exc.problem or exc.context or "invalid YAML"
        if tag := re.search(r"constructor for the tag '(.*)'", detail):
            detail = (f"unsupported YAML tag '{tag[1].replace('tag:yaml.org,2002:', '!!')}'; "
                      "use plain strings, numbers, booleans, null, lists and mappings")
        else:
            detail = f"syntax error: {detail}" + (f" ({exc.context})" if exc.context and exc.problem else "")
        raise _Problem(detail, pos=(mark.line + 1, mark.column + 1) if mark else None) from None
    except yaml.reader.ReaderError as exc:
        pos = exc.position if isinstance(exc.position, int) else 0
        line = text.count("\n", 0, pos) + 1
        raise _Problem(f"syntax error: {exc.reason} (character #x{exc.character:04x})"
                       if isinstance(exc.character, int) else f"syntax error: {exc.reason}",
                       pos=(line, pos - text.rfind("\n", 0, pos))) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lambda loc, at_key: _yaml_position(node, loc, at_key)


def _parse_json(text: str) -> tuple[Any, Locator]:
    if not text.strip():
        return _EMPTY, _no_position
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs), _no_position
    except json.JSONDecodeError as exc:
        raise _Problem(f"syntax error: {exc.msg}", pos=(exc.lineno, exc.colno)) from None


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Problem(f"duplicate key '{short(key)}'")
            seen.add(key)
    return data


def _parse_toml(text: str) -> tuple[Any, Locator]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
        pos = (int(match[1]), int(match[2])) if match else None
        message = message[: match.start()] if match else message
        raise _Problem(f"syntax error: {message}", pos=pos) from None
    return (_EMPTY if not data and not text.strip() else data), _no_position


def _no_position(loc: Loc, at_key: bool) -> None:
    return None


def _yaml_position(root: yaml.Node, loc: Loc, at_key: bool) -> tuple[int, int] | None:
    """Line and column of the value at ``loc`` (or of its key), else of the nearest parent."""
    node: yaml.Node = root
    for i, part in enumerate(loc):
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    nxt = key if at_key and i == len(loc) - 1 else value
        if nxt is None:
            break
        node = nxt
    return node.start_mark.line + 1, node.start_mark.column + 1



# ---------------------------------------------------------------- dumping


def dump_workflow(workflow: WorkflowDefinition, path_or_format: str | Path) -> str:
    """Return the workflow as text; given a path (.yaml/.yml/.json/.toml) also write it there.

    Only fields that differ from their defaults are written, in the model's
    order, so the file stays short; loading it gives an equal workflow.
    """
    as_format = isinstance(path_or_format, str) and path_or_format.lower() in (*FORMATS, "yml")
    target = None if as_format else Path(path_or_format)
    fmt = _normal_format(str(path_or_format), "") if as_format else ""
    source = f"workflow '{workflow.id}' as {fmt}" if as_format else str(path_or_format)
    fmt = fmt or _format_of(target, source)
    data = workflow.model_dump(mode="json", exclude_defaults=True)
    try:
        _check_values(data)
        if fmt == "yaml":
            text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=88)
        elif fmt == "json":
            text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        else:
            text = tomli_w.dumps(_without_none(data, ()))
        if target is not None:
            target.write_text(text, encoding="utf-8")
    except _Problem as exc:
        field = label(data, exc.path or ())
        raise WorkflowFileError(one_line(f"{source}: cannot write: {field}{exc.message}")) from None
    except OSError as exc:
        raise WorkflowFileError(f"{source}: cannot write: {exc.strerror or exc}") from None
    except Exception as exc:
        raise WorkflowFileError(one_line(f"{source}: cannot write: {exc_text(exc)}")) from None
    return text


def _without_none(value: Any, path: Loc) -> Any:
    """TOML has no null: drop None values from mappings; None inside a list cannot be written."""
    if isinstance(value, dict):
        return {k: _without_none(v, (*path, k)) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        if any(item is None for item in value):
            raise _Problem("a list holds null, which TOML cannot represent (use YAML or JSON)", path)
        return [_without_none(item, (*path, i)) for i, item in enumerate(value)]
    return value


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Readable YAML: short lists of scalars inline, multi-line strings as blocks."""


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    flat = all(isinstance(v, (str, int, float, bool, type(None))) and "\n" not in str(v) for v in value)
    flow = flat and sum(len(str(v)) + 2 for v in value) <= 60
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value.rstrip("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(str, _represent_str)


# ---------------------------------------------------------------- formats


def _format_of(path: Path | None, source: str) -> str:
    suffix = path.suffix.lower() if path is not None else ""
    if suffix not in SUFFIXES:
        shown = f"'{suffix}'" if suffix else "(no suffix)"
        raise WorkflowFileError(f"{source}: unknown workflow file type {shown}; "
                                "use .yaml, .yml, .json or .toml")
    return SUFFIXES[suffix]


def _normal_format(fmt: str, source: str) -> str:
    name = fmt.lower().lstrip(".")
    name = "yaml" if name == "yml" else name
    if name not in FORMATS:
        raise WorkflowFileError(f"{source}: unknown workflow format '{short(fmt)}'; "
                                "use yaml, json or toml")
    return name
