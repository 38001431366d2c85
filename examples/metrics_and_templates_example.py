"""Workflow templates and the metrics every run collects.

Shows, in order:
  1. the four workflow templates (CI/CD, ETL, Code Review, Documentation) and their tasks
  2. automatic metrics collection: each template run, one summary line per run
  3. performance analysis and reporting: the performance report of a run
  4. bottleneck identification and the failed tasks of a run (a CI test step that fails)
  5. aggregate statistics across every run
  6. metrics-driven optimisation: an ETL run measured, its limit raised, run again

The CI/CD template really runs its test and build commands (small Python one-liners
here); the code review and documentation templates read a small sample project
made in a temporary folder (a writing task's changes stay a diff: nothing is written).

Run it:
    python examples/metrics_and_templates_example.py                 # offline model
    python examples/metrics_and_templates_example.py --model openai:gpt-4o-mini
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

from pydantic_ai.models import Model

from deeptui import (
    CacheConfig,
    CacheStrategy,
    DeeptuiError,
    OrchestrationConfig,
    TaskOrchestrator,
    WorkflowDefinition,
    WorkflowMetrics,
    create_ci_cd_pipeline,
    create_code_review_workflow,
    create_documentation_workflow,
    create_etl_pipeline,
    resolve_model,
)

OFFLINE = OrchestrationConfig(simulated_latency=(0.03, 0.15), simulated_seed=7)
# No result cache: every run does its work, so the metrics measure the work.
NO_CACHE = CacheConfig(strategy=CacheStrategy.NONE)
PYTHON = f'"{sys.executable}"'


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


def sample_project(root: Path) -> Path:
    """A tiny Python project for the review and documentation templates to read."""
    (root / "shop").mkdir()
    (root / "shop" / "__init__.py").write_text('"""A small shop."""\n')
    (root / "shop" / "cart.py").write_text(
        "def total(items):\n"
        "    return sum(item['price'] * item['quantity'] for item in items)\n")
    (root / "README.md").write_text("# shop\n\nA cart that adds up prices.\n")
    return root


def templates(project: Path) -> list[WorkflowDefinition]:
    return [
        create_ci_cd_pipeline(
            workflow_id="my-ci-cd",
            repository_path=str(project),
            # a test suite that fails, so the metrics have a failure to show
            test_command=f"{PYTHON} -c \"import sys; print('2 failed, 10 passed'); sys.exit(1)\"",
            build_command=f"{PYTHON} -c \"print('built dist/shop-1.0.tar.gz')\"",
            run_security_scan=True,
        ),
        create_etl_pipeline(
            workflow_id="my-etl",
            source_configs=[{"type": "csv", "path": "data.csv"},
                            {"type": "api", "url": "https://api.example.com/data"}],
            transformation_steps=["clean nulls", "normalize values", "aggregate by date"],
            destination_config={"type": "database", "table": "analytics"},
        ),
        create_code_review_workflow(
            workflow_id="my-review",
            repository_path=str(project),
            review_focus=["security", "quality", "documentation", "testing"],
        ),
        create_documentation_workflow(
            workflow_id="my-docs",
            repository_path=str(project),
            doc_types=["api", "guide", "tutorial"],
        ),
    ]


def parallelism(metrics: WorkflowMetrics) -> float:
    """Task-seconds of work per second of run: 1.0 means one task at a time."""
    busy = sum(task.duration_seconds for task in metrics.task_metrics)
    return busy / metrics.total_duration_seconds if metrics.total_duration_seconds else 0.0


async def main(model: Model | None, project: Path) -> None:
    print(f"Model: {model.model_name if model else 'offline (SimulatedModel)'}")
    orchestrator = TaskOrchestrator(config=OFFLINE, model=model, cache_config=NO_CACHE)

    heading("1. Workflow templates")
    workflows = templates(project)
    for workflow in workflows:
        print(f"{workflow.name} ({len(workflow.tasks)} tasks): {', '.join(workflow.task_ids)}")

    heading("2. Automatic metrics collection")
    for workflow in workflows:
        await orchestrator.execute_workflow(workflow)  # metrics are collected as it runs
        summary = orchestrator.get_workflow_metrics(workflow.id).get_summary()
        print(f"  {summary['workflow_name']:14} {summary['status']:9} "
              f"{summary['completed_tasks']}/{summary['total_tasks']} completed "
              f"({summary['success_rate']:.1f}%), {summary['total_duration_seconds']:.2f}s, "
              f"slowest: {summary['slowest_task']}")

    heading("3. Performance report")
    metrics = orchestrator.get_workflow_metrics("my-review")
    print(metrics.get_performance_report())

    heading("4. Bottlenecks and failures")
    for workflow in workflows:
        metrics = orchestrator.get_workflow_metrics(workflow.id)
        bottleneck = metrics.get_bottleneck()
        if bottleneck:
            share = bottleneck.duration_seconds / metrics.total_duration_seconds * 100
            print(f"{metrics.workflow_name}: bottleneck {bottleneck.task_id} "
                  f"({bottleneck.duration_seconds:.2f}s, {share:.0f}% of the run)")
    ci = orchestrator.get_workflow_metrics("my-ci-cd")
    for task in ci.get_failed_tasks():
        print(f"Failed in {ci.workflow_name}: {task.task_id} after {task.retry_count} retries: "
              f"{task.error.strip().splitlines()[0]}")
    print("Its report ends with:")
    print("\n".join(ci.get_performance_report().splitlines()[-2:]))

    heading("5. Aggregate statistics")
    stats = orchestrator.get_aggregate_stats()
    print(f"Total Workflows: {stats['total_workflows']}")
    print(f"Total Tasks: {stats['total_tasks']}")
    print(f"Average Success Rate: {stats['average_success_rate']}%")
    print(f"Average Duration: {stats['average_duration']}s")
    print(f"Successful/failed workflows: {stats['successful_workflows']}/"
          f"{stats['failed_workflows']}, tokens used: {stats['total_tokens']}")

    heading("6. Metrics-driven optimisation")
    sources = [{"type": "csv", "path": f"region-{n}.csv"} for n in range(6)]
    one_at_a_time = create_etl_pipeline(workflow_id="etl-tuning", source_configs=sources,
                                        max_parallel_tasks=1)
    await orchestrator.execute_workflow(one_at_a_time)
    before = orchestrator.get_workflow_metrics("etl-tuning")
    print(f"max_parallel_tasks=1: {before.total_duration_seconds:.2f}s, "
          f"parallelism {parallelism(before):.1f}: the six extracts waited for each other")
    tuned = create_etl_pipeline(workflow_id="etl-tuning", source_configs=sources,
                                max_parallel_tasks=6)
    await orchestrator.execute_workflow(tuned)
    after = orchestrator.get_workflow_metrics("etl-tuning")
    print(f"max_parallel_tasks=6: {after.total_duration_seconds:.2f}s, "
          f"parallelism {parallelism(after):.1f}: the extracts ran side by side")


if __name__ == "__main__":
    try:
        model = chosen_model()
    except DeeptuiError as error:  # a bad model name, a missing key: one line, no traceback
        sys.exit(f"error: {error}")
    with tempfile.TemporaryDirectory(prefix="deeptui-example-") as folder:
        asyncio.run(main(model, sample_project(Path(folder))))
