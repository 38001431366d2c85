"""Stopping leaves nothing running: SIGTERM, SIGHUP, Ctrl-C twice and Quit end every
shell task's process group (SIGKILL for what ignores SIGTERM) before deeptui exits,
and shell output that a background child holds open does not hang a task.

Real processes throughout: ``deeptui run --headless`` in a subprocess, real
signals, and the processes of each task's group looked up in /proc.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli import cli_env

from deeptui import CacheConfig, OrchestrationConfig, TaskOrchestrator
from deeptui.models import RetryConfig, TaskDefinition, WorkflowDefinition

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")

NO_RETRY = RetryConfig(max_retries=0)


def live_members(pgids: set[int]) -> list[str]:
    """The processes still alive (zombies are not) in any of the process groups."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if int(fields[2]) in pgids and fields[0] != b"Z":
            found.append(f"{entry}: {cmdline}")
    return found


def kill_groups(pgids: set[int]) -> None:
    """Clean up after a failed test: nothing of ours outlives it."""
    for pgid in pgids:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def wait_for_files(paths: list[Path], proc: subprocess.Popen | None = None,
                   timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not all(p.exists() and p.read_text().strip() for p in paths):
        if proc is not None and proc.poll() is not None:
            raise AssertionError(proc.communicate())
        assert time.monotonic() < deadline, [p for p in paths if not p.exists()]
        time.sleep(0.05)


def three_stubborn_tasks(home: Path) -> tuple[Path, list[Path]]:
    """A plain sleep, one that ignores SIGTERM, one with a background child; each task
    writes its group id ($$: the shell leads its own session) once all is started."""
    commands = {
        "plain": "echo $$ > plain.pgid; sleep 300",
        "stubborn": "trap '' TERM; sleep 300 & echo $$ > stubborn.pgid; wait",
        "child": "sleep 300 & sleep 301 & echo $$ > child.pgid; wait",
    }
    lines = ["id: stoppable", "execution_strategy: parallel", "tasks:"]
    for tid, command in commands.items():
        lines += [f"  - id: {tid}", "    task_type: shell",
                  f"    parameters: {{command: {json.dumps(command)}}}"]
    path = home / "stoppable.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path, [home / f"{tid}.pgid" for tid in commands]


def start_headless(home: Path, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "deeptui.cli", "run", str(path), "--headless"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(home), cwd=home)


def last_run(home: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "deeptui.cli", "history", "--format", "json"],
                          capture_output=True, text=True, env=cli_env(home), cwd=home, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)[0]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_end_every_task_process_before_the_run_exits(
        tmp_path: Path, sig: signal.Signals) -> None:
    path, pgid_files = three_stubborn_tasks(tmp_path)
    proc = start_headless(tmp_path, path)
    pgids: set[int] = set()
    try:
        wait_for_files(pgid_files, proc)
        pgids = {int(p.read_text()) for p in pgid_files}
        assert len(live_members(pgids)) >= 6  # 3 shells, 4 sleeps (a shell may exec its sleep)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        # checked the moment deeptui is gone: it exited only after the groups were
        assert live_members(pgids) == []
    finally:
        kill_groups(pgids)
        proc.kill()
    assert proc.returncode == 128 + sig, (proc.returncode, out, err)
    assert "Traceback" not in out + err and "Event loop is closed" not in err
    assert f"{sig.name}: cancelling the run" in out
    run = last_run(tmp_path)
    assert run["status"] in ("cancelled", "interrupted"), run


def test_a_second_ctrl_c_kills_a_task_ignoring_sigterm_before_exiting(tmp_path: Path) -> None:
    path, pgid_files = three_stubborn_tasks(tmp_path)
    proc = start_headless(tmp_path, path)
    pgids: set[int] = set()
    try:
        wait_for_files(pgid_files, proc)
        pgids = {int(p.read_text()) for p in pgid_files}
        proc.send_signal(signal.SIGINT)
        assert proc.stdout is not None and "cancelling the run" in proc.stdout.readline()
        proc.send_signal(signal.SIGINT)  # within the grace: the TERM-ignoring task is there
        out, err = proc.communicate(timeout=60)
        assert live_members(pgids) == []
    finally:
        kill_groups(pgids)
        proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in out + err and "Event loop is closed" not in err
    assert last_run(tmp_path)["status"] in ("cancelled", "interrupted")


def test_background_children_neither_hang_nor_outlive_their_task(tmp_path: Path) -> None:
    """``sleep & echo done`` completes with its output (the sleep holding the output
    open is ended); a timed-out task whose shell exec'd away still loses its children;
    the run exits with no 'Event loop is closed' traceback."""
    path = tmp_path / "bg.yaml"
    path.write_text(
        "id: bg\ntasks:\n"
        "  - id: bg\n    task_type: shell\n    timeout_seconds: 30\n"
        "    retry_config: {max_retries: 0}\n"
        "    parameters: {command: 'sleep 300 & echo $$ > bg.pgid; echo done'}\n"
        "  - id: hang\n    task_type: shell\n    timeout_seconds: 3\n"
        "    retry_config: {max_retries: 0}\n"
        "    parameters: {command: \"(trap '' TERM; sleep 300) & echo $$ > hang.pgid; exec sleep 301\"}\n")
    proc = subprocess.Popen([sys.executable, "-m", "deeptui.cli", "run", str(path), "--headless",
                             "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=cli_env(tmp_path), cwd=tmp_path)
    pgids: set[int] = set()
    try:
        out, err = proc.communicate(timeout=120)
        pgids = {int((tmp_path / f).read_text()) for f in ("bg.pgid", "hang.pgid")}
        assert live_members(pgids) == []
    finally:
        kill_groups(pgids)
        proc.kill()
    assert "Traceback" not in err and "Event loop is closed" not in err, err
    tasks = {t["id"]: t for t in json.loads(out)["tasks"]}
    assert (tasks["bg"]["status"], tasks["bg"]["attempts"]) == ("completed", 1), tasks["bg"]
    assert tasks["hang"]["status"] == "failed" and "timed out" in tasks["hang"]["error"]
    assert proc.returncode == 1


@pytest.fixture
def orch():
    orchestrator = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0, 0.01)),
                                    cache_config=CacheConfig(strategy="none"))
    yield orchestrator
    orchestrator.close()


async def test_a_background_child_holding_the_output_does_not_hold_the_task(orch, tmp_path):
    pgid_file = tmp_path / "pgid"
    result = await orch.execute_task(TaskDefinition(
        id="bg", task_type="shell", timeout_seconds=30, retry_config=NO_RETRY,
        parameters={"command": f"sleep 300 & echo $$ > {pgid_file}; echo done"}))
    pgid = int(pgid_file.read_text())
    try:
        assert (result.status, result.output, result.attempts) == ("completed", "done", 1), \
            result.error
        assert live_members({pgid}) == []
    finally:
        kill_groups({pgid})


def stubborn_workflow(pgid_file: Path) -> WorkflowDefinition:
    """One shell task that ignores SIGTERM, its child too; it writes its group id."""
    return WorkflowDefinition(id="stubborn", tasks=[TaskDefinition(
        id="stubborn", task_type="shell", retry_config=NO_RETRY,
        parameters={"command": f"trap '' TERM; sleep 300 & echo $$ > {pgid_file}; wait"})])


@pytest.mark.parametrize("starting", [False, True], ids=["running", "still-starting"])
async def test_cancelling_ends_a_task_ignoring_sigterm_before_the_run_ends(orch, tmp_path,
                                                                            monkeypatch, starting):
    """Also while asyncio still connects the new process's pipes (``still-starting``): a
    cancel landing then must not leave the shell's children (asyncio kills the shell only)."""
    if starting:
        real = asyncio.create_subprocess_shell

        async def slow_to_connect(*args, **kwargs):
            proc = await real(*args, **kwargs)
            await asyncio.sleep(1.0)  # the cancel below lands here
            return proc

        monkeypatch.setattr(asyncio, "create_subprocess_shell", slow_to_connect)
    pgid_file = tmp_path / "pgid"
    rid = orch.start_workflow(stubborn_workflow(pgid_file))
    while not (pgid_file.exists() and pgid_file.read_text().strip()):
        await asyncio.sleep(0.02)
    pgid = int(pgid_file.read_text())
    try:
        assert live_members({pgid})
        assert orch.cancel_workflow(rid)
        final = await orch.wait(rid)
        assert live_members({pgid}) == []  # SIGKILLed after the grace, before the run ended
    finally:
        kill_groups({pgid})
    assert final.task_results["stubborn"].status == "cancelled"


# ------------------------------------------------------------------- the app


async def app_with_stubborn_task(tmp_path: Path):
    """The app running one shell task that ignores SIGTERM (and its child, too)."""
    from deeptui.app import DeeptuiApp

    orchestrator = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0, 0.01)),
                                    cache_config=CacheConfig(strategy="none"))
    pgid_file = tmp_path / "pgid"
    return DeeptuiApp(orchestrator=orchestrator), stubborn_workflow(pgid_file), pgid_file


async def wait_until(pilot, condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.05)


async def test_quitting_the_app_ends_a_task_ignoring_sigterm_before_it_exits(tmp_path):
    from deeptui.screens.confirm import ConfirmScreen

    app, workflow, pgid_file = await app_with_stubborn_task(tmp_path)
    pgid = None
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            app.start_run(workflow)
            await wait_until(pilot, lambda: pgid_file.exists() and pgid_file.read_text().strip())
            pgid = int(pgid_file.read_text())
            assert live_members({pgid})
            await pilot.press("ctrl+q")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.click("#confirm-yes")
            await wait_until(pilot, lambda: app.return_code is not None)
            # the app says it is done only once the task's group is gone
            assert live_members({pgid}) == []
        assert app.return_code == 0
        assert app.orchestrator.find_run("stubborn").state.status == "cancelled"
    finally:
        if pgid is not None:
            kill_groups({pgid})
        app.orchestrator.close()


async def test_sigterm_to_the_app_cancels_the_run_and_exits_once_its_processes_are_gone(tmp_path):
    app, workflow, pgid_file = await app_with_stubborn_task(tmp_path)
    pgid = None
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            app.start_run(workflow)
            await wait_until(pilot, lambda: pgid_file.exists() and pgid_file.read_text().strip())
            pgid = int(pgid_file.read_text())
            # the app handles SIGTERM (were it not, the signal would end this test process)
            assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN)
            os.kill(os.getpid(), signal.SIGTERM)
            await wait_until(pilot, lambda: app.return_code is not None)
            assert live_members({pgid}) == []
        assert app.return_code == 128 + signal.SIGTERM
        assert app.orchestrator.find_run("stubborn").state.status == "cancelled"
        assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)  # given back
    finally:
        if pgid is not None:
            kill_groups({pgid})
        app.orchestrator.close()
