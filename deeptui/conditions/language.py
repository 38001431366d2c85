"""The safe condition language: task conditions, parsed, never eval'd.

A condition is parsed with :mod:`ast` and every node is checked against a
whitelist, then turned into a tree of small Python closures; user text is
never passed to ``eval``, ``exec`` or ``compile`` into a code object. Names
are task ids (``lint.failed``), ``task("fix-issues")`` and
``tasks["fix-issues"]`` reach ids that are not identifiers, and a bare task id
(``"fix-issues"``) is the orchestration guide's shorthand for ``<id>.status == "completed"``.
See docs/readme/conditions.md for the whole language. What the compiled
closures compute with is :mod:`deeptui.conditions.runtime`; trigger rules live in
:mod:`deeptui.conditions.trigger_rules` (re-exported here).
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from deeptui.conditions.runtime import (
    BINARY_OPERATORS,
    COMPARISONS,
    NUMBER,
    TASK_ATTRIBUTES,
    EvalError,
    Fn,
    TaskView,
    compare_values,
    compute,
    lookup,
    plain,
    show,
    truth,
    value_of,
)
from deeptui.errors import ConditionError
from deeptui.models import TaskResult
from deeptui.conditions.trigger_rules import TRIGGER_RULE_MEANINGS, TRIGGER_RULES, trigger_rule_met

MAX_LENGTH = 2000
MAX_DEPTH = 50
MAX_NODES = 1000
FUNCTIONS = ("any_failed", "all_completed", "any_completed", "len", "task")
_ID_SHORTHAND = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
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


def quote(text: str) -> str:
    return "'" + (text if len(text) <= 60 else text[:57] + "...") + "'"


def _position(text: str, lineno: int, col_bytes: int) -> str:
    lines = re.split(r"\r\n|\r|\n", text)
    line = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
    prefix = line.encode("utf-8", "surrogatepass")[:col_bytes]
    column = len(prefix.decode("utf-8", "replace")) + 1
    return f"column {column}" if len(lines) == 1 else f"line {lineno}, column {column}"


class Condition:
    """A parsed, validated condition of one task; evaluate it against task results."""

    __slots__ = ("expression", "task_id", "_fn", "_referenced")

    def __init__(self, expression: str, task_id: str, fn: Fn, referenced: Iterable[str]) -> None:
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
            env = {tid: TaskView(results.get(tid)) for tid in self._referenced}
            return truth(self._fn(env))
        except EvalError as exc:
            where = ""
            if exc.node is not None and hasattr(exc.node, "col_offset"):
                where = " at " + _position(self.expression, exc.node.lineno, exc.node.col_offset)
            message = exc.message + where
        except Exception as exc:  # never let anything but ConditionError out
            message = f"{type(exc).__name__}: {show(str(exc))}"
        where = f"task '{self.task_id}': condition {quote(self.expression)}"
        raise ConditionError(f"{where} could not be evaluated: {message}")

    def __repr__(self) -> str:
        return f"Condition({self.expression!r}, task_id={self.task_id!r})"


class _Compiler:
    """Checks a parsed expression against the whitelist and builds its closures."""

    def __init__(self, text: str, task_id: str, known: frozenset[str] | None) -> None:
        self.text, self.known = text, known
        self.where = f"task '{task_id}': condition {quote(text)}"
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

    def task_ref(self, node: ast.AST, task_id: str, hint: str = "") -> tuple[Fn, str]:
        if self.known is not None and task_id not in self.known:
            names = sorted(self.known)
            listed = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
            message = f"'{task_id}' is not a task of this workflow{hint} (tasks: {listed})"
            raise self.error(node, message)
        self.referenced.add(task_id)
        return (lambda env: env[task_id]), "task"

    def value(self, node: ast.AST, what: str) -> Fn:
        fn, kind = self.compile(node)
        if kind == "task":
            message = f"a task cannot be used {what}; use an attribute such as .status or .output"
            raise self.error(node, message)
        return fn

    def compile(self, node: ast.AST) -> tuple[Fn, str]:
        """Return (closure, kind) where kind is "task", "output" (output data) or "value"."""
        handler = getattr(self, "c_" + type(node).__name__, None)
        if handler is not None:
            return handler(node)
        what = _FORBIDDEN_SYNTAX.get(type(node), f"'{type(node).__name__}' syntax")
        raise self.error(node, f"{what} is not allowed in a condition")

    def c_Constant(self, node: ast.Constant) -> tuple[Fn, str]:
        if node.value is not None and not isinstance(node.value, (str, int, float)):
            message = f"the constant {show(node.value)} is not allowed (use str, number, bool)"
            raise self.error(node, message)
        value = node.value
        return (lambda env: value), "value"

    def c_Name(self, node: ast.Name) -> tuple[Fn, str]:
        name = node.id
        if name.startswith("_"):
            raise self.error(node, f"name '{name}' is not allowed (names starting with '_' are "
                                   f"reserved; write task(\"{name}\") for a task with that id)")
        if name in FUNCTIONS + ("tasks",) and (self.known is None or name not in self.known):
            raise self.error(node, f"'{name}' must be called or subscripted, not used as a value")
        return self.task_ref(node, name)

    def c_Attribute(self, node: ast.Attribute) -> tuple[Fn, str]:
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
            return (lambda env: lookup(base(env), attr, at)), "output"
        message = "only tasks and their output have attributes"
        raise self.error(at, f"attribute '{attr}' is not allowed here: {message}")

    def c_Subscript(self, node: ast.Subscript) -> tuple[Fn, str]:
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
        return (lambda env: lookup(base(env), key, node)), kind

    def c_Call(self, node: ast.Call) -> tuple[Fn, str]:
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

            def length(env: dict[str, TaskView]) -> int:
                value = plain(value_of(inner(env), node))
                if not isinstance(value, (str, list, tuple, Mapping)):
                    raise EvalError(f"len() of {show(value)}", node)
                return len(value)

            return length, "value"
        if not isinstance(arg, (ast.List, ast.Tuple)):
            raise self.error(arg, f"{name}() takes a list of task ids, e.g. {name}([\"a\", \"b\"])")
        refs = [self.list_item(name, item) for item in arg.elts]
        attr = "failed" if name == "any_failed" else "completed"
        combine = all if name == "all_completed" else any
        return (lambda env: combine(getattr(ref(env), attr) for ref in refs)), "value"

    def list_item(self, function: str, node: ast.AST) -> Fn:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return self.task_ref(node, node.value)[0]
        fn, kind = self.compile(node)
        if kind != "task":
            raise self.error(node, f"{function}() takes task ids in quotes or task names")
        return fn

    def c_BoolOp(self, node: ast.BoolOp) -> tuple[Fn, str]:
        fns = [self.compile(value)[0] for value in node.values]
        stop_when = not isinstance(node.op, ast.And)  # `and` stops at a false value, `or` at true

        def boolean(env: dict[str, TaskView]) -> Any:
            value = None
            for fn in fns:
                value = fn(env)
                if truth(value) is stop_when:
                    return value
            return value

        return boolean, "value"

    def c_UnaryOp(self, node: ast.UnaryOp) -> tuple[Fn, str]:
        if isinstance(node.op, ast.Not):
            inner = self.compile(node.operand)[0]
            return (lambda env: not truth(inner(env))), "value"
        if type(node.op) in _FORBIDDEN_OPS:
            raise self.error(node, f"the operator '{_FORBIDDEN_OPS[type(node.op)]}' is not allowed")
        operand, sign = self.value(node.operand, "in arithmetic"), isinstance(node.op, ast.USub)

        def unary(env: dict[str, TaskView]) -> Any:
            value = value_of(operand(env), node)
            if not isinstance(value, NUMBER):
                raise EvalError(f"cannot negate {show(value)}", node)
            return -value if sign else +value

        return unary, "value"

    def c_BinOp(self, node: ast.BinOp) -> tuple[Fn, str]:
        if type(node.op) not in BINARY_OPERATORS:
            symbol = _FORBIDDEN_OPS.get(type(node.op), type(node.op).__name__)
            raise self.error(node, f"the operator '{symbol}' is not allowed (use + - * / %)")
        symbol, op = BINARY_OPERATORS[type(node.op)]
        left = self.value(node.left, "in arithmetic")
        right = self.value(node.right, "in arithmetic")
        return (lambda env: compute(symbol, op, left(env), right(env), node)), "value"

    def c_Compare(self, node: ast.Compare) -> tuple[Fn, str]:
        for op in node.ops:
            if type(op) not in COMPARISONS:
                hint = " (use == or !=)" if isinstance(op, (ast.Is, ast.IsNot)) else ""
                symbol = _FORBIDDEN_OPS.get(type(op), "?")
                raise self.error(node, f"the operator '{symbol}' is not allowed{hint}")
        ops = [COMPARISONS[type(op)] for op in node.ops]
        fns = [self.value(part, "in a comparison") for part in [node.left, *node.comparators]]

        def compare(env: dict[str, TaskView]) -> bool:
            left = fns[0](env)
            for (symbol, op), fn in zip(ops, fns[1:]):
                right = fn(env)
                if not compare_values(symbol, op, left, right, node):
                    return False
                left = right
            return True

        return compare, "value"

    def c_List(self, node: ast.List | ast.Tuple) -> tuple[Fn, str]:
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
        raise ConditionError(f"{compiler.where} cannot be parsed: {show(str(exc))}") from None
    compiler.check_size(tree)
    fn = compiler.compile(tree.body)[0]
    return Condition(text, task_id, fn, compiler.referenced)


__all__ = [
    "FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "MAX_NODES", "TASK_ATTRIBUTES",
    "TRIGGER_RULES", "TRIGGER_RULE_MEANINGS", "Condition", "parse_condition",
    "quote", "trigger_rule_met",
]
