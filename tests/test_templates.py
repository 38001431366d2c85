"""The template library: task ids and edges of each template, parameters, the registry, --param parsing."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

import deeptui.skills
from deeptui import (
    TaskDefinition,
    TaskRouter,
    TemplateError,
    WorkflowDefinition,
    create_ci_cd_pipeline,
    create_code_review_workflow,
    create_default_routing,
    create_documentation_workflow,
    create_etl_pipeline,
)
from deeptui.models import AgentCapability, ExecutionStrategy
from deeptui.workflows import (
    CICDParameters,
    ETLParameters,
    build_workflow,
    get_template,
    list_templates,
    parse_param_assignments,
    register_template,
    unregister_template,
)

FACTORIES = {
    "ci-cd": create_ci_cd_pipeline,
    "etl": create_etl_pipeline,
    "code-review": create_code_review_workflow,
    "documentation": create_documentation_workflow,
}


def ids(wf: WorkflowDefinition) -> list[str]:
    return [t.id for t in wf.tasks]


def edges(wf: WorkflowDefinition) -> set[tuple[str, str]]:
    return {(dep, t.id) for t in wf.tasks for dep in t.depends_on}


# ------------------------------------------------------------------ CI/CD


def test_ci_cd_guide_example_has_the_guide_task_ids_and_stages() -> None:
    wf = create_ci_cd_pipeline(
        workflow_id="my-ci-cd",
        repository_path="/path/to/repo",
        test_command="pytest",
        build_command="python -m build",
        deploy_target="staging",
        run_security_scan=True,
    )
    assert wf.id == "my-ci-cd"
    assert wf.execution_strategy == ExecutionStrategy.DAG
    assert ids(wf) == [
        "lint-code", "check-formatting", "run-tests", "security-scan", "build-artifacts", "deploy",
    ]
    assert edges(wf) == {
        ("lint-code", "run-tests"), ("check-formatting", "run-tests"),
        ("lint-code", "security-scan"), ("check-formatting", "security-scan"),
        ("run-tests", "build-artifacts"), ("security-scan", "build-artifacts"),
        ("build-artifacts", "deploy"),
    }


def test_ci_cd_given_commands_become_shell_tasks_in_the_repository() -> None:
    wf = create_ci_cd_pipeline(
        repository_path="/repo", test_command="pytest", build_command="python -m build"
    )
    tests = wf.get_task("run-tests")
    assert tests.task_type == "shell" and tests.kind == "shell"
    assert tests.parameters == {"command": "pytest", "cwd": "/repo"}
    assert tests.retry_config.max_retries == 0
    assert wf.get_task("build-artifacts").parameters == {"command": "python -m build", "cwd": "/repo"}
    lint = wf.get_task("lint-code")
    assert lint.kind == "agent"
    assert lint.required_capabilities == [AgentCapability.CODE_ANALYSIS]
    assert lint.required_skills == ["python-code-review"]
    assert "/repo" in lint.description
    scan = wf.get_task("security-scan")
    assert scan.kind == "agent" and scan.required_skills == ["security-audit"]


def test_ci_cd_without_commands_is_all_agent_tasks_with_matching_capabilities() -> None:
    wf = create_ci_cd_pipeline()
    assert {t.kind for t in wf.tasks} == {"agent"}
    tests = wf.get_task("run-tests")
    assert tests.required_capabilities == [AgentCapability.TESTING]
    assert tests.required_skills == ["test-strategy"]


def test_ci_cd_every_command_can_be_a_shell_task() -> None:
    wf = create_ci_cd_pipeline(
        lint_command="ruff check .", format_command="ruff format --check .",
        test_command="pytest", security_command="bandit -r src", build_command="make",
        deploy_target="prod", deploy_command="./deploy.sh", command_retries=2,
    )
    assert {t.kind for t in wf.tasks} == {"shell"}
    assert wf.get_task("security-scan").parameters["command"] == "bandit -r src"
    assert wf.get_task("deploy").parameters["command"] == "./deploy.sh"
    assert {t.retry_config.max_retries for t in wf.tasks} == {2}


def test_ci_cd_without_security_scan_or_deploy_target() -> None:
    wf = create_ci_cd_pipeline(run_security_scan=False, deploy_target="")
    assert ids(wf) == ["lint-code", "check-formatting", "run-tests", "build-artifacts"]
    assert edges(wf) == {
        ("lint-code", "run-tests"), ("check-formatting", "run-tests"), ("run-tests", "build-artifacts"),
    }


def test_ci_cd_blank_command_means_an_agent_does_the_step() -> None:
    wf = create_ci_cd_pipeline(test_command="  ")
    assert wf.get_task("run-tests").kind == "agent"


# ------------------------------------------------------------------ ETL


def test_etl_guide_example() -> None:
    wf = create_etl_pipeline(
        workflow_id="my-etl",
        source_configs=[
            {"type": "csv", "path": "data.csv"},
            {"type": "api", "url": "https://api.example.com/data"},
        ],
        transformation_steps=["clean nulls", "normalize values", "aggregate by date"],
        destination_config={"type": "database", "table": "analytics"},
        validate_data=True,
    )
    assert ids(wf) == [
        "extract-csv-0", "extract-api-1", "validate-extracted-data",
        "transform-step-1", "transform-step-2", "transform-step-3",
        "load-to-destination", "verify-load",
    ]
    assert edges(wf) == {
        ("extract-csv-0", "validate-extracted-data"), ("extract-api-1", "validate-extracted-data"),
        ("validate-extracted-data", "transform-step-1"), ("transform-step-1", "transform-step-2"),
        ("transform-step-2", "transform-step-3"), ("transform-step-3", "load-to-destination"),
        ("load-to-destination", "verify-load"),
    }
    assert wf.get_task("extract-api-1").required_capabilities == [AgentCapability.API_INTEGRATION]
    assert wf.get_task("extract-csv-0").parameters["source"] == {"type": "csv", "path": "data.csv"}
    assert "normalize values" in wf.get_task("transform-step-2").description
    assert "analytics" in wf.get_task("load-to-destination").description


def test_etl_defaults_match_the_guide_example() -> None:
    assert ids(create_etl_pipeline()) == ids(create_etl_pipeline(
        source_configs=[{"type": "csv"}, {"type": "api"}],
        transformation_steps=["a", "b", "c"],
    ))


def test_etl_without_validation_or_steps_loads_straight_after_the_extracts() -> None:
    wf = create_etl_pipeline(
        source_configs=[{"type": "Postgres DB"}, {"type": "csv"}, {"type": "csv"}],
        transformation_steps=[],
        validate_data=False,
    )
    assert ids(wf) == [
        "extract-postgres-db-0", "extract-csv-1", "extract-csv-2", "load-to-destination", "verify-load",
    ]
    assert edges(wf) == {
        ("extract-postgres-db-0", "load-to-destination"), ("extract-csv-1", "load-to-destination"),
        ("extract-csv-2", "load-to-destination"), ("load-to-destination", "verify-load"),
    }


def test_etl_first_transform_waits_for_every_extract_without_validation() -> None:
    wf = create_etl_pipeline(source_configs=[{"type": "csv"}, {"type": "json"}],
                             transformation_steps=["dedupe"], validate_data=False)
    assert wf.get_task("transform-step-1").depends_on == ["extract-csv-0", "extract-json-1"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"source_configs": [{"path": "x.csv"}]},
        {"source_configs": []},
        {"source_configs": "not a list"},
        {"transformation_steps": ["ok", " "]},
    ],
)
def test_etl_bad_parameters_name_the_parameter(kwargs: dict[str, Any]) -> None:
    name = next(iter(kwargs))
    with pytest.raises(TemplateError, match=f"template 'etl': parameter '{name}'"):
        create_etl_pipeline(**kwargs)


# ------------------------------------------------------------ code review


def test_code_review_guide_example() -> None:
    wf = create_code_review_workflow(
        workflow_id="my-review",
        repository_path="/path/to/repo",
        target_files=["src/*.py"],
        review_focus=["security", "quality", "documentation", "testing"],
        generate_report=True,
        auto_fix=False,
    )
    reviews = ["check-code-quality", "security-review", "review-documentation", "evaluate-test-coverage"]
    assert ids(wf) == ["analyze-code-structure", *reviews, "generate-review-report"]
    assert edges(wf) == {("analyze-code-structure", r) for r in reviews} | {
        (r, "generate-review-report") for r in reviews
    }
    assert wf.get_task("security-review").required_skills == ["security-audit"]
    assert wf.get_task("check-code-quality").required_skills == ["python-code-review"]
    assert wf.get_task("evaluate-test-coverage").required_skills == ["test-strategy"]
    assert "src/*.py" in wf.get_task("check-code-quality").description
    assert "/path/to/repo" in wf.get_task("analyze-code-structure").description


def test_code_review_auto_fix_runs_before_the_report_and_is_verified() -> None:
    wf = create_code_review_workflow(review_focus=["security"], auto_fix=True)
    assert ids(wf) == [
        "analyze-code-structure", "check-code-quality", "security-review",
        "apply-auto-fixes", "verify-fixes", "generate-review-report",
    ]
    assert edges(wf) == {
        ("analyze-code-structure", "check-code-quality"), ("analyze-code-structure", "security-review"),
        ("check-code-quality", "apply-auto-fixes"), ("security-review", "apply-auto-fixes"),
        ("apply-auto-fixes", "verify-fixes"),
        ("check-code-quality", "generate-review-report"), ("security-review", "generate-review-report"),
        ("verify-fixes", "generate-review-report"),
    }


def test_code_review_minimal_and_performance_focus() -> None:
    wf = create_code_review_workflow(review_focus=[], generate_report=False)
    assert ids(wf) == ["analyze-code-structure", "check-code-quality"]
    wf = create_code_review_workflow(review_focus=["performance", "performance"], generate_report=False)
    assert ids(wf) == ["analyze-code-structure", "check-code-quality", "review-performance"]
    assert wf.get_task("review-performance").required_skills == ["performance-analysis"]


def test_code_review_unknown_focus_names_the_parameter() -> None:
    with pytest.raises(TemplateError, match="parameter 'review_focus'"):
        create_code_review_workflow(review_focus=["style"])


# ----------------------------------------------------------- documentation


def test_documentation_guide_example() -> None:
    wf = create_documentation_workflow(
        workflow_id="my-docs", repository_path="/path/to/repo",
        doc_types=["api", "guide", "tutorial"], output_format="markdown", include_examples=True,
    )
    assert ids(wf) == [
        "analyze-codebase", "generate-api-docs", "write-user-guide", "create-tutorial",
        "generate-examples", "build-documentation",
    ]
    docs = ["generate-api-docs", "write-user-guide", "create-tutorial"]
    assert edges(wf) == {("analyze-codebase", d) for d in docs} | {
        ("generate-api-docs", "generate-examples"),
        *((d, "build-documentation") for d in [*docs, "generate-examples"]),
    }
    assert wf.get_task("generate-api-docs").required_skills == ["api-design"]
    assert "markdown" in wf.get_task("write-user-guide").description


def test_documentation_subset_without_api_docs() -> None:
    wf = create_documentation_workflow(doc_types=["tutorial"], output_format="rst", build_command="make html")
    assert ids(wf) == ["analyze-codebase", "create-tutorial", "generate-examples", "build-documentation"]
    assert edges(wf) == {
        ("analyze-codebase", "create-tutorial"), ("analyze-codebase", "generate-examples"),
        ("create-tutorial", "build-documentation"), ("generate-examples", "build-documentation"),
    }
    build = wf.get_task("build-documentation")
    assert build.kind == "shell" and build.parameters == {"command": "make html", "cwd": "."}
    wf = create_documentation_workflow(doc_types=["guide"], include_examples=False)
    assert edges(wf) == {("analyze-codebase", "write-user-guide"), ("write-user-guide", "build-documentation")}


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"doc_types": []}, "doc_types"), ({"doc_types": ["man"]}, "doc_types"),
     ({"output_format": "pdf"}, "output_format"), ({"include_examples": "maybe"}, "include_examples")],
)
def test_documentation_bad_parameters_name_the_parameter(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(TemplateError, match=f"parameter '{name}'"):
        create_documentation_workflow(**kwargs)


# ------------------------------------------------------- common to all four


@pytest.mark.parametrize("template", list(FACTORIES))
def test_common_workflow_settings_pass_through(template: str) -> None:
    wf = FACTORIES[template](
        workflow_id="custom",
        name="Nightly",
        description="runs at night",
        max_parallel_tasks=10,
        default_timeout_seconds=300,
        continue_on_failure=True,
        execution_strategy=ExecutionStrategy.PARALLEL,
        metadata={"team": "platform", "environment": "prod"},
    )
    assert (wf.id, wf.name, wf.description) == ("custom", "Nightly", "runs at night")
    assert wf.max_parallel_tasks == 10 and wf.continue_on_failure is True
    assert wf.default_timeout_seconds == 300 and wf.execution_strategy == ExecutionStrategy.PARALLEL
    assert wf.metadata["team"] == "platform" and wf.metadata["environment"] == "prod"
    assert wf.metadata["template"] == template
    # The workflow default timeout applies: template tasks no longer set their own.
    assert {t.timeout_seconds for t in wf.tasks} == {None}


@pytest.mark.parametrize("template", list(FACTORIES))
def test_templates_give_tasks_timeouts_priorities_and_routable_capabilities(template: str) -> None:
    wf = FACTORIES[template]()
    assert wf.name and wf.description
    assert wf.metadata["template_parameters"]["workflow_id"] == wf.id
    router = TaskRouter(create_default_routing())
    bundled = {p.parent.name for p in Path(deeptui.skills.__file__).parent.glob("*/SKILL.md")}
    for task in wf.tasks:
        assert task.timeout_seconds and 1 <= task.priority <= 10
        assert task.description
        if task.kind == "agent":
            router.check(task)  # one default agent type covers the capabilities
            assert set(task.required_skills) <= bundled


@pytest.mark.parametrize("template", list(FACTORIES))
def test_unknown_and_bad_workflow_settings_are_named(template: str) -> None:
    with pytest.raises(TemplateError, match="unknown parameter 'max_paralel_tasks'.*Did you mean 'max_parallel_tasks'"):
        FACTORIES[template](max_paralel_tasks=3)
    with pytest.raises(TemplateError, match="parameter 'max_parallel_tasks'"):
        FACTORIES[template](max_parallel_tasks=0)
    with pytest.raises(TemplateError, match="parameter 'workflow_id'"):
        FACTORIES[template](workflow_id="")


# ---------------------------------------------------------------- registry


def test_list_templates_has_the_four_builtins_in_order() -> None:
    templates = list_templates()
    assert [t.name for t in templates][:4] == ["ci-cd", "etl", "code-review", "documentation"]
    ci = get_template("ci-cd")
    assert ci.factory is create_ci_cd_pipeline and ci.parameters_model is CICDParameters
    assert ci.title == "CI/CD Pipeline" and ci.description
    assert get_template("code_review").name == "code-review"


def test_unknown_template_lists_the_available_ones_and_suggests() -> None:
    with pytest.raises(TemplateError) as info:
        get_template("ci_cdd")
    message = str(info.value)
    assert "unknown template 'ci_cdd'. Available: ci-cd, etl, code-review, documentation" in message
    assert "Did you mean 'ci-cd'?" in message


def test_build_workflow_validates_params_and_passes_workflow_settings() -> None:
    wf = build_workflow("code-review", {"auto_fix": True, "review_focus": ["testing"]}, max_parallel_tasks=2)
    assert "apply-auto-fixes" in ids(wf) and wf.max_parallel_tasks == 2
    assert ids(build_workflow("etl")) == ids(create_etl_pipeline())
    with pytest.raises(TemplateError, match="template 'code-review': parameter 'auto_fix'"):
        build_workflow("code-review", {"auto_fix": "sometimes"})
    with pytest.raises(TemplateError, match="unknown parameter 'autofix'. Did you mean 'auto_fix'"):
        build_workflow("code-review", {"autofix": True})


class GreetParameters(BaseModel):
    who: str = Field("world", description="Who to greet")
    times: int = Field(1, ge=1)


def greet_workflow(who: str, times: int, **workflow_kwargs: Any) -> WorkflowDefinition:
    """Greet someone a few times."""
    tasks = [TaskDefinition(id=f"greet-{i}", description=f"Greet {who}") for i in range(times)]
    return WorkflowDefinition(id="greet", tasks=tasks, **workflow_kwargs)


@pytest.fixture
def user_template():
    template = register_template("greet", greet_workflow, GreetParameters)
    yield template
    unregister_template("greet")


def test_registered_user_template_is_listed_and_built(user_template: Any) -> None:
    assert user_template.title == "Greet" and user_template.description == "Greet someone a few times."
    assert [t.name for t in list_templates()][-1] == "greet"
    wf = build_workflow("greet", {"times": 3}, max_parallel_tasks=1)
    assert ids(wf) == ["greet-0", "greet-1", "greet-2"] and wf.max_parallel_tasks == 1
    with pytest.raises(TemplateError, match="template 'greet': parameter 'times'"):
        build_workflow("greet", {"times": 0})


def test_registering_an_existing_name_needs_replace(user_template: Any) -> None:
    with pytest.raises(TemplateError, match="'greet' is already registered; pass replace=True"):
        register_template("greet", greet_workflow, GreetParameters)
    replaced = register_template("greet", greet_workflow, GreetParameters, title="Hello", replace=True)
    assert get_template("greet") is replaced and replaced.title == "Hello"
    with pytest.raises(TemplateError, match="already registered"):
        register_template("ci-cd", greet_workflow, GreetParameters)


def test_unregistered_template_is_unknown() -> None:
    register_template("temporary", greet_workflow, GreetParameters)
    unregister_template("temporary")
    with pytest.raises(TemplateError, match="unknown template 'temporary'"):
        get_template("temporary")


# ------------------------------------------------------ --param k=v parsing


class Typed(BaseModel):
    flag: bool = False
    count: int = 0
    ratio: float = 0.0
    name: str = ""
    maybe: str | None = None
    tags: list[str] = []
    mode: Literal["fast", "slow"] = "fast"
    modes: list[Literal["fast", "slow"]] = []
    config: dict[str, Any] = {}
    sources: list[dict[str, Any]] = []


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        ("flag=true", True), ("flag=YES", True), ("flag=1", True),
        ("flag=false", False), ("flag=no", False), ("flag=0", False),
        ("count=42", 42), ("ratio=0.25", 0.25), ("name=a=b c", "a=b c"),
        ("maybe=none", None), ("maybe=", None), ("maybe=x", "x"),
        ("tags=a, b,c", ["a", "b", "c"]), ('tags=["a,b", "c"]', ["a,b", "c"]), ("tags=", []),
        ("mode=slow", "slow"), ("modes=slow,fast", ["slow", "fast"]),
        ('config={"type": "db", "n": 1}', {"type": "db", "n": 1}),
        ('sources=[{"type": "csv"}]', [{"type": "csv"}]),
    ],
)
def test_param_assignments_are_typed_by_the_model(pair: str, expected: Any) -> None:
    key = pair.partition("=")[0]
    assert parse_param_assignments([pair], Typed) == {key: expected}


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("flag=perhaps", "parameter 'flag': expected true/false"),
        ("count=many", "parameter 'count': expected an integer"),
        ("ratio=x", "parameter 'ratio': expected a number"),
        ("mode=medium", "parameter 'mode': 'medium' is not one of: fast, slow"),
        ("modes=fast,medium", "parameter 'modes': 'medium' is not one of"),
        ("config=[1]", "parameter 'config': expected a JSON object"),
        ("config={oops", "parameter 'config': expected a JSON object, got invalid JSON"),
        ("sources=csv", "parameter 'sources': expected a JSON list of objects"),
        ("cuont=1", "unknown parameter 'cuont'. Did you mean 'count'?"),
        ("count", "'count' must look like name=value"),
    ],
)
def test_bad_param_assignments_name_the_parameter(pair: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("[", r"\[").replace("?", r"\?")):
        parse_param_assignments([pair], Typed)


def test_cli_params_build_an_etl_workflow() -> None:
    params = parse_param_assignments(
        ['source_configs=[{"type": "csv", "path": "a.csv"}]', "transformation_steps=clean,dedupe",
         "validate_data=no", 'destination_config={"type": "s3"}'],
        ETLParameters,
    )
    wf = build_workflow("etl", params)
    assert ids(wf) == ["extract-csv-0", "transform-step-1", "transform-step-2", "load-to-destination", "verify-load"]
    assert wf.metadata["template_parameters"]["destination_config"] == {"type": "s3"}


def test_a_deploy_command_without_a_deploy_target_is_refused() -> None:
    from deeptui.errors import TemplateError
    from deeptui.workflows import create_ci_cd_pipeline

    with pytest.raises(TemplateError, match="deploy_command.*deploy_target"):
        create_ci_cd_pipeline(deploy_command="./deploy.sh")
    assert create_ci_cd_pipeline(deploy_command="  ").task_ids[-1] == "build-artifacts"


def test_etl_sources_holding_nan_are_refused() -> None:
    from deeptui.errors import TemplateError
    from deeptui.workflows import create_etl_pipeline

    with pytest.raises(TemplateError, match="source_configs.*JSON"):
        create_etl_pipeline(source_configs=[{"type": "csv", "limit": float("nan")}])
