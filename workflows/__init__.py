"""The template library: the four built-in workflow templates and the template registry.

``create_ci_cd_pipeline``, ``create_etl_pipeline``, ``create_code_review_workflow``
and ``create_documentation_workflow`` are the orchestration guide's factories; each has a
pydantic parameters model. The registry names them ``ci-cd``, ``etl``,
``code-review`` and ``documentation`` and builds workflows from validated
parameters (the app's forms and ``deeptui run TEMPLATE --param k=v``).
"""

from __future__ import annotations

from deeptui.workflows.ci_cd import CICDParameters, create_ci_cd_pipeline
from deeptui.workflows.code_review import CodeReviewParameters, create_code_review_workflow
from deeptui.workflows.documentation import DocumentationParameters, create_documentation_workflow
from deeptui.workflows.etl import ETLParameters, create_etl_pipeline
from deeptui.workflows.factory import WORKFLOW_KWARGS
from deeptui.workflows.parameters import parse_param_assignments
from deeptui.workflows.registry import (
    Template,
    build_workflow,
    get_template,
    list_templates,
    register_template,
    unregister_template,
)

__all__ = [
    "WORKFLOW_KWARGS",
    "CICDParameters",
    "CodeReviewParameters",
    "DocumentationParameters",
    "ETLParameters",
    "Template",
    "build_workflow",
    "create_ci_cd_pipeline",
    "create_code_review_workflow",
    "create_documentation_workflow",
    "create_etl_pipeline",
    "get_template",
    "list_templates",
    "parse_param_assignments",
    "register_template",
    "unregister_template",
]
