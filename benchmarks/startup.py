"""Startup time: ``deeptui --help`` and the app's first frame, against ``python -c pass``.

Each figure is the median wall time of ``--repeat`` fresh processes, measured
in the same run as the ``python -c pass`` baseline (the interpreter's own
start). The first frame is a process that builds ``DeeptuiApp``, runs it
headless under ``app.run_test()`` and exits as soon as it is mounted.

Run: ``python benchmarks/startup.py [--repeat 5] [--json PATH]``
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _dags import ROOT, machine, table, write_json

HELP_TARGET = 0.4
FRAME_TARGET = 1.5

FIRST_FRAME = """
import asyncio
from deeptui.app import DeeptuiApp

async def main():
    app = DeeptuiApp()
    async with app.run_test() as pilot:
        await pilot.pause()

asyncio.run(main())
"""


def wall(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    py = sys.executable
    script = Path(py).parent / "deeptui"
    cli = [str(script), "--help"] if script.exists() else [py, "-m", "deeptui.cli", "--help"]
    rows: list[list[Any]] = []
    figures: dict[str, float] = {}
    base = wall([py, "-c", "pass"], args.repeat)
    figures["python -c pass"] = base
    rows.append(["python -c pass", f"{base:.3f}", "", "", ""])
    checks = [("deeptui --help", cli, HELP_TARGET)]
    if importlib.util.find_spec("deeptui.app") is not None:
        checks.append(("app first frame (run_test)", [py, "-c", FIRST_FRAME], FRAME_TARGET))
    else:
        print("deeptui.app not found: first frame skipped")
    for label, cmd, target in checks:
        seconds = wall(cmd, args.repeat)
        figures[label] = seconds
        rows.append([label, f"{seconds:.3f}", f"+{seconds - base:.3f}", f"< {target}",
                     "ok" if seconds < target else "MISSED"])
    print(f"startup, seconds, median of {args.repeat} processes - {machine()['date']}")
    print(table(["command", "seconds", "over python", "target", ""], rows))
    write_json(args.json, "startup", {"seconds": figures})


if __name__ == "__main__":
    main()
