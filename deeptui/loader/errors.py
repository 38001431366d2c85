"""Loader error messages: one line naming the file, line:column, task and field.

Turns a pydantic ``ValidationError`` of a workflow file into its problems in
words, each one line (unknown fields with a "did you mean", known synonyms
included: ``retries`` -> ``retry_config``; missing fields, bad values, the graph
check's duplicate ids and unknown dependencies, pointed at their entry), and
holds the small text helpers the loader's other messages use.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from deeptui.models import WorkflowDefinition

Loc = tuple[int | str, ...]


def describe(exc: ValidationError, data: dict[str, Any]) -> tuple[str, Loc, bool]:
    """The first validation error as (message, data path, points at a key); the message
    ends with how many more there are (see ``describe_each`` for all of them)."""
    problems = describe_each(exc, data)
    message, loc, at_key = problems[0]
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem{'s' * (len(problems) > 2)})"
    return message, loc, at_key


def describe_each(exc: ValidationError, data: dict[str, Any]) -> list[tuple[str, Loc, bool]]:
    """Every validation error, in the file's order, as (message, data path, points at a key)."""
    return [_word(err, data) for err in exc.errors()]


def _word(err: Any, data: dict[str, Any]) -> tuple[str, Loc, bool]:
    """One pydantic error in words, naming the task and the field."""
    loc: Loc = tuple(err["loc"])
    kind, ctx = err["type"], err.get("ctx") or {}
    if not loc:  # the graph check of the whole workflow
        message = str(ctx.get("error") or err["msg"]).removeprefix("Value error, ")
        return message, _graph_path(message, data), False
    subject, rest = _split_task(data, loc)
    field = _field(rest)
    if kind == "extra_forbidden":
        name, parent = str(rest[-1]), _field(tuple(rest[:-1]))
        text = f"unknown field '{short(name)}'" + (f" in {parent}" if parent else "")
        text += _suggest(name, _model_fields(loc[:-1]))
        return subject + text, loc, True
    if kind == "missing":
        parent = _field(tuple(rest[:-1]))
        text = f"missing required field '{rest[-1]}'" + (f" in {parent}" if parent else "")
        return subject + text, loc, False
    if kind == "value_error":
        text = str(ctx.get("error") or err["msg"]).removeprefix("Value error, ")
        text = re.sub(r"^task '[^']*': ", "", text) if subject else text
        name = str(rest[-1]) if rest else ""
        text = text if not field or text.startswith(name) else f"{field}: {text}"
        return subject + text, loc, False
    text = err["msg"]
    text = text[:1].lower() + text[1:]
    value = err.get("input")
    if isinstance(value, (str, int, float, bool)) or value is None:
        text += f" (got {short(repr(value))})"
    if kind in ("enum", "literal_error") and isinstance(value, str):
        text += _suggest(value, re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
    return subject + (f"{field}: " if field else "") + text, loc, False


def _graph_path(message: str, data: dict[str, Any]) -> Loc:
    """Where a graph error points: the duplicate id or the bad dependency entry."""
    tasks = data.get("tasks") if isinstance(data.get("tasks"), list) else []
    ids = [t.get("id") if isinstance(t, dict) else None for t in tasks]
    if match := re.match(r"duplicate task id '(.*)'$", message):
        hits = [i for i, tid in enumerate(ids) if tid == match[1]]
        return ("tasks", hits[-1], "id") if len(hits) > 1 else ()
    if match := re.match(r"dependency cycle: (.*)$", message):  # a -> b: b depends on a
        first, second = (match[1].split(" -> ") + ["", ""])[:2]
        message = f"task '{second}' depends on unknown task '{first}'"
    match = re.match(r"task '(.*)' depends on (?:unknown task '(.*)'|itself)$", message)
    if match and match[1] in ids:
        index = ids.index(match[1])
        deps = tasks[index].get("depends_on")
        target = match[2] if match[2] is not None else match[1]
        if isinstance(deps, list) and target in deps:
            return ("tasks", index, "depends_on", deps.index(target))
        return ("tasks", index)
    return ()


def label(data: Any, path: Loc) -> str:
    """"task 'build': retry_config: " for a data path; empty for the top level."""
    subject, rest = _split_task(data, path)
    return subject + (f"{_field(rest)}: " if rest else "")


def _split_task(data: Any, loc: Loc) -> tuple[str, Loc]:
    """("task 'x': ", rest of loc) when ``loc`` is inside a task, else ("", loc)."""
    if len(loc) >= 2 and loc[0] == "tasks" and isinstance(loc[1], int):
        return _task_label(data, loc[1]) + ": ", loc[2:]
    return "", loc


def _task_label(data: dict[str, Any], index: int) -> str:
    tasks = data.get("tasks")
    task = tasks[index] if isinstance(tasks, list) and index < len(tasks) else None
    tid = task.get("id") if isinstance(task, dict) else None
    return f"task '{short(tid)}'" if isinstance(tid, str) and tid else f"task #{index + 1}"


def _field(path: Loc) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return short(text, 80)


def _model_fields(loc: Loc) -> list[str]:
    """Field names of the model found at ``loc`` inside a WorkflowDefinition, for suggestions."""
    model: Any = WorkflowDefinition
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return []
        model = model.model_fields[part].annotation
        if get_origin(model) is list:
            model = get_args(model)[0]
    return list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []


# names users write for a field (from other tools or by habit): the first one that is
# a field where the word was written is suggested ("a.b": a field a holding key b)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "retries": ("retry_config", "max_retries"),
    "retry": ("retry_config", "max_retries"),
    "max_retries": ("retry_config",),
    "attempts": ("retry_config", "max_retries"),
    "backoff": ("backoff_multiplier",),
    "delay": ("initial_delay",),
    "timeout": ("timeout_seconds", "default_timeout_seconds"),
    "timeout_s": ("timeout_seconds", "default_timeout_seconds"),
    "needs": ("depends_on",),
    "deps": ("depends_on",),
    "dependencies": ("depends_on",),
    "after": ("depends_on",),
    "type": ("task_type",),
    "kind": ("task_type",),
    "agent": ("agent_type",),
    "skills": ("required_skills",),
    "capabilities": ("required_capabilities",),
    "params": ("parameters",),
    "command": ("parameters.command",),
    "cmd": ("parameters.command",),
    "run": ("parameters.command",),
    "env": ("parameters.env",),
    "cwd": ("parameters.cwd",),
    "when": ("condition",),
    "if": ("condition",),
    "strategy": ("execution_strategy",),
    "parallel": ("max_parallel_tasks",),
    "max_parallel": ("max_parallel_tasks",),
    "concurrency": ("max_parallel_tasks",),
    "steps": ("tasks",),
    "jobs": ("tasks",),
}


def _suggest(word: str, choices: list[str]) -> str:
    for name in SYNONYMS.get(word.lower(), ()):
        if name.split(".")[0] in choices:
            return f" (did you mean '{name}'?)"
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def where(source: str, pos: tuple[int, int] | None) -> str:
    """The message prefix "file:line:col: " (or "file: " without a position)."""
    return f"{source}:{pos[0]}:{pos[1]}: " if pos else f"{source}: "


def kind_of(value: Any) -> str:
    """What a value is, in words ("a list", "null")."""
    names = {type(None): "null", list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
    return names.get(type(value), type(value).__name__)


def short(text: Any, limit: int = 60) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def exc_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {short(exc, 200)}" if str(exc) else type(exc).__name__


def one_line(message: str) -> str:
    """The message on one line, at most 1000 characters."""
    return short(" ".join(part.strip() for part in message.splitlines() if part.strip()), 1000)
