"""The template registry: named workflow templates, their parameter models, and building from them.

A template is a factory function returning a ``WorkflowDefinition`` plus a
pydantic model of its parameters (the app generates its form from that model;
the CLI converts ``--param k=v`` strings with it). The four built-in templates
are registered on first use; users add their own with ``register_template``.

This module also holds the helpers the built-in templates share: splitting a
factory's keyword arguments into template parameters and workflow settings,
turning validation errors into ``TemplateError``s that name the parameter, and
assembling the ``WorkflowDefinition``.
"""

from __future__ import annotations

import difflib
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from deeptui.errors import TemplateError
from deeptui.models import ExecutionStrategy, TaskDefinition, WorkflowDefinition

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



def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


# An optional text parameter: a blank value (an empty form field) means "not given".
OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]


@dataclass
class Template:
    """A registered workflow template."""

    name: str
    title: str
    description: str
    factory: Callable[..., WorkflowDefinition]
    parameters_model: type[BaseModel]

    def build(self, params: Mapping[str, Any] | None = None, **workflow_kwargs: Any) -> WorkflowDefinition:
        """Validate ``params`` with the parameters model and call the factory."""
        validated = validate_parameters(self.name, self.parameters_model, params or {})
        values = {key: getattr(validated, key) for key in type(validated).model_fields}
        return self.factory(**values, **workflow_kwargs)


class NoParameters(BaseModel):
    """The parameters model of a template that takes none."""

    model_config = ConfigDict(extra="forbid")


_templates: dict[str, Template] = {}
_builtins_loaded = False
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _ensure_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    from deeptui.workflows import ci_cd, code_review, documentation, etl

    builtins = [
        ("ci-cd", "CI/CD Pipeline", ci_cd.create_ci_cd_pipeline, ci_cd.CICDParameters),
        ("etl", "ETL Pipeline", etl.create_etl_pipeline, etl.ETLParameters),
        ("code-review", "Code Review", code_review.create_code_review_workflow,
         code_review.CodeReviewParameters),
        ("documentation", "Documentation", documentation.create_documentation_workflow,
         documentation.DocumentationParameters),
    ]
    for name, title, factory, model in builtins:
        if name not in _templates:  # a user replacement registered earlier wins
            _templates[name] = Template(name, title, _first_line(factory.__doc__), factory, model)
    # Built-ins first, in the seed's order, then user templates in registration order.
    order = [b[0] for b in builtins]
    rest = [n for n in _templates if n not in order]
    _templates.update({n: _templates.pop(n) for n in order + rest})


def _first_line(doc: str | None) -> str:
    return inspect.cleandoc(doc).splitlines()[0] if doc else ""


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def register_template(
    name: str,
    factory: Callable[..., WorkflowDefinition],
    parameters_model: type[BaseModel] | None = None,
    *,
    title: str | None = None,
    description: str | None = None,
    replace: bool = False,
) -> Template:
    """Register a template under ``name``; an existing name is replaced only with ``replace=True``.

    ``factory`` is called with the model's fields as keyword arguments plus
    the workflow keyword arguments (``max_parallel_tasks``, ``metadata``...).
    """
    _ensure_builtins()
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise TemplateError(
            f"template name {name!r} is invalid: use letters, digits, '-', '_' or '.'"
        )
    if not callable(factory):
        raise TemplateError(f"template '{name}': factory {factory!r} is not callable")
    model = parameters_model or NoParameters
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TemplateError(f"template '{name}': parameters_model must be a pydantic BaseModel class")
    if name in _templates and not replace:
        raise TemplateError(
            f"template '{name}' is already registered; pass replace=True to replace it"
        )
    template = Template(
        name=name,
        title=title or name.replace("-", " ").replace("_", " ").title(),
        description=description if description is not None else _first_line(factory.__doc__),
        factory=factory,
        parameters_model=model,
    )
    _templates[name] = template
    return template


def unregister_template(name: str) -> None:
    """Remove a registered template (a built-in comes back only by registering it again)."""
    template = get_template(name)
    del _templates[template.name]


def list_templates() -> list[Template]:
    """All registered templates: the built-ins first, then the user's."""
    _ensure_builtins()
    return list(_templates.values())


def get_template(name: str) -> Template:
    """The template called ``name`` (``code_review`` finds ``code-review``)."""
    _ensure_builtins()
    if name in _templates:
        return _templates[name]
    wanted = _normalise(name)
    for key, template in _templates.items():
        if _normalise(key) == wanted:
            return template
    available = ", ".join(_templates) or "none"
    message = f"unknown template '{name}'. Available: {available}"
    close = difflib.get_close_matches(wanted, list(_templates), n=1, cutoff=0.5)
    if close:
        message += f". Did you mean '{close[0]}'?"
    raise TemplateError(message)


def build_workflow(
    name: str, params: Mapping[str, Any] | None = None, **workflow_kwargs: Any
) -> WorkflowDefinition:
    """Build a workflow from the template ``name`` with validated ``params``."""
    return get_template(name).build(params, **workflow_kwargs)


# ---------------------------------------------------------------- validation


def _did_you_mean(word: str, choices: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def _describe_error(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    where = loc[0] if loc else "?"
    detail = f" (item {'.'.join(loc[1:])})" if len(loc) > 1 else ""
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    value = error.get("input")
    shown = "" if isinstance(value, (dict, list)) else f" (got {value!r})"
    return f"parameter '{where}'{detail}: {message}{shown}"


def validate_parameters(
    template_name: str, model: type[BaseModel], params: Mapping[str, Any]
) -> BaseModel:
    """``params`` validated by ``model``; TemplateError naming the unknown or bad parameter."""
    fields = list(model.model_fields)
    for key in params:
        if key not in model.model_fields:
            names = ", ".join(fields) or "none"
            raise TemplateError(
                f"template '{template_name}': unknown parameter '{key}'."
                f"{_did_you_mean(key, fields)} Parameters: {names}"
            )
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise TemplateError(f"template '{template_name}': {_describe_error(first)}") from None


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
                f"{_did_you_mean(key, known)} Parameters: {', '.join(known)}"
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
        raise TemplateError(f"template '{template_name}': {_describe_error(first)}") from None


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


# ------------------------------------------------------ command-line values

_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        if len(args) == 1:
            return args[0], optional
        return annotation, optional
    return annotation, False


def _convert(key: str, text: str, annotation: Any) -> Any:
    annotation, optional = _unwrap_optional(annotation)
    if optional and text.strip().lower() in ("", "none", "null"):
        return None
    origin = typing.get_origin(annotation)
    if annotation is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise TemplateError(f"parameter '{key}': expected true/false/yes/no/1/0, got {text!r}")
    if annotation in (int, float):
        try:
            return annotation(text.strip())
        except ValueError:
            kind = "an integer" if annotation is int else "a number"
            raise TemplateError(f"parameter '{key}': expected {kind}, got {text!r}") from None
    if origin is Literal:
        choices = typing.get_args(annotation)
        for choice in choices:
            if str(choice) == text.strip():
                return choice
        shown = ", ".join(str(c) for c in choices)
        raise TemplateError(f"parameter '{key}': {text!r} is not one of: {shown}")
    if origin in (list, tuple, set, frozenset):
        (item,) = typing.get_args(annotation)[:1] or (Any,)
        if text.strip().startswith("["):
            items = _json(key, text, list, "a JSON list")
            return [i if not isinstance(i, str) else _convert(key, i, item) for i in items]
        if item is dict or typing.get_origin(item) is dict:
            raise TemplateError(f"parameter '{key}': expected a JSON list of objects, got {text!r}")
        return [_convert(key, part.strip(), item) for part in text.split(",") if part.strip()]
    if annotation is dict or origin is dict:
        return _json(key, text, dict, "a JSON object")
    if annotation is str:
        return text
    try:  # anything else: JSON if it parses, the text otherwise
        return json.loads(text)
    except ValueError:
        return text


def _json(key: str, text: str, kind: type, what: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise TemplateError(f"parameter '{key}': expected {what}, got invalid JSON ({exc})") from None
    if not isinstance(value, kind):
        raise TemplateError(f"parameter '{key}': expected {what}, got {text!r}")
    return value


def parse_param_assignments(pairs: list[str], model: type[BaseModel]) -> dict[str, Any]:
    """Turn command-line ``name=value`` strings into values typed by ``model``'s fields.

    Booleans accept true/false/yes/no/1/0, lists a comma-separated list or a
    JSON list, dicts a JSON object; an optional field set to ``none`` or
    nothing is None. A later assignment of the same name wins.
    """
    values: dict[str, Any] = {}
    fields = model.model_fields
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise TemplateError(f"parameter assignment {pair!r} must look like name=value")
        if key not in fields:
            names = ", ".join(fields) or "none"
            raise TemplateError(
                f"unknown parameter '{key}'.{_did_you_mean(key, fields)} Parameters: {names}"
            )
        values[key] = _convert(key, text, fields[key].annotation)
    return values
