"""A run's fixed facts, computed once when its executor is made: each task by id, its kind
and dependents, the tasks ready first, and each one's ready-heap entry.

A heap entry orders ready tasks by priority, then by the longest remaining path to a sink
(in seconds when the history has the tasks' past durations: `Estimates`; else in tasks),
then by definition order; it ends with the task id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from deeptui.graph import path_lengths
from deeptui.models import NOT_AGENT
from deeptui.scheduler.estimates import Estimates

if TYPE_CHECKING:
    from deeptui.models import TaskDefinition

Entry = tuple[int, float, int, str]  # a ready-heap entry


class Plan:
    """``tasks`` (id -> definition, in definition order), ``kind`` (id -> "agent", "shell"
    or "callable"), ``dependents`` (id -> a tuple of the ids that depend on it), ``roots`` (the ids
    without dependencies), ``estimates`` (None without history) and ``heap_key`` (id -> its
    ready-heap entry)."""

    def __init__(self, tasks: Sequence[TaskDefinition],
                 durations: Mapping[str, float] | None) -> None:
        self.tasks: dict[str, TaskDefinition] = {t.id: t for t in tasks}
        kind_of = NOT_AGENT.get  # (what `TaskDefinition.kind` says, without its call per task)
        self.kind: dict[str, str] = {tid: kind_of(t.task_type, "agent")
                                     for tid, t in self.tasks.items()}
        below: dict[str, list[str]] = {}
        self.roots: list[str] = []  # the tasks without dependencies, in definition order
        for tid, t in self.tasks.items():
            deps = t.depends_on
            if not deps:
                self.roots.append(tid)
            for dep in deps:
                ids = below.get(dep)
                if ids is None:
                    below[dep] = [tid]
                else:
                    ids.append(tid)
        # tuples: the collector stops tracking a tuple of strings once it has seen it (lists
        # it walks at every full collection, and a run of 10,000 tasks would add 10,000)
        none: tuple[str, ...] = ()
        dependents = {tid: tuple(below[tid]) if tid in below else none for tid in self.tasks}
        self.dependents: dict[str, tuple[str, ...]] = dependents
        # past durations (the history's), if any: the critical path in seconds, not in tasks
        self.estimates = Estimates.from_history(self.tasks, dependents, durations)
        path: Mapping[str, float] = (self.estimates.path if self.estimates
                                     else path_lengths(self.tasks, dependents))
        self.heap_key: dict[str, Entry] = {
            tid: (-t.priority, -path[tid], i, tid) for i, (tid, t) in enumerate(self.tasks.items())}
