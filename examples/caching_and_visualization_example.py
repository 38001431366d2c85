"""Result caching and DAG visualization.

Shows, in order:
  1. caching strategies (memory, disk, hybrid): a second run served from the cache,
     and a disk cache still there for a new orchestrator (as for a new process)
  2. cache TTL: entries that expire
  3. invalidation: one task's entries dropped; dependency-aware keys re-run what
     reads a changed output; clearing everything
  4. combining caching with a workflow template (ETL), and cache statistics
  5. DAG visualization of a run, with its state and metrics, as Mermaid, Graphviz,
     ASCII and JSON

Caches on disk live in a temporary folder that is removed at the end.

Run it:
    python examples/caching_and_visualization_example.py                 # offline model
    python examples/caching_and_visualization_example.py --model openai:gpt-4o-mini
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
    TaskDefinition,
    TaskOrchestrator,
    VisualizationFormat,
    WorkflowDefinition,
    WorkflowState,
    create_etl_pipeline,
    resolve_model,
    visualize_workflow,
)

OFFLINE = OrchestrationConfig(simulated_latency=(0.05, 0.2), simulated_seed=7)


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


def sales_report(data_file: Path) -> WorkflowDefinition:
    """Read a CSV (a Python function), then three agent tasks that use what it read."""
    return WorkflowDefinition(id="sales-report", name="Sales Report", tasks=[
        TaskDefinition(id="extract", description="Read the sales figures",
                       task_type="callable",
                       parameters={"callable": "read_sales", "path": str(data_file)}),
        TaskDefinition(id="summarise", description="Summarise the sales figures",
                       depends_on=["extract"]),
        TaskDefinition(id="chart", description="Describe a chart of sales by region",
                       depends_on=["extract"]),
        TaskDefinition(id="report", description="Write the sales report",
                       depends_on=["summarise", "chart"]),
    ])


def read_sales(task, parameters, dependency_outputs):
    """A callable task: its output is the file's rows and their total."""
    rows = Path(parameters["path"]).read_text().strip().splitlines()[1:]
    amounts = [float(row.split(",")[1]) for row in rows]
    return {"rows": len(amounts), "total": sum(amounts)}


def new_orchestrator(model: Model | None, cache: CacheConfig) -> TaskOrchestrator:
    orchestrator = TaskOrchestrator(config=OFFLINE, model=model, cache_config=cache)
    orchestrator.register_callable("read_sales", read_sales)
    return orchestrator


def from_cache(state: WorkflowState) -> str:
    """Which tasks of the run came from the cache."""
    cached = [tid for tid, result in state.task_results.items() if result.cached]
    ran = [tid for tid, result in state.task_results.items() if not result.cached]
    return (f"{len(cached)}/{len(state.task_results)} from the cache"
            + (f", ran: {', '.join(ran)}" if ran and cached else "")
            + f" ({state.duration_seconds:.2f}s)")


async def caching_strategies(model: Model | None, workflow: WorkflowDefinition,
                             folder: Path) -> None:
    heading("1. Caching strategies")
    for strategy in (CacheStrategy.MEMORY, CacheStrategy.DISK, CacheStrategy.HYBRID):
        cache = CacheConfig(strategy=strategy, max_size=100, ttl_seconds=3600,
                            cache_dir=folder / f"{strategy.value}-cache")
        orchestrator = new_orchestrator(model, cache)
        first = await orchestrator.execute_workflow(workflow)
        second = await orchestrator.execute_workflow(workflow)
        stats = orchestrator.get_cache_stats()
        print(f"{strategy.value:7} first run: {from_cache(first)}")
        print(f"{'':7} second run: {from_cache(second)}")
        print(f"{'':7} hits {stats['hits']}, misses {stats['misses']}, "
              f"hit rate {stats['hit_rate']}, entries {stats['cache_size']}")
        orchestrator.close()
        if strategy is not CacheStrategy.MEMORY:
            # a new orchestrator on the same folder, as a new process would be
            later = new_orchestrator(model, cache)
            third = await later.execute_workflow(workflow)
            print(f"{'':7} a new orchestrator on the same folder: {from_cache(third)}")
            later.close()


async def cache_ttl(model: Model | None, workflow: WorkflowDefinition) -> None:
    heading("2. Cache TTL")
    # one quick task: its entry is seconds away from expiring when it is looked up again
    extract_only = WorkflowDefinition(id="sales-extract", tasks=[workflow.get_task("extract")])
    orchestrator = new_orchestrator(model, CacheConfig(strategy=CacheStrategy.MEMORY,
                                                       ttl_seconds=2.0))
    await orchestrator.execute_workflow(extract_only)
    soon = await orchestrator.execute_workflow(extract_only)
    print(f"run again at once:              {from_cache(soon)}")
    await asyncio.sleep(2.5)  # longer than ttl_seconds: the entry expires
    later = await orchestrator.execute_workflow(extract_only)
    print(f"run again after 2.5s (TTL 2s):  {from_cache(later)}")


async def invalidation(model: Model | None, workflow: WorkflowDefinition,
                       data_file: Path) -> TaskOrchestrator:
    heading("3. Invalidation")
    orchestrator = new_orchestrator(model, CacheConfig(strategy=CacheStrategy.MEMORY,
                                                       include_dependencies=True))
    await orchestrator.execute_workflow(workflow)

    removed = orchestrator.invalidate_cache("extract")
    state = await orchestrator.execute_workflow(workflow)
    print(f"invalidate_cache('extract') removed {removed}; data unchanged: {from_cache(state)}")

    data_file.write_text(data_file.read_text() + "north,900\n")  # the underlying data changed
    removed = orchestrator.invalidate_cache("extract")
    state = await orchestrator.execute_workflow(workflow)
    print(f"invalidate_cache('extract') removed {removed}; data changed:   {from_cache(state)}")
    print("  (the keys include the dependencies' outputs: a new 'extract' output re-ran "
          "everything that reads it)")
    return orchestrator


async def templates_with_cache(model: Model | None, folder: Path) -> tuple[
        WorkflowDefinition, WorkflowState]:
    heading("4. Caching with a workflow template")
    cache = CacheConfig(strategy=CacheStrategy.HYBRID, max_size=100,
                        cache_dir=folder / "template-cache", ttl_seconds=3600)
    orchestrator = new_orchestrator(model, cache)
    etl = create_etl_pipeline(workflow_id="my-etl")
    first = await orchestrator.execute_workflow(etl)
    second = await orchestrator.execute_workflow(etl)
    print(f"ETL first run:  {from_cache(first)}")
    print(f"ETL second run: {from_cache(second)}")
    print(f"get_cache_stats(): {orchestrator.get_cache_stats()}")
    orchestrator.close()
    return etl, first


def visualization(workflow: WorkflowDefinition, state: WorkflowState) -> None:
    heading("5. DAG visualization of the first ETL run")
    print("--- Mermaid (with metrics) ---")
    print(visualize_workflow(workflow, state, VisualizationFormat.MERMAID, include_metrics=True))
    print("--- Graphviz ---")
    print(visualize_workflow(workflow, state, VisualizationFormat.GRAPHVIZ))
    print("--- ASCII ---")
    print(visualize_workflow(workflow, state, VisualizationFormat.ASCII, include_metrics=True))
    print("--- JSON (first node) ---")
    data = json.loads(visualize_workflow(workflow, state, VisualizationFormat.JSON,
                                         include_metrics=True))
    print(f"workflow: {data['workflow']}")
    print(f"{len(data['nodes'])} nodes, {len(data['edges'])} edges; first node:")
    print(json.dumps(data["nodes"][0], indent=2))


async def main(model: Model | None, folder: Path) -> None:
    print(f"Model: {model.model_name if model else 'offline (SimulatedModel)'}")
    data_file = folder / "sales.csv"
    data_file.write_text("region,amount\nnorth,1200\nsouth,800\neast,450\n")
    workflow = sales_report(data_file)
    await caching_strategies(model, workflow, folder)
    await cache_ttl(model, workflow)
    orchestrator = await invalidation(model, workflow, data_file)
    print(f"clear_cache() removed {orchestrator.clear_cache()} entries; "
          f"entries now: {orchestrator.get_cache_stats()['cache_size']}")
    etl, state = await templates_with_cache(model, folder)
    visualization(etl, state)


if __name__ == "__main__":
    try:
        model = chosen_model()
    except DeeptuiError as error:  # a bad model name, a missing key: one line, no traceback
        sys.exit(f"error: {error}")
    with tempfile.TemporaryDirectory(prefix="deeptui-example-") as folder:
        asyncio.run(main(model, Path(folder)))
