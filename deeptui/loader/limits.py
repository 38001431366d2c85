"""What a workflow file may hold: nesting depth, values after YAML aliases, string keys
and finite numbers (`check_values`, `check_nodes`), and `Problem`, the error they raise
with where it is (a data path or a line and column)."""

from __future__ import annotations

import math
from typing import Any

import yaml

from deeptui.loader.errors import Loc, short

MAX_DEPTH = 100  # nesting of lists/mappings
MAX_VALUES = 2_000_000  # values after expanding YAML aliases


class Problem(Exception):
    """An error inside parsing, with a location as a data path or a (line, col)."""

    def __init__(self, message: str, path: Loc | None = None,
                 pos: tuple[int, int] | None = None) -> None:
        super().__init__(message)
        self.message, self.path, self.pos = message, path, pos


def check_nodes(root: yaml.Node) -> None:
    """Bound a YAML graph with aliases before building it: expansion, depth, recursion."""
    size: dict[int, int] = {}  # values below a node once aliases are expanded
    depth: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        children = _collections(node)
        if done:
            count = 1 + (len(node.value) * 2 if isinstance(node, yaml.MappingNode) else len(node.value))
            count += sum(size[id(c)] - 1 for c in children)
            size[id(node)] = count
            depth[id(node)] = level = 1 + max((depth[id(c)] for c in children), default=0)
            open_nodes.discard(id(node))
            if count > MAX_VALUES:
                raise _mark_problem(node, f"the document expands to more than {MAX_VALUES:,} "
                                    "values through YAML aliases (an alias bomb?); refusing it")
            if level > MAX_DEPTH:
                raise _mark_problem(node, f"nesting is too deep (more than {MAX_DEPTH} levels)")
        elif id(node) not in size:
            if id(node) in open_nodes:
                raise _mark_problem(node, "a YAML alias refers to its own parent (recursive data)")
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in size)


def _collections(node: yaml.Node) -> list[yaml.Node]:
    """The sequence and mapping nodes directly inside ``node`` (keys included)."""
    if isinstance(node, yaml.SequenceNode):
        items = node.value
    elif isinstance(node, yaml.MappingNode):
        items = [n for pair in node.value for n in pair]
    else:
        return []
    return [n for n in items if not isinstance(n, yaml.ScalarNode)]


def _mark_problem(node: yaml.Node, message: str) -> Problem:
    mark = node.start_mark
    return Problem(message, pos=(mark.line + 1, mark.column + 1))


def check_values(data: Any) -> None:
    """Depth, string keys and finite numbers, so that every value round-trips.

    The walk keeps no paths (a 100,000-task file has millions of values); at anything
    unusual it hands over to `check_paths`, which walks again naming where."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth = pop()
        kind = type(value)
        if kind is dict or kind is list:
            depth += 1
            if value and depth >= MAX_DEPTH:
                return check_paths(data)
            if kind is dict:
                for key in value:
                    if type(key) is not str:
                        return check_paths(data)
                value = value.values()
            for item in value:
                kind = type(item)
                if kind is not str and kind is not int and kind is not bool and item is not None:
                    push((item, depth))
        elif kind is float:
            if not math.isfinite(value):
                return check_paths(data)
        elif isinstance(value, (dict, list, float)):  # a subclass: the careful walk decides
            return check_paths(data)
    return None


def check_paths(data: Any) -> None:
    """`_check_values`, keeping each value's path to name where a problem is."""
    stack: list[tuple[Any, Loc]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if len(path) >= MAX_DEPTH:
            raise Problem(f"nesting is too deep (more than {MAX_DEPTH} levels)", path[:3])
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise Problem(f"key {short(repr(key))} is not a string (quote it)", path)
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, i)) for i, item in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            raise Problem(f"{value} is not allowed (use a finite number)", path)
