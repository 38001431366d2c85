"""User text on screen: task ids, names and errors holding Rich markup or terminal
control characters show as written (markup never applies, ESC/BEL become visible
``\\x1b``/``\\x07``) in validate, headless runs and history, and never crash a run."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import FAST, cli_env, deeptui, one_line_error

ESC_ID = "esc\x1b]0;TITLE\x07\x1b[2J\x1b]52;c;aGk=\x07"  # window title, clear screen, OSC 52
ESC_SHOWN = "esc\\x1b]0;TITLE\\x07\\x1b[2J\\x1b]52;c;aGk=\\x07"


def shell(tid: str, command: str, deps: tuple[str, ...] = ()) -> dict:
    return {"id": tid, "task_type": "shell", "depends_on": list(deps),
            "parameters": {"command": command}, "retry_config": {"max_retries": 0}}


def write(path: Path, tasks: list[dict], wid: str = "marked") -> Path:
    path.write_text(json.dumps({"id": wid, "name": "Marked [bold]up[/]", "tasks": tasks}))
    return path


HOSTILE = [
    shell("deploy[/]", "echo deployed"),
    shell("test[py311]", r"printf 'bad [/] \033]0;pwned\007\n' >&2; exit 1", ("deploy[/]",)),
    shell("[link=x]", "echo linked"),
    shell(ESC_ID, "echo esc"),
]


def assert_safe(out: str) -> None:
    assert "Traceback" not in out and "MarkupError" not in out, out
    assert "\x1b" not in out and "\x07" not in out, repr(out)


def test_validate_shows_ids_with_markup_and_control_characters_as_written(tmp_path: Path) -> None:
    ok = deeptui(tmp_path, "validate", write(tmp_path / "ok.json", HOSTILE, wid=ESC_ID + "[/]"))
    assert ok.returncode == 0, ok.stderr
    assert_safe(ok.stdout + ok.stderr)
    assert f"workflow '{ESC_SHOWN}[/]' with 4 tasks" in ok.stdout
    bad = deeptui(tmp_path, "validate",
                  write(tmp_path / "bad.json", [shell("a[/]", "true", (ESC_ID,))]))
    line = one_line_error(bad)
    assert_safe(bad.stderr)
    assert f"task 'a[/]' depends on unknown task '{ESC_SHOWN}'" in line


def test_headless_run_and_history_show_print_hostile_ids_literally(tmp_path: Path) -> None:
    path = write(tmp_path / "wf.json", HOSTILE)
    run = deeptui(tmp_path, *FAST, "run", path, "--headless")
    assert run.returncode == 1, run.stdout + run.stderr  # test[py311] fails: exit 1, not 70
    out = run.stdout + run.stderr
    assert_safe(out)
    for shown in ("deploy[/]", "test[py311]", "[link=x]", ESC_SHOWN, "Marked [bold]up[/]",
                  "bad [/] \\x1b]0;pwned\\x07"):
        assert shown in out, shown
    from deeptui.store import RunStore

    store = RunStore(tmp_path / "history.db")
    try:
        [summary] = store.list_runs(5)
        assert (str(summary.status), summary.completed, summary.total_tasks) == ("failed", 3, 4)
    finally:
        store.close()
    shown = deeptui(tmp_path, "history", "show", summary.run_id)
    assert shown.returncode == 0, shown.stderr
    assert_safe(shown.stdout + shown.stderr)
    for text in ("deploy[/]", "test[py311]", "[link=x]", ESC_SHOWN, "Marked [bold]up[/]"):
        assert text in shown.stdout, text
    listed = deeptui(tmp_path, "history")
    assert listed.returncode == 0 and summary.run_id in listed.stdout


def test_headless_run_on_a_terminal_with_markup_ids_completes_and_is_stored_so(
        tmp_path: Path) -> None:
    """On a terminal the live table is drawn while the run goes: it used to die on
    ``deploy[/]`` (exit 70) and the run was stored "completed" with 0 of 2 tasks."""
    path = write(tmp_path / "wf.json", [shell("deploy[/]", "sleep 0.3; echo hi"),
                                        shell("after", "echo ok", ("deploy[/]",))])
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "deeptui.cli", *FAST, "run", str(path),
                               "--headless"], stdin=subprocess.DEVNULL, stdout=follower,
                              stderr=follower, env=cli_env(tmp_path), cwd=tmp_path, timeout=60)
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    out = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, out
    assert "MarkupError" not in out and "deploy[/]" in out
    from deeptui.store import RunStore

    store = RunStore(tmp_path / "history.db")
    try:
        [summary] = store.list_runs(5)
        assert (str(summary.status), summary.completed, summary.total_tasks) == ("completed", 2, 2)
    finally:
        store.close()


async def test_a_run_whose_tasks_never_ran_is_not_stored_completed(tmp_path: Path) -> None:
    """A task cancelled from outside before its body ran (what the event loop's teardown
    does when the process goes down) ends cancelled, not pending, and the run is not
    "completed" with 0 of 2 tasks."""
    import asyncio

    from deeptui import OrchestrationConfig, TaskOrchestrator
    from deeptui.loader import load_workflow
    from deeptui.store import RunStore

    workflow = load_workflow(write(tmp_path / "wf.json", [shell("deploy[/]", "echo hi"),
                                                          shell("after", "echo ok",
                                                                ("deploy[/]",))]))
    with RunStore(tmp_path / "history.db") as store:
        orch = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0, 0)), store=store)
        try:
            rid = orch.start_workflow(workflow)
            run = orch.find_run(rid)
            while not run.executor.running:  # the first task's handle exists, not yet run
                await asyncio.sleep(0)
            for handle in list(run.executor.running.values()):
                handle.cancel()
            state = await orch.wait(rid)
        finally:
            orch.close()
        assert state.status.value != "completed"
        assert {t: r.status.value for t, r in state.task_results.items()} == {
            "deploy[/]": "cancelled", "after": "skipped"}
        assert state.error and "deploy[/]" in state.error
        store.flush()
        [summary] = store.list_runs(5)
        assert str(summary.status) == "cancelled"
