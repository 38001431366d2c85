"""Orchestration basics: the workflows of the guide's "Usage Examples", run end to end.

Shows, in order:
  1. a basic workflow (three tasks in a row) on your own agent and deps, as the guide does
  2. parallel data processing (ten tasks, at most five at a time)
  3. conditional task execution (a task that runs, one that is skipped)
  4. a complex DAG workflow (a web application, its branches side by side)
  5. progress tracking (a callback on every change)
  6. error handling (retries with backoff, continue_on_failure, a cycle refused)

Run it:
    python examples/orchestration_example.py                       # offline model, no key
    python examples/orchestration_example.py --model openai:gpt-4o-mini
    DEEPTUI_MODEL=anthropic:claude-3-5-haiku-latest python examples/orchestration_example.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from pydantic_ai.models import Model

from deeptui import (
    AgentCapability,
    DeeptuiError,
    ExecutionStrategy,
    OrchestrationConfig,
    RetryConfig,
    SimulatedModel,
    TaskDefinition,
    TaskOrchestrator,
    WorkflowDefinition,
    WorkflowState,
    create_deep_agent,
    create_default_deps,
    resolve_model,
)

# The offline model answers after a short simulated delay, so the example runs in seconds.
OFFLINE = OrchestrationConfig(simulated_latency=(0.05, 0.25), simulated_seed=7)


def chosen_model() -> Model | None:
    """The model --model or DEEPTUI_MODEL names, or None for the offline model. Resolved
    now, so a bad name or a missing API key is one clear line before anything runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("DEEPTUI_MODEL"),
                        help="a pydantic-ai model, e.g. openai:gpt-4o-mini "
                             "(default: $DEEPTUI_MODEL, else the offline model)")
    name = parser.parse_args().model
    return resolve_model(name) if name else None


def heading(title: str) -> None:
    print(f"\n=== {title} ===")


async def basic_workflow(model: Model | None) -> None:
    heading("1. Basic workflow (your own agent and deps)")
    # The guide's TaskOrchestrator(agent, deps): every agent task runs on this agent.
    # pydantic-deep 0.3's create_default_deps() takes no backend: files live in the
    # agent's workspace (create_deep_agent(workspace=...), in memory by default).
    agent = create_deep_agent(
        model=model or SimulatedModel(latency=(0.05, 0.25), seed=7),
        # tools this example does not need (no skills folder, memory or web here)
        include_skills=False, include_memory=False, web_search=False, web_fetch=False,
        cost_tracking=False,
    )
    orchestrator = TaskOrchestrator(agent, create_default_deps())
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
    first_line = str(result.task_results["task3"].output).strip().splitlines()[0]
    print(f"task3 answered: {first_line[:70]}")


async def parallel_processing(model: Model | None) -> None:
    heading("2. Parallel data processing")
    orchestrator = TaskOrchestrator(config=OFFLINE, model=model)
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
    most_at_once = 0

    def watch(state: WorkflowState) -> None:
        nonlocal most_at_once
        most_at_once = max(most_at_once, len(state.running_tasks))

    result = await orchestrator.execute_workflow(workflow, watch)
    agents = sorted({r.agent_used for r in result.task_results.values()})
    print(f"{len(result.completed_tasks)} of {len(workflow.tasks)} datasets analysed, "
          f"at most {most_at_once} at a time (max_parallel_tasks=5), by {', '.join(agents)}")


async def conditional_execution(model: Model | None) -> None:
    heading("3. Conditional task execution")
    orchestrator = TaskOrchestrator(config=OFFLINE, model=model)
    workflow = WorkflowDefinition(
        id="conditional-workflow",
        name="Workflow with Conditional Tasks",
        execution_strategy=ExecutionStrategy.CONDITIONAL,
        tasks=[
            TaskDefinition(id="analyze", description="Analyze code quality"),
            # A condition reads tasks in depends_on; the bare id means "analyze completed".
            TaskDefinition(id="fix-issues", description="Fix issues found in analysis",
                           condition="analyze", depends_on=["analyze"]),
            TaskDefinition(id="verify", description="Verify fixes", depends_on=["fix-issues"]),
            # Only when the analysis failed: it did not, so this task is skipped.
            TaskDefinition(id="report-failure", description="Tell the team the analysis broke",
                           condition="analyze.failed", depends_on=["analyze"],
                           trigger_rule="all_done"),
        ],
    )
    result = await orchestrator.execute_workflow(workflow)
    for task_id, task_result in result.task_results.items():
        reason = f" ({task_result.skip_reason})" if task_result.skip_reason else ""
        print(f"  {task_id:15} {task_result.status}{reason}")


async def complex_dag(model: Model | None) -> None:
    heading("4. Complex DAG workflow")
    orchestrator = TaskOrchestrator(config=OFFLINE, model=model)
    workflow = WorkflowDefinition(
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
    result = await orchestrator.execute_workflow(workflow)
    by_start = sorted(result.task_results.values(), key=lambda r: r.started_at)
    print("Tasks in the order they started, with the agent type that ran each:")
    for task_result in by_start:
        print(f"  {task_result.task_id:13} {task_result.agent_used}")
    backend, frontend = result.task_results["backend"], result.task_results["frontend"]
    overlap = backend.started_at < frontend.completed_at and frontend.started_at < backend.completed_at
    print(f"backend and frontend ran side by side: {overlap}")
    print(f"Workflow status: {result.status}")


async def progress_tracking(model: Model | None) -> None:
    heading("5. Progress tracking")
    orchestrator = TaskOrchestrator(config=OFFLINE, model=model)
    workflow = WorkflowDefinition(
        id="release",
        name="Release",
        tasks=[
            TaskDefinition(id="changelog", description="Collect the changes since the last tag"),
            TaskDefinition(id="notes", description="Write release notes", depends_on=["changelog"]),
            TaskDefinition(id="announce", description="Draft the announcement",
                           depends_on=["notes"]),
        ],
    )
    last_seen = -1

    def progress_callback(state: WorkflowState) -> None:
        nonlocal last_seen
        progress = orchestrator.get_workflow_progress(workflow.id)
        if progress["completed"] != last_seen:  # print when a task completes, not on every change
            last_seen = progress["completed"]
            print(f"Progress: {progress['completed']}/{progress['total_tasks']} tasks")

    result = await orchestrator.execute_workflow(workflow, progress_callback)
    print(f"Status: {orchestrator.get_workflow_progress(workflow.id)['status']} "
          f"after {result.duration_seconds:.1f}s")


async def error_handling(model: Model | None) -> None:
    heading("6. Error handling")
    # Python functions as tasks make failures predictable; agent tasks fail and retry alike.
    orchestrator = TaskOrchestrator(config=OFFLINE, model=model)
    attempts = {"flaky": 0}

    def flaky(task, parameters, dependency_outputs):
        attempts["flaky"] += 1
        if attempts["flaky"] < 3:
            raise ConnectionError(f"temporary outage (attempt {attempts['flaky']})")
        return {"rows": 1200}

    def broken(task, parameters, dependency_outputs):
        raise ValueError("the upstream API returned malformed JSON")

    orchestrator.register_callable("flaky", flaky)
    orchestrator.register_callable("broken", broken)
    quick_retries = RetryConfig(max_retries=3, initial_delay=0.05, backoff_multiplier=2.0,
                                max_delay=1.0)
    workflow = WorkflowDefinition(
        id="resilient",
        name="Resilient Workflow",
        continue_on_failure=True,  # independent branches go on after a failure
        tasks=[
            TaskDefinition(id="flaky-task", description="Fetch data (fails twice, then works)",
                           task_type="callable", parameters={"callable": "flaky"},
                           retry_config=quick_retries),
            TaskDefinition(id="broken-task", description="Import the partner feed",
                           task_type="callable", parameters={"callable": "broken"},
                           retry_config=RetryConfig(max_retries=1, initial_delay=0.05)),
            TaskDefinition(id="merge", description="Merge both sources",
                           depends_on=["flaky-task", "broken-task"]),
            TaskDefinition(id="summary", description="Summarise the fetched data",
                           depends_on=["flaky-task"]),
        ],
    )
    result = await orchestrator.execute_workflow(workflow)
    print(f"Workflow status: {result.status}")
    for task_id, r in result.task_results.items():
        detail = r.error or r.skip_reason or ""
        print(f"  {task_id:12} {r.status:9} attempts={r.attempts} {detail}".rstrip())
    print(f"Failed tasks: {result.failed_tasks}")

    try:
        WorkflowDefinition(id="loop", tasks=[
            TaskDefinition(id="a", depends_on=["c"]),
            TaskDefinition(id="b", depends_on=["a"]),
            TaskDefinition(id="c", depends_on=["b"]),
        ])
    except ValueError as error:  # pydantic's ValidationError, holding deeptui's message
        print(f"Refused before running: {error.errors()[0]['msg']}")


async def main(model: Model | None) -> None:
    print(f"Model: {model.model_name if model else 'offline (SimulatedModel)'}")
    await basic_workflow(model)
    await parallel_processing(model)
    await conditional_execution(model)
    await complex_dag(model)
    await progress_tracking(model)
    await error_handling(model)


if __name__ == "__main__":
    try:
        model = chosen_model()
    except DeeptuiError as error:  # a bad model name, a missing key: one line, no traceback
        sys.exit(f"error: {error}")
    asyncio.run(main(model))
