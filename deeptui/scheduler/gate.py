"""Whether a ready task starts or is skipped: its trigger rule over its dependencies'
statuses, then its condition (parsed by the orchestrator's validation, never eval'd)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from deeptui.conditions import trigger_rule_met
from deeptui.errors import ConditionError
from deeptui.models import TaskStatus

if TYPE_CHECKING:
    from deeptui.conditions import Condition
    from deeptui.models import TaskDefinition, TaskResult


def skip_reason(task: TaskDefinition, results: Mapping[str, TaskResult],
                conditions: Mapping[str, Condition]) -> str | None:
    """Why the ready task is skipped, or None: it starts."""
    statuses = [results[d].status for d in task.depends_on]
    if not trigger_rule_met(task.trigger_rule, statuses):
        bad = [d for d in task.depends_on if results[d].status is not TaskStatus.COMPLETED]
        if task.trigger_rule == "all_success" and bad:
            return f"dependency '{bad[0]}' {results[bad[0]].status.value}"
        return f"trigger rule {task.trigger_rule} not met"
    condition = conditions.get(task.id)
    if condition is not None:
        try:
            ok = condition.evaluate(results)
        except ConditionError as exc:
            return f"condition error: {exc}"
        if not ok:
            return f"condition not met: {task.condition}"
    return None
