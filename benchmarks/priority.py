"""The ready queue's pick order without history, against alternatives, simulated (no sleeps).

The makespan benchmark's lognormal DAGs (200 tasks, layered, median 0.2 s, sigma 1, 8 slots)
scheduled by a discrete-event simulation of a slot-limited ready queue: a task starts when
its dependencies are done and a slot is free; among ready tasks the lowest key starts first,
then definition order. Each pick order knows only the graph, as a first run does (no past
durations), except "known durations" (the critical path in seconds: what history gives).

Orders compared: the engine's (the longest path to a sink in tasks,
`deeptui.graph.path_lengths`), that with ties broken by the number of descendants, the
number of descendants alone, the path plus descendants / slots, FIFO (definition order), and
the path with ties in a random order (the median over 50 orders: how much of a seed's figure
is which of the equally long tasks happens to be defined last).

Run: ``python benchmarks/priority.py [--seeds 0-39]``; prints makespan / lower bound per
seed and the mean and worst over the seeds.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
from collections.abc import Callable

from _dags import Dag, dependents, layered, table
from makespan import LOGNORMAL_N, SLOTS, lognormal, lower_bound

from deeptui.graph import path_lengths

Key = Callable[[str], float]


def simulate(dag: Dag, dur: dict[str, float], key: Key) -> float:
    """The makespan of a slot-limited ready queue that starts the lowest (key, order) first."""
    below = dependents(dag)
    waiting = {t: len(deps) for t, deps in dag.items()}
    order = {t: i for i, t in enumerate(dag)}
    ready = [(key(t), order[t], t) for t, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    running: list[tuple[float, str]] = []
    now = 0.0
    while ready or running:
        while ready and len(running) < SLOTS:
            t = heapq.heappop(ready)[2]
            heapq.heappush(running, (now + dur[t], t))
        now, t = heapq.heappop(running)
        for d in below[t]:
            waiting[d] -= 1
            if waiting[d] == 0:
                heapq.heappush(ready, (key(d), order[d], d))
    return now


def descendants(dag: Dag) -> dict[str, int]:
    below = dependents(dag)
    found: dict[str, set[str]] = {}
    for t in reversed(list(dag)):  # definition order is topological
        found[t] = set(below[t]).union(*(found[d] for d in below[t]))
    return {t: len(s) for t, s in found.items()}


def orders(dag: Dag, dur: dict[str, float]) -> dict[str, Key]:
    nodes = {t: _Node(deps) for t, deps in dag.items()}
    below = dependents(dag)
    path = path_lengths(nodes, below)
    desc = descendants(dag)
    seconds: dict[str, float] = {}
    for t in reversed(list(dag)):
        seconds[t] = dur[t] + max((seconds[d] for d in below[t]), default=0.0)
    return {
        "path length (engine)": lambda t: -path[t],
        "path, then descendants": lambda t: -path[t] - desc[t] / (len(dag) + 1),
        "descendants": lambda t: -desc[t],
        "path + descendants/8": lambda t: -path[t] - desc[t] / SLOTS,
        "FIFO": lambda t: 0.0,
        "path, random ties (median of 50)": lambda t: -path[t],  # see `random_ties`
        "known durations": lambda t: -seconds[t],
    }


def random_ties(dag: Dag, dur: dict[str, float], key: Key, rounds: int = 50) -> float:
    """The median makespan of ``key`` with its ties in ``rounds`` random orders."""
    spans = []
    for i in range(rounds):
        rng = random.Random(i)
        tie = {t: rng.random() for t in dag}
        spans.append(simulate(dag, dur, lambda t: key(t) - tie[t] / 1e6))
    return statistics.median(spans)


class _Node:
    def __init__(self, deps: list[str]) -> None:
        self.depends_on = deps


def seeds_arg(text: str) -> list[int]:
    if "-" in text:
        low, high = text.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(x) for x in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-5", help="e.g. 0-39 or 0,1,2")
    args = parser.parse_args()
    seeds = seeds_arg(args.seeds)
    ratios: dict[str, list[float]] = {}
    for seed in seeds:
        dag = layered(LOGNORMAL_N, seed)
        dur = lognormal(dag, seed)
        bound = lower_bound(dag, dur)
        for name, key in orders(dag, dur).items():
            span = random_ties(dag, dur, key) if "random" in name else simulate(dag, dur, key)
            ratios.setdefault(name, []).append(span / bound)
    shown = seeds if len(seeds) <= 8 else []
    rows = [[name, *(f"{r:.3f}" for r in rs[:len(shown)]), f"{statistics.mean(rs):.3f}",
             f"{max(rs):.3f}"] for name, rs in ratios.items()]
    print(f"simulated makespan / lower bound, lognormal layered DAG N={LOGNORMAL_N}, {SLOTS} slots, "
          f"{len(seeds)} seeds")
    print(table(["pick order", *(f"seed {s}" for s in shown), "mean", "worst"], rows))


if __name__ == "__main__":
    main()
