"""The run screen's graph view under load (``ui_responsiveness.py --graph``).

For each size, a run of that many callable tasks (100 tasks per layer-wide chain set:
chains of 10, 50 running at a time, each sleeping 0.2-1 s) is opened on the run
screen at 160x48, in the graph view. The script then presses keys while the run
goes on: down/right/up/left in turn (moving between layers and within a layer),
and after every six moves ``g`` twice (to the list and back). Key to screen is the time from the
key press until the first screen refresh after the selection (or the view) changed.
A watcher coroutine sleeping 1 ms records the longest event-loop block from the
moment the screen is open; opening the screen (the layout is computed then, once)
is timed separately. Targets at 1,000 tasks: key median < 50 ms, worst < 200 ms.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from pathlib import Path

from deeptui.screens.run import RunScreen

from ui_responsiveness import big_workflow, sleeping_app

TARGETS_1000 = {"key_median_ms": 50.0, "key_worst_ms": 200.0}
MOVES = ("down", "right", "up", "left")


async def measure(n_tasks: int, presses: int) -> dict[str, object]:
    app = sleeping_app()
    orch = app.orchestrator
    move_ms: list[float] = []
    toggle_ms: list[float] = []
    block = {"worst": 0.0, "on": False}

    async def watch_loop() -> None:
        while block["on"]:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            block["worst"] = max(block["worst"], time.perf_counter() - start - 0.001)

    async with app.run_test(size=(160, 48)) as pilot:
        start = time.perf_counter()
        app.start_run(big_workflow(n_tasks))
        while not (isinstance(app.screen, RunScreen) and app.screen.query("#dag")):
            await pilot.pause(0.01)
        screen: RunScreen = app.screen
        await pilot.pause()
        open_ms = (time.perf_counter() - start) * 1000
        frames = 0
        paint = screen._compositor_refresh

        def counted_paint() -> None:
            nonlocal frames
            paint()
            frames += 1

        screen._compositor_refresh = counted_paint  # type: ignore[method-assign]
        batch_ms: list[float] = []
        apply_batch = screen.apply_batch

        def timed_batch(batch) -> None:
            start = time.perf_counter()
            apply_batch(batch)
            batch_ms.append((time.perf_counter() - start) * 1000)

        screen.apply_batch = timed_batch  # type: ignore[method-assign]
        block["on"] = True
        watcher = asyncio.create_task(watch_loop())
        dag = screen.dag
        for n in range(presses):
            toggle = n % 8 >= 6
            key = "g" if toggle else MOVES[(n - 2 * (n // 8)) % 4]
            before = (dag.mode, screen.selected)
            after_frames = frames
            start = time.perf_counter()
            app.simulate_key(key)
            deadline = start + 2.0
            while (dag.mode, screen.selected) == before and time.perf_counter() < deadline:
                await asyncio.sleep(0.0005)
            while frames <= after_frames:
                await asyncio.sleep(0.0005)
            (toggle_ms if toggle else move_ms).append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.02)  # a user's pace, and time for event batches to land
        running = not screen.state.status.finished
        block["on"] = False
        await watcher
        orch.cancel_workflow(screen.run_id)
        await orch.wait(screen.run_id)
        result = {
            "tasks": n_tasks,
            "open_screen_ms": round(open_ms, 1),
            "moves": len(move_ms),
            "key_median_ms": round(statistics.median(move_ms), 2),
            "key_worst_ms": round(max(move_ms), 2),
            "toggle_median_ms": round(statistics.median(toggle_ms), 2),
            "toggle_worst_ms": round(max(toggle_ms), 2),
            "loop_block_worst_ms": round(block["worst"] * 1000, 2),
            "batches": screen.batches,
            "batch_median_ms": round(statistics.median(batch_ms), 2) if batch_ms else None,
            "batch_worst_ms": round(max(batch_ms), 2) if batch_ms else None,
            "keys_pressed_while_running": running,
        }
    orch.close()
    return result


def main(sizes: list[int], presses: int, json_path: Path | None) -> int:
    results = [asyncio.run(measure(n, presses)) for n in sizes]
    for result in results:
        print("  ".join(f"{k}={v}" for k, v in result.items()))
    at_1000 = next((r for r in results if r["tasks"] == 1000), None)
    ok = at_1000 is None or all(float(at_1000[k]) < v for k, v in TARGETS_1000.items())  # type: ignore[arg-type]
    print("targets at 1000 tasks: " + ", ".join(f"{k} < {v:g}" for k, v in TARGETS_1000.items())
          + ("  -> met" if ok else "  -> NOT met"))
    if json_path:
        json_path.write_text(json.dumps({"graph": results, "targets_1000": TARGETS_1000, "met": ok}, indent=2))
    return 0 if ok else 1
