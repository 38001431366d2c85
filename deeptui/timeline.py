"""A run's timeline: each task's waits and attempts over wall time, and the critical path.

`AttemptMarks` remembers when each attempt started and when a failed attempt
ended, from the bus (``TaskStarted``, ``TaskRetrying``, ``TaskReset``) for a
live run or from the history's events table for a stored one (the task row
holds the first start; later starts and each retry are events there).
`build_timeline` turns a run's state plus those marks into one `Bar` per task:
the wait from ready (its dependencies done) to start, each attempt, the wait
between attempts. The critical path is the chain of dependent tasks whose
durations add up to the longest (networkx orders the graph, one pass over the
durations finds it). No Textual here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from deeptui import bus as ev

if TYPE_CHECKING:  # the models load with the engine, after the app's first frame
    from deeptui.models import WorkflowDefinition, WorkflowState

# segment kinds, drawn in this order (a later kind wins a shared cell)
WAIT, RETRY_WAIT, FAILED_ATTEMPT, ATTEMPT = "wait", "retry-wait", "failed-attempt", "attempt"


@dataclass(slots=True)
class AttemptMarks:
    """Per task: the start of each attempt after the first, and the end of each failed one."""

    starts: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, list[float]] = field(default_factory=dict)

    def note(self, event: ev.Event) -> None:
        """Take what a bus event says about attempts (other events are ignored)."""
        cls = type(event)
        if cls is ev.TaskStarted:
            self.started(event.task_id, event.ts, event.attempt)  # type: ignore[attr-defined]
        elif cls is ev.TaskRetrying:
            self.failures.setdefault(event.task_id, []).append(event.ts)  # type: ignore[attr-defined]
        elif cls is ev.TaskReset:
            self.reset(event.task_id)  # type: ignore[attr-defined]

    def started(self, task_id: str, ts: float, attempt: int) -> None:
        if attempt <= 1:
            self.reset(task_id)
        else:
            self.starts.setdefault(task_id, []).append(ts)

    def reset(self, task_id: str) -> None:
        self.starts.pop(task_id, None)
        self.failures.pop(task_id, None)

    @classmethod
    def from_events(cls, rows: Iterable[Mapping[str, Any]]) -> AttemptMarks:
        """From ``RunStore.events(run_id)`` rows (ts, task_id, kind, attempt, detail)."""
        marks = cls()
        for row in rows:
            task_id, kind = row.get("task_id"), row.get("kind")
            if not task_id:
                continue
            if kind == "started":
                marks.started(task_id, float(row["ts"]), int(row.get("attempt") or 2))
            elif kind == "retrying":
                marks.failures.setdefault(task_id, []).append(float(row["ts"]))
            elif kind == "reset":
                marks.reset(task_id)
        return marks


@dataclass(frozen=True, slots=True)
class Segment:
    kind: str  # WAIT, RETRY_WAIT, FAILED_ATTEMPT or ATTEMPT
    start: float
    end: float


@dataclass(slots=True)
class Bar:
    """One task's row: its status, segments, attempts and whether it is on the critical path."""

    task_id: str
    status: str
    segments: list[Segment]
    attempts: int
    start: float | None
    end: float | None  # when it ended (or was skipped/cancelled); None while running or pending
    cached: bool = False
    critical: bool = False

    @property
    def duration(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return self.end - self.start


@dataclass(slots=True)
class Timeline:
    bars: list[Bar]  # by start time, tasks that never started last (definition order)
    t0: float
    t1: float
    critical: list[str]

    @property
    def span(self) -> float:
        return max(self.t1 - self.t0, 0.0)


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _attempts(start: float, end: float | None, starts: list[float],
              failures: list[float]) -> list[Segment]:
    """Attempt segments from the first start: each failure ends one, each later start opens one."""
    later = sorted(t for t in starts if t >= start)
    ends = sorted(t for t in failures if t >= start)
    segments: list[Segment] = []
    opened = start
    for next_start in later:
        failed_at = next((t for t in ends if opened <= t <= next_start), next_start)
        segments.append(Segment(FAILED_ATTEMPT, opened, failed_at))
        if next_start > failed_at:
            segments.append(Segment(RETRY_WAIT, failed_at, next_start))
        opened = next_start
    if end is not None:
        segments.append(Segment(ATTEMPT, opened, max(end, opened)))
    return segments


_ORDERS: dict[int, tuple[WorkflowDefinition, list[str], dict[str, list[str]]]] = {}
ORDERS_KEPT = 4  # workflows whose order is kept (a run's definition never changes)


def _order(workflow: WorkflowDefinition) -> tuple[list[str], dict[str, list[str]]]:
    """The workflow's topological order and each task's dependents (networkx), kept per definition."""
    kept = _ORDERS.get(id(workflow))
    if kept is not None and kept[0] is workflow:
        return kept[1], kept[2]
    import networkx as nx

    from deeptui.graph import build_digraph

    graph = build_digraph(workflow.tasks)
    order = list(nx.topological_sort(graph))
    dependents = {node: list(graph.successors(node)) for node in order}
    if len(_ORDERS) >= ORDERS_KEPT:
        _ORDERS.pop(next(iter(_ORDERS)))
    _ORDERS[id(workflow)] = (workflow, order, dependents)
    return order, dependents


def critical_path(workflow: WorkflowDefinition, durations: Mapping[str, float]) -> list[str]:
    """The chain of dependent tasks with the largest summed duration (empty if all are 0).

    networkx orders the graph (once per definition); the longest path is then one
    pass over it in reverse, each task's best chain being its duration plus its
    dependents' best (networkx's ``dag_longest_path`` on weighted edges gives the
    same path at five times the cost at 10,000 tasks)."""
    if not any(d > 0 for d in durations.values()):
        return []
    order, dependents = _order(workflow)
    best: dict[str, float] = {}
    after: dict[str, str | None] = {}
    for node in reversed(order):
        following = max(dependents[node], key=best.__getitem__, default=None)
        best[node] = durations.get(node, 0.0) + (best[following] if following else 0.0)
        after[node] = following
    node: str | None = max(order, key=best.__getitem__)
    path = []
    while node is not None:
        path.append(node)
        node = after[node]
    return [task for task in path if durations.get(task, 0.0) > 0]


def build_timeline(workflow: WorkflowDefinition, state: WorkflowState,
                   marks: AttemptMarks | None = None, now: datetime | None = None) -> Timeline:
    """One bar per task of ``state``; a running task's last attempt ends at ``now``."""
    from deeptui.models import TaskStatus

    marks = marks or AttemptMarks()
    results = state.task_results
    now_ts = _ts(now) if now is not None else None
    run_start = _ts(state.started_at)
    ends = {tid: _ts(r.completed_at) for tid, r in results.items()}
    bars: list[Bar] = []
    durations: dict[str, float] = {}
    for task in workflow.tasks:
        result = results.get(task.id)
        if result is None:
            continue
        status = TaskStatus(result.status).value
        start, end = _ts(result.started_at), ends[task.id]
        segments: list[Segment] = []
        if start is not None:
            open_end = end if end is not None else (now_ts if status == "running" else None)
            deps = [ends.get(dep) for dep in task.depends_on]
            ready = max((d for d in deps if d is not None), default=run_start) \
                if all(d is not None for d in deps) else None
            if ready is not None and ready < start:
                segments.append(Segment(WAIT, ready, start))
            segments += _attempts(start, open_end, marks.starts.get(task.id, []),
                                  marks.failures.get(task.id, []))
            if open_end is not None:
                durations[task.id] = max(open_end - start, 0.0)
        bars.append(Bar(task.id, status, segments, result.attempts, start,
                        end if start is not None or status in ("skipped", "cancelled") else None,
                        cached=result.cached))
    order = {task.id: n for n, task in enumerate(workflow.tasks)}
    bars.sort(key=lambda b: (b.start is None, b.start or 0.0, order[b.task_id]))
    critical = critical_path(workflow, durations)
    on_path = set(critical)
    for bar in bars:
        bar.critical = bar.task_id in on_path
    times = [t for bar in bars for seg in bar.segments for t in (seg.start, seg.end)]
    times += [bar.end for bar in bars if bar.end is not None]
    t0 = min([t for t in (run_start,) if t is not None] + times, default=0.0)
    t1 = max(times + [_ts(state.completed_at) or t0], default=t0)
    if state.completed_at is None and now_ts is not None and any(
            b.status == "running" for b in bars):
        t1 = max(t1, now_ts)
    return Timeline(bars, t0, t1, critical)


def stored_marks(store: Any, run_id: str) -> AttemptMarks:
    """A run's attempt marks from a `RunStore`'s events (none when it cannot say)."""
    if store is None:
        return AttemptMarks()
    try:
        if store.resolve(run_id) != run_id:  # a run not stored yet: not another run's prefix
            return AttemptMarks()
        return AttemptMarks.from_events(store.events(run_id))
    except Exception:  # a damaged or unknown run: the bars still show, without retries
        return AttemptMarks()
