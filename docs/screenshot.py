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
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "run-screen.svg"
DIFF_OUT = ROOT / "docs" / "images" / "diff-view.svg"
GRAPH_OUT = ROOT / "docs" / "images" / "graph-view.png"
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


if __name__ == "__main__":
    print(asyncio.run(main(*sys.argv[1:])))
    print(asyncio.run(graph_view()))
    print(asyncio.run(diff_view()))
