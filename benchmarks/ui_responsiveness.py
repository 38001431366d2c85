"""UI responsiveness under load: a 1,000-task run on the run screen, driven by the Textual pilot.

    python benchmarks/ui_responsiveness.py [--tasks 1000] [--presses 100] [--json PATH]
    python benchmarks/ui_responsiveness.py --graph [--tasks 1000 10000] [--presses 60]

While the run is going (callable tasks sleeping 0.2-1 s each, 100 chains of
10, 50 at a time), in the DAG's level list, the script presses the down arrow repeatedly and measures
the time from the key press until the new selection is painted (the first
screen refresh after the selection moved), and until the selected task's log
is loaded and painted (it loads once the selection rests for 50 ms). It also
times one full DAG panel paint (rebuild the lines + render the visible strips)
and the event batches the screen applied. Targets: key median < 50 ms, worst < 200 ms,
DAG panel render < 30 ms.

With ``--graph`` it measures the graph view instead (`benchmarks/ui_graph.py`):
key to screen for the arrows (moving between and within layers) and for the
graph/list toggle, the time to open the run screen (the layout is computed
then, once), and the longest event-loop block while the run goes on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path

from deeptui import OrchestrationConfig, TaskOrchestrator
from deeptui.app import DeeptuiApp
from deeptui.models import RetryConfig, TaskDefinition, WorkflowDefinition
from deeptui.screens.run import RunScreen

TARGETS = {"key_median_ms": 50.0, "key_worst_ms": 200.0, "dag_render_ms": 30.0}


def big_workflow(n_tasks: int, chain: int = 10) -> WorkflowDefinition:
    tasks = []
    for n in range(n_tasks):
        deps = [f"task-{n - 1:04d}"] if n % chain else []
        tasks.append(TaskDefinition(id=f"task-{n:04d}", task_type="callable", depends_on=deps,
                                    parameters={"callable": "work"},
                                    retry_config=RetryConfig(max_retries=0)))
    return WorkflowDefinition(id="ui-bench", name=f"{n_tasks} tasks", tasks=tasks,
                              max_parallel_tasks=50)


def sleeping_app() -> DeeptuiApp:
    """The app with the `work` callable big_workflow's tasks call: each sleeps 0.2-1 s (seeded)."""
    rng = random.Random(7)

    async def work(task, parameters, deps):
        await asyncio.sleep(rng.uniform(0.2, 1.0))
        return task.id

    orch = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0.0, 0.0)))
    orch.register_callable("work", work)
    return DeeptuiApp(orchestrator=orch)


async def measure(n_tasks: int, presses: int) -> dict[str, object]:
    app = sleeping_app()
    orch = app.orchestrator
    batch_ms: list[float] = []
    key_ms: list[float] = []
    detail_ms: list[float] = []
    render_ms: list[float] = []
    async with app.run_test(size=(160, 48)) as pilot:
        app.start_run(big_workflow(n_tasks))
        while not (isinstance(app.screen, RunScreen) and app.screen.query("#dag")):
            await pilot.pause(0.01)
        screen: RunScreen = app.screen
        screen.dag.action_toggle_graph()  # the level list (--graph measures the graph view)
        await pilot.pause()
        original = screen.apply_batch

        def timed_batch(batch):
            start = time.perf_counter()
            original(batch)
            batch_ms.append((time.perf_counter() - start) * 1000)

        screen.apply_batch = timed_batch  # type: ignore[method-assign]
        frames = 0
        paint = screen._compositor_refresh

        def counted_paint() -> None:
            nonlocal frames
            paint()
            frames += 1

        screen._compositor_refresh = counted_paint  # type: ignore[method-assign]

        async def next_frame(after: int) -> None:
            while frames <= after:
                await asyncio.sleep(0.0005)

        started = time.perf_counter()
        for _ in range(presses):
            before = screen.selected
            start = time.perf_counter()
            app.simulate_key("down")
            while screen.selected == before:
                await asyncio.sleep(0.0005)
            await next_frame(frames)  # the highlight is on screen
            key_ms.append((time.perf_counter() - start) * 1000)
            while screen.log_view.task_id != screen.selected:
                await asyncio.sleep(0.0005)
            await next_frame(frames)  # details and log are on screen
            detail_ms.append((time.perf_counter() - start) * 1000)
        keys_during_run = not screen.state.status.finished
        dag = screen.dag.list
        for _ in range(20):
            start = time.perf_counter()
            dag.rebuild()
            for y in range(dag.size.height):
                dag.render_line(y)
            render_ms.append((time.perf_counter() - start) * 1000)
        await orch.wait(screen.run_id)
        await pilot.pause(0.3)
        run_seconds = time.perf_counter() - started
        result = {
            "tasks": n_tasks,
            "presses": presses,
            "keys_pressed_while_running": keys_during_run,
            "key_median_ms": round(statistics.median(key_ms), 2),
            "key_p95_ms": round(sorted(key_ms)[int(len(key_ms) * 0.95) - 1], 2),
            "key_worst_ms": round(max(key_ms), 2),
            "log_loaded_median_ms": round(statistics.median(detail_ms), 2),
            "log_loaded_worst_ms": round(max(detail_ms), 2),
            "dag_render_ms": round(statistics.median(render_ms), 2),
            "dag_render_worst_ms": round(max(render_ms), 2),
            "batches": screen.batches,
            "events": screen.events_seen,
            "batch_median_ms": round(statistics.median(batch_ms), 2) if batch_ms else None,
            "batch_worst_ms": round(max(batch_ms), 2) if batch_ms else None,
            "run_status": screen.state.status.value,
            "run_seconds": round(run_seconds, 2),
        }
    orch.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--presses", type=int, default=100)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--graph", action="store_true", help="measure the graph view")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000],
                        help="task counts for --graph")
    args = parser.parse_args(argv)
    if args.graph:
        from ui_graph import main as graph_main

        return graph_main(args.sizes, min(args.presses, 60), args.json)
    result = asyncio.run(measure(args.tasks, args.presses))
    for key, value in result.items():
        print(f"{key:28} {value}")
    ok = all(float(result[k]) < limit for k, limit in TARGETS.items())  # type: ignore[arg-type]
    print("targets: " + ", ".join(f"{k} < {v:g}" for k, v in TARGETS.items())
          + ("  -> met" if ok else "  -> NOT met"))
    if args.json:
        args.json.write_text(json.dumps({**result, "targets": TARGETS, "met": ok}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
