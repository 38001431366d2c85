"""What the scheduler expects of a run from its history: each task's remaining critical path
in seconds, and the run's expected remaining time.

The durations come from the history store (`deeptui.store.durations`: same workflow, same
task id, a decayed median over recent runs), read once when the run starts. A task with
no history of its own is expected to take the median of the tasks that have one. With no
history at all there are no estimates, and the ready queue orders by path length in
tasks (`deeptui.graph.path_lengths`) as before.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from deeptui.graph import longest_paths
from deeptui.models import TaskStatus

if TYPE_CHECKING:
    from deeptui.graph import TaskNode
    from deeptui.models import TaskResult, WorkflowDefinition


def history_durations(store: Any, workflow: WorkflowDefinition) -> dict[str, float] | None:
    """The store's past durations of the workflow's tasks; None without a store (and the
    store package is then never imported)."""
    if store is None:
        return None
    from deeptui.store.durations import expected_durations

    return expected_durations(store, workflow)


class Estimates:
    """Each task's expected duration (``seconds``) and the longest expected path from its
    start to a sink, itself included (``path``), both in seconds."""

    def __init__(self, tasks: Mapping[str, TaskNode], dependents: Mapping[str, Sequence[str]],
                 durations: Mapping[str, float]) -> None:
        get = durations.get
        seconds: dict[str, Any] = {t: get(t) for t in tasks}
        if None in seconds.values():  # tasks without history of their own: the typical one
            typical = statistics.median(s for s in seconds.values() if s is not None)
            seconds = {t: typical if s is None else s for t, s in seconds.items()}
        if min(seconds.values(), default=0.0) < 0:
            seconds = {t: max(0.0, s) for t, s in seconds.items()}
        self.seconds: dict[str, float] = seconds
        self.path = longest_paths(tasks, dependents, seconds)

    @classmethod
    def from_history(cls, tasks: Mapping[str, TaskNode], dependents: Mapping[str, Sequence[str]],
                     durations: Mapping[str, float] | None) -> Estimates | None:
        """The estimates, or None when no task of the run has a past duration."""
        if not durations or not any(t in durations for t in tasks):
            return None
        return cls(tasks, dependents, durations)

    def remaining(self, results: Mapping[str, TaskResult], slots: int, now: datetime) -> float:
        """Expected seconds until the run ends: the longer of the longest remaining path
        and the remaining work spread over ``slots`` (a running task counts what it has
        left of its expected duration; finished tasks count nothing)."""
        longest = work = 0.0
        for tid, result in results.items():
            status = result.status
            if status is TaskStatus.PENDING:
                left, path = self.seconds[tid], self.path[tid]
            elif status is TaskStatus.RUNNING:
                ran = (now - result.started_at).total_seconds() if result.started_at else 0.0
                left = max(0.0, self.seconds[tid] - ran)
                path = self.path[tid] - self.seconds[tid] + left
            else:
                continue
            work += left
            longest = max(longest, path)
        return max(longest, work / max(1, slots))
