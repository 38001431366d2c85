"""Building, validating, loading and rendering a 10,000-task workflow.

Measures (median of ``--repeat``): building the WorkflowDefinition from plain
dicts (pydantic models + graph checks: duplicates, unknown dependencies,
cycles), the orchestrator's pre-run validation (routing, callables, conditions),
loading the same workflow from a YAML file, and rendering it in each
visualizer format.

Run: ``python benchmarks/validate.py [--n 10000] [--repeat 3] [--json PATH]``
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from _dags import layered, machine, median_time, table, workflow, write_json

VALIDATE_TARGET = 0.25
RENDER_TARGET = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()

    from deeptui.loader import dump_workflow, load_workflow
    from deeptui.models import WorkflowDefinition
    from deeptui.orchestrator import TaskOrchestrator
    from deeptui.visualize import DAGVisualizer, VisualizationFormat

    n, repeat = args.n, args.repeat
    wf = workflow(layered(n), "noop")
    data = wf.model_dump(mode="json", exclude_defaults=True)
    orch = TaskOrchestrator()
    orch.register_callable("noop", lambda task, params, deps: None)
    rows: list[list[Any]] = []
    figures: dict[str, float] = {}

    def measure(label: str, fn: Any, target: float | None) -> None:
        seconds = median_time(fn, repeat)
        figures[label] = seconds
        ok = "" if target is None else ("ok" if seconds < target else "MISSED")
        rows.append([label, f"{seconds:.3f}", f"< {target}" if target else "", ok])

    measure("build + validate (models, graph checks)",
            lambda: WorkflowDefinition.model_validate(data), VALIDATE_TARGET)
    measure("orchestrator pre-run validation", lambda: orch.validate(wf), None)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yaml"
        path.write_text(dump_workflow(wf, "yaml"))
        measure("load from YAML (parse + validate)", lambda: load_workflow(path), None)
    for fmt in VisualizationFormat:
        measure(f"render {fmt.value}", lambda fmt=fmt: DAGVisualizer(wf).visualize(fmt),
                RENDER_TARGET)
    print(f"workflow of {n:,} tasks (layered DAG), seconds, median of {repeat} - "
          f"{machine()['date']}")
    print(table(["step", "seconds", "target", ""], rows))
    write_json(args.json, "validate", {"n": n, "seconds": figures})


if __name__ == "__main__":
    main()
