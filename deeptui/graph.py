"""Graph questions about a workflow, answered with networkx.

Validation (duplicate ids, unknown and self dependencies, cycles named
``a -> b -> c -> a``), topological order and levels, and upstream and downstream
sets. networkx is imported when a question needs it (naming a cycle, `WorkflowGraph`),
not with this module: validating and running a workflow of no cycle need none of it
(its import is ~0.2 s of every `deeptui run`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from deeptui.errors import WorkflowValidationError

if TYPE_CHECKING:
    import networkx as nx


class TaskNode(Protocol):
    """What the graph needs of a task (`TaskDefinition` is one): its id and dependencies.
    The models validate their graph with `check_graph`, so this module never imports them."""

    @property
    def id(self) -> str: ...

    @property
    def depends_on(self) -> Sequence[str]: ...


class TaskGraphSource(Protocol):
    """What `WorkflowGraph` needs of a workflow (`WorkflowDefinition` is one)."""

    @property
    def tasks(self) -> Sequence[TaskNode]: ...


def check_graph(tasks: Sequence[TaskNode]) -> None:
    """Raise WorkflowValidationError naming the task (or cycle) that makes the graph invalid."""
    if _listed_in_order(tasks):
        return
    ids: set[str] = set()
    for task in tasks:
        if task.id in ids:
            raise WorkflowValidationError(f"duplicate task id '{task.id}'")
        ids.add(task.id)
    for task in tasks:
        for dep in task.depends_on:
            if dep == task.id:
                raise WorkflowValidationError(f"task '{task.id}' depends on itself")
            if dep not in ids:
                raise WorkflowValidationError(
                    f"task '{task.id}' depends on unknown task '{dep}'"
                )
    cycle = find_cycle(tasks)
    if cycle:
        raise WorkflowValidationError(f"dependency cycle: {' -> '.join(cycle)}")


def _listed_in_order(tasks: Sequence[TaskNode]) -> bool:
    """Whether the ids are unique and every dependency is listed before its task: then no
    id is repeated, unknown or its own dependency, and there is no cycle (the list is a
    topological order). The common case, answered in C-level loops (a third of the time
    of the checks that name a problem, at 100,000 tasks)."""
    position = {task.id: i for i, task in enumerate(tasks)}
    if len(position) != len(tasks):
        return False
    index = position.__getitem__
    try:
        for i, task in enumerate(tasks):
            deps = task.depends_on
            if deps and max(map(index, deps)) >= i:
                return False
    except KeyError:  # an unknown dependency
        return False
    return True


def _acyclic(tasks: Sequence[TaskNode]) -> bool:
    """Whether every task can be ordered after its dependencies (each one a known task)."""
    waiting: dict[str, int] = {}
    below: dict[str, list[str]] = {task.id: [] for task in tasks}
    for task in tasks:
        deps = task.depends_on
        if len(deps) > 1:
            deps = set(deps)
        waiting[task.id] = len(deps)
        for dep in deps:
            below[dep].append(task.id)
    ready = [tid for tid, count in waiting.items() if count == 0]
    ordered = 0
    while ready:
        ordered += 1
        for child in below[ready.pop()]:
            count = waiting[child] - 1
            waiting[child] = count
            if count == 0:
                ready.append(child)
    return ordered == len(waiting)


def build_digraph(tasks: Iterable[TaskNode]) -> nx.DiGraph:
    """Edges point from a dependency to the task that waits for it."""
    import networkx as nx

    graph = nx.DiGraph()
    for task in tasks:
        graph.add_node(task.id)
    for task in tasks:
        graph.add_edges_from((dep, task.id) for dep in task.depends_on)
    return graph


def find_cycle(tasks: Sequence[TaskNode]) -> list[str] | None:
    """The ids along one dependency cycle, first id repeated at the end, or None.

    Answered on plain dicts (Kahn's algorithm: 100,000 tasks in a fraction of a second);
    networkx builds the graph only to name a cycle there is."""
    if _acyclic(tasks):
        return None
    import networkx as nx

    graph = build_digraph(tasks)
    edges = nx.find_cycle(graph)
    return [edge[0] for edge in edges] + [edges[0][0]]


def _nx() -> Any:
    """networkx, imported on first use."""
    import networkx

    return networkx


class WorkflowGraph:
    """Read-only graph facts about one (valid) workflow, computed once."""

    def __init__(self, workflow: TaskGraphSource) -> None:
        self.workflow = workflow
        self.tasks = {task.id: task for task in workflow.tasks}
        self.index = {task.id: i for i, task in enumerate(workflow.tasks)}
        self.graph = build_digraph(workflow.tasks)
        self.dependents: dict[str, list[str]] = {tid: [] for tid in self.tasks}
        for task in workflow.tasks:
            for dep in task.depends_on:
                self.dependents[dep].append(task.id)

    @cached_property
    def order(self) -> list[str]:
        """Topological order, ties broken by definition order."""
        return list(_nx().lexicographical_topological_sort(self.graph, key=self.index.__getitem__))

    @cached_property
    def levels(self) -> list[list[str]]:
        """Tasks grouped by depth: level 0 has no dependencies, level n waits for level n-1."""
        return [
            sorted(generation, key=self.index.__getitem__)
            for generation in _nx().topological_generations(self.graph)
        ]

    @cached_property
    def level_of(self) -> dict[str, int]:
        return {tid: n for n, level in enumerate(self.levels) for tid in level}

    def downstream(self, task_id: str) -> set[str]:
        """Every task that (transitively) depends on ``task_id``."""
        return _nx().descendants(self.graph, task_id)

    def upstream(self, task_id: str) -> set[str]:
        return _nx().ancestors(self.graph, task_id)


def path_lengths(tasks: Mapping[str, TaskNode],
                 dependents: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """For each task, the number of tasks on the longest path from it to a sink."""
    return longest_paths(tasks, dependents)


def longest_paths(tasks: Mapping[str, TaskNode], dependents: Mapping[str, Sequence[str]],
                  weight: Mapping[str, float] | None = None) -> dict[str, Any]:
    """For each task, the longest sum of ``weight`` (1 per task without one) on a path from
    it to a sink, itself included.

    Without networkx. When ``tasks`` lists every task after its dependencies (the usual
    order), one walk from the end; otherwise a reverse Kahn walk over plain dicts (the graph
    is known to be acyclic): a task is taken once all its dependents were, so its length is
    final then; it lengthens its dependencies' as it is taken.
    """
    length: dict[str, Any] = {}
    longest = length.__getitem__
    try:
        for tid in reversed(tasks):  # each task's dependents come later: taken already
            below = dependents[tid]
            step = 1 if weight is None else weight[tid]
            length[tid] = step + max(map(longest, below)) if below else step
    except KeyError:  # a dependent listed before its dependency
        pass
    else:
        return length
    below = {tid: len(tids) for tid, tids in dependents.items()}  # dependents not yet taken
    longest_below: dict[str, Any] = dict.fromkeys(below, 0)
    length = dict.fromkeys(below, 0)
    stack = [tid for tid, n in below.items() if n == 0]
    while stack:
        tid = stack.pop()
        step = length[tid] = (1 if weight is None else weight[tid]) + longest_below[tid]
        for dep in tasks[tid].depends_on:
            if longest_below[dep] < step:
                longest_below[dep] = step
            below[dep] -= 1
            if below[dep] == 0:
                stack.append(dep)
    return length
