"""What every task runner gets and may raise: the task context, the failure type, the agent prompt."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from deeptui.models import TaskChanges, TaskDefinition, TaskUsage

LogFn = Callable[[str, str], None]  # (kind, text)


class TaskFailure(Exception):
    """A task body that ran and failed (non-zero exit, a model error...)."""


@dataclass
class TaskContext:
    """What a runner gets: the task, its run, its dependencies' outputs, where to log."""

    task: TaskDefinition
    workflow_id: str
    run_id: str
    dependency_outputs: dict[str, Any]
    agent_type: str | None
    log: LogFn
    usage: TaskUsage = field(default_factory=TaskUsage)
    timeout: Any = None  # the attempt's asyncio.Timeout: paused while a person is asked
    changes: TaskChanges | None = None  # a writing task's diff, set by its runner
    placed: Callable[[str], None] | None = None  # a remote runner names the worker it ran on


# A task kind's runner: the orchestrator's registry (kind -> Runner) is what executors call.
Runner = Callable[[TaskContext], Awaitable[Any]]


def _render(value: Any, limit: int = 4000) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, indent=2)
    return text if len(text) <= limit else text[:limit] + "\n[... truncated]"


def one_line(value: Any, limit: int = 200) -> str:
    """A log-line rendering: compact, one line, cut with an ellipsis."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_prompt(ctx: TaskContext, workspace: str | None = None) -> str:
    """The user prompt of an agent task: what to do, with what, after what, on which files."""
    task = ctx.task
    lines = [f"Task: {task.id}", f"Description: {task.description or task.id}"]
    if workspace is not None:
        lines.append(f"Workspace: {workspace} (use the file tools with paths relative to it)")
        lines.append("Writes: yes (your changes become a diff the user reviews)" if task.writes
                     else "Writes: no (read-only: do not try to change files)")
    if task.expected_output_type:
        lines.append(f"Expected output: {task.expected_output_type}")
    if task.parameters:
        lines += ["", "Parameters:", _render(task.parameters)]
    if ctx.dependency_outputs:
        lines += ["", "Results of the tasks this one depends on:"]
        for dep, output in ctx.dependency_outputs.items():
            lines += [f"--- {dep} ---", _render(output)]
    return "\n".join(lines)
