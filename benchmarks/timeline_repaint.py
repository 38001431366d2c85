"""The timeline's cost at 1,000 and 10,000 tasks: building it, and repainting what is on screen.

    python benchmarks/timeline_repaint.py [--sizes 1000,10000] [--repeat 30] [--json PATH]

A layered DAG (``_dags.layered``) whose tasks ran at fixed, deterministic times
(every 7th retried once, every 11th failed, their dependents skipped) is put
in a `WorkflowState`. Timed: ``build_timeline`` (bars, waits, attempts and
the critical path with networkx), and inside a headless app at 160x48 the
repaint of a full-screen `TimelineView`: its row cache cleared, every visible
row drawn (``render_line``), after a page scroll too. Median and worst of
``--repeat`` runs. Target: a repaint well under a 16 ms frame.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _dags import layered, machine, tid

from deeptui.models import TaskDefinition, TaskResult, TaskStatus, WorkflowDefinition, WorkflowState
from deeptui.timeline import AttemptMarks, build_timeline

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
FRAME_MS = 16.7


def ran(n: int) -> tuple[WorkflowDefinition, WorkflowState, AttemptMarks]:
    """An n-task layered run that ended, with retries, failures and skips, at fixed times."""
    dag = layered(n)
    workflow = WorkflowDefinition(id="tl", name="timeline bench", tasks=[
        TaskDefinition(id=task_id, depends_on=deps) for task_id, deps in dag.items()])
    ends: dict[str, float] = {}
    results: dict[str, TaskResult] = {}
    marks = AttemptMarks()
    for i, (task_id, deps) in enumerate(dag.items()):
        if any(results[d].status is not TaskStatus.COMPLETED for d in deps):
            at = max(ends[d] for d in deps)
            ends[task_id] = at
            results[task_id] = TaskResult(task_id=task_id, status=TaskStatus.SKIPPED,
                                          completed_at=T0 + timedelta(seconds=at))
            continue
        start = max((ends[d] for d in deps), default=0.0) + (i % 5) * 0.1
        end = start + 0.5 + (i % 13) * 0.2
        attempts = 1
        if i % 7 == 3:  # a failed attempt, a wait, then the one that ran
            marks.failures[task_id] = [(T0 + timedelta(seconds=start + 0.3)).timestamp()]
            marks.starts[task_id] = [(T0 + timedelta(seconds=start + 0.5)).timestamp()]
            end += 0.5
            attempts = 2
        status = TaskStatus.FAILED if i % 11 == 5 and deps else TaskStatus.COMPLETED
        ends[task_id] = end
        results[task_id] = TaskResult(task_id=task_id, status=status, attempts=attempts,
                                      started_at=T0 + timedelta(seconds=start),
                                      completed_at=T0 + timedelta(seconds=end))
    state = WorkflowState(workflow_id="tl", run_id="tl@bench", task_results=results,
                          started_at=T0, completed_at=T0 + timedelta(seconds=max(ends.values())))
    return workflow, state, marks


def stats(samples: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(samples) * 1000, 2),
            "worst_ms": round(max(samples) * 1000, 2)}


async def repaint(timeline, repeat: int) -> dict[str, object]:
    from textual.app import App

    from deeptui.widgets.timeline import TimelineView

    class Bench(App[None]):
        def compose(self):
            yield TimelineView(id="tl")

    app = Bench()
    async with app.run_test(size=(160, 48)) as pilot:
        view = app.query_one(TimelineView)
        view.show(timeline)
        await pilot.pause()
        rows = view.scrollable_content_region.height

        def paint() -> float:
            view._strips.clear()
            began = time.perf_counter()
            for y in range(rows):
                view.render_line(y)
            return time.perf_counter() - began

        top = [paint() for _ in range(repeat)]
        scrolled = []
        for k in range(repeat):
            view.scroll_to(y=(k + 1) * rows % max(len(timeline.bars) - rows, 1), animate=False)
            await pilot.pause()
            scrolled.append(paint())
        return {"rows_drawn": rows, "repaint": stats(top), "after_scroll": stats(scrolled)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        workflow, state, marks = ran(n)
        builds = []
        for _ in range(max(3, args.repeat // 5)):
            began = time.perf_counter()
            timeline = build_timeline(workflow, state, marks)
            builds.append(time.perf_counter() - began)
        painted = asyncio.run(repaint(timeline, args.repeat))
        results.append({"tasks": n, "critical_path": len(timeline.critical),
                        "build": stats(builds), **painted})
        print(f"{n:>6} tasks  build_timeline median {results[-1]['build']['median_ms']:7.2f} ms"
              f" worst {results[-1]['build']['worst_ms']:7.2f} ms | repaint "
              f"({painted['rows_drawn']} rows) median {painted['repaint']['median_ms']:5.2f} ms"
              f" worst {painted['repaint']['worst_ms']:5.2f} ms | after a scroll median "
              f"{painted['after_scroll']['median_ms']:5.2f} ms worst "
              f"{painted['after_scroll']['worst_ms']:5.2f} ms  (frame {FRAME_MS} ms)")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
