"""`import deeptui` and `deeptui --help` stay light: no Textual, networkx or pydantic-deep.

Each check is a fresh interpreter (a test process has imported everything already):
the library import prints what it loaded; the command line is the installed `deeptui`
script, run with ``PYTHONPROFILEIMPORTTIME=1``, whose report on stderr names every
module the process imported.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("textual", "networkx", "pydantic_deep", "pydantic_ai")
DEEPTUI = Path(sys.executable).with_name("deeptui")
COMMANDS = ["run", "validate", "viz", "templates", "skills", "cache", "history", "resume"]


def _heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_import_deeptui_loads_no_heavy_package() -> None:
    code = ("import sys, json, deeptui; "
            f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize("args", [["--help"], ["--version"]] + [[c, "--help"] for c in COMMANDS],
                         ids=lambda a: " ".join(a))
def test_command_line_help_loads_no_heavy_package(args: list[str]) -> None:
    assert DEEPTUI.exists(), f"no deeptui script next to {sys.executable}"
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    done = subprocess.run([str(DEEPTUI), *args], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage: deeptui" in done.stdout or done.stdout.startswith("deeptui ")
    imported = set(re.findall(r"^import time:.*\|\s+(\S+)$", done.stderr, re.MULTILINE))
    assert "deeptui.cli.main" in imported  # the report is there: the check can fail
    assert _heavy_in(imported) == []


def test_the_check_sees_a_heavy_import() -> None:
    """The same check on a process that loads networkx reports it."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    done = subprocess.run([sys.executable, "-c", "import deeptui.visualize.layered"],
                          capture_output=True, text=True, env=env, check=True)
    imported = set(re.findall(r"^import time:.*\|\s+(\S+)$", done.stderr, re.MULTILINE))
    assert "networkx" in _heavy_in(imported)


def test_a_run_without_agent_tasks_imports_neither_pydantic_ai_nor_networkx(tmp_path: Path) -> None:
    """The offline model is built when an agent task first needs it: a headless run of a
    shell and a callable task does not pay pydantic-ai's import (~0.5 s), and the run and
    the history still name the model "simulated". Nor networkx's (~0.2 s): a workflow
    without a cycle is validated and run on plain dicts."""
    flow = tmp_path / "flow.yaml"
    flow.write_text("id: light\ntasks:\n  - {id: greet, task_type: shell, parameters: "
                    "{command: echo hi}}\n  - {id: nothing, task_type: callable, depends_on: "
                    "[greet], parameters: {callable: noop}}\n")
    code = ("import sys, json; from deeptui.cli.main import main; sys.argv = ['deeptui', 'run', "
            f"{str(flow)!r}, '--headless', '--format', 'json']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'pydantic_ai', 'networkx'})))")
    env = {**os.environ, "DEEPTUI_DB": str(tmp_path / "runs.db"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert json.loads(lines[-1]) == [], "a run with no agent task imported them"
    result = json.loads("\n".join(lines[:-1]))
    assert [t["status"] for t in result["tasks"]] == ["completed", "completed"]
    show = subprocess.run([sys.executable, "-m", "deeptui.cli", "history", "show",
                           result["run_id"]], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)
    assert "model simulated" in show.stdout, show.stdout + show.stderr


def test_the_offline_model_is_named_as_before_it_is_built() -> None:
    from deeptui import TaskOrchestrator
    from deeptui.runners.agent import OFFLINE_MODEL_NAME

    orchestrator = TaskOrchestrator()
    assert orchestrator.model_name == OFFLINE_MODEL_NAME  # not built yet
    assert orchestrator.model.model_name == OFFLINE_MODEL_NAME  # the SimulatedModel's own
