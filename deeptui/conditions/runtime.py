"""What a compiled condition computes with: task views and checked operations.

A condition's closures see each task as a `TaskView` (status flags, output,
error, attempts, duration) and combine values only through the functions here,
which refuse what the language does not allow ("a" + 1, None > 0, len(3)) with
an `EvalError` at the offending node; `Condition.evaluate` turns it into a
ConditionError naming the task.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from deeptui.models import TaskResult, TaskStatus

TASK_ATTRIBUTES = (
    "status", "completed", "failed", "skipped", "cancelled",
    "output", "error", "attempts", "duration",
)
NUMBER = (int, float)
_JOINABLE = (str, list, tuple)
_CONTAINERS = (list, tuple, Mapping, set, frozenset)
BINARY_OPERATORS: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add), ast.Sub: ("-", operator.sub), ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv), ast.Mod: ("%", operator.mod),
}
COMPARISONS: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Eq: ("==", operator.eq), ast.NotEq: ("!=", operator.ne),
    ast.Lt: ("<", operator.lt), ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt), ast.GtE: (">=", operator.ge),
    ast.In: ("in", lambda a, b: a in b), ast.NotIn: ("not in", lambda a, b: a not in b),
}
Fn = Callable[[dict[str, "TaskView"]], Any]  # a compiled part of a condition


class EvalError(Exception):
    """A run-time failure inside a condition, at ``node`` (turned into ConditionError)."""

    def __init__(self, message: str, node: ast.AST | None = None) -> None:
        super().__init__(message)
        self.message, self.node = message, node


class TaskView:
    """What a condition sees of one task's result (missing result = pending)."""

    __slots__ = TASK_ATTRIBUTES

    def __init__(self, result: TaskResult | None) -> None:
        status = TaskStatus.PENDING if result is None else TaskStatus(result.status)
        self.status = str(status.value)
        self.completed = status is TaskStatus.COMPLETED
        self.failed = status is TaskStatus.FAILED
        self.skipped = status is TaskStatus.SKIPPED
        self.cancelled = status is TaskStatus.CANCELLED
        self.output = None if result is None else plain(result.output)
        self.error = None if result is None else result.error
        self.attempts = 0 if result is None else result.attempts
        self.duration = None if result is None else result.duration_seconds


def plain(value: Any) -> Any:
    """Output data as plain values (a pydantic model as its dict)."""
    return value.model_dump() if isinstance(value, BaseModel) else value


def show(value: Any) -> str:
    """A value for an error message: its repr, at most 40 characters."""
    try:
        text = repr(value)
    except Exception:  # a huge int or a broken __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


def truth(value: Any) -> bool:
    if isinstance(value, TaskView):
        return value.completed
    try:
        return bool(value)
    except Exception:
        raise EvalError(f"{show(value)} is neither true nor false") from None


def value_of(value: Any, node: ast.AST) -> Any:
    if isinstance(value, TaskView):
        raise EvalError("a task is not a value; use one of its attributes", node)
    return value


def lookup(container: Any, key: str | int, node: ast.AST) -> Any:
    """``container[key]`` on output data: missing keys and indices give None."""
    container = plain(value_of(container, node))
    if container is None:
        return None
    if isinstance(container, Mapping):
        return container.get(key)
    if isinstance(container, (list, tuple, str)) and isinstance(key, int):
        return container[key] if -len(container) <= key < len(container) else None
    raise EvalError(f"cannot look up {show(key)} in {show(container)}", node)


def compute(symbol: str, op: Callable[[Any, Any], Any], a: Any, b: Any, node: ast.AST) -> Any:
    a, b = value_of(a, node), value_of(b, node)
    numbers = isinstance(a, NUMBER) and isinstance(b, NUMBER)
    joined = symbol == "+" and any(isinstance(a, t) and isinstance(b, t) for t in _JOINABLE)
    if not (numbers or joined):
        raise EvalError(f"cannot compute {show(a)} {symbol} {show(b)}", node)
    try:
        return op(a, b)
    except (ArithmeticError, ValueError) as exc:
        raise EvalError(f"cannot compute {show(a)} {symbol} {show(b)}: {exc}", node) from None


def compare_values(
    symbol: str, op: Callable[[Any, Any], Any], a: Any, b: Any, node: ast.AST
) -> bool:
    a, b = value_of(a, node), value_of(b, node)
    if symbol in ("in", "not in") and not (
        isinstance(b, _CONTAINERS) or (isinstance(b, str) and isinstance(a, str))
    ):
        raise EvalError(f"cannot test {show(a)} {symbol} {show(b)}", node)
    try:
        return bool(op(a, b))
    except Exception:
        raise EvalError(f"cannot compare {show(a)} {symbol} {show(b)}", node) from None
