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
    done = subprocess.run([sys.executable, "-c", "import deeptui.graph"],
                          capture_output=True, text=True, env=env, check=True)
    imported = set(re.findall(r"^import time:.*\|\s+(\S+)$", done.stderr, re.MULTILINE))
    assert "networkx" in _heavy_in(imported)
