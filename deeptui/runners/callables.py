"""Callable tasks: Python functions registered by name and called with the task's inputs."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial
from typing import Any

from deeptui.errors import WorkflowValidationError
from deeptui.models import TaskDefinition
from deeptui.runners.context import TaskContext

TaskCallable = Callable[[TaskDefinition, dict[str, Any], dict[str, Any]], Any]


def noop(task: TaskDefinition, parameters: dict[str, Any], dependencies: dict[str, Any]) -> None:
    """The built-in ``callable: noop``: does nothing, returns None (a workflow file's
    placeholder task, and what the scale benchmark runs 100,000 of)."""
    return None


noop.never_cached = True  # type: ignore[attr-defined]  # its result is None, always: nothing to reuse
BUILT_IN: dict[str, TaskCallable] = {"noop": noop}  # registered in every registry


class CallableRegistry:
    """Python functions that callable tasks name in ``parameters["callable"]``
    (``noop`` is built in; registering the name again replaces it)."""

    def __init__(self) -> None:
        self._functions: dict[str, TaskCallable] = dict(BUILT_IN)
        self._plain: dict[str, TaskCallable] = dict(BUILT_IN)  # the plain functions among them

    def register(self, name: str, fn: TaskCallable) -> None:
        if not callable(fn):
            raise TypeError(f"callable '{name}' is not callable: {fn!r}")
        self._functions[name] = fn
        self._plain.pop(name, None)
        if inspect.isfunction(fn) and not (inspect.iscoroutinefunction(fn)
                                           or inspect.isasyncgenfunction(fn)):
            self._plain[name] = fn

    def __contains__(self, name: object) -> bool:
        return name in self._functions

    def names(self) -> list[str]:
        return sorted(self._functions)

    def find(self, task: TaskDefinition) -> TaskCallable | None:
        """The function the task names, or None."""
        name = task.parameters.get("callable")
        return self._functions.get(name) if isinstance(name, str) else None

    def plain(self, task: TaskDefinition) -> TaskCallable | None:
        """The function the task names when it is a plain ``def`` (not ``async def``, not
        another callable object), or None: such a function may run inline (it can still
        return an awaitable, which its caller must then await)."""
        name = task.parameters.get("callable")
        return self._plain.get(name) if isinstance(name, str) else None

    def get(self, task: TaskDefinition) -> TaskCallable:
        fn = self.find(task)
        if fn is None:
            name = task.parameters.get("callable")
            known = ", ".join(self.names()) or "none registered"
            raise WorkflowValidationError(
                f"task '{task.id}': callable '{name}' is not registered "
                f"(orchestrator.register_callable(name, fn); registered: {known})"
            )
        return fn


async def run_callable_task(ctx: TaskContext, registry: CallableRegistry) -> Any:
    """Call ``fn(task, parameters, dependency_outputs)``; await it if it is a coroutine."""
    fn = registry.get(ctx.task)
    result = fn(ctx.task, ctx.task.parameters, ctx.dependency_outputs)
    # None (a side-effect callable's usual output) is never awaitable: skip the ABC check
    if result is not None and inspect.isawaitable(result):
        result = await result
    return result


def local_registry(runner: object) -> CallableRegistry | None:
    """The registry a callable runner calls in this process, or None when the runner is
    another (e.g. ``--cluster``'s, whose bodies run on Dask workers)."""
    if isinstance(runner, partial) and runner.func is run_callable_task:
        registry = runner.keywords.get("registry")
        return registry if isinstance(registry, CallableRegistry) else None
    return None
