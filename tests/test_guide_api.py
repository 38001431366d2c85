"""What code written for the original orchestration API (the guide's) finds in deeptui:
the ``general-purpose`` agent type, ``auto_strategy=True`` and ``explain_strategy_choice``,
``WorkflowMetrics.get_summary()``, ``SkillManager.get_skill_summary()``, the rule for a
condition naming a task outside ``depends_on``, and deps for pydantic-deep 0.3."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from deeptui import (
    AgentCapability,
    AgentRouting,
    ConditionError,
    ExecutionStrategy,
    OrchestrationConfig,
    SimulatedModel,
    SkillManager,
    TaskDefinition,
    TaskOrchestrator,
    TaskStatus,
    WorkflowDefinition,
    WorkflowStatus,
    WorkflowValidationError,
    create_deep_agent,
    create_default_deps,
)

from conftest import Recorder

# --- agent_type="general-purpose" ------------------------------------------------------


async def test_general_purpose_agent_type_runs_on_the_general_agent(orchestrator):
    workflow = WorkflowDefinition(id="w", tasks=[
        TaskDefinition(id="plan", description="Plan the work", agent_type="general-purpose"),
    ])
    state = await orchestrator.execute_workflow(workflow)
    assert state.status == WorkflowStatus.COMPLETED
    assert state.task_results["plan"].agent_used == "general-agent"
    assert "Plan the work" in state.task_results["plan"].output


async def test_an_agent_type_configured_as_general_purpose_wins_over_the_alias(fast_config):
    own = AgentRouting(agent_type="general-purpose", capabilities=[AgentCapability.GENERAL])
    config = fast_config.model_copy(update={"agent_routing": [*fast_config.agent_routing, own]})
    orchestrator = TaskOrchestrator(config=config)
    workflow = WorkflowDefinition(id="w", tasks=[
        TaskDefinition(id="plan", agent_type="general-purpose")])
    state = await orchestrator.execute_workflow(workflow)
    assert state.task_results["plan"].agent_used == "general-purpose"


def test_general_purpose_without_a_general_agent_names_both_in_the_error():
    config = OrchestrationConfig(agent_routing=[
        AgentRouting(agent_type="coder", capabilities=[AgentCapability.CODE_GENERATION])])
    orchestrator = TaskOrchestrator(config=config)
    workflow = WorkflowDefinition(id="w", tasks=[
        TaskDefinition(id="plan", agent_type="general-purpose")])
    with pytest.raises(WorkflowValidationError) as info:
        orchestrator.validate(workflow)
    assert str(info.value) == (
        "task 'plan': agent_type 'general-purpose' is not configured, nor 'general-agent' it "
        "stands for (configured agent types: coder)")


# --- auto_strategy=True and explain_strategy_choice --------------------------------------


def independent(strategy: ExecutionStrategy = ExecutionStrategy.SEQUENTIAL) -> WorkflowDefinition:
    return WorkflowDefinition(id="flat", name="Flat", execution_strategy=strategy,
                              max_parallel_tasks=4,
                              tasks=[TaskDefinition(id=f"t{i}") for i in range(4)])


def chain(strategy: ExecutionStrategy = ExecutionStrategy.PARALLEL) -> WorkflowDefinition:
    return WorkflowDefinition(id="chain", name="Chain", execution_strategy=strategy, tasks=[
        TaskDefinition(id="a"),
        TaskDefinition(id="b", depends_on=["a"]),
        TaskDefinition(id="c", depends_on=["b"]),
    ])


def diamond() -> WorkflowDefinition:
    return WorkflowDefinition(id="diamond", name="Diamond", tasks=[
        TaskDefinition(id="top"),
        TaskDefinition(id="left", depends_on=["top"]),
        TaskDefinition(id="right", depends_on=["top"]),
        TaskDefinition(id="bottom", depends_on=["left", "right"]),
    ])


def conditional() -> WorkflowDefinition:
    return WorkflowDefinition(id="cond", name="Cond", tasks=[
        TaskDefinition(id="analyze"),
        TaskDefinition(id="fix-issues", depends_on=["analyze"], condition="analyze"),
    ])


async def test_auto_strategy_runs_independent_tasks_side_by_side():
    orchestrator = TaskOrchestrator(
        config=OrchestrationConfig(simulated_latency=(0.05, 0.05), simulated_seed=1))
    recorder = Recorder(orchestrator.bus)
    workflow = independent(ExecutionStrategy.SEQUENTIAL)
    state = await orchestrator.execute_workflow(workflow, auto_strategy=True)
    assert state.status == WorkflowStatus.COMPLETED
    assert state.execution_strategy == orchestrator.recommend_strategy(workflow)
    assert state.execution_strategy in (ExecutionStrategy.PARALLEL, ExecutionStrategy.DAG)
    assert recorder.max_running == 4
    # the caller's definition is untouched
    assert workflow.execution_strategy == ExecutionStrategy.SEQUENTIAL


async def test_without_auto_strategy_the_declared_strategy_runs(orchestrator, recorder):
    state = await orchestrator.execute_workflow(independent(ExecutionStrategy.SEQUENTIAL))
    assert state.execution_strategy == ExecutionStrategy.SEQUENTIAL
    assert recorder.max_running == 1


async def test_auto_strategy_runs_a_chain_sequentially(orchestrator, recorder):
    state = await orchestrator.execute_workflow(chain(ExecutionStrategy.PARALLEL),
                                                auto_strategy=True)
    assert state.execution_strategy == ExecutionStrategy.SEQUENTIAL
    assert recorder.started() == ["a", "b", "c"] and recorder.max_running == 1
    assert orchestrator.find_run("chain").workflow.execution_strategy == ExecutionStrategy.SEQUENTIAL


async def test_auto_strategy_gives_dag_and_conditional_shapes_their_strategies(orchestrator):
    state = await orchestrator.execute_workflow(diamond(), auto_strategy=True)
    assert state.execution_strategy == ExecutionStrategy.DAG
    state = await orchestrator.execute_workflow(conditional(), auto_strategy=True)
    assert state.execution_strategy == ExecutionStrategy.CONDITIONAL
    assert state.task_results["fix-issues"].status == TaskStatus.COMPLETED


def test_explain_strategy_choice_states_the_recommendation_and_why(orchestrator):
    assert orchestrator.explain_strategy_choice(independent()) == "\n".join([
        "Workflow 'Flat': 4 tasks on 1 level, at most 4 side by side, no conditions",
        "Recommended strategy: parallel",
        "Reason: no task depends on another, so all 4 can start at once "
        "(at most max_parallel_tasks=4 together)",
        "(it declares sequential; auto_strategy=True runs it as parallel)",
    ])
    assert orchestrator.explain_strategy_choice(chain(ExecutionStrategy.SEQUENTIAL)) == "\n".join([
        "Workflow 'Chain': 3 tasks on 3 levels, at most 1 side by side, no conditions",
        "Recommended strategy: sequential",
        "Reason: each task waits for the one before it (a chain): none could run side by side",
    ])
    assert "Reason: tasks depend on others, yet up to 2 could run at the same time" in \
        orchestrator.explain_strategy_choice(diamond())
    assert "Reason: 1 task (fix-issues) only runs if a condition holds" in \
        orchestrator.explain_strategy_choice(conditional())


@pytest.mark.parametrize("workflow", [independent(), chain(), diamond(), conditional(),
                                      WorkflowDefinition(id="one", tasks=[TaskDefinition(id="x")])])
def test_the_explanation_always_names_the_recommended_strategy(orchestrator, workflow):
    recommended = orchestrator.recommend_strategy(workflow)
    lines = orchestrator.explain_strategy_choice(workflow).splitlines()
    assert lines[1] == f"Recommended strategy: {recommended.value}"


# --- WorkflowMetrics.get_summary() ------------------------------------------------------


async def test_metrics_summary_has_the_headline_figures_of_the_run(orchestrator):
    def flaky(task, parameters, outputs):
        raise RuntimeError("Connection timeout")

    orchestrator.register_callable("ok", lambda task, parameters, outputs: {"rows": 3})
    orchestrator.register_callable("flaky", flaky)
    orchestrator.retry_sleep = lambda delay: asyncio.sleep(0)
    workflow = WorkflowDefinition(id="etl", name="ETL", continue_on_failure=True, tasks=[
        TaskDefinition(id="extract", task_type="callable", parameters={"callable": "ok"}),
        TaskDefinition(id="load", task_type="callable", parameters={"callable": "flaky"},
                       depends_on=["extract"]),
        TaskDefinition(id="report", depends_on=["load"]),
        TaskDefinition(id="notes", depends_on=["extract"]),
    ])
    await orchestrator.execute_workflow(workflow)
    metrics = orchestrator.get_workflow_metrics("etl")
    summary = metrics.get_summary()
    assert {k: summary[k] for k in ("workflow_id", "workflow_name", "status", "total_tasks",
                                    "completed_tasks", "failed_tasks", "skipped_tasks",
                                    "total_retries", "success_rate", "retry_rate")} == {
        "workflow_id": "etl", "workflow_name": "ETL", "status": "failed", "total_tasks": 4,
        "completed_tasks": 2, "failed_tasks": 1, "skipped_tasks": 1, "total_retries": 3,
        "success_rate": 50.0, "retry_rate": 0.75}
    assert summary["slowest_task"] in ("extract", "notes")
    assert summary["bottleneck"] == summary["slowest_task"]
    # the same figures the report prints
    report = metrics.get_performance_report()
    assert f"Total Duration: {summary['total_duration_seconds']:.2f}s" in report
    assert f"Average Task Duration: {summary['average_task_duration']:.2f}s" in report
    assert "Completed: 2 (50.0%)" in report


# --- SkillManager.get_skill_summary() ---------------------------------------------------


def test_skill_summary_lists_each_skill_with_its_origin(tmp_path):
    own = tmp_path / "skills" / "sql-tuning"
    own.mkdir(parents=True)
    (own / "SKILL.md").write_text(
        "---\nname: sql-tuning\ndescription: Tune slow SQL queries\n---\n\nUse EXPLAIN.\n")
    manager = SkillManager([tmp_path / "skills", tmp_path / "missing"])
    lines = manager.get_skill_summary().splitlines()
    assert lines[0] == "6 skills available:"
    assert [line.split()[0] for line in lines[1:7]] == [
        "api-design", "performance-analysis", "python-code-review", "security-audit",
        "sql-tuning", "test-strategy"]
    assert lines[5] == "  sql-tuning            [yours]    Tune slow SQL queries"
    assert lines[3].startswith("  python-code-review    [bundled]  Review Python code for")
    assert all(len(line) <= 100 for line in lines[1:7]) and lines[1].endswith("...")
    assert lines[7] == f"  ! skill directory {str(tmp_path / 'missing')!r} does not exist; ignored"


def test_skill_summary_without_skills_says_where_it_looked(tmp_path):
    manager = SkillManager([tmp_path], include_bundled=False)
    assert manager.get_skill_summary() == f"No skills available (searched: {tmp_path})."


# --- a condition naming a task that is not in depends_on --------------------------------


def guide_conditional(fix_depends_on: list[str]) -> WorkflowDefinition:
    return WorkflowDefinition(
        id="conditional-workflow", execution_strategy=ExecutionStrategy.CONDITIONAL, tasks=[
            TaskDefinition(id="analyze", description="Analyze code quality"),
            TaskDefinition(id="fix-issues", description="Fix issues found in analysis",
                           condition="analyze", depends_on=fix_depends_on),
            TaskDefinition(id="verify", description="Verify fixes", depends_on=["fix-issues"]),
        ])


async def test_condition_outside_depends_on_is_refused_saying_what_to_add(orchestrator, recorder):
    with pytest.raises(ConditionError) as info:
        await orchestrator.execute_workflow(guide_conditional([]))
    assert str(info.value) == (
        "task 'fix-issues': condition 'analyze' references task 'analyze', which is not in its "
        "depends_on: add it (depends_on=['analyze']); a condition may only read tasks that "
        "finish before its task starts")
    assert recorder.events == []  # refused before anything ran
    # done as the message says, the workflow runs in the guide's order
    state = await orchestrator.execute_workflow(guide_conditional(["analyze"]))
    assert state.status == WorkflowStatus.COMPLETED
    assert recorder.started() == ["analyze", "fix-issues", "verify"]


def test_condition_on_a_downstream_task_says_it_runs_after(orchestrator):
    workflow = guide_conditional(["analyze"])
    workflow.get_task("fix-issues").condition = "verify.failed"
    with pytest.raises(ConditionError, match=r"references task 'verify', which depends on "
                                             r"'fix-issues' and so runs after it"):
        orchestrator.validate(workflow)


# --- deps for pydantic-deep 0.3 ----------------------------------------------------------


def test_create_default_deps_takes_no_backend_any_more():
    """The README says what to pass instead of create_default_deps(backend=StateBackend())."""
    assert list(inspect.signature(create_default_deps).parameters) == []


async def test_the_readme_replacement_for_backend_deps_runs():
    from pydantic_deep import StateWorkspace

    agent = create_deep_agent(model=SimulatedModel(latency=(0.0, 0.01), seed=1),
                              workspace=StateWorkspace(), include_memory=False,
                              include_history_archive=False, web_search=False, web_fetch=False,
                              cost_tracking=False)
    orchestrator = TaskOrchestrator(agent=agent, deps=create_default_deps())
    state = await orchestrator.execute_workflow(WorkflowDefinition(id="w", tasks=[
        TaskDefinition(id="notes", description="Write release notes")]))
    assert state.status == WorkflowStatus.COMPLETED
    assert "Write release notes" in state.task_results["notes"].output
