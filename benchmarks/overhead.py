"""Scheduling overhead per task: the engine against a minimal asyncio runner and Dask.

Every task is a no-op callable, so the wall time per task is pure scheduling
cost. Configurations run side by side in one process, in rounds (each round runs
every variant once; ``--repeat`` rounds after a warm-up round): a time is the median
over rounds, a ratio the median of the per-round ratios (the machine is shared: a
target is judged on ratios measured side by side, read the ratios):

  (a) engine   TaskOrchestrator, DAG strategy, bus + metrics on, cache and store off
  (f) default  the default configuration: the memory cache on (CacheConfig()), every
               task a miss (the cache is cleared before each run, outside the timing)
  (b) +store   the same with the SQLite RunStore attached (the run's history flushed
               inside the timing: the writer thread's CPU time is the store's)
  (c) cached   the memory cache on, every task a hit (runs after the warm-up)
  (d) floor    ready queue + in-degree counts + asyncio.create_task + Semaphore(8)
  (e) dask     dask.threaded.get on the same graph (8 workers), when dask is installed

Then ``asyncio.run(orchestrator.execute_workflow(wf))`` (the way a script calls it, loop
set-up and tear-down included) against awaiting it in a running loop, engine (a), same
workflow, the two alternating (the ratio: the median of each round's pair).

Run: ``python benchmarks/overhead.py [--sizes 1000,10000] [--repeat 5] [--json PATH]
[--clock wall|cpu] [--no-asyncio-run]`` (``--clock cpu``: the process's CPU time, less
disturbed by other processes on a shared machine)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _dags import SHAPES, Dag, dependents, machine, table, workflow, write_json

TARGETS = {"engine": 3.0, "+store": 4.0, "cached": 3.0}  # ratio to the floor
DEFAULT_TARGET = 1.3  # default configuration / engine (a)
ASYNCIO_RUN_TARGET = 1.05  # asyncio.run(execute_workflow) / awaited in a running loop
RSS_TARGET_MB = 250.0
# what a run is timed with: wall time, or (--clock cpu) the process's CPU time, which the
# other processes on a shared machine disturb less (the store's writer thread included)
CLOCK = [time.perf_counter]


def noop(task: Any, parameters: Any, deps: Any) -> None:
    return None


def dask_noop(*dependency_outputs: Any) -> None:
    return None


async def floor_run(dag: Dag, below: dict[str, list[str]], limit: int = 8) -> None:
    """The reference minimal runner: what any asyncio DAG scheduler has to pay."""
    loop = asyncio.get_running_loop()
    indeg = {t: len(d) for t, d in dag.items()}
    sem = asyncio.Semaphore(limit)
    done = loop.create_future()
    remaining = len(dag)
    live: set[asyncio.Task[None]] = set()

    async def run(t: str) -> None:
        nonlocal remaining
        async with sem:
            noop(None, {}, {})
        for d in below[t]:
            indeg[d] -= 1
            if indeg[d] == 0:
                spawn(d)
        remaining -= 1
        if remaining == 0:
            done.set_result(None)

    def spawn(t: str) -> None:
        task = loop.create_task(run(t))
        live.add(task)
        task.add_done_callback(live.discard)

    for t, n in list(indeg.items()):
        if n == 0:
            spawn(t)
    await done


def dask_get() -> Any:
    try:
        import dask.threaded
    except ImportError:
        return None
    return dask.threaded.get


def make_orchestrator(kind: str, n: int, tmp: Path) -> Any:
    from deeptui.cache import CacheConfig
    from deeptui.models import OrchestrationConfig
    from deeptui.orchestrator import TaskOrchestrator

    config = OrchestrationConfig()
    if kind == "engine":
        orch = TaskOrchestrator(config=config, cache_config=CacheConfig(strategy="none"))
    elif kind == "+store":
        from deeptui.store import RunStore

        orch = TaskOrchestrator(config=config, cache_config=CacheConfig(strategy="none"),
                                store=RunStore(tmp / f"runs-{n}.db"))
    elif kind == "default":  # what a user gets: CacheConfig() (memory, 1,000 entries)
        orch = TaskOrchestrator(config=config)
    else:  # cached
        orch = TaskOrchestrator(config=config,
                                cache_config=CacheConfig(strategy="memory", max_size=2 * n))
    orch.register_callable("noop", noop)
    return orch


def has_store() -> bool:
    try:
        import deeptui.store  # noqa: F401
    except ImportError:
        return False
    return True


async def measure(shape: str, n: int, repeat: int, tmp: Path,
                  no_dask: bool = False, no_store: bool = False) -> dict[str, Any]:
    dag = SHAPES[shape](n)
    below = dependents(dag)
    wf = workflow(dag, max_parallel=8, wid=f"{shape}-{n}")
    kinds = ["engine", "default"] + (["+store"] if has_store() and not no_store else []) + ["cached"]
    orchs = {k: make_orchestrator(k, n, tmp) for k in kinds}
    get = None if no_dask else dask_get()
    dsk = {t: (dask_noop, *deps) for t, deps in dag.items()} if get else None

    async def engine(kind: str) -> Any:
        orch = orchs[kind]
        state = await orch.execute_workflow(wf)
        if orch.store is not None:  # the run's history written (by the writer thread, else
            orch.store.flush()  # its CPU time lands in whichever variant runs next)
        return state

    def check(kind: str, state: Any) -> None:
        """What a run must have done (untimed: a user's run does not check it)."""
        if state is None:  # (the floor)
            return
        if kind == "default":
            assert not any(r.cached for r in state.task_results.values()), "a hit"
        assert len(state.completed_tasks) == n, (kind, state.status, state.error)
        if kind == "cached":
            if cached_runs:
                assert all(r.cached for r in state.task_results.values()), "not every task a hit"
            cached_runs.append(state.run_id)
        orchs[kind].forget_run(state.run_id)  # keep memory flat across repetitions

    cached_runs: list[str] = []
    runners: dict[str, Any] = {k: (lambda k=k: engine(k)) for k in kinds}
    runners["floor"] = lambda: floor_run(dag, below)
    times: dict[str, list[float]] = {k: [] for k in runners}
    if get:
        times["dask"] = []
    for rep in range(repeat + 1):  # the first round is the warm-up
        for kind, runner in runners.items():
            if kind == "default":
                orchs[kind].clear_cache()  # every task a miss
            gc.collect()
            start = CLOCK[0]()
            state = await runner()
            elapsed = CLOCK[0]() - start
            check(kind, state)
            del state
            if rep:
                times[kind].append(elapsed)
        if get and (rep or n <= 1000):
            gc.collect()
            start = CLOCK[0]()
            get(dsk, list(dag), num_workers=8)
            if rep:
                times["dask"].append(CLOCK[0]() - start)
    for orch in orchs.values():
        orch.close()
        if orch.store is not None and hasattr(orch.store, "close"):
            orch.store.close()
    us = {k: 1e6 * statistics.median(v) / n for k, v in times.items() if v}
    # ratios per round (the variants of one round ran side by side), then their median
    return {"shape": shape, "n": n, "us_per_task": us,
            "ratio": {k: round_ratio(times, k, "floor") for k in us},
            "default_vs_engine": round_ratio(times, "default", "engine")}


def round_ratio(times: dict[str, list[float]], kind: str, base: str) -> float:
    """The median over rounds of ``kind``'s time / ``base``'s time in the same round."""
    return statistics.median(a / b for a, b in zip(times[kind], times[base], strict=True))


def measure_asyncio_run(shape: str, n: int, repeat: int) -> dict[str, Any]:
    """asyncio.run(execute_workflow(wf)), timed around asyncio.run, against awaiting it
    inside a running loop (timed around the await), alternating, median of ``2 * repeat``
    (a run is short; the difference sought is a few percent)."""
    wf = workflow(SHAPES[shape](n), max_parallel=8, wid=f"{shape}-{n}")
    orch = make_orchestrator("engine", n, Path())
    times: dict[str, list[float]] = {"asyncio.run": [], "awaited": []}

    async def awaited() -> tuple[float, Any]:
        start = CLOCK[0]()
        state = await orch.execute_workflow(wf)
        return CLOCK[0]() - start, state

    for rep in range(2 * repeat + 1):  # the first round is the warm-up
        for kind in (("asyncio.run", "awaited") if rep % 2 else ("awaited", "asyncio.run")):
            gc.collect()
            if kind == "awaited":
                elapsed, state = asyncio.run(awaited())
            else:
                start = CLOCK[0]()
                state = asyncio.run(orch.execute_workflow(wf))
                elapsed = CLOCK[0]() - start
            assert len(state.completed_tasks) == n, (kind, state.status)
            orch.forget_run(state.run_id)
            del state
            if rep:
                times[kind].append(elapsed)
    orch.close()
    us = {k: 1e6 * statistics.median(v) / n for k, v in times.items()}
    return {"shape": shape, "n": n, "us_per_task": us,
            "ratio": round_ratio(times, "asyncio.run", "awaited")}


def rss_of_run(n: int) -> float:
    """Peak RSS (MB) of a fresh process that runs one n-task layered workflow."""
    code = (
        "import asyncio, resource, sys; sys.path.insert(0, 'benchmarks');"
        "import overhead as o, _dags as d;"
        f"wf = d.workflow(d.layered({n}));"
        "orch = o.make_orchestrator('engine', 0, None);"
        "asyncio.run(orch.execute_workflow(wf));"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--no-dask", action="store_true", help="skip column (e)")
    parser.add_argument("--no-store", action="store_true", help="skip column (b)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="time runs by wall time or by this process's CPU time")
    parser.add_argument("--no-asyncio-run", action="store_true",
                        help="skip the asyncio.run comparison")
    args = parser.parse_args()
    if args.clock == "cpu":
        CLOCK[0] = time.process_time
    sizes = [int(s) for s in args.sizes.split(",")]
    results, loops = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            for shape in args.shapes.split(","):
                repeat = args.repeat if n <= 1000 else max(3, args.repeat - 2)
                results.append(asyncio.run(measure(shape, n, repeat, Path(tmp), args.no_dask,
                                                   args.no_store)))
                r = results[-1]
                print(f"  {shape:8} N={n:<6} " + "  ".join(
                    f"{k} {v:.1f}" for k, v in r["us_per_task"].items()), file=sys.stderr)
                if args.no_asyncio_run:
                    continue
                loops.append(measure_asyncio_run(shape, n, repeat))
                print(f"  {shape:8} N={n:<6} " + "  ".join(
                    f"{k} {v:.1f}" for k, v in loops[-1]["us_per_task"].items()),
                      file=sys.stderr)
    print(f"scheduling overhead, µs per task (ratio to the asyncio floor), {args.clock} clock "
          f"- {machine()['date']}")
    if dask_get() is None:
        print("dask not installed: column (e) skipped (pip install 'deeptui[bench]')")
    if not has_store():
        print("deeptui.store not available: column (b) skipped")
    kinds = ["floor", "engine", "default", "+store", "cached", "dask"]
    rows = []
    for r in results:
        row: list[Any] = [r["shape"], r["n"]]
        for k in kinds:
            us = r["us_per_task"].get(k)
            row.append("-" if us is None else
                       f"{us:.1f}" if k == "floor" else f"{us:.1f} ({r['ratio'][k]:.2f}x)")
        row.append(f"{r['default_vs_engine']:.2f}x")
        rows.append(row)
    print(table(["shape", "N", "(d) floor", "(a) engine", "(f) default", "(b) +store",
                 "(c) cached hit", "(e) dask", "(f)/(a)"], rows))
    if loops:
        print()
        print("asyncio.run(execute_workflow(wf)) against awaiting it in a running loop, "
              "engine (a), µs per task")
        print(table(["shape", "N", "awaited", "asyncio.run", "ratio"],
                    [[r["shape"], r["n"], f"{r['us_per_task']['awaited']:.1f}",
                      f"{r['us_per_task']['asyncio.run']:.1f}", f"{r['ratio']:.3f}x"]
                     for r in loops]))
    checks = []
    for r in results:
        for k, target in TARGETS.items():
            if k in r["ratio"]:
                checks.append([f"{r['shape']} {r['n']} ({k})", f"{r['ratio'][k]:.2f}x",
                               f"<= {target}x", "ok" if r["ratio"][k] <= target else "MISSED"])
        ratio = r["default_vs_engine"]
        checks.append([f"{r['shape']} {r['n']} default / engine", f"{ratio:.2f}x",
                       f"<= {DEFAULT_TARGET}x", "ok" if ratio <= DEFAULT_TARGET else "MISSED"])
        if "dask" in r["us_per_task"] and r["n"] >= 10_000:
            speedup = r["us_per_task"]["dask"] / r["us_per_task"]["engine"]
            checks.append([f"{r['shape']} {r['n']} dask/engine", f"{speedup:.2f}x", ">= 3x",
                           "ok" if speedup >= 3 else "MISSED"])
    for r in loops:
        checks.append([f"{r['shape']} {r['n']} asyncio.run / awaited", f"{r['ratio']:.3f}x",
                       f"<= {ASYNCIO_RUN_TARGET}x",
                       "ok" if r["ratio"] <= ASYNCIO_RUN_TARGET else "MISSED"])
    rss = rss_of_run(10_000)
    checks.append(["peak RSS, 10,000-task run", f"{rss:.0f} MB", f"< {RSS_TARGET_MB:.0f} MB",
                   "ok" if rss < RSS_TARGET_MB else "MISSED"])
    print()
    print(table(["check", "value", "target", ""], checks))
    write_json(args.json, "overhead", {"results": results, "asyncio_run": loops,
                                       "rss_mb_10k": rss,
                                       "checks": checks})


if __name__ == "__main__":
    main()
