"""The safe condition language: task conditions, parsed, never eval'd.

A condition is parsed with :mod:`ast` and every node is checked against a
whitelist, then turned into a tree of small Python closures; user text is
never passed to ``eval``, ``exec`` or ``compile`` into a code object. Names
are task ids (``lint.failed``), ``task("fix-issues")`` and
``tasks["fix-issues"]`` reach ids that are not identifiers, and a bare task id
(``"fix-issues"``) is the seed's shorthand for ``<id>.status == "completed"``.
See docs/readme/conditions.md for the whole language. Trigger rules live in
:mod:`deeptui.trigger_rules` (re-exported here).
"""

from __future__ import annotations

import ast
import operator
import re
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from deeptui.errors import ConditionError
from deeptui.graph import WorkflowGraph
from deeptui.models import TaskResult, TaskStatus, WorkflowDefinition
from deeptui.trigger_rules import TRIGGER_RULE_MEANINGS, TRIGGER_RULES, trigger_rule_met

MAX_LENGTH = 2000
MAX_DEPTH = 50
MAX_NODES = 1000
TASK_ATTRIBUTES = (
    "status", "completed", "failed", "skipped", "cancelled",
    "output", "error", "attempts", "duration",
)
FUNCTIONS = ("any_failed", "all_completed", "any_completed", "len", "task")
_ID_SHORTHAND = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_NUMBER = (int, float)
_JOINABLE = (str, list, tuple)
_CONTAINERS = (list, tuple, Mapping, set, frozenset)
_FORBIDDEN_OPS = {
    ast.Pow: "**", ast.FloorDiv: "//", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|",
    ast.BitXor: "^", ast.BitAnd: "&", ast.MatMult: "@", ast.Invert: "~",
    ast.Is: "is", ast.IsNot: "is not",
}
_FORBIDDEN_SYNTAX = {
    ast.Lambda: "a lambda", ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension", ast.GeneratorExp: "a generator expression",
    ast.NamedExpr: "the walrus operator ':='", ast.Starred: "'*' unpacking",
    ast.JoinedStr: "an f-string", ast.FormattedValue: "an f-string", ast.IfExp: "'x if c else y'",
    ast.Dict: "a dict literal", ast.Set: "a set literal", ast.Slice: "a slice",
    ast.Await: "'await'", ast.Yield: "'yield'", ast.YieldFrom: "'yield'",
}
_BINOPS: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add), ast.Sub: ("-", operator.sub), ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv), ast.Mod: ("%", operator.mod),
}
_COMPARISONS: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Eq: ("==", operator.eq), ast.NotEq: ("!=", operator.ne),
    ast.Lt: ("<", operator.lt), ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt), ast.GtE: (">=", operator.ge),
    ast.In: ("in", lambda a, b: a in b), ast.NotIn: ("not in", lambda a, b: a not in b),
}
_Fn = Callable[[dict[str, "_TaskView"]], Any]


class _EvalError(Exception):
    """A run-time failure inside a condition, at ``node`` (turned into ConditionError)."""

    def __init__(self, message: str, node: ast.AST | None = None) -> None:
        super().__init__(message)
        self.message, self.node = message, node


class _TaskView:
    """What a condition sees of one task's result (missing result = pending)."""

    __slots__ = TASK_ATTRIBUTES

    def __init__(self, result: TaskResult | None) -> None:
        status = TaskStatus.PENDING if result is None else TaskStatus(result.status)
        self.status = str(status.value)
        self.completed = status is TaskStatus.COMPLETED
        self.failed = status is TaskStatus.FAILED
        self.skipped = status is TaskStatus.SKIPPED
        self.cancelled = status is TaskStatus.CANCELLED
        self.output = None if result is None else _plain(result.output)
        self.error = None if result is None else result.error
        self.attempts = 0 if result is None else result.attempts
        self.duration = None if result is None else result.duration_seconds


def _plain(value: Any) -> Any:
    return value.model_dump() if isinstance(value, BaseModel) else value


def _show(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # a huge int or a broken __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


def _quote(text: str) -> str:
    return "'" + (text if len(text) <= 60 else text[:57] + "...") + "'"


def _position(text: str, lineno: int, col_bytes: int) -> str:
    lines = re.split(r"\r\n|\r|\n", text)
    line = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
    prefix = line.encode("utf-8", "surrogatepass")[:col_bytes]
    column = len(prefix.decode("utf-8", "replace")) + 1
    return f"column {column}" if len(lines) == 1 else f"line {lineno}, column {column}"


def _truth(value: Any) -> bool:
    if isinstance(value, _TaskView):
        return value.completed
    try:
        return bool(value)
    except Exception:
        raise _EvalError(f"{_show(value)} is neither true nor false") from None


def _value(value: Any, node: ast.AST) -> Any:
    if isinstance(value, _TaskView):
        raise _EvalError("a task is not a value; use one of its attributes", node)
    return value


def _lookup(container: Any, key: str | int, node: ast.AST) -> Any:
    """``container[key]`` on output data: missing keys and indices give None."""
    container = _plain(_value(container, node))
    if container is None:
        return None
    if isinstance(container, Mapping):
        return container.get(key)
    if isinstance(container, (list, tuple, str)) and isinstance(key, int):
        return container[key] if -len(container) <= key < len(container) else None
    raise _EvalError(f"cannot look up {_show(key)} in {_show(container)}", node)


def _arithmetic(symbol: str, op: Callable[[Any, Any], Any], a: Any, b: Any, node: ast.AST) -> Any:
    a, b = _value(a, node), _value(b, node)
    numbers = isinstance(a, _NUMBER) and isinstance(b, _NUMBER)
    joined = symbol == "+" and any(isinstance(a, t) and isinstance(b, t) for t in _JOINABLE)
    if not (numbers or joined):
        raise _EvalError(f"cannot compute {_show(a)} {symbol} {_show(b)}", node)
    try:
        return op(a, b)
    except (ArithmeticError, ValueError) as exc:
        raise _EvalError(f"cannot compute {_show(a)} {symbol} {_show(b)}: {exc}", node) from None


def _compare(symbol: str, op: Callable[[Any, Any], Any], a: Any, b: Any, node: ast.AST) -> bool:
    a, b = _value(a, node), _value(b, node)
    if symbol in ("in", "not in") and not (
        isinstance(b, _CONTAINERS) or (isinstance(b, str) and isinstance(a, str))
    ):
        raise _EvalError(f"cannot test {_show(a)} {symbol} {_show(b)}", node)
    try:
        return bool(op(a, b))
    except Exception:
        raise _EvalError(f"cannot compare {_show(a)} {symbol} {_show(b)}", node) from None


class Condition:
    """A parsed, validated condition of one task; evaluate it against task results."""

    __slots__ = ("expression", "task_id", "_fn", "_referenced")

    def __init__(self, expression: str, task_id: str, fn: _Fn, referenced: Iterable[str]) -> None:
        self.expression, self.task_id, self._fn = expression, task_id, fn
        self._referenced = frozenset(referenced)

    @property
    def referenced_tasks(self) -> set[str]:
        """The ids of the tasks this condition reads."""
        return set(self._referenced)

    def evaluate(self, results: Mapping[str, TaskResult]) -> bool:
        """True if the task should run. Raises ConditionError naming the task if the
        expression cannot be evaluated (None > 0, "a" + 1, a division by zero...)."""
        try:
            env = {tid: _TaskView(results.get(tid)) for tid in self._referenced}
            return _truth(self._fn(env))
        except _EvalError as exc:
            where = ""
            if exc.node is not None and hasattr(exc.node, "col_offset"):
                where = " at " + _position(self.expression, exc.node.lineno, exc.node.col_offset)
            message = exc.message + where
        except Exception as exc:  # never let anything but ConditionError out
            message = f"{type(exc).__name__}: {_show(str(exc))}"
        where = f"task '{self.task_id}': condition {_quote(self.expression)}"
        raise ConditionError(f"{where} could not be evaluated: {message}")

    def __repr__(self) -> str:
        return f"Condition({self.expression!r}, task_id={self.task_id!r})"


class _Compiler:
    """Checks a parsed expression against the whitelist and builds its closures."""

    def __init__(self, text: str, task_id: str, known: frozenset[str] | None) -> None:
        self.text, self.known = text, known
        self.where = f"task '{task_id}': condition {_quote(text)}"
        self.referenced: set[str] = set()

    def error(self, node: ast.AST, message: str) -> ConditionError:
        if not hasattr(node, "lineno"):  # an operator or context node has no position
            return ConditionError(f"{self.where}: {message}")
        at = _position(self.text, node.lineno, node.col_offset)
        return ConditionError(f"{self.where}: {message} at {at}")

    def check_size(self, tree: ast.AST) -> None:
        count, stack = 0, [(tree, 1)]
        while stack:
            node, depth = stack.pop()
            count += 1
            if count > MAX_NODES:
                raise ConditionError(f"{self.where}: expression has more than {MAX_NODES} parts")
            if depth > MAX_DEPTH:
                raise self.error(node, f"expression is nested more than {MAX_DEPTH} levels deep")
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))

    def task_ref(self, node: ast.AST, task_id: str, hint: str = "") -> tuple[_Fn, str]:
        if self.known is not None and task_id not in self.known:
            names = sorted(self.known)
            listed = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
            message = f"'{task_id}' is not a task of this workflow{hint} (tasks: {listed})"
            raise self.error(node, message)
        self.referenced.add(task_id)
        return (lambda env: env[task_id]), "task"

    def value(self, node: ast.AST, what: str) -> _Fn:
        fn, kind = self.compile(node)
        if kind == "task":
            message = f"a task cannot be used {what}; use an attribute such as .status or .output"
            raise self.error(node, message)
        return fn

    def compile(self, node: ast.AST) -> tuple[_Fn, str]:
        """Return (closure, kind) where kind is "task", "output" (output data) or "value"."""
        handler = getattr(self, "c_" + type(node).__name__, None)
        if handler is not None:
            return handler(node)
        what = _FORBIDDEN_SYNTAX.get(type(node), f"'{type(node).__name__}' syntax")
        raise self.error(node, f"{what} is not allowed in a condition")

    def c_Constant(self, node: ast.Constant) -> tuple[_Fn, str]:
        if node.value is not None and not isinstance(node.value, (str, int, float)):
            message = f"the constant {_show(node.value)} is not allowed (use str, number, bool)"
            raise self.error(node, message)
        value = node.value
        return (lambda env: value), "value"

    def c_Name(self, node: ast.Name) -> tuple[_Fn, str]:
        name = node.id
        if name.startswith("_"):
            raise self.error(node, f"name '{name}' is not allowed (names starting with '_' are "
                                   f"reserved; write task(\"{name}\") for a task with that id)")
        if name in FUNCTIONS + ("tasks",) and (self.known is None or name not in self.known):
            raise self.error(node, f"'{name}' must be called or subscripted, not used as a value")
        return self.task_ref(node, name)

    def c_Attribute(self, node: ast.Attribute) -> tuple[_Fn, str]:
        attr, base, kind = node.attr, *self.compile(node.value)
        column = (node.end_col_offset or 0) - len(attr.encode())
        at = ast.Name(attr, lineno=node.end_lineno, col_offset=column)  # where the name starts
        if attr.startswith("_"):
            message = "names starting with '_' are never accessible"
            raise self.error(at, f"attribute '{attr}' is not allowed ({message})")
        if kind == "task":
            if attr not in TASK_ATTRIBUTES:
                message = f"use one of {', '.join(TASK_ATTRIBUTES)}"
                raise self.error(at, f"tasks have no attribute '{attr}' ({message})")
            return (lambda env: getattr(base(env), attr)), "output" if attr == "output" else "value"
        if kind == "output":
            return (lambda env: _lookup(base(env), attr, at)), "output"
        message = "only tasks and their output have attributes"
        raise self.error(at, f"attribute '{attr}' is not allowed here: {message}")

    def c_Subscript(self, node: ast.Subscript) -> tuple[_Fn, str]:
        key_node, key = node.slice, None
        if isinstance(key_node, ast.Constant) and type(key_node.value) in (str, int):
            key = key_node.value
        elif isinstance(key_node, ast.UnaryOp) and isinstance(key_node.op, ast.USub):
            operand = key_node.operand
            if isinstance(operand, ast.Constant) and type(operand.value) is int:
                key = -operand.value
        if isinstance(node.value, ast.Name) and node.value.id == "tasks":
            if not isinstance(key, str):
                example = 'tasks["fix-issues"]'
                raise self.error(key_node, f"tasks[...] takes a task id in quotes, e.g. {example}")
            return self.task_ref(node, key)
        if key is None:
            example = 'x["name"] or x[0]'
            raise self.error(key_node, f"subscripts must be a constant key or index: {example}")
        base, kind = self.compile(node.value)
        if kind == "task":
            raise self.error(node, "tasks cannot be subscripted; use an attribute such as .output")
        return (lambda env: _lookup(base(env), key, node)), kind

    def c_Call(self, node: ast.Call) -> tuple[_Fn, str]:
        allowed = ", ".join(f"{name}()" for name in FUNCTIONS)
        func = node.func
        if not isinstance(func, ast.Name) or func.id not in FUNCTIONS:
            called = "this expression"
            if isinstance(func, ast.Name):
                called = f"'{func.id}'"
            elif isinstance(func, ast.Attribute):
                called = f"the method '.{func.attr}()'"
            message = f"calling {called} is not allowed (the only functions are {allowed})"
            raise self.error(node, message)
        name = func.id
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise self.error(node, f"{name}() takes exactly one positional argument")
        arg = node.args[0]
        if name == "task":
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                raise self.error(arg, "task() takes a task id in quotes, e.g. task(\"fix-issues\")")
            return self.task_ref(node, arg.value)
        if name == "len":
            inner = self.value(arg, "in len()")

            def length(env: dict[str, _TaskView]) -> int:
                value = _plain(_value(inner(env), node))
                if not isinstance(value, (str, list, tuple, Mapping)):
                    raise _EvalError(f"len() of {_show(value)}", node)
                return len(value)

            return length, "value"
        if not isinstance(arg, (ast.List, ast.Tuple)):
            raise self.error(arg, f"{name}() takes a list of task ids, e.g. {name}([\"a\", \"b\"])")
        refs = [self.list_item(name, item) for item in arg.elts]
        attr = "failed" if name == "any_failed" else "completed"
        combine = all if name == "all_completed" else any
        return (lambda env: combine(getattr(ref(env), attr) for ref in refs)), "value"

    def list_item(self, function: str, node: ast.AST) -> _Fn:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return self.task_ref(node, node.value)[0]
        fn, kind = self.compile(node)
        if kind != "task":
            raise self.error(node, f"{function}() takes task ids in quotes or task names")
        return fn

    def c_BoolOp(self, node: ast.BoolOp) -> tuple[_Fn, str]:
        fns = [self.compile(value)[0] for value in node.values]
        stop_when = not isinstance(node.op, ast.And)  # `and` stops at a false value, `or` at true

        def boolean(env: dict[str, _TaskView]) -> Any:
            value = None
            for fn in fns:
                value = fn(env)
                if _truth(value) is stop_when:
                    return value
            return value

        return boolean, "value"

    def c_UnaryOp(self, node: ast.UnaryOp) -> tuple[_Fn, str]:
        if isinstance(node.op, ast.Not):
            inner = self.compile(node.operand)[0]
            return (lambda env: not _truth(inner(env))), "value"
        if type(node.op) in _FORBIDDEN_OPS:
            raise self.error(node, f"the operator '{_FORBIDDEN_OPS[type(node.op)]}' is not allowed")
        operand, sign = self.value(node.operand, "in arithmetic"), isinstance(node.op, ast.USub)

        def unary(env: dict[str, _TaskView]) -> Any:
            value = _value(operand(env), node)
            if not isinstance(value, _NUMBER):
                raise _EvalError(f"cannot negate {_show(value)}", node)
            return -value if sign else +value

        return unary, "value"

    def c_BinOp(self, node: ast.BinOp) -> tuple[_Fn, str]:
        if type(node.op) not in _BINOPS:
            symbol = _FORBIDDEN_OPS.get(type(node.op), type(node.op).__name__)
            raise self.error(node, f"the operator '{symbol}' is not allowed (use + - * / %)")
        symbol, op = _BINOPS[type(node.op)]
        left = self.value(node.left, "in arithmetic")
        right = self.value(node.right, "in arithmetic")
        return (lambda env: _arithmetic(symbol, op, left(env), right(env), node)), "value"

    def c_Compare(self, node: ast.Compare) -> tuple[_Fn, str]:
        for op in node.ops:
            if type(op) not in _COMPARISONS:
                hint = " (use == or !=)" if isinstance(op, (ast.Is, ast.IsNot)) else ""
                symbol = _FORBIDDEN_OPS.get(type(op), "?")
                raise self.error(node, f"the operator '{symbol}' is not allowed{hint}")
        ops = [_COMPARISONS[type(op)] for op in node.ops]
        fns = [self.value(part, "in a comparison") for part in [node.left, *node.comparators]]

        def compare(env: dict[str, _TaskView]) -> bool:
            left = fns[0](env)
            for (symbol, op), fn in zip(ops, fns[1:]):
                right = fn(env)
                if not _compare(symbol, op, left, right, node):
                    return False
                left = right
            return True

        return compare, "value"

    def c_List(self, node: ast.List | ast.Tuple) -> tuple[_Fn, str]:
        fns = [self.value(item, "in a list") for item in node.elts]
        kind = list if isinstance(node, ast.List) else tuple
        return (lambda env: kind(fn(env) for fn in fns)), "value"

    c_Tuple = c_List


def parse_condition(
    expression: str, task_id: str, known_tasks: Collection[str] | None = None
) -> Condition:
    """Parse and validate ``expression``, the condition of task ``task_id``.

    With ``known_tasks``, every task the expression names must be one of them.
    Raises ConditionError naming the task, the problem and its column.
    """
    if not isinstance(expression, str):
        got = type(expression).__name__
        raise ConditionError(f"task '{task_id}': condition must be a string, got {got}")
    text = expression.strip()
    known = None if known_tasks is None else frozenset(known_tasks)
    compiler = _Compiler(text, task_id, known)
    if not text:
        raise ConditionError(f"task '{task_id}': condition is empty; write a task id or expression")
    if len(text) > MAX_LENGTH:
        message = f"is {len(text)} characters long (at most {MAX_LENGTH})"
        raise ConditionError(f"{compiler.where} {message}")
    looks_like_id = _ID_SHORTHAND.fullmatch(text) is not None

    def shorthand(hint: str = "") -> Condition:
        node = ast.Constant(text, lineno=1, col_offset=0)
        return Condition(text, task_id, compiler.task_ref(node, text, hint)[0], compiler.referenced)

    if (known is not None and text in known) or (looks_like_id and "-" in text):
        return shorthand(" (a bare id is read as a task id; put spaces around '-' to subtract)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text, filename="<condition>", mode="eval")
    except SyntaxError as exc:
        if looks_like_id:  # a task id that is not a Python name, e.g. "step.1"
            return shorthand()
        at = f" at column {exc.offset}" if exc.offset and "\n" not in text else ""
        raise ConditionError(f"{compiler.where} is not valid syntax: {exc.msg}{at}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ConditionError(f"{compiler.where} cannot be parsed: {_show(str(exc))}") from None
    compiler.check_size(tree)
    fn = compiler.compile(tree.body)[0]
    return Condition(text, task_id, fn, compiler.referenced)


def workflow_conditions(workflow: WorkflowDefinition) -> dict[str, Condition]:
    """Parse every task's condition; check each names only upstream tasks."""
    graph: WorkflowGraph | None = None
    conditions: dict[str, Condition] = {}
    for task in workflow.tasks:
        if task.condition is None:
            continue
        condition = parse_condition(task.condition, task.id, workflow.task_ids)
        graph = graph or WorkflowGraph(workflow)
        upstream = graph.upstream(task.id)
        outside = [tid for tid in workflow.task_ids if tid in condition.referenced_tasks - upstream]
        if outside:
            name, where = outside[0], f"task '{task.id}': condition {_quote(condition.expression)}"
            if name == task.id:
                raise ConditionError(f"{where} references the task itself")
            raise ConditionError(
                f"{where} references task '{name}', which is not upstream of '{task.id}': a "
                f"condition may only read tasks that finish first (add '{name}' to depends_on, "
                "directly or through another dependency)"
            )
        conditions[task.id] = condition
    return conditions


def validate_workflow_conditions(workflow: WorkflowDefinition) -> None:
    """Raise ConditionError naming the task for the first bad condition in ``workflow``."""
    workflow_conditions(workflow)


__all__ = [
    "FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "MAX_NODES", "TASK_ATTRIBUTES",
    "TRIGGER_RULES", "TRIGGER_RULE_MEANINGS", "Condition", "parse_condition",
    "trigger_rule_met", "validate_workflow_conditions", "workflow_conditions",
]
