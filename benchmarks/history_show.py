"""`deeptui history show` of a big run: wall time and peak memory of the command.

Records one run of N no-op callable tasks (a fan, every task an output and a log
line) into a fresh history database, then times ``deeptui history show RUN``
(output to /dev/null, COLUMNS=120) in a fresh process, and reads its peak RSS.

    python benchmarks/history_show.py [--n 50000] [--repeat 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


async def noop(task, parameters, dependency_outputs):  # noqa: ANN001
    return {"task": task.id, "rows": 42}


async def record(db: Path, n: int) -> str:
    from deeptui.cache import CacheConfig
    from deeptui.models import OrchestrationConfig, TaskDefinition, WorkflowDefinition
    from deeptui.orchestrator import TaskOrchestrator
    from deeptui.store import RunStore

    workflow = WorkflowDefinition(id="big", max_parallel_tasks=64, tasks=[
        TaskDefinition(id=f"task-{i:05d}", task_type="callable",
                       parameters={"callable": "noop"}) for i in range(n)])
    store = RunStore(db)
    orch = TaskOrchestrator(config=OrchestrationConfig(),
                            cache_config=CacheConfig(strategy="none"), store=store)
    orch.register_callable("noop", noop)
    try:
        state = await orch.execute_workflow(workflow, run_id="big@bench")
    finally:
        orch.close()
        store.close()
    return state.run_id


def show(db: Path, run_id: str) -> tuple[float, float]:
    """(seconds, peak RSS MB) of one ``history show`` in a fresh process."""
    env = {**os.environ, "DEEPTUI_DB": str(db), "COLUMNS": "120", "NO_COLOR": "1"}
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "p = subprocess.run([sys.executable, '-m', 'deeptui.cli', 'history', 'show', "
            f"{run_id!r}], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE); "
            "t = time.perf_counter() - t; "
            "print(p.returncode, t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    if out[0] != "0":
        raise SystemExit(f"history show failed (exit {out[0]})")
    return float(out[1]), int(out[2]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "history.db"
        started = time.perf_counter()
        run_id = asyncio.run(record(db, args.n))
        recorded = time.perf_counter() - started
        runs = [show(db, run_id) for _ in range(args.repeat)]
    seconds = sorted(t for t, _ in runs)[len(runs) // 2]
    peak = max(m for _, m in runs)
    print(f"| tasks | record the run | history show (median of {args.repeat}) | peak RSS |")
    print("|---|---|---|---|")
    print(f"| {args.n} | {recorded:.1f} s | {seconds:.2f} s | {peak:.0f} MB |")
    if args.json:
        args.json.write_text(json.dumps({"tasks": args.n, "record_seconds": recorded,
                                         "show_seconds": seconds, "show_peak_rss_mb": peak,
                                         "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
