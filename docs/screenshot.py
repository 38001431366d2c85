"""Save the README's screenshot of the run screen: ``python docs/screenshot.py``.

It builds the same deterministic mid-run state as the snapshot tests (real
engine; callable tasks held on gates: two completed, one running, one failed
with its dependent skipped, one cancelled, one pending; times and usage
pinned), runs the app headless at 140x40, selects the failed task and writes
docs/images/run-screen.svg.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "run-screen.svg"
SIZE = (140, 40)


async def main(task_id: str = "flaky-upload") -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from test_app_snapshots import make_app, mid_run  # the snapshot tests' mid-run state

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await mid_run(pilot, select=task_id)
        await pilot.pause()
        OUT.parent.mkdir(parents=True, exist_ok=True)
        app.save_screenshot(OUT.name, path=str(OUT.parent))
    return OUT


if __name__ == "__main__":
    print(asyncio.run(main(*sys.argv[1:])))
