"""Shared deterministic DAG generators and timing helpers for the benchmarks.

A DAG here is a plain ``dict[str, list[str]]`` (task id -> the ids it depends
on), in topological definition order, so the same graph can be handed to the
engine, to the reference runners and to Dask.
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

Dag = dict[str, list[str]]

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python benchmarks/NAME.py` from a checkout
    sys.path.insert(0, str(ROOT))


def tid(i: int) -> str:
    return f"t{i:05d}"


def chain(n: int) -> Dag:
    """t0 <- t1 <- ... <- t(n-1): no parallelism at all."""
    return {tid(i): ([tid(i - 1)] if i else []) for i in range(n)}


def fan(n: int) -> Dag:
    """One source, n-2 independent middle tasks, one sink waiting for all of them."""
    middle = [tid(i) for i in range(1, n - 1)]
    dag: Dag = {tid(0): []}
    dag.update({m: [tid(0)] for m in middle})
    dag[tid(n - 1)] = middle
    return dag


def layered(n: int, seed: int = 0) -> Dag:
    """About sqrt(n) layers; every task past layer 0 has 1-3 parents in earlier layers."""
    rng = random.Random(seed)
    n_layers = max(1, round(math.sqrt(n)))
    layer_of = sorted(rng.randrange(n_layers) for _ in range(n))
    layer_of[0] = 0  # at least one root
    dag: Dag = {}
    earlier: list[str] = []  # ids of all tasks in layers before the current one
    current: list[str] = []
    layer = 0
    for i, lay in enumerate(layer_of):
        if lay != layer:
            earlier.extend(current)
            current = []
            layer = lay
        t = tid(i)
        if earlier:
            k = min(len(earlier), rng.randint(1, 3))
            dag[t] = sorted(rng.sample(earlier, k))
        else:
            dag[t] = []
        current.append(t)
    return dag


SHAPES: dict[str, Callable[[int], Dag]] = {"chain": chain, "fan": fan, "layered": layered}


def dependents(dag: Dag) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {t: [] for t in dag}
    for t, deps in dag.items():
        for d in deps:
            out[d].append(t)
    return out


def critical_path(dag: Dag, cost: dict[str, float]) -> float:
    """The longest sum of costs along any path (dag is in topological order)."""
    finish: dict[str, float] = {}
    for t, deps in dag.items():
        finish[t] = cost[t] + max((finish[d] for d in deps), default=0.0)
    return max(finish.values(), default=0.0)


def workflow(dag: Dag, callable_name: str = "noop", *, max_parallel: int = 8,
             wid: str = "bench", extra: Callable[[str], dict[str, Any]] | None = None) -> Any:
    """A WorkflowDefinition of callable tasks over ``dag``."""
    from deeptui.models import RetryConfig, TaskDefinition, WorkflowDefinition

    no_retry = RetryConfig(max_retries=0)
    tasks = [
        TaskDefinition(id=t, task_type="callable", depends_on=deps,
                       parameters={"callable": callable_name, **(extra(t) if extra else {})},
                       retry_config=no_retry)
        for t, deps in dag.items()
    ]
    return WorkflowDefinition(id=wid, tasks=tasks, max_parallel_tasks=max_parallel)


# ------------------------------------------------------------------ reporting


def median_time(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpus": os.cpu_count(),
    }


def table(headers: list[str], rows: Iterable[list[Any]]) -> str:
    """A plain Markdown table (also readable in a terminal)."""
    rows = [[_cell(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return "" if value is None else str(value)


def write_json(path: str | None, name: str, data: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps({"benchmark": name, **machine(), **data}, indent=2) + "\n")
        print(f"wrote {path}")


def verdict(value: float | None, target: float, lower_is_better: bool = True) -> str:
    if value is None:
        return "n/a"
    ok = value <= target if lower_is_better else value >= target
    return "ok" if ok else "MISSED"
