"""What the scheduler expects from history: a task without a past duration of its own is
expected to take the median of the others' (a negative one counts as none), and the
expected remaining time follows."""

from __future__ import annotations

from datetime import UTC, datetime

from deeptui.blank import pending_results
from deeptui.models import TaskDefinition
from deeptui.scheduler.plan import Plan

TASKS = [TaskDefinition(id="a"), TaskDefinition(id="b", depends_on=["a"]),
         TaskDefinition(id="c"), TaskDefinition(id="d")]


def test_a_task_without_history_takes_the_median_and_a_negative_duration_counts_zero():
    plan = Plan(TASKS, {"a": 2.0, "b": 6.0, "d": -1.0})  # c: none of its own
    estimates = plan.estimates
    assert estimates is not None
    assert estimates.seconds == {"a": 2.0, "b": 6.0, "c": 2.0, "d": 0.0}
    assert estimates.path == {"a": 8.0, "b": 6.0, "c": 2.0, "d": 0.0}
    results = pending_results(["a", "b", "c", "d"])
    now = datetime.now(UTC)
    assert estimates.remaining(results, 1, now) == 10.0  # the work, on one slot
    assert estimates.remaining(results, 2, now) == 8.0  # the critical path a -> b
    # ready order: the longest path in seconds first (c's 2 s before d's none)
    assert sorted(plan.roots, key=plan.heap_key.__getitem__) == ["a", "c", "d"]


def test_without_any_history_the_ready_order_is_by_path_length_in_tasks():
    plan = Plan(TASKS, {"x": 1.0})
    assert plan.estimates is None
    assert sorted(plan.roots, key=plan.heap_key.__getitem__) == ["a", "c", "d"]
    assert plan.heap_key["a"][1] == -2 and plan.heap_key["c"][1] == -1
