"""The orchestration guide's "Usage Examples", "Retry Configuration", "Conditional Execution" and
"Skill Integration" examples, run as written (imports from deeptui, offline model)."""

from __future__ import annotations

import pytest

from deeptui import (
    AgentCapability,
    AgentRouting,
    ExecutionStrategy,
    OrchestrationConfig,
    RetryConfig,
    SimulatedModel,
    TaskDefinition,
    TaskOrchestrator,
    TaskStatus,
    WorkflowDefinition,
    WorkflowState,
    WorkflowStatus,
    create_deep_agent,
    create_default_deps,
    create_default_routing,
)
from deeptui import bus as ev
from deeptui.errors import SkillNotFoundError, WorkflowValidationError

from conftest import Recorder


def offline_agent():
    return create_deep_agent(model=SimulatedModel(latency=(0.0, 0.01), seed=1),
                             include_memory=False, include_history_archive=False,
                             web_search=False, web_fetch=False, cost_tracking=False)


def web_app_dev() -> WorkflowDefinition:
    return WorkflowDefinition(
        id="web-app-dev",
        name="Web Application Development",
        execution_strategy=ExecutionStrategy.DAG,
        max_parallel_tasks=3,
        tasks=[
            TaskDefinition(id="requirements", description="Define application requirements",
                           priority=10),
            TaskDefinition(id="backend", description="Develop backend API",
                           depends_on=["requirements"],
                           required_capabilities=[AgentCapability.CODE_GENERATION], priority=8),
            TaskDefinition(id="frontend", description="Develop frontend UI",
                           depends_on=["requirements"],
                           required_capabilities=[AgentCapability.CODE_GENERATION], priority=8),
            TaskDefinition(id="integration", description="Integrate frontend and backend",
                           depends_on=["backend", "frontend"], priority=7),
            TaskDefinition(id="testing", description="Run comprehensive tests",
                           depends_on=["integration"],
                           required_capabilities=[AgentCapability.TESTING], priority=6),
            TaskDefinition(id="docs", description="Generate documentation",
                           depends_on=["testing"],
                           required_capabilities=[AgentCapability.DOCUMENTATION], priority=5),
        ],
    )


async def test_basic_workflow_runs_sequentially_on_the_users_agent(capsys):
    agent = offline_agent()
    deps = create_default_deps()
    orchestrator = TaskOrchestrator(agent, deps)
    rec = Recorder(orchestrator.bus)
    workflow = WorkflowDefinition(
        id="simple-workflow",
        name="Simple Task Workflow",
        execution_strategy=ExecutionStrategy.SEQUENTIAL,
        tasks=[
            TaskDefinition(id="task1", description="Analyze requirements"),
            TaskDefinition(id="task2", description="Generate implementation plan",
                           depends_on=["task1"]),
            TaskDefinition(id="task3", description="Create documentation", depends_on=["task2"]),
        ],
    )
    result = await orchestrator.execute_workflow(workflow)
    print(f"Workflow status: {result.status}")
    print(f"Completed tasks: {len(result.completed_tasks)}")
    assert capsys.readouterr().out == "Workflow status: completed\nCompleted tasks: 3\n"
    assert rec.started() == ["task1", "task2", "task3"]
    assert rec.max_running == 1
    # each task ran on the agent, whose answer mentions the task and streamed as log lines
    task2 = result.task_results["task2"]
    assert "task2" in task2.output and "Generate implementation plan" in task2.output
    assert task2.usage.output_tokens > 0 and task2.attempts == 1
    assert any(isinstance(e, ev.TaskLog) and e.task_id == "task2" and e.kind == "text"
               for e in rec.events)
    # the dependency's output was in the prompt: the third task started after the second ended
    assert rec.first(ev.TaskCompleted, "task2") < rec.first(ev.TaskStarted, "task3")


async def test_parallel_execution_reaches_but_never_exceeds_the_limit():
    orchestrator = TaskOrchestrator(
        config=OrchestrationConfig(simulated_latency=(0.05, 0.1), simulated_seed=3))
    rec = Recorder(orchestrator.bus)
    workflow = WorkflowDefinition(
        id="parallel-analysis",
        name="Parallel Data Analysis",
        execution_strategy=ExecutionStrategy.PARALLEL,
        max_parallel_tasks=5,
        tasks=[
            TaskDefinition(id=f"analyze-{i}", description=f"Analyze dataset {i}",
                           required_capabilities=[AgentCapability.DATA_PROCESSING])
            for i in range(10)
        ],
    )
    result = await orchestrator.execute_workflow(workflow)
    assert result.status == WorkflowStatus.COMPLETED
    assert len(result.completed_tasks) == 10
    assert rec.max_running == 5
    assert {r.agent_used for r in result.task_results.values()} == {"data-processing-agent"}


async def test_complex_dag_honours_dependencies_and_parallelises_branches():
    orchestrator = TaskOrchestrator(
        config=OrchestrationConfig(simulated_latency=(0.05, 0.08), simulated_seed=5))
    rec = Recorder(orchestrator.bus)
    workflow = web_app_dev()
    result = await orchestrator.execute_workflow(workflow)
    assert result.status == "completed" and len(result.completed_tasks) == 6
    for task in workflow.tasks:
        for dep in task.depends_on:
            assert rec.first(ev.TaskCompleted, dep) < rec.first(ev.TaskStarted, task.id)
    assert rec.started()[0] == "requirements"
    assert set(rec.started()[1:3]) == {"backend", "frontend"}
    assert 1 < rec.max_running <= 3
    agents = {tid: r.agent_used for tid, r in result.task_results.items()}
    assert agents["backend"] == agents["frontend"] == "code-generation-agent"
    assert agents["testing"] == "testing-agent"
    assert agents["docs"] == "documentation-agent"
    assert agents["requirements"] == "general-agent"


async def test_progress_callback_sees_every_step(orchestrator, capsys):
    workflow = web_app_dev()
    seen: list[tuple[int, int]] = []

    def progress_callback(state: WorkflowState):
        progress = orchestrator.get_workflow_progress(workflow.id)
        print(f"Progress: {progress['completed']}/{progress['total_tasks']} tasks")
        print(f"Status: {progress['status']}")
        seen.append((progress["completed"], progress["total_tasks"]))

    result = await orchestrator.execute_workflow(workflow, progress_callback)
    out = capsys.readouterr().out
    assert "Progress: 6/6 tasks\nStatus: completed" in out
    assert "Progress: 0/6 tasks\nStatus: running" in out
    completed_counts = [c for c, _ in seen]
    assert completed_counts == sorted(completed_counts) and completed_counts[-1] == 6
    progress = orchestrator.get_workflow_progress(workflow.id)
    assert {"total_tasks", "completed", "failed", "running", "pending", "skipped", "status",
            "percent"} <= set(progress)
    assert progress["percent"] == 100.0 and result.status == "completed"


async def test_custom_agent_routing_prefers_priority_and_respects_concurrency():
    config = OrchestrationConfig(
        agent_routing=[
            AgentRouting(agent_type="senior-developer",
                         capabilities=[AgentCapability.CODE_GENERATION,
                                       AgentCapability.CODE_ANALYSIS, AgentCapability.DEBUGGING],
                         priority=10, max_concurrent_tasks=2),
            AgentRouting(agent_type="junior-developer",
                         capabilities=[AgentCapability.CODE_GENERATION],
                         priority=5, max_concurrent_tasks=5),
            *create_default_routing(),
        ],
        enable_parallel_execution=True,
        simulated_latency=(0.05, 0.08),
    )
    orchestrator = TaskOrchestrator(config=config)
    running: dict[str, int] = {}
    peak: dict[str, int] = {}

    def watch(event):
        if isinstance(event, ev.TaskStarted) and event.attempt == 1:
            running[event.agent_type] = running.get(event.agent_type, 0) + 1
            peak[event.agent_type] = max(peak.get(event.agent_type, 0), running[event.agent_type])
        elif isinstance(event, (ev.TaskCompleted, ev.TaskFailed, ev.TaskCancelled)):
            agent = orchestrator.get_workflow_state("codegen").task_results[event.task_id].agent_used
            running[agent] -= 1

    orchestrator.bus.tap(watch)
    workflow = WorkflowDefinition(
        id="codegen", max_parallel_tasks=6,
        tasks=[TaskDefinition(id=f"gen-{i}", description=f"Write module {i}",
                              required_capabilities=[AgentCapability.CODE_GENERATION])
               for i in range(6)]
        + [TaskDefinition(id="debug", description="Debug the crash",
                          required_capabilities=[AgentCapability.DEBUGGING],
                          depends_on=["gen-0"])],
    )
    result = await orchestrator.execute_workflow(workflow)
    assert result.status == "completed"
    used = [result.task_results[f"gen-{i}"].agent_used for i in range(6)]
    # the two highest-priority slots go to the senior, the rest spread over equal-priority agents
    assert used.count("senior-developer") >= 2
    assert peak["senior-developer"] == 2
    assert {"junior-developer", "code-generation-agent"} <= set(used)
    assert result.task_results["debug"].agent_used in ("senior-developer", "debugging-agent")


async def test_explicit_agent_type_wins_and_unroutable_tasks_fail_validation(orchestrator):
    workflow = WorkflowDefinition(id="explicit", tasks=[
        TaskDefinition(id="a", description="Research", agent_type="testing-agent",
                       required_capabilities=[AgentCapability.RESEARCH])])
    result = await orchestrator.execute_workflow(workflow)
    assert result.task_results["a"].agent_used == "testing-agent"

    narrow = TaskOrchestrator(config=OrchestrationConfig(agent_routing=[
        AgentRouting(agent_type="writer", capabilities=[AgentCapability.DOCUMENTATION])]))
    bad = WorkflowDefinition(id="bad", tasks=[
        TaskDefinition(id="ok", description="x",
                       required_capabilities=[AgentCapability.DOCUMENTATION]),
        TaskDefinition(id="needs-tests", description="y",
                       required_capabilities=[AgentCapability.TESTING])])
    with pytest.raises(WorkflowValidationError, match="task 'needs-tests'.*testing"):
        await narrow.execute_workflow(bad)
    assert narrow.get_workflow_state("bad") is None  # nothing ran
    with pytest.raises(WorkflowValidationError, match="agent_type 'nobody' is not configured"):
        await narrow.execute_workflow(WorkflowDefinition(id="x", tasks=[
            TaskDefinition(id="t", agent_type="nobody")]))


async def test_retry_configuration_backs_off_exponentially(orchestrator, recorder):
    attempts = {"n": 0}

    async def flaky(task, params, deps):
        attempts["n"] += 1
        if attempts["n"] <= 3:
            raise ConnectionError(f"temporary failure {attempts['n']}")
        return "ok"

    waits: list[float] = []

    async def fake_sleep(delay: float) -> None:
        waits.append(delay)

    orchestrator.register_callable("flaky", flaky)
    orchestrator.retry_sleep = fake_sleep
    task = TaskDefinition(
        id="flaky-task",
        description="Task that might fail temporarily",
        task_type="callable",
        parameters={"callable": "flaky"},
        retry_config=RetryConfig(max_retries=5, backoff_multiplier=2.0, initial_delay=1.0,
                                 max_delay=30.0),
    )
    result = await orchestrator.execute_task(task)
    assert result.status == TaskStatus.COMPLETED and result.output == "ok"
    assert result.attempts == 4 and result.retry_count == 3
    assert [e.attempt for e in recorder.of(ev.TaskRetrying)] == [1, 2, 3]
    for wait, expected in zip(waits, [1.0, 2.0, 4.0], strict=True):
        assert expected * 0.9 <= wait <= expected * 1.1  # 10% jitter
    assert "temporary failure 3" in recorder.of(ev.TaskRetrying)[-1].error


async def test_retries_stop_at_max_delay_and_max_retries(orchestrator):
    async def broken(task, params, deps):
        raise RuntimeError("always broken")

    waits: list[float] = []

    async def fake_sleep(delay: float) -> None:
        waits.append(delay)

    orchestrator.register_callable("broken", broken)
    orchestrator.retry_sleep = fake_sleep
    result = await orchestrator.execute_task(TaskDefinition(
        id="b", task_type="callable", parameters={"callable": "broken"},
        retry_config=RetryConfig(max_retries=5, initial_delay=1.0, max_delay=30.0, jitter=0)))
    assert result.status == "failed" and result.attempts == 6
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert result.error == "RuntimeError: always broken"


async def test_timeout_is_a_failed_attempt_and_is_retried(orchestrator, recorder):
    import asyncio

    async def slow(task, params, deps):
        await asyncio.sleep(5)

    orchestrator.register_callable("slow", slow)
    result = await orchestrator.execute_task(TaskDefinition(
        id="slow", task_type="callable", parameters={"callable": "slow"}, timeout_seconds=0.05,
        retry_config=RetryConfig(max_retries=1, initial_delay=0.01)))
    assert result.status == "failed" and result.attempts == 2
    assert result.error == "timed out after 0.05s"
    assert len(recorder.of(ev.TaskRetrying)) == 1


async def test_workflow_default_timeout_applies_to_tasks_without_their_own(orchestrator):
    import asyncio

    async def slow(task, params, deps):
        await asyncio.sleep(5)

    orchestrator.register_callable("slow", slow)
    workflow = WorkflowDefinition(id="wf", default_timeout_seconds=0.05, tasks=[
        TaskDefinition(id="slow", task_type="callable", parameters={"callable": "slow"},
                       retry_config=RetryConfig(max_retries=0))])
    result = await orchestrator.execute_workflow(workflow)
    assert result.task_results["slow"].error == "timed out after 0.05s"
    assert result.status == "failed"


def conditional_workflow(**kwargs) -> WorkflowDefinition:
    return WorkflowDefinition(
        id="conditional-workflow",
        name="Workflow with Conditional Tasks",
        execution_strategy=ExecutionStrategy.CONDITIONAL,
        tasks=[
            TaskDefinition(id="analyze", description="Analyze code quality", **kwargs),
            TaskDefinition(id="fix-issues", description="Fix issues found in analysis",
                           condition="analyze", depends_on=["analyze"]),
            TaskDefinition(id="verify", description="Verify fixes", depends_on=["fix-issues"]),
        ],
    )


async def test_conditional_tasks_run_when_their_condition_task_completed(orchestrator, recorder):
    result = await orchestrator.execute_workflow(conditional_workflow())
    assert result.status == "completed"
    assert recorder.started() == ["analyze", "fix-issues", "verify"]


async def test_condition_skips_and_skips_propagate(orchestrator, recorder):
    async def fail(task, params, deps):
        raise RuntimeError("analysis crashed")

    orchestrator.register_callable("fail", fail)
    workflow = conditional_workflow(task_type="callable", parameters={"callable": "fail"},
                                    retry_config=RetryConfig(max_retries=0))
    workflow.continue_on_failure = True
    result = await orchestrator.execute_workflow(workflow)
    assert result.status == "failed"
    assert result.failed_tasks == ["analyze"]
    assert result.skipped_tasks == ["fix-issues", "verify"]
    assert result.task_results["fix-issues"].skip_reason == "dependency 'analyze' failed"
    assert result.task_results["verify"].skip_reason == "dependency 'fix-issues' skipped"
    assert recorder.started() == ["analyze"]


async def test_expression_condition_false_skips_without_failing_the_run(orchestrator):
    workflow = WorkflowDefinition(id="cond", tasks=[
        TaskDefinition(id="lint", task_type="shell", parameters={"command": "echo 3 issues"}),
        TaskDefinition(id="fix", depends_on=["lint"], condition='lint.status == "failed"'),
        TaskDefinition(id="report", depends_on=["fix"], trigger_rule="all_done"),
    ])
    result = await orchestrator.execute_workflow(workflow)
    assert result.task_results["fix"].status == "skipped"
    assert result.task_results["report"].status == "completed"
    assert result.status == "completed"


def test_circular_dependency_is_named():
    with pytest.raises(ValueError, match=r"dependency cycle: (a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)"):
        WorkflowDefinition(id="cyclic", tasks=[
            TaskDefinition(id="a", depends_on=["c"]),
            TaskDefinition(id="b", depends_on=["a"]),
            TaskDefinition(id="c", depends_on=["b"]),
        ])


@pytest.mark.parametrize("tasks, message", [
    ([TaskDefinition(id="a"), TaskDefinition(id="a")], "duplicate task id 'a'"),
    ([TaskDefinition(id="a", depends_on=["ghost"])], "task 'a' depends on unknown task 'ghost'"),
    ([TaskDefinition(id="a", depends_on=["a"])], "task 'a' depends on itself"),
])
def test_invalid_graphs_name_the_task(tasks, message):
    with pytest.raises(ValueError, match=message):
        WorkflowDefinition(id="w", tasks=tasks)


@pytest.mark.parametrize("field, value, message", [
    ("priority", 0, "task 'x': priority 0 is outside 1-10"),
    ("priority", 11, "task 'x': priority 11 is outside 1-10"),
    ("timeout_seconds", -1, "task 'x': timeout_seconds must be positive"),
])
def test_bad_task_fields_name_the_task(field, value, message):
    with pytest.raises(ValueError, match=message):
        TaskDefinition(id="x", **{field: value})


def quality_pipeline() -> WorkflowDefinition:
    return WorkflowDefinition(
        id="quality-pipeline",
        name="Code Quality Pipeline",
        execution_strategy=ExecutionStrategy.DAG,
        tasks=[
            TaskDefinition(id="api-design", description="Design RESTful API",
                           required_skills=["api-design"]),
            TaskDefinition(id="implementation", description="Implement the API",
                           depends_on=["api-design"],
                           required_capabilities=[AgentCapability.CODE_GENERATION]),
            TaskDefinition(id="code-review", description="Review implementation quality",
                           depends_on=["implementation"], required_skills=["python-code-review"]),
            TaskDefinition(id="test-strategy", description="Design test strategy",
                           depends_on=["implementation"], required_skills=["test-strategy"]),
        ],
    )


async def test_skill_pipeline_runs_with_skills_loaded(fast_config, tmp_path):
    project_skills = tmp_path / "project-skills"
    project_skills.mkdir()
    orchestrator = TaskOrchestrator(
        config=fast_config,
        skill_directories=[
            {"path": str(tmp_path / "missing"), "recursive": True},
            {"path": str(project_skills), "recursive": False},
        ],
    )
    rec = Recorder(orchestrator.bus)
    result = await orchestrator.execute_workflow(quality_pipeline())
    assert result.status == "completed" and len(result.completed_tasks) == 4
    assert rec.first(ev.TaskCompleted, "implementation") < rec.first(ev.TaskStarted, "code-review")
    # each task's agent loaded exactly the skills the task requires
    loaded = {(e.task_id, e.text) for e in rec.of(ev.TaskLog) if e.kind == "tool_call"
              and e.text.startswith("load_skill")}
    assert loaded == {
        ("api-design", 'load_skill({"skill_name":"api-design"})'),
        ("code-review", 'load_skill({"skill_name":"python-code-review"})'),
        ("test-strategy", 'load_skill({"skill_name":"test-strategy"})'),
    }
    assert result.task_results["api-design"].output.endswith("Applied the api-design skill.")
    assert any(e.kind == "tool_result" and e.task_id == "api-design" and "<name>api-design</name>"
               in e.text for e in rec.of(ev.TaskLog))
    names = {skill["name"] for skill in orchestrator.skill_manager.get_all_skills()}
    assert {"python-code-review", "api-design", "test-strategy", "security-audit",
            "performance-analysis"} <= names
    assert orchestrator.skill_manager.get_skill("python-code-review")["description"]


async def test_missing_skill_is_a_clear_error_before_anything_runs(orchestrator, recorder):
    workflow = WorkflowDefinition(id="w", tasks=[
        TaskDefinition(id="first", description="runs first"),
        TaskDefinition(id="comprehensive-review", description="Full code quality review",
                       required_skills=["python-code-review", "nonexistent-skill"]),
    ])
    with pytest.raises(ValueError) as info:
        await orchestrator.execute_workflow(workflow)
    assert isinstance(info.value, SkillNotFoundError)
    assert "Required skill 'nonexistent-skill' not found. Available skills: [" in str(info.value)
    assert "'python-code-review'" in str(info.value)
    assert recorder.events == []


def test_recommend_strategy_follows_the_graph_shape(orchestrator):
    chain = WorkflowDefinition(id="c", tasks=[TaskDefinition(id="a"),
                                              TaskDefinition(id="b", depends_on=["a"])])
    flat = WorkflowDefinition(id="f", tasks=[TaskDefinition(id=f"t{i}") for i in range(3)])
    assert orchestrator.recommend_strategy(chain) == ExecutionStrategy.SEQUENTIAL
    assert orchestrator.recommend_strategy(flat) == ExecutionStrategy.PARALLEL
    assert orchestrator.recommend_strategy(web_app_dev()) == ExecutionStrategy.DAG
    assert orchestrator.recommend_strategy(conditional_workflow()) == ExecutionStrategy.CONDITIONAL
