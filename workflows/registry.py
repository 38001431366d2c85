"""The template registry: named workflow templates, their parameter models, and building from them.

A template is a factory function returning a ``WorkflowDefinition`` plus a
pydantic model of its parameters (the app generates its form from that model;
the CLI converts ``--param k=v`` strings with it, see `deeptui.workflows.parameters`).
The four built-in templates are registered on first use; users add their own with
``register_template``.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from deeptui.errors import TemplateError
from deeptui.models import WorkflowDefinition
from deeptui.workflows import ci_cd, code_review, documentation, etl
from deeptui.workflows.parameters import validate_parameters


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
    # Built-ins first, in the orchestration guide's order, then user templates as registered.
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
