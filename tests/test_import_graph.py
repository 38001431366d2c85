"""The layering, read from the source: which module imports which, deferred imports included.

Every `import` statement in deeptui/, screens/, widgets/ and workflows/ is read with `ast`,
wherever it sits (module level, inside a function, inside a try), except those under
`if TYPE_CHECKING:`, which never run (and `importlib.import_module` calls, which are not
statements). An import of `deeptui.store.writer` counts as an edge to that module only, not
to the packages above it (their `__init__` runs too, but a package importing its own
submodules is how a package works, not a cycle); an explicit import of a package
(`from deeptui.store import RunStore`) is an edge to its `__init__`, and a name that
deeptui's lazy `__init__` re-exports (`from deeptui import TaskOrchestrator`) is an edge
to the module that defines it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
# where each top-level folder is installed (pyproject's package-dir)
PACKAGE_DIRS = {
    "deeptui": "deeptui",
    "screens": "deeptui.screens",
    "widgets": "deeptui.widgets",
    "workflows": "deeptui.workflows",
}
# the only modules that may import Textual (or the screens and widgets built on it)
UI_MODULES = ("deeptui.app", "deeptui.screens", "deeptui.widgets")
UI_IMPORTS = ("textual", "deeptui.screens", "deeptui.widgets")
# lowest first: a module may import its own layer and the layers below it, never above
# (a module is in the layer of the longest prefix that names it)
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("deeptui.errors", "deeptui.models", "deeptui.blank", "deeptui.graph",
              "deeptui.routing", "deeptui.bus", "deeptui.state")),
    ("services", ("deeptui.store", "deeptui.cache", "deeptui.runners", "deeptui.loader",
                  "deeptui.conditions", "deeptui.visualize", "deeptui.metrics", "deeptui.timeline",
                  "deeptui.skills_manager", "deeptui.workflows", "deeptui.workspace",
                  "deeptui.last_values")),
    ("scheduler", ("deeptui.scheduler",)),
    ("facade", ("deeptui.orchestrator", "deeptui.checks", "deeptui.orchestration", "deeptui.types", "deeptui.settings",
                "deeptui.refresh", "deeptui.cluster")),
    ("clients", ("deeptui.cli", "deeptui.keymap", "deeptui.app", "deeptui.quitting",
                 "deeptui.screenshots", "deeptui.screens",
                 "deeptui.widgets")),
]
# deeptui/__init__.py: imports nothing when it runs (its re-exports are resolved to their
# modules above), so importing it (for __version__) is allowed from anywhere
PACKAGE_INIT = "deeptui"


@dataclass(frozen=True)
class Import:
    importer: str
    target: str  # a module of ours, or the top-level name of a third-party package
    where: str  # path:line
    deferred: bool  # inside a function or class body, not at module level

    def __str__(self) -> str:
        deferred = " (deferred: inside a function or class)" if self.deferred else ""
        return f"{self.where}: {self.importer} imports {self.target}{deferred}"


def module_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder, package in PACKAGE_DIRS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(tree: ast.Module):
    """Every import statement that can run, with whether it is deferred."""

    def walk(node: ast.AST, deferred: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.orelse:
                    yield from walk_one(stmt, deferred)
                continue
            yield from walk_one(child, deferred)

    def walk_one(node: ast.AST, deferred: bool):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, deferred
            return
        inner = deferred or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef))
        yield from walk(node, inner)

    yield from walk(tree, False)


def _resolve(name: str, modules: dict[str, Path]) -> str:
    if name in modules:
        return name
    head, _, _ = name.rpartition(".")
    if name.startswith("deeptui.") and head:
        return _resolve(head, modules)
    return name.split(".")[0]


def lazy_exports(init: Path) -> dict[str, str]:
    """deeptui's ``_EXPORTS``: public name -> the module that defines it."""
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "_EXPORTS":
            return ast.literal_eval(node.value)
    raise AssertionError(f"{init}: no _EXPORTS dict")


def imports() -> list[Import]:
    modules = module_files()
    exports = lazy_exports(modules[PACKAGE_INIT])
    found: list[Import] = []
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, deferred in _statements(tree):
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = module if is_package else module.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}" if base else anchor
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules
                         else exports.get(a.name, base) if base == PACKAGE_INIT else base
                         for a in node.names]
            for name in dict.fromkeys(names):
                found.append(Import(module, _resolve(name, modules), where, deferred))
    return found


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _layer(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (length of the matching prefix, layer)
    if module == PACKAGE_INIT:
        return 0
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if _within(module, (prefix,)) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def ui_violations(found: list[Import]) -> list[str]:
    return [
        str(i) for i in found
        if not _within(i.importer, UI_MODULES) and _within(i.target, UI_IMPORTS)
    ]


def cycles(found: list[Import]) -> list[str]:
    graph = nx.DiGraph()
    for i in found:
        if i.target.startswith("deeptui") and i.target != i.importer:
            if not graph.has_edge(i.importer, i.target):  # the first import names the edge
                graph.add_edge(i.importer, i.target, first=i)
    messages = []
    for component in nx.strongly_connected_components(graph):
        if len(component) < 2:
            continue
        cycle = nx.find_cycle(graph.subgraph(component))
        lines = [str(graph.edges[a, b]["first"]) for a, b in cycle]
        messages.append(f"import cycle among {', '.join(sorted(component))}:\n    " + "\n    ".join(lines))
    return sorted(messages)


def layer_violations(found: list[Import]) -> list[str]:
    messages = []
    for i in found:
        if not i.target.startswith("deeptui") or i.importer == PACKAGE_INIT:
            continue
        low, high = _layer(i.importer), _layer(i.target)
        if low is None:
            messages.append(f"{i.importer} is in no layer: add it to LAYERS in {Path(__file__).name}")
        elif high is None or high > low:
            above = "no layer" if high is None else f"the {LAYERS[high][0]} layer"
            messages.append(f"{i} ({i.target} is in {above}, above the {LAYERS[low][0]} layer)")
    return sorted(set(messages))


@pytest.fixture(scope="module")
def graph_imports() -> list[Import]:
    return imports()


def test_only_the_app_screens_and_widgets_import_textual(graph_imports: list[Import]) -> None:
    problems = ui_violations(graph_imports)
    assert not problems, "only deeptui/app.py, screens/ and widgets/ may import Textual:\n" + "\n".join(problems)


def test_no_module_is_part_of_an_import_cycle(graph_imports: list[Import]) -> None:
    problems = cycles(graph_imports)
    assert not problems, "\n".join(problems)


def test_each_layer_imports_only_itself_and_the_layers_below(graph_imports: list[Import]) -> None:
    problems = layer_violations(graph_imports)
    assert not problems, "layer order broken:\n" + "\n".join(problems)


def test_the_graph_reader_sees_deferred_imports_and_skips_type_checking_ones(graph_imports: list[Import]) -> None:
    """The reader itself: a deferred import is an edge, a TYPE_CHECKING one is not."""
    module = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import textual\n"
        "def f():\n    import networkx\n"
    )
    seen = [(node.names[0].name, deferred) for node, deferred in _statements(module) if isinstance(node, ast.Import)]
    assert seen == [("networkx", True)]
    assert any(i.importer == "deeptui.app" and i.target == "textual" for i in graph_imports)
