"""A/B in one process: does keeping a cached result's provenance cost the plain (not cached)
task row anything?

(1) ``StateManager`` of a base checkout (``--base``: its ``deeptui/state.py``) against this
tree's (both loaded from their files the same way; ``--base`` this tree: an A/A check), each driving N tasks (start, complete, no output) into this tree's `RunStore`
through its plain-value taps, the store synced at the end: process CPU per task (the
writer thread included). (2) N plain rows inserted (``INSERT OR REPLACE``, 500 per
statement, as the store's batch writes them) into a version 1 ``tasks`` table and a
version 2 one (two more nullable columns). Variants alternate, each round in a new file;
the figure is the median of the per-round ratios (this tree / base, v2 / v1).

    python benchmarks/cached_from_ab.py --base /path/to/base/checkout --n 10000 --rounds 7
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deeptui.bus import EventBus  # noqa: E402
from deeptui.models import TaskDefinition, WorkflowDefinition, WorkflowStatus  # noqa: E402
from deeptui.store import RunStore  # noqa: E402
from deeptui.store.batch import INSERT_PLAIN_TASK, insert_rows  # noqa: E402
from deeptui.store.schema import SCHEMA  # noqa: E402


def state_manager(root: Path, name: str) -> type:
    """``root``'s StateManager, loaded as a module of its own (both variants alike)."""
    spec = importlib.util.spec_from_file_location(name, root / "deeptui" / "state.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.StateManager


def engine_round(cls: type, workflow: WorkflowDefinition, folder: str) -> float:
    """CPU seconds per task: N starts and completions into a new history file."""
    store = RunStore(Path(folder) / f"h{time.monotonic_ns()}.db")
    bus = EventBus()
    store.attach(SimpleNamespace(bus=bus, find_run=lambda run_id: None))
    sm = cls(workflow, "ab@1", bus)
    ids = [t.id for t in workflow.tasks]
    start = time.process_time()
    sm.start_workflow()
    for tid in ids:
        sm.running(tid, 1, None)
        sm.completed(tid, None)
    sm.finish_workflow(WorkflowStatus.COMPLETED)
    assert store.sync() is None
    spent = time.process_time() - start
    store.close()
    return spent / len(ids)


def insert_round(ddl: str, n: int, folder: str) -> float:
    conn = sqlite3.connect(Path(folder) / f"t{time.monotonic_ns()}.db", isolation_level=None)
    conn.execute(ddl)
    flat = []
    for i in range(n):
        flat.extend(("ab@1", f"t{i:06d}", i, "completed", None, 1, 1.0 + i, 2.0 + i, None))
    start = time.process_time()
    conn.execute("BEGIN")
    insert_rows(conn, INSERT_PLAIN_TASK, flat, width=9)
    conn.execute("COMMIT")
    spent = time.process_time() - start
    conn.close()
    return spent / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    base_cls = state_manager(args.base, "base_state")
    tree_cls = state_manager(Path(__file__).resolve().parents[1], "tree_state")
    workflow = WorkflowDefinition(id="ab", tasks=[TaskDefinition(id=f"t{i:06d}")
                                                   for i in range(args.n)])
    v2 = next(s for s in SCHEMA if s.startswith("CREATE TABLE tasks"))
    v1 = "\n".join(line for line in v2.splitlines() if "(v2)" not in line)
    assert "cached_from" not in v1 and "cached_from" in v2
    engine, rows = [], []
    with tempfile.TemporaryDirectory() as folder:
        engine_round(tree_cls, workflow, folder)  # warm-up
        engine_round(base_cls, workflow, folder)
        for r in range(args.rounds):
            pair = {}
            for name in (("base", "tree") if r % 2 == 0 else ("tree", "base")):
                pair[name] = engine_round(base_cls if name == "base" else tree_cls,
                                          workflow, folder)
            engine.append(pair)
            pair = {}
            for name in (("v1", "v2") if r % 2 == 0 else ("v2", "v1")):
                pair[name] = insert_round(v1 if name == "v1" else v2, args.n, folder)
            rows.append(pair)
    load = os.getloadavg()[0]
    print(f"N={args.n}, {args.rounds} rounds, load {load:.1f}")
    print("StateManager + store, CPU us/task: base "
          f"{statistics.median(p['base'] for p in engine) * 1e6:.2f}, this tree "
          f"{statistics.median(p['tree'] for p in engine) * 1e6:.2f}; median ratio "
          f"{statistics.median(p['tree'] / p['base'] for p in engine):.3f}")
    print("plain row insert, CPU us/row: v1 table "
          f"{statistics.median(p['v1'] for p in rows) * 1e6:.2f}, v2 table "
          f"{statistics.median(p['v2'] for p in rows) * 1e6:.2f}; median ratio "
          f"{statistics.median(p['v2'] / p['v1'] for p in rows):.3f}")


if __name__ == "__main__":
    main()
