"""Trigger rules: whether a task may run given the statuses of its dependencies.

The six rules (``all_success``, ``all_done``, ``all_failed``, ``one_success``,
``one_failed``, ``none_failed``) are the values of ``TriggerRule``; "failed"
means FAILED or CANCELLED. `trigger_rule_met` answers early when it can, and
None while the answer still waits on an unfinished dependency.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import get_args

from deeptui.errors import ConditionError
from deeptui.models import TaskStatus, TriggerRule

TRIGGER_RULES: tuple[str, ...] = get_args(TriggerRule)
TRIGGER_RULE_MEANINGS = {
    "all_success": "every dependency completed",
    "all_done": "every dependency finished, whatever its status",
    "all_failed": "every dependency failed or was cancelled",
    "one_success": "at least one dependency completed",
    "one_failed": "at least one dependency failed or was cancelled",
    "none_failed": "no dependency failed or was cancelled (skipped is fine)",
}
_FAILED = (TaskStatus.FAILED, TaskStatus.CANCELLED)


def trigger_rule_met(rule: str, dependency_statuses: Iterable[TaskStatus | str]) -> bool | None:
    """Whether a task with trigger ``rule`` may run given its dependencies' statuses.

    "Failed" means FAILED or CANCELLED. A task without dependencies always may.
    Returns None while the answer still depends on an unfinished dependency; once
    every dependency has finished the answer is always a bool.
    """
    if rule not in TRIGGER_RULES:
        choices = ", ".join(TRIGGER_RULES)
        raise ConditionError(f"unknown trigger rule '{rule}' (use one of {choices})")
    try:
        statuses = [TaskStatus(status) for status in dependency_statuses]
    except ValueError as exc:
        raise ConditionError(f"trigger rule '{rule}': {exc}") from None
    done = sum(status.finished for status in statuses)
    completed = statuses.count(TaskStatus.COMPLETED)
    failed = sum(status in _FAILED for status in statuses)
    fails_early = {
        "all_success": completed < done, "all_failed": failed < done, "none_failed": failed > 0
    }
    passes_early = {"one_success": completed > 0, "one_failed": failed > 0}
    if fails_early.get(rule, False):
        return False
    if passes_early.get(rule, False) or not statuses:
        return True
    if done < len(statuses):
        return None
    return rule not in passes_early  # all finished: the "one_*" rules found none

