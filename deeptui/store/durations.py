"""Each task's expected duration from the history: a decayed median over recent runs.

`expected_durations` is one query when a run starts (never one per task): the
completed, uncached tasks of the workflow's last ``RECENT_RUNS`` runs (same workflow
name, or the same id for a workflow without a name), and for each task id the median of
its durations weighted by age, the newest run weighing most (halving every
``HALF_LIFE`` runs back). The scheduler orders ready tasks by the critical path in
seconds these give (`deeptui.scheduler.estimates`).
"""

from __future__ import annotations

from typing import Any

from deeptui.errors import StoreError

RECENT_RUNS = 10
HALF_LIFE = 2.0  # runs back for a past duration to weigh half as much
MAX_ROWS = 200_000  # a huge workflow reads fewer past runs (100,000 tasks: the last 2)

_SQL = """
SELECT t.task_id, t.completed_at - t.started_at, r.run_rank
FROM (SELECT run_id, ROW_NUMBER() OVER (ORDER BY started_at DESC) - 1 AS run_rank
      FROM runs WHERE {where} AND started_at IS NOT NULL
      ORDER BY started_at DESC LIMIT ?) AS r
JOIN tasks AS t ON t.run_id = r.run_id
WHERE t.status = 'completed' AND t.cached = 0
  AND t.started_at IS NOT NULL AND t.completed_at IS NOT NULL"""


def expected_durations(store: Any, workflow: Any, *, runs: int = RECENT_RUNS) -> dict[str, float]:
    """Task id -> expected seconds, from ``store``'s history of ``workflow`` (a
    `WorkflowDefinition`); empty without a store or without history. A store that cannot
    be read gives no estimates rather than stopping the run."""
    read = getattr(store, "_read", None)
    if read is None:
        return {}
    runs = max(1, min(runs, MAX_ROWS // max(1, len(workflow.tasks))))
    if workflow.name:
        where, args = "workflow_name = ?", (workflow.name, runs)
    else:
        where, args = "workflow_id = ? AND workflow_name = ''", (workflow.id, runs)
    try:
        rows = read(_SQL.format(where=where), args)
    except StoreError:  # locked or damaged: the run goes on without estimates
        return {}
    samples: dict[str, list[tuple[float, float]]] = {}
    for task_id, seconds, rank in rows:
        if seconds is not None and seconds >= 0:
            samples.setdefault(task_id, []).append((seconds, 0.5 ** (rank / HALF_LIFE)))
    return {task_id: weighted_median(values) for task_id, values in samples.items()}


def weighted_median(values: list[tuple[float, float]]) -> float:
    """The value at half the total weight of ``(value, weight)`` pairs, sorted by value."""
    ordered = sorted(values)
    half = sum(weight for _, weight in ordered) / 2
    total = 0.0
    for value, weight in ordered:
        total += weight
        if total >= half:
            return value
    return ordered[-1][0]
