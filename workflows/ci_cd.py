"""The CI/CD pipeline template: lint, format check, tests, security scan, build, deploy.

Every step given a command becomes a shell task that really runs it in the
repository; a step without a command is done by an agent with the matching
capability and skill.

    lint-code ────────┬──► run-tests ──────┬──► build-artifacts ──► deploy
    check-formatting ─┴──► security-scan ──┘
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from deeptui.models import AgentCapability, RetryConfig, TaskDefinition, WorkflowDefinition
from deeptui.workflows.factory import (
    make_workflow,
    split_kwargs,
    task_timeout,
    with_parameters_signature,
)
from deeptui.workflows.parameters import OptionalText

TEMPLATE = "ci-cd"


class CICDParameters(BaseModel):
    """Parameters of the CI/CD pipeline template."""

    model_config = ConfigDict(extra="forbid")

    workflow_id: str = Field(
        "ci-cd-pipeline", min_length=1, description="Id of the workflow (runs are listed under it)."
    )
    repository_path: str = Field(
        ".", min_length=1, description="The repository to check; the commands run in this directory."
    )
    test_command: OptionalText = Field(
        None, description="Shell command that runs the tests, e.g. 'pytest'. Empty: an agent runs them."
    )
    build_command: OptionalText = Field(
        None, description="Shell command that builds the artifacts, e.g. 'python -m build'. Empty: an agent builds."
    )
    lint_command: OptionalText = Field(
        None, description="Shell command that lints the code, e.g. 'ruff check .'. Empty: an agent reviews it."
    )
    format_command: OptionalText = Field(
        None,
        description="Shell command that checks formatting, e.g. 'ruff format --check .'. Empty: an agent checks.",
    )
    run_security_scan: bool = Field(True, description="Add a security vulnerability scan.")
    security_command: OptionalText = Field(
        None, description="Shell command of the security scan, e.g. 'bandit -r src'. Empty: an agent audits."
    )
    deploy_target: OptionalText = Field(
        None, description="Environment to deploy to after the build, e.g. 'staging'. Empty: no deploy step."
    )
    deploy_command: OptionalText = Field(
        None, description="Shell command that deploys (needs a deploy target). Empty: an agent deploys."
    )
    command_retries: int = Field(
        0, ge=0, le=10, description="How often a failing shell command is retried (agent steps keep the default)."
    )

    @field_validator("deploy_command")
    @classmethod
    def _deploy_needs_target(cls, command: str | None, info: ValidationInfo) -> str | None:
        if command and not info.data.get("deploy_target"):
            raise ValueError("a deploy_command needs a deploy_target (the environment it deploys to)")
        return command


def _step(
    task_id: str,
    *,
    command: str | None,
    params: CICDParameters,
    settings: dict[str, Any],
    shell_description: str,
    agent_description: str,
    capability: AgentCapability,
    skills: list[str],
    depends_on: list[str],
    priority: int,
    timeout: float,
    extra: dict[str, Any] | None = None,
) -> TaskDefinition:
    """A pipeline step: a shell task running ``command``, or an agent task without one."""
    common: dict[str, Any] = {
        "id": task_id,
        "depends_on": depends_on,
        "priority": priority,
        "timeout_seconds": task_timeout(timeout, settings),
    }
    if command:
        return TaskDefinition(
            **common,
            description=f"{shell_description}: `{command}` in {params.repository_path}",
            task_type="shell",
            parameters={"command": command, "cwd": params.repository_path},
            retry_config=RetryConfig(max_retries=params.command_retries),
        )
    return TaskDefinition(
        **common,
        description=agent_description,
        required_capabilities=[capability],
        required_skills=skills,
        parameters={"repository_path": params.repository_path, **(extra or {})},
    )


@with_parameters_signature(CICDParameters)
def create_ci_cd_pipeline(**kwargs: Any) -> WorkflowDefinition:
    """Continuous integration and deployment: lint, format check, tests, security scan, build, deploy."""
    params, settings = split_kwargs(TEMPLATE, CICDParameters, kwargs)
    assert isinstance(params, CICDParameters)
    repo = params.repository_path
    gate = ["lint-code", "check-formatting"]

    def step(task_id: str, **spec: Any) -> TaskDefinition:
        return _step(task_id, params=params, settings=settings, **spec)

    tasks = [
        step(
            "lint-code",
            command=params.lint_command,
            shell_description="Lint the code",
            agent_description=(
                f"Lint the Python code in the repository at {repo}: report style violations, "
                "unused imports and variables, likely bugs and risky constructs, each with file "
                "and line. Fail if there is an error-level finding."
            ),
            capability=AgentCapability.CODE_ANALYSIS,
            skills=["python-code-review"],
            depends_on=[],
            priority=8,
            timeout=300,
        ),
        step(
            "check-formatting",
            command=params.format_command,
            shell_description="Check the code formatting",
            agent_description=(
                f"Check that the code in the repository at {repo} follows a consistent format "
                "(indentation, line length, import order, quotes); list the files that deviate."
            ),
            capability=AgentCapability.CODE_ANALYSIS,
            skills=["python-code-review"],
            depends_on=[],
            priority=8,
            timeout=180,
        ),
        step(
            "run-tests",
            command=params.test_command,
            shell_description="Run the test suite",
            agent_description=(
                f"Run the test suite of the repository at {repo} and report the passed, failed "
                "and skipped tests, the failures with their tracebacks, and gaps in coverage."
            ),
            capability=AgentCapability.TESTING,
            skills=["test-strategy"],
            depends_on=gate,
            priority=9,
            timeout=1800,
        ),
    ]
    build_deps = ["run-tests"]
    if params.run_security_scan:
        tasks.append(
            step(
                "security-scan",
                command=params.security_command,
                shell_description="Scan for security vulnerabilities",
                agent_description=(
                    f"Scan the repository at {repo} for security vulnerabilities: injection, "
                    "hard-coded secrets, unsafe deserialisation, vulnerable dependencies. Report "
                    "each finding with severity, file and line, and a fix."
                ),
                capability=AgentCapability.CODE_ANALYSIS,
                skills=["security-audit"],
                depends_on=gate,
                priority=8,
                timeout=900,
            )
        )
        build_deps.append("security-scan")
    tasks.append(
        step(
            "build-artifacts",
            command=params.build_command,
            shell_description="Build the artifacts",
            agent_description=(
                f"Build the distributable artifacts of the repository at {repo} (for a Python "
                "project a wheel and an sdist), and list the files produced with their sizes."
            ),
            capability=AgentCapability.FILE_OPERATIONS,
            skills=[],
            depends_on=build_deps,
            priority=7,
            timeout=900,
        )
    )
    if params.deploy_target:
        tasks.append(
            step(
                "deploy",
                command=params.deploy_command,
                shell_description=f"Deploy to {params.deploy_target}",
                agent_description=(
                    f"Deploy the artifacts built from the repository at {repo} to the "
                    f"'{params.deploy_target}' environment, then confirm the deployment is healthy."
                ),
                capability=AgentCapability.GENERAL,
                skills=[],
                depends_on=["build-artifacts"],
                priority=6,
                timeout=900,
                extra={"deploy_target": params.deploy_target},
            )
        )
    return make_workflow(
        TEMPLATE,
        params,
        tasks,
        settings,
        name="CI/CD Pipeline",
        description=f"Continuous integration and deployment of {repo}",
    )
