"""The documentation template: analyse the codebase, write each kind of document, build the docs.

                       ┌──► generate-api-docs ──► generate-examples ──┐
    analyze-codebase ──┼──► write-user-guide ─────────────────────────┼──► build-documentation
                       └──► create-tutorial ──────────────────────────┘

The writing tasks follow ``doc_types``; ``generate-examples`` (with
``include_examples``) waits for the API docs when they are written, else for
the analysis. ``build-documentation`` is a shell task when ``build_command``
is given (e.g. ``mkdocs build``), else an agent assembles the documents.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from deeptui.models import AgentCapability, RetryConfig, TaskDefinition, WorkflowDefinition
from deeptui.workflows.factory import (
    make_workflow,
    split_kwargs,
    task_timeout,
    with_parameters_signature,
)
from deeptui.workflows.parameters import OptionalText

TEMPLATE = "documentation"

DocType = Literal["api", "guide", "tutorial"]
OutputFormat = Literal["markdown", "rst", "html"]

# doc type -> (task id, skills, what to write)
_DOCUMENTS: dict[str, tuple[str, list[str], str]] = {
    "api": (
        "generate-api-docs",
        ["api-design"],
        "Write the API reference of the repository at {repo}: every public module, class and "
        "function with its signature, parameters, return value, errors raised and a short example.",
    ),
    "guide": (
        "write-user-guide",
        [],
        "Write the user guide of the project at {repo}: installation, configuration, the main "
        "concepts and the common tasks, each with the commands or code to run.",
    ),
    "tutorial": (
        "create-tutorial",
        [],
        "Write a step-by-step tutorial for the project at {repo} that takes a newcomer from "
        "installation to a small working result, showing the expected output of every step.",
    ),
}


class DocumentationParameters(BaseModel):
    """Parameters of the documentation template."""

    model_config = ConfigDict(extra="forbid")

    workflow_id: str = Field("documentation", min_length=1, description="Id of the workflow (runs are listed under it).")
    repository_path: str = Field(".", min_length=1, description="The repository to document.")
    doc_types: list[DocType] = Field(
        default_factory=lambda: ["api", "guide", "tutorial"],
        min_length=1,
        description="Documents to write: api (reference), guide (user guide), tutorial.",
    )
    output_format: OutputFormat = Field("markdown", description="Format of the documents.")
    include_examples: bool = Field(True, description="Generate runnable code examples.")
    output_dir: str = Field("docs", min_length=1, description="Directory (in the repository) the documents go to.")
    build_command: OptionalText = Field(
        None, description="Shell command that builds the docs, e.g. 'mkdocs build'. Empty: an agent assembles them."
    )

    @field_validator("doc_types")
    @classmethod
    def _dedupe(cls, doc_types: list[str]) -> list[str]:
        return list(dict.fromkeys(doc_types))


@with_parameters_signature(DocumentationParameters)
def create_documentation_workflow(**kwargs: Any) -> WorkflowDefinition:
    """Documentation generation: codebase analysis, API docs, user guide, tutorial, examples, build."""
    params, settings = split_kwargs(TEMPLATE, DocumentationParameters, kwargs)
    assert isinstance(params, DocumentationParameters)
    repo = params.repository_path
    where = f"Write {params.output_format} files under {params.output_dir}/."
    common = {
        "repository_path": repo,
        "output_format": params.output_format,
        "output_dir": params.output_dir,
    }
    tasks = [
        TaskDefinition(
            id="analyze-codebase",
            description=(
                f"Analyse the codebase at {repo} for documentation: its purpose, public API, "
                "modules, entry points, configuration and existing docs, and what is missing."
            ),
            required_capabilities=[AgentCapability.CODE_ANALYSIS],
            parameters=dict(common),
            priority=9,
            timeout_seconds=task_timeout(300, settings),
        )
    ]
    written = []
    for doc_type in params.doc_types:
        task_id, skills, prompt = _DOCUMENTS[doc_type]
        tasks.append(
            TaskDefinition(
                id=task_id,
                description=f"{prompt.format(repo=repo)} {where}",
                required_capabilities=[AgentCapability.DOCUMENTATION],
                required_skills=skills,
                depends_on=["analyze-codebase"],
                parameters={**common, "doc_type": doc_type},
                writes=True,
                priority=8 if doc_type == "api" else 7,
                timeout_seconds=task_timeout(900, settings),
            )
        )
        written.append(task_id)
    if params.include_examples:
        after = ["generate-api-docs"] if "api" in params.doc_types else ["analyze-codebase"]
        tasks.append(
            TaskDefinition(
                id="generate-examples",
                description=(
                    f"Write short, runnable code examples for the main features of the project "
                    f"at {repo}, each with the output it prints, for the documentation. {where}"
                ),
                required_capabilities=[AgentCapability.CODE_GENERATION],
                depends_on=after,
                writes=True,
                parameters=dict(common),
                priority=6,
                timeout_seconds=task_timeout(600, settings),
            )
        )
        written.append("generate-examples")
    build = {
        "id": "build-documentation",
        "depends_on": written or ["analyze-codebase"],
        "priority": 5,
        "timeout_seconds": task_timeout(600, settings),
    }
    if params.build_command:
        tasks.append(
            TaskDefinition(
                **build,
                description=f"Build the documentation: `{params.build_command}` in {repo}",
                task_type="shell",
                parameters={"command": params.build_command, "cwd": repo},
                retry_config=RetryConfig(max_retries=0),
            )
        )
    else:
        tasks.append(
            TaskDefinition(
                **build,
                description=(
                    f"Assemble the documents in {params.output_dir}/ of {repo} into one "
                    f"{params.output_format} documentation set: an index, navigation between the "
                    "pages, working cross-references; report broken links and missing pages."
                ),
                required_capabilities=[AgentCapability.DOCUMENTATION],
                parameters=dict(common),
                writes=True,
            )
        )
    kinds = ", ".join(params.doc_types)
    return make_workflow(
        TEMPLATE,
        params,
        tasks,
        settings,
        name="Documentation",
        description=f"Documentation ({kinds}) for {repo} in {params.output_format}",
    )
