"""A workflow's conditions: each parsed, and checked to read only tasks that finish before its own."""

from __future__ import annotations

from deeptui.conditions.language import Condition, parse_condition, quote
from deeptui.errors import ConditionError
from deeptui.graph import WorkflowGraph
from deeptui.models import WorkflowDefinition


def workflow_conditions(workflow: WorkflowDefinition) -> dict[str, Condition]:
    """Parse every task's condition; check each names only upstream tasks."""
    graph: WorkflowGraph | None = None
    conditions: dict[str, Condition] = {}
    for task in workflow.tasks:
        if task.condition is None:
            continue
        condition = parse_condition(task.condition, task.id, workflow.task_ids)
        graph = graph or WorkflowGraph(workflow)
        upstream = graph.upstream(task.id)
        outside = [tid for tid in workflow.task_ids if tid in condition.referenced_tasks - upstream]
        if outside:
            name, where = outside[0], f"task '{task.id}': condition {quote(condition.expression)}"
            if name == task.id:
                raise ConditionError(f"{where} references the task itself")
            rule = "a condition may only read tasks that finish before its task starts"
            if name in graph.downstream(task.id):
                raise ConditionError(
                    f"{where} references task '{name}', which depends on '{task.id}' and so runs "
                    f"after it: {rule} (its depends_on, directly or through another dependency)")
            # deeptui never adds a dependency on its own: the graph is what depends_on says
            raise ConditionError(
                f"{where} references task '{name}', which is not in its depends_on: add it "
                f"(depends_on={[*task.depends_on, name]!r}); {rule}")
        conditions[task.id] = condition
    return conditions


def validate_workflow_conditions(workflow: WorkflowDefinition) -> None:
    """Raise ConditionError naming the task for the first bad condition in ``workflow``."""
    workflow_conditions(workflow)
