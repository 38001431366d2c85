"""What the built-in template factories share: splitting a factory's keyword arguments into
template parameters and workflow settings, task timeouts, assembling the
``WorkflowDefinition`` (with the template recorded in its metadata), and giving a
``**kwargs`` factory its parameters' signature."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from deeptui.errors import TemplateError
from deeptui.models import ExecutionStrategy, TaskDefinition, WorkflowDefinition
from deeptui.workflows.parameters import describe_error, did_you_mean, validate_parameters

# The WorkflowDefinition fields every template passes through ("Template Customization").
WORKFLOW_KWARGS: tuple[str, ...] = (
    "name",
    "description",
    "execution_strategy",
    "max_parallel_tasks",
    "default_timeout_seconds",
    "continue_on_failure",
    "metadata",
)


def split_kwargs(
    template_name: str, model: type[BaseModel], kwargs: Mapping[str, Any]
) -> tuple[BaseModel, dict[str, Any]]:
    """Split a factory's keyword arguments into validated parameters and workflow settings."""
    params: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    known = list(model.model_fields) + list(WORKFLOW_KWARGS)
    for key, value in kwargs.items():
        if key in model.model_fields:
            params[key] = value
        elif key in WORKFLOW_KWARGS:
            settings[key] = value
        else:
            raise TemplateError(
                f"template '{template_name}': unknown parameter '{key}'."
                f"{did_you_mean(key, known)} Parameters: {', '.join(known)}"
            )
    return validate_parameters(template_name, model, params), settings


def task_timeout(seconds: float, settings: Mapping[str, Any]) -> float | None:
    """A template task's timeout; None when the caller set the workflow's default timeout."""
    return None if settings.get("default_timeout_seconds") is not None else seconds


def make_workflow(
    template_name: str,
    params: BaseModel,
    tasks: list[TaskDefinition],
    settings: Mapping[str, Any],
    *,
    name: str,
    description: str,
) -> WorkflowDefinition:
    """The WorkflowDefinition of a template: its tasks plus the caller's workflow settings.

    ``metadata`` records the template and its parameters (so a run can be
    re-created); keys the caller passes win.
    """
    values = dict(settings)
    extra = values.pop("metadata", None) or {}
    if not isinstance(extra, Mapping):
        raise TemplateError(f"template '{template_name}': metadata must be a mapping, got {extra!r}")
    metadata = {
        "template": template_name,
        "template_parameters": params.model_dump(mode="json"),
        **extra,
    }
    values.setdefault("name", name)
    values.setdefault("description", description)
    repository = getattr(params, "repository_path", None)
    if repository:  # the agents work on the repository's real files
        values.setdefault("workspace", str(Path(repository).expanduser().resolve()))
    values.setdefault("execution_strategy", ExecutionStrategy.DAG)
    try:
        return WorkflowDefinition(
            id=getattr(params, "workflow_id"), tasks=tasks, metadata=metadata, **values
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise TemplateError(f"template '{template_name}': {describe_error(first)}") from None


def with_parameters_signature(model: type[BaseModel]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a ``**kwargs`` factory the signature of its parameters model (for help() and IDEs)."""

    def decorate(factory: Callable[..., Any]) -> Callable[..., Any]:
        parameters = [
            inspect.Parameter(
                key, inspect.Parameter.KEYWORD_ONLY, default=field.get_default(call_default_factory=True),
                annotation=field.annotation,
            )
            for key, field in model.model_fields.items()
        ]
        parameters.append(inspect.Parameter("workflow_kwargs", inspect.Parameter.VAR_KEYWORD))
        factory.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            parameters, return_annotation=WorkflowDefinition
        )
        return factory

    return decorate


__all__ = ["WORKFLOW_KWARGS", "make_workflow", "split_kwargs", "task_timeout",
           "with_parameters_signature"]
