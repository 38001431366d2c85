"""The code review template: structure analysis, then focused reviews in parallel, fixes and a report.

    analyze-code-structure
        ├──► check-code-quality ──────┐
        ├──► security-review ─────────┤
        ├──► review-documentation ────┼──► apply-auto-fixes ──► verify-fixes ──┐
        ├──► evaluate-test-coverage ──┤                                        ▼
        └──► review-performance ──────┴────────────────────────────► generate-review-report

``check-code-quality`` always runs (the orchestration guide lists it unconditionally); the
other reviews follow ``review_focus``. The report waits for the reviews and,
with ``auto_fix``, for ``verify-fixes`` so that it covers what was fixed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from deeptui.models import AgentCapability, TaskDefinition, WorkflowDefinition
from deeptui.workflows.factory import make_workflow, split_kwargs, task_timeout, with_parameters_signature

TEMPLATE = "code-review"

ReviewFocus = Literal["security", "quality", "documentation", "testing", "performance"]

# focus -> (task id, capability, skills, what the review looks at)
_FOCUSED_REVIEWS: dict[str, tuple[str, AgentCapability, list[str], str]] = {
    "security": (
        "security-review",
        AgentCapability.CODE_ANALYSIS,
        ["security-audit"],
        "Review {scope} for security vulnerabilities: injection, authentication and "
        "authorisation flaws, hard-coded secrets, unsafe deserialisation, path traversal. "
        "Give each finding a severity, the file and line, and a fix.",
    ),
    "documentation": (
        "review-documentation",
        AgentCapability.DOCUMENTATION,
        [],
        "Review the documentation of {scope}: missing or outdated docstrings, public APIs "
        "without examples, README gaps, comments that contradict the code.",
    ),
    "testing": (
        "evaluate-test-coverage",
        AgentCapability.TESTING,
        ["test-strategy"],
        "Evaluate the tests of {scope}: which behaviours and error paths are untested, "
        "weak assertions, flaky patterns; propose the most valuable missing tests.",
    ),
    "performance": (
        "review-performance",
        AgentCapability.CODE_ANALYSIS,
        ["performance-analysis"],
        "Review {scope} for performance problems: quadratic loops, repeated I/O, "
        "blocking calls in async code, needless copies; estimate the impact of each.",
    ),
}


class CodeReviewParameters(BaseModel):
    """Parameters of the code review template."""

    model_config = ConfigDict(extra="forbid")

    workflow_id: str = Field("code-review", min_length=1, description="Id of the workflow (runs are listed under it).")
    repository_path: str = Field(".", min_length=1, description="The repository to review.")
    target_files: list[str] = Field(
        default_factory=list,
        description="Glob patterns of the files to review, e.g. src/*.py. Empty: all files.",
    )
    review_focus: list[ReviewFocus] = Field(
        default_factory=lambda: ["security", "quality", "documentation", "testing"],
        description="Aspects to review; the code quality check always runs.",
    )
    generate_report: bool = Field(True, description="Write a review report from the findings.")
    auto_fix: bool = Field(False, description="Apply fixes for simple issues, then verify them.")

    @field_validator("target_files", mode="before")
    @classmethod
    def _none_means_all(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("target_files")
    @classmethod
    def _strip_patterns(cls, patterns: list[str]) -> list[str]:
        return [p.strip() for p in patterns if p.strip()]

    @field_validator("review_focus")
    @classmethod
    def _dedupe(cls, focus: list[str]) -> list[str]:
        return list(dict.fromkeys(focus))


@with_parameters_signature(CodeReviewParameters)
def create_code_review_workflow(**kwargs: Any) -> WorkflowDefinition:
    """Automated code review: structure, quality, security, docs, tests; report and auto-fixes."""
    params, settings = split_kwargs(TEMPLATE, CodeReviewParameters, kwargs)
    assert isinstance(params, CodeReviewParameters)
    repo = params.repository_path
    files = ", ".join(params.target_files)
    scope = f"the files {files} in the repository at {repo}" if files else f"the repository at {repo}"
    focus = ", ".join(params.review_focus) or "quality"
    common = {"repository_path": repo, "target_files": list(params.target_files)}

    def task(task_id: str, description: str, capability: AgentCapability, **spec: Any) -> TaskDefinition:
        timeout = spec.pop("timeout", 600)
        return TaskDefinition(
            id=task_id,
            description=description,
            required_capabilities=[capability],
            parameters=dict(common),
            timeout_seconds=task_timeout(timeout, settings),
            **spec,
        )

    tasks = [
        task(
            "analyze-code-structure",
            f"Analyse the structure of {scope}: modules and their responsibilities, the "
            f"dependencies between them, entry points and hot spots. Review focus: {focus}.",
            AgentCapability.CODE_ANALYSIS,
            priority=9,
            timeout=300,
        ),
        task(
            "check-code-quality",
            f"Check the code quality of {scope}: readability, naming, duplication, complexity, "
            "error handling and idiomatic use of the language. Cite file and line for each issue.",
            AgentCapability.CODE_ANALYSIS,
            required_skills=["python-code-review"],
            depends_on=["analyze-code-structure"],
            priority=8,
        ),
    ]
    reviews = ["check-code-quality"]
    for aspect in params.review_focus:
        if aspect not in _FOCUSED_REVIEWS:
            continue  # "quality" is check-code-quality, always present
        task_id, capability, skills, prompt = _FOCUSED_REVIEWS[aspect]
        tasks.append(
            task(
                task_id,
                prompt.format(scope=scope),
                capability,
                required_skills=skills,
                depends_on=["analyze-code-structure"],
                priority=8 if aspect == "security" else 7,
            )
        )
        reviews.append(task_id)
    report_deps = list(reviews)
    if params.auto_fix:
        tasks.append(
            task(
                "apply-auto-fixes",
                f"Apply fixes for the simple, safe issues the reviews of {scope} found (formatting, "
                "unused code, missing docstrings, obvious bugs); leave design changes alone and "
                "list every change made.",
                AgentCapability.CODE_GENERATION,
                required_skills=["python-code-review"],
                depends_on=list(reviews),
                writes=True,
                priority=6,
                timeout=900,
            )
        )
        tasks.append(
            task(
                "verify-fixes",
                f"Verify the fixes applied to {scope}: the tests still pass, behaviour is "
                "unchanged, and each fixed issue is really gone.",
                AgentCapability.TESTING,
                required_skills=["test-strategy"],
                depends_on=["apply-auto-fixes"],
                priority=6,
            )
        )
        report_deps.append("verify-fixes")
    if params.generate_report:
        tasks.append(
            task(
                "generate-review-report",
                f"Write the code review report for {scope}: a summary, then the findings grouped "
                "by severity with file and line and a recommended fix"
                + (", and the fixes applied and verified." if params.auto_fix else "."),
                AgentCapability.DOCUMENTATION,
                depends_on=report_deps,
                priority=5,
                timeout=300,
            )
        )
    return make_workflow(
        TEMPLATE,
        params,
        tasks,
        settings,
        name="Code Review",
        description=f"Automated code review of {scope} (focus: {focus})",
    )
