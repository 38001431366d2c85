"""Each task's expected duration from the history: a decayed median over recent runs.

`expected_durations` reads, when a run starts (never once per task), the completed,
uncached tasks of the workflow's last ``RECENT_RUNS`` runs (same workflow name, or the
same id for a workflow without a name), and for each task id takes the median of its
durations weighted by age, the newest run weighing most (halving every ``HALF_LIFE``
runs back). The scheduler orders ready tasks by the critical path in seconds these give
(`deeptui.scheduler.estimates`).

Each store remembers the durations it read of each past run, with the run's
``updated_at``, status and resumes (every write to a run sets ``updated_at`` to the time
of its latest event): a later start of the same workflow reads only the runs that are new
or changed since, after one small query for the list. A run the store's own writer
recorded to its end is remembered from what the writer wrote (`remember`), not read back.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import OrderedDict
from operator import itemgetter
from collections.abc import Sequence
from typing import Any

from deeptui.errors import StoreError

RECENT_RUNS = 10
HALF_LIFE = 2.0  # runs back for a past duration to weigh half as much
MEMO_RUNS = 5  # combining more runs than this, `combine` does not remember medians per order
MAX_ROWS = 200_000  # a huge workflow reads fewer past runs (100,000 tasks: the last 2)

_RUNS_SQL = """
SELECT run_id, updated_at, status, resumes FROM runs WHERE {where} AND started_at IS NOT NULL
ORDER BY started_at DESC LIMIT ?"""
# one JSON object per run, not a row per task: a fetch of thousands of rows, freed at once,
# would drive the cyclic GC of the process that is about to run (into a full collection);
# 17 digits: each duration read back exactly
_TASKS_SQL = """
SELECT json_group_object(task_id, json(printf('%!.17g', completed_at - started_at))) FROM tasks
WHERE run_id = ? AND status = 'completed' AND cached = 0
  AND started_at IS NOT NULL AND completed_at IS NOT NULL
  AND completed_at - started_at >= 0"""

RunDurations = dict[str, float]  # task id -> seconds, of one stored run
# store -> workflow key -> run id -> ((updated_at, status, resumes), its durations); least recently used first
_MEMO: weakref.WeakKeyDictionary[Any, OrderedDict[tuple[str, ...], dict[str, Any]]] = \
    weakref.WeakKeyDictionary()
_MEMO_LOCK = threading.Lock()  # the store's writer thread adds the runs it finished (`remember`)


def workflow_key(workflow: Any) -> tuple[str, str]:
    """Which past runs count for ``workflow``: same name, or same id for one without a name."""
    return ("name", workflow.name) if workflow.name else ("id", workflow.id)


def remember(store: Any, key: tuple[str, str], run_id: str, version: list[Any],
             durations: RunDurations) -> None:
    """A run ``store``'s writer recorded to its end (``version``: its runs row's
    updated_at, status, resumes after that): a later start finds its durations here, as
    the query would return them, instead of reading them back."""
    with _MEMO_LOCK:
        try:
            memo = _MEMO.setdefault(store, OrderedDict())
        except TypeError:
            return
        memo.setdefault(key, {})[run_id] = (version, durations)
        memo.move_to_end(key)
        _bound(memo)


def expected_durations(store: Any, workflow: Any, *, runs: int = RECENT_RUNS) -> dict[str, float]:
    """Task id -> expected seconds, from ``store``'s history of ``workflow`` (a
    `WorkflowDefinition`); empty without a store or without history. A store that cannot
    be read gives no estimates rather than stopping the run."""
    read = getattr(store, "_read", None)
    if read is None:
        return {}
    runs = max(1, min(runs, MAX_ROWS // max(1, len(workflow.tasks))))
    key = workflow_key(workflow)
    where = "workflow_name = ?" if key[0] == "name" else "workflow_id = ? AND workflow_name = ''"
    with _MEMO_LOCK:
        try:
            memo = _MEMO.setdefault(store, OrderedDict())
        except TypeError:  # a store that cannot be weakly referenced: nothing remembered
            memo = OrderedDict()
        known = memo.pop(key, {})
    try:
        ranked = read(_RUNS_SQL.format(where=where), (key[1], runs))
        current: dict[str, Any] = {}
        for run_id, *version in ranked:
            seen = known.get(run_id)
            if seen is None or version[0] is None or seen[0] != version:
                found = read(_TASKS_SQL, (run_id,))
                seen = (version, json.loads(found[0][0]) if found and found[0][0] else {})
            current[run_id] = seen
    except StoreError:  # locked or damaged: the run goes on without estimates
        return {}
    with _MEMO_LOCK:
        memo[key] = {**memo.get(key, {}), **current}  # (and what the writer added meanwhile)
        _bound(memo)
    return combine([current[row[0]][1] for row in ranked])


def combine(newest_first: list[RunDurations]) -> dict[str, float]:
    """Each task's weighted median over the runs (newest first; the run ``k`` back weighs
    ``0.5 ** (k / HALF_LIFE)``)."""
    present = [(0.5 ** (rank / HALF_LIFE), durations)
               for rank, durations in enumerate(newest_first) if durations]
    if not present:
        return {}
    if len(present) < 3:  # one sample is the median; of two, the newer weighs more
        return {**present[-1][1], **present[0][1]}
    weights = tuple(weight for weight, _ in present)
    runs = [durations for _, durations in present]
    out: dict[str, float] = {}
    if all(d.keys() == runs[0].keys() for d in runs[1:]):  # the usual case: the same tasks
        ids, rest = list(runs[0]), set()
    else:
        everywhere = set(runs[0]).intersection(*runs[1:])
        ids, rest = list(everywhere), set().union(*runs) - everywhere
    if ids:  # most tasks: one sample in every run, the same weights
        columns = [itemgetter(*ids)(d) for d in runs] if len(ids) > 1 else \
            [(d[ids[0]],) for d in runs]
        order_of, ranks, half = _by_value, range(len(weights)), sum(weights) / 2
        if len(weights) <= MEMO_RUNS:
            # with the same weights the median's run depends only on the order of the values:
            # found once per order (of the runs by value), then looked up
            picks: dict[tuple[int, ...], int] = {}
            for task_id, values in zip(ids, zip(*columns), strict=True):
                order = tuple(order_of(ranks, key=values.__getitem__))
                pick = picks.get(order)
                if pick is None:
                    pick = picks[order] = _median_run(order, weights, half)
                out[task_id] = values[pick]
        else:  # orders rarely repeat (5! and more): nothing kept
            for task_id, values in zip(ids, zip(*columns), strict=True):
                out[task_id] = values[_median_run(order_of(ranks, key=values.__getitem__),
                                                  weights, half)]
    for task_id in rest:
        values = [(durations[task_id], weight) for weight, durations in present
                  if task_id in durations]
        out[task_id] = values[0][0] if len(values) < 3 else weighted_median(values)
    return out


_by_value = sorted


def _median_run(order: Sequence[int], weights: tuple[float, ...], half: float) -> int:
    """The run whose value is the weighted median, ``order``: the runs by value; ``half``:
    half the weights' sum."""
    total = 0.0
    for run in order:
        total += weights[run]
        if total >= half:
            return run
    return order[-1]


def _bound(memo: OrderedDict[tuple[str, ...], dict[str, Any]]) -> None:
    """Forget the least recently read workflows beyond ``MAX_ROWS`` remembered durations."""
    total = sum(len(d) for runs in memo.values() for _, d in runs.values())
    while total > MAX_ROWS and len(memo) > 1:
        _, runs = memo.popitem(last=False)
        total -= sum(len(d) for _, d in runs.values())


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
