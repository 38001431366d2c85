"""Startup time: ``deeptui --help`` and the app's first frame, against ``python -c pass``.

Each figure is the median wall time of ``--repeat`` fresh processes, measured
in the same run as the ``python -c pass`` baseline (the interpreter's own
start). The first frame is a process that builds ``DeeptuiApp``, runs it
headless under ``app.run_test()`` and prints the wall-clock time once the start
screen has been mounted and painted (its first ``call_after_refresh``): the
figure is that time less the moment the process was spawned. The process's
whole life (first frame, then shutting the app down) is shown beside it.

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
import asyncio, time
from deeptui.app import DeeptuiApp

async def main():
    app = DeeptuiApp()
    async with app.run_test() as pilot:
        painted = asyncio.Event()
        app.screen.call_after_refresh(painted.set)
        await painted.wait()
        print(time.time(), flush=True)

asyncio.run(main())
"""


def wall(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def first_frame(cmd: list[str], repeat: int) -> tuple[float, float]:
    """Median (spawn to first frame, spawn to exit) of ``repeat`` processes."""
    frames, totals = [], []
    for _ in range(repeat):
        start_wall, start = time.time(), time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
        totals.append(time.perf_counter() - start)
        frames.append(float(done.stdout.split()[-1]) - start_wall)
    return statistics.median(frames), statistics.median(totals)


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
    seconds = wall(cli, args.repeat)
    figures["deeptui --help"] = seconds
    rows.append(["deeptui --help", f"{seconds:.3f}", f"+{seconds - base:.3f}", f"< {HELP_TARGET}",
                 "ok" if seconds < HELP_TARGET else "MISSED"])
    if importlib.util.find_spec("deeptui.app") is not None:
        frame, total = first_frame([py, "-c", FIRST_FRAME], args.repeat)
        figures["app first frame (run_test)"] = frame
        figures["app process, first frame then exit"] = total
        rows.append(["app first frame (run_test)", f"{frame:.3f}", f"+{frame - base:.3f}",
                     f"< {FRAME_TARGET}", "ok" if frame < FRAME_TARGET else "MISSED"])
        rows.append(["app process, first frame then exit", f"{total:.3f}",
                     f"+{total - base:.3f}", "", ""])
    else:
        print("deeptui.app not found: first frame skipped")
    print(f"startup, seconds, median of {args.repeat} processes - {machine()['date']}")
    print(table(["command", "seconds", "over python", "target", ""], rows))
    write_json(args.json, "startup", {"seconds": figures})


if __name__ == "__main__":
    main()
