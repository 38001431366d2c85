"""A workflow file of placeholder tasks (the built-in ``callable: noop``), run as a user
runs it: a big one piped prints every task as a line, and its history shows every task."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.test_cli import cli_env, deeptui, home  # noqa: F401 (home)


def noop_file(home: Path, n: int) -> Path:
    """A chain-free fan of ``n`` no-op tasks and one task after all of them, as JSON."""
    tasks = [{"id": f"step-{i:05d}", "task_type": "callable",
              "parameters": {"callable": "noop"}} for i in range(n)]
    tasks.append({"id": "after-all", "task_type": "callable", "parameters": {"callable": "noop"},
                  "depends_on": [t["id"] for t in tasks]})
    path = home / "noops.json"
    path.write_text(json.dumps({"id": "noops", "tasks": tasks}))
    return path


def test_noop_tasks_from_a_file_run_and_are_never_cached(home: Path) -> None:
    path = noop_file(home, 3)
    for _ in range(2):  # the second run runs them again: nothing of a no-op is kept
        proc = deeptui(home, "run", path, "--headless", "--format", "json")
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["status"] == "completed" and len(doc["tasks"]) == 4
        assert not any(t["cached"] for t in doc["tasks"])
    stats = deeptui(home, "cache", "stats", "--format", "json")
    assert json.loads(stats.stdout)["cache_size"] == 0, stats.stdout


def test_a_big_piped_run_prints_every_task_as_a_line(home: Path) -> None:
    path = noop_file(home, 2500)  # past the 2,000 tasks a piped Rich table is drawn for
    env = {k: v for k, v in cli_env(home).items() if k != "COLUMNS"}
    proc = subprocess.run([sys.executable, "-m", "deeptui.cli", "run", str(path), "--headless",
                           "--run-id", "big"], capture_output=True, text=True, env=env,
                          cwd=home, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    rows = [line.split() for line in lines if "step-" in line or "after-all" in line]
    assert [row[1] for row in rows] == [f"step-{i:05d}" for i in range(2500)] + ["after-all"]
    assert all(row[0] == "✓" and row[2] == "completed" and row[3] == "1" for row in rows)
    assert "2501/2501 tasks" in proc.stdout and "✓ run big completed" in proc.stdout
    shown = deeptui(home, "history", "show", "big", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    tasks = json.loads(shown.stdout)["tasks"]
    assert len(tasks) == 2501 and all(t["status"] == "completed" for t in tasks)
