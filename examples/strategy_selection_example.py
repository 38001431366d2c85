"""Choosing an execution strategy: by hand, by recommendation, or automatically.

Shows, in order:
  1. strategy recommendations: four workflow shapes, the strategy recommend_strategy
     picks for each and explain_strategy_choice's reason
  2. manual strategy selection and a performance comparison: the same workflow run
     with each of the four strategies, timed
  3. automatic strategy selection: execute_workflow(workflow, auto_strategy=True)

Timings depend on the model: offline, each answer takes 0.05-0.3 s (simulated).

Run it:
    python examples/strategy_selection_example.py                 # offline model
    python examples/strategy_selection_example.py --model openai:gpt-4o-mini
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import textwrap

from pydantic_ai.models import Model

from deeptui import (
    CacheConfig,
    CacheStrategy,
    DeeptuiError,
    ExecutionStrategy,
    OrchestrationConfig,
    TaskDefinition,
    TaskOrchestrator,
    WorkflowDefinition,
    WorkflowState,
    resolve_model,
)

OFFLINE = OrchestrationConfig(simulated_latency=(0.05, 0.3), simulated_seed=7)
# No result cache here: a second run of the same workflow would be served from it,
# and the comparison would time the cache, not the strategy.
NO_CACHE = CacheConfig(strategy=CacheStrategy.NONE)


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


def nightly_checks() -> WorkflowDefinition:
    """Independent tasks."""
    return WorkflowDefinition(id="nightly-checks", name="Nightly Data Checks", tasks=[
        TaskDefinition(id=f"check-{table}", description=f"Check the {table} table for anomalies")
        for table in ("orders", "customers", "payments", "shipments", "invoices")
    ])


def hotfix() -> WorkflowDefinition:
    """A chain: each step needs the one before."""
    steps = ["reproduce", "fix", "verify", "deploy"]
    return WorkflowDefinition(id="hotfix", name="Hotfix", tasks=[
        TaskDefinition(id=step, description=f"{step.capitalize()} the production bug",
                       depends_on=steps[i - 1:i])
        for i, step in enumerate(steps)
    ])


def feature_delivery(strategy: ExecutionStrategy = ExecutionStrategy.SEQUENTIAL,
                     ) -> WorkflowDefinition:
    """Dependencies with branches that can run side by side."""
    return WorkflowDefinition(
        id="feature-delivery", name="Feature Delivery", execution_strategy=strategy,
        max_parallel_tasks=4,
        tasks=[
            TaskDefinition(id="spec", description="Write the feature specification"),
            TaskDefinition(id="backend-api", description="Build the API", depends_on=["spec"]),
            TaskDefinition(id="migration", description="Write the database migration",
                           depends_on=["spec"]),
            TaskDefinition(id="web-ui", description="Build the web UI", depends_on=["spec"]),
            TaskDefinition(id="api-tests", description="Test the API",
                           depends_on=["backend-api", "migration"]),
            TaskDefinition(id="ui-tests", description="Test the UI", depends_on=["web-ui"]),
            TaskDefinition(id="docs", description="Document the API", depends_on=["backend-api"]),
            TaskDefinition(id="release", description="Release the feature",
                           depends_on=["api-tests", "ui-tests", "docs"]),
        ],
    )


def review_with_follow_up() -> WorkflowDefinition:
    """A task that only runs if a condition holds."""
    return WorkflowDefinition(id="review", name="Review with Follow-up", tasks=[
        TaskDefinition(id="review", description="Review the pull request"),
        TaskDefinition(id="follow-up", description="Open issues for the review's findings",
                       depends_on=["review"], condition="review.completed"),
    ])


async def timed_run(orchestrator: TaskOrchestrator, workflow: WorkflowDefinition,
                    auto_strategy: bool = False) -> tuple[WorkflowState, int]:
    """Run the workflow; return its final state and the most tasks that ran at once."""
    most = 0

    def watch(state: WorkflowState) -> None:
        nonlocal most
        most = max(most, len(state.running_tasks))

    state = await orchestrator.execute_workflow(workflow, watch, auto_strategy=auto_strategy)
    return state, most


async def main(model: Model | None) -> None:
    print(f"Model: {model.model_name if model else 'offline (SimulatedModel)'}")
    orchestrator = TaskOrchestrator(config=OFFLINE, model=model, cache_config=NO_CACHE)

    heading("1. Strategy recommendations")
    for workflow in (nightly_checks(), hotfix(), feature_delivery(), review_with_follow_up()):
        recommended = orchestrator.recommend_strategy(workflow)  # an ExecutionStrategy
        print(f"\n{workflow.name}: recommend_strategy -> {recommended.value}")
        print(textwrap.indent(orchestrator.explain_strategy_choice(workflow), "  "))

    heading("2. Manual selection: the same workflow with each strategy")
    timings: dict[ExecutionStrategy, float] = {}
    for strategy in ExecutionStrategy:
        workflow = feature_delivery(strategy)  # the strategy chosen by hand
        state, most = await timed_run(orchestrator, workflow)
        timings[strategy] = state.duration_seconds
        print(f"  {strategy.value:12} {state.duration_seconds:5.2f}s  {state.status}, "
              f"{len(state.completed_tasks)}/{len(workflow.tasks)} tasks, "
              f"at most {most} at a time")
    fastest = min(timings, key=timings.__getitem__)
    slowest = max(timings, key=timings.__getitem__)
    print(f"Fastest: {fastest.value} ({timings[slowest] / timings[fastest]:.1f}x faster "
          f"than {slowest.value}); conditional schedules as dag does, and every strategy "
          "honours depends_on")

    heading("3. Automatic selection")
    workflow = feature_delivery(ExecutionStrategy.SEQUENTIAL)
    state, most = await timed_run(orchestrator, workflow, auto_strategy=True)
    print(f"Declared strategy: {workflow.execution_strategy.value}")
    print(f"auto_strategy=True ran it as: {state.execution_strategy.value}")
    print(f"  {state.duration_seconds:.2f}s, {state.status}, at most {most} at a time "
          f"(sequential took {timings[ExecutionStrategy.SEQUENTIAL]:.2f}s)")


if __name__ == "__main__":
    try:
        model = chosen_model()
    except DeeptuiError as error:  # a bad model name, a missing key: one line, no traceback
        sys.exit(f"error: {error}")
    asyncio.run(main(model))
