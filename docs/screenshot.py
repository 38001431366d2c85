"""Save the README's screenshots: ``python docs/screenshot.py``.

The run screen: the same deterministic mid-run state as the snapshot tests (real
engine; callable tasks held on gates: two completed, one running, one failed
with its dependent skipped, one cancelled, one pending; times and usage
pinned), the app headless at 140x40, the failed task selected:
docs/images/run-screen.svg.

The graph view: the 30-task layered workflow of tests/test_graph_snapshots.py mid-run at
160x48, saved as SVG and turned into docs/images/graph-view.png with ``rsvg-convert``.

The diff view: a real pydantic-deep agent (a FunctionModel scripted as in
tests/test_app_files.py) fixes a small repository made in a temporary
directory; its changes are opened with ``d``: docs/images/diff-view.svg.

The home screen and the timeline: a history database recorded from bus events
at fixed times (tests/stored_runs.py: five runs, one with a retried build and a
failed deploy), the clock pinned two hours later: docs/images/home-screen.png
(150x44) and docs/images/timeline.png (the release run's timeline, 130x18),
each saved as SVG and turned into PNG with ``rsvg-convert`` (librsvg).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "run-screen.svg"
DIFF_OUT = ROOT / "docs" / "images" / "diff-view.svg"
GRAPH_OUT = ROOT / "docs" / "images" / "graph-view.png"
HOME_OUT = ROOT / "docs" / "images" / "home-screen.png"
TIMELINE_OUT = ROOT / "docs" / "images" / "timeline.png"
HOME_SIZE = (150, 44)
TIMELINE_SIZE = (130, 18)
SIZE = (140, 40)
DIFF_SIZE = (110, 34)
CONFIG_PY = """import yaml


def load(path):
    with open(path) as fh:
        return yaml.load(fh)


def parse_value(text):
    return eval(text)
"""
FIX = {"fix-security": [[
    ("edit_file", {"path": "app/config.py", "old_string": "import yaml\n",
                   "new_string": "import ast\n\nimport yaml\n"}),
    ("edit_file", {"path": "app/config.py", "old_string": "        return yaml.load(fh)\n",
                   "new_string": "        return yaml.safe_load(fh)\n"}),
    ("edit_file", {"path": "app/config.py", "old_string": "    return eval(text)\n",
                   "new_string": '    """A Python literal from text; never runs code."""\n'
                                 "    return ast.literal_eval(text)\n"}),
    ("write_file", {"path": "tests/test_config.py", "content":
                    "from app.config import parse_value\n\n\n"
                    "def test_parse_value_reads_literals_only():\n"
                    "    assert parse_value('[1, 2]') == [1, 2]\n"}),
]]}


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


async def diff_view() -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from test_app_files import DiffScreen, TaskDefinition, finished, make_app, open_run, workflow

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "demo"
        (repo / "app").mkdir(parents=True)
        (repo / "app" / "config.py").write_text(CONFIG_PY)
        app = make_app(FIX)
        async with app.run_test(size=DIFF_SIZE) as pilot:
            wf = workflow(repo, TaskDefinition(id="fix-security", writes=True))
            run_id = await open_run(pilot, wf, "fix-security")
            await finished(pilot, run_id)
            await pilot.press("d")
            await pilot.pause(0.2)
            assert isinstance(app.screen, DiffScreen)
            app.screen.workspace = "~/projects/demo"  # not the temporary directory
            app.screen._show_title()
            app.clear_notifications()
            await pilot.pause()
            app.save_screenshot(DIFF_OUT.name, path=str(DIFF_OUT.parent))
    return DIFF_OUT


async def graph_view() -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from test_graph_snapshots import make_app, mid_run

    svg = GRAPH_OUT.with_suffix(".svg")
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await mid_run("layered30")(pilot)
        await pilot.pause()
        app.save_screenshot(svg.name, path=str(svg.parent))
    if shutil.which("rsvg-convert") is None:
        print("rsvg-convert not found: the SVG is kept, no PNG made")
        return svg
    subprocess.run(["rsvg-convert", str(svg), "-o", str(GRAPH_OUT)], check=True)
    svg.unlink()
    return GRAPH_OUT
def _png(app, out: Path) -> Path:
    """Save the app's screen as SVG next to ``out``, then as PNG (rsvg-convert) at ``out``."""
    svg = out.with_suffix(".svg")
    app.save_screenshot(svg.name, path=str(svg.parent))
    converter = shutil.which("rsvg-convert")
    if converter is None:
        print(f"rsvg-convert (librsvg) not found: kept {svg}, no PNG", file=sys.stderr)
        return svg
    subprocess.run([converter, str(svg), "-o", str(out)], check=True)
    svg.unlink()
    return out


async def home_and_timeline() -> list[Path]:
    sys.path.insert(0, str(ROOT / "tests"))
    from stored_runs import T0, home_store

    from deeptui import OrchestrationConfig, TaskOrchestrator
    from deeptui.app import DeeptuiApp
    from deeptui.screens.run import RunScreen

    made = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        project = home / "projects" / "shop"
        (project / "pipelines").mkdir(parents=True)
        (project / "pipelines" / "nightly.yaml").write_text("id: nightly\ntasks: []\n")
        (project / "release.toml").write_text('id = "release"\ntasks = []\n')
        os.environ["HOME"], cwd = str(home), Path.cwd()
        os.chdir(project)
        try:
            store = home_store(home / "history.db")
            orch = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0.0, 0.0)),
                                    store=store)
            app = DeeptuiApp(orchestrator=orch)
            app.clock = lambda: T0 + timedelta(hours=2)
            async with app.run_test(size=HOME_SIZE) as pilot:
                timeline = app.screen.query_one("#home-timeline")
                while timeline.timeline is None or "tasks" not in str(
                        app.screen.query_one("#template-list").get_option_at_index(0).prompt):
                    await pilot.pause(0.05)
                await pilot.pause()
                made.append(_png(app, HOME_OUT))
            app = DeeptuiApp(orchestrator=orch)
            app.clock = lambda: T0 + timedelta(hours=2)
            async with app.run_test(size=TIMELINE_SIZE) as pilot:
                app.open_stored_run("release@fixed")
                while not (isinstance(app.screen, RunScreen) and app.screen.focused is not None):
                    await pilot.pause(0.05)
                await pilot.press("T")
                await pilot.pause(0.2)
                made.append(_png(app, TIMELINE_OUT))
            store.close()
        finally:
            os.chdir(cwd)
    return made


if __name__ == "__main__":
    print(asyncio.run(main(*sys.argv[1:])))
    print(asyncio.run(graph_view()))
    print(asyncio.run(diff_view()))
    print(*asyncio.run(home_and_timeline()), sep="\n")
