"""What would stop a run, checked before anything runs: each task's kind (a shell task's
command, a callable's registration, an agent task's routing, its skills, its cache policy),
the workspace, any extra validators (e.g. deeptui.cluster's), and the conditions (parsed)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from deeptui.errors import WorkflowValidationError
from deeptui.workspace.run_workspace import workspace_root

if TYPE_CHECKING:
    from deeptui.conditions import Condition
    from deeptui.models import TaskDefinition, WorkflowDefinition
    from deeptui.routing import TaskRouter
    from deeptui.runners.callables import CallableRegistry
    from deeptui.skills_manager import SkillManager


def check_workflow(workflow: WorkflowDefinition, callables: CallableRegistry,
                   router: TaskRouter, skills: SkillManager,
                   validators: Iterable[Callable[[WorkflowDefinition], None]] = ()
                   ) -> dict[str, Condition]:
    """Raise WorkflowValidationError naming the task and field that would stop the run;
    return the parsed conditions (task id -> Condition), which the run uses."""
    from deeptui.cache.policies import check_policy
    from deeptui.conditions import workflow_conditions

    for task in workflow.tasks:
        _check_task(task, callables, router, skills)
        check_policy(task)
    workspace_root(workflow)
    for check in validators:
        check(workflow)
    return workflow_conditions(workflow)


def _check_task(task: TaskDefinition, callables: CallableRegistry, router: TaskRouter,
                skills: SkillManager) -> None:
    # a free-form task_type (the orchestration guide's "optional type classification")
    # runs as an agent task
    kind = task.kind
    if kind == "callable":
        callables.get(task)
    elif kind == "agent":
        router.check(task)
    elif not task.parameters.get("command"):
        raise WorkflowValidationError(f"task '{task.id}': a shell task needs parameters.command")
    if task.required_skills:
        skills.require(task.required_skills, task_id=task.id)
