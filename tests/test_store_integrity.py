"""The history store under faults and races, with real processes and real SQLite files:
two resumes at once, a reused --run-id, a locked or full or deleted database at a run's end,
damaged rows, file modes, masked env values, unique export names."""

from __future__ import annotations

import asyncio
import io
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from rich.console import Console

from deeptui import OrchestrationConfig, TaskDefinition, TaskOrchestrator, WorkflowDefinition
from deeptui.cache import CacheConfig
from deeptui.cli.headless import run_headless
from deeptui.store import RunStore
from deeptui.store.reports import file_name

TASKS = 5


def env_for(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and k not in ("DEEPTUI_MODEL", "DEEPTUI_CONFIG")}
    env.update(XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"), DEEPTUI_DB=str(home / "history.db"),
               COLUMNS="200", NO_COLOR="1")
    env.update(extra)
    return env


def deeptui(home: Path, *args: str | Path, timeout: float = 60,
            **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deeptui.cli", "--cache", "none",
                           *map(str, args)], capture_output=True, text=True,
                          env=env_for(home, **env), cwd=home, timeout=timeout)


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert "internal error" not in proc.stderr, proc.stderr


def shell_workflow(home: Path, name: str, commands: dict[str, str], **env: str) -> Path:
    lines = [f"id: {name}", "max_parallel_tasks: 5", "tasks:"]
    for tid, command in commands.items():
        lines += [f"  - id: {tid}", "    task_type: shell", "    retry_config: {max_retries: 0}",
                  "    parameters:", f"      command: {command!r}", f"      cwd: {str(home)!r}"]
        if env:
            lines.append("      env: {" + ", ".join(f"{k}: {v!r}" for k, v in env.items()) + "}")
    path = home / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def wait_until(condition, proc: subprocess.Popen | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        assert proc is None or proc.poll() is None, proc.communicate()
        time.sleep(0.02)


# ------------------------------------------------------------- item 6: taking a run

RESUMER = textwrap.dedent('''
    import os, sys, time
    from deeptui.cli import main
    import deeptui.store, deeptui.orchestrator, deeptui.cli.headless, deeptui.settings  # warm
    go = sys.argv[1]
    open(f"{go}.ready-{os.getpid()}", "w").close()
    while not os.path.exists(go):  # the barrier: both processes are ready, then released
        time.sleep(0.001)
    sys.exit(main(sys.argv[2:]))
''')


def at_barrier(folder: Path, count: int) -> None:
    """Wait until ``count`` processes said they wait at the barrier (however loaded the machine)."""
    deadline = time.monotonic() + 60
    while len(list(folder.glob("go.ready-*"))) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_two_resumes_released_together_run_the_tasks_exactly_once(tmp_path: Path) -> None:
    commands = {f"t{i}": f"test -f ok && echo t{i} >> runs.txt && sleep 0.5"
                for i in range(TASKS)}
    wf = shell_workflow(tmp_path, "twice", commands)
    first = deeptui(tmp_path, "run", wf, "--headless", "--run-id", "twice-1")
    assert first.returncode == 1, first.stdout + first.stderr  # every task failed: no ok file
    (tmp_path / "ok").touch()
    script = tmp_path / "resumer.py"
    script.write_text(RESUMER)
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, str(script), str(go), "--cache", "none",
                               "resume", "twice-1", "--headless"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env_for(tmp_path),
                              cwd=tmp_path) for _ in range(2)]
    at_barrier(tmp_path, 2)  # both imported everything and wait at the barrier
    go.touch()
    results = [p.communicate(timeout=60) + (p.returncode,) for p in procs]
    runs = (tmp_path / "runs.txt").read_text().split()
    assert sorted(runs) == sorted(commands), runs  # each task ran once, not twice
    codes = sorted(code for _, _, code in results)
    assert codes == [0, 2], results
    loser = next(err for _, err, code in results if code == 2)
    assert "Traceback" not in loser
    line, = loser.strip().splitlines()
    assert line.startswith("deeptui: error: run 'twice-1'") and "process" in line, line


TAKER = textwrap.dedent('''
    """Open the store, build the engine, wait at the barrier, then resume: the race is only
    the takeover itself."""
    import asyncio, os, sys, time
    from deeptui import OrchestrationConfig, TaskOrchestrator
    from deeptui.cache import CacheConfig
    from deeptui.errors import DeeptuiError
    from deeptui.store import RunStore, resume_run

    db, run_id, go = sys.argv[1:4]

    async def main():
        store = RunStore(db)
        orchestrator = TaskOrchestrator(config=OrchestrationConfig(),
                                        cache_config=CacheConfig(strategy="none"), store=store)
        open(f"{go}.ready-{os.getpid()}", "w").close()  # at the barrier
        while not os.path.exists(go):
            time.sleep(0.0005)
        try:
            state = await resume_run(orchestrator, store, run_id)
            print("ran", state.status)
        except DeeptuiError as exc:
            print("refused", exc)
        finally:
            orchestrator.close()
            store.close()

    asyncio.run(main())
''')


def test_two_takeovers_released_together_run_each_task_once(tmp_path: Path) -> None:
    commands = {f"t{i}": f"test -f ok && echo t{i} >> runs.txt && sleep 0.3"
                for i in range(TASKS)}
    wf = shell_workflow(tmp_path, "race", commands)
    assert deeptui(tmp_path, "run", wf, "--headless", "--run-id", "race-1").returncode == 1
    (tmp_path / "ok").touch()
    script, go = tmp_path / "taker.py", tmp_path / "go"
    script.write_text(TAKER)
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "history.db"),
                               "race-1", str(go)], stdout=subprocess.PIPE, text=True,
                              stderr=subprocess.PIPE, cwd=tmp_path) for _ in range(2)]
    at_barrier(tmp_path, 2)
    go.touch()
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert sorted((tmp_path / "runs.txt").read_text().split()) == sorted(commands), outs
    assert sorted(out.split()[0] for out in outs) == ["ran", "refused"], outs
    refused = next(out for out in outs if out.startswith("refused"))
    assert "race-1" in refused and "process" in refused, refused


def test_a_run_id_of_a_stored_run_is_refused_also_while_it_runs(tmp_path: Path) -> None:
    wf = shell_workflow(tmp_path, "ids", {"a": "echo a >> runs.txt"})
    assert deeptui(tmp_path, "run", wf, "--headless", "--run-id", "mine").returncode == 0
    again = deeptui(tmp_path, "run", wf, "--headless", "--run-id", "mine")
    assert again.returncode == 2, again.stdout + again.stderr
    no_traceback(again)
    assert "run id 'mine' is already in the history" in again.stderr
    assert "deeptui resume mine" in again.stderr
    assert (tmp_path / "runs.txt").read_text().split() == ["a"]  # the second did not run

    slow = shell_workflow(tmp_path, "slow", {"w": "touch started; while [ ! -f go ]; do "
                                                   "sleep 0.05; done"})
    live = subprocess.Popen([sys.executable, "-m", "deeptui.cli", "--cache", "none", "run",
                             str(slow), "--headless", "--run-id", "live"], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env_for(tmp_path), cwd=tmp_path)
    try:
        wait_until(lambda: (tmp_path / "started").exists(), live)
        other = deeptui(tmp_path, "run", slow, "--headless", "--run-id", "live")
        assert other.returncode == 2 and f"process {live.pid}" in other.stderr, other.stderr
    finally:
        (tmp_path / "go").touch()
        live.communicate(timeout=30)
    assert live.returncode == 0
    shown = deeptui(tmp_path, "history")
    assert "live " in shown.stdout and "1/1" in shown.stdout


# ------------------------------------------------------------- item 7: cannot save

LOCKER = textwrap.dedent('''
    import sqlite3, sys, time, os
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    open(sys.argv[2], "w").close()
    while not os.path.exists(sys.argv[3]):
        time.sleep(0.02)
    conn.execute("ROLLBACK")
''')


def lock(tmp_path: Path, db: Path) -> tuple[subprocess.Popen, Path]:
    script = tmp_path / "locker.py"
    script.write_text(LOCKER)
    locked, release = tmp_path / "locked", tmp_path / "release"
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(locked), str(release)])
    wait_until(locked.exists, proc)
    return proc, release


def test_a_database_locked_at_the_end_of_a_run_is_a_warning_and_a_non_zero_exit(tmp_path):
    wf = shell_workflow(tmp_path, "locked", {"a": "touch started; while [ ! -f finish ]; do "
                                                  "sleep 0.05; done; echo done"})
    run = subprocess.Popen([sys.executable, "-m", "deeptui.cli", "--cache", "none",
                            "--db-retry", "1", "run", str(wf), "--headless"], text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env_for(tmp_path), cwd=tmp_path)
    wait_until(lambda: (tmp_path / "started").exists(), run)
    time.sleep(0.3)  # the run's start is committed
    locker, release = lock(tmp_path, tmp_path / "history.db")
    try:
        (tmp_path / "finish").touch()
        out, err = run.communicate(timeout=60)
    finally:
        release.touch()
        locker.wait(timeout=30)
    assert run.returncode == 1, out + err
    assert "Traceback" not in out + err and "internal error" not in err
    assert "✓ run" not in out and "was not saved" in out
    warnings = [line for line in err.splitlines() if line.startswith("deeptui: warning:")]
    assert warnings and "locked" in warnings[-1] and str(tmp_path / "history.db") in warnings[-1]


async def test_the_queue_stays_bounded_while_the_database_is_locked(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    store = RunStore(db, timeout=0.2, max_queue=300, max_log_lines=50, retry_for=30)
    orchestrator = TaskOrchestrator(config=OrchestrationConfig(),
                                    cache_config=CacheConfig(strategy="none"), store=store)
    lines = 20_000
    workflow = WorkflowDefinition(id="chatty", tasks=[TaskDefinition(
        id="talk", task_type="shell", parameters={
            "command": f"while [ ! -f {tmp_path}/locked ]; do sleep 0.02; done; "
                       f"seq 1 {lines} | sed 's/^/line /'"})])
    rid = orchestrator.start_workflow(workflow)
    while not store.list_runs():  # recorded before the lock
        await asyncio.sleep(0.02)
    locker, release = lock(tmp_path, db)
    try:
        state = await orchestrator.wait(rid)
        assert str(state.status) == "completed"
        assert not store.flush()  # still locked: nothing could be written
        # bounded: twice the queue's bound (queued + pending) plus the task's newest log
        # lines and its events, not the 20,000 lines
        assert store.peak_queued <= 2 * 300 + 50 + 20, store.peak_queued
    finally:
        release.touch()
        locker.wait(timeout=30)
    assert store.sync() is None
    stored = store.load_run(rid)
    orchestrator.close()
    store.close()
    assert str(stored.state.status) == "completed"
    logs = [text for _, _, text in stored.logs["talk"]]
    assert len(logs) <= 50 + 50 // 4 + 1 and logs[-1] == f"line {lines}"  # the newest kept
    assert stored.log_dropped["talk"] >= lines - 50 - 50 // 4 - 1


async def test_a_full_database_is_a_warning_and_not_a_completed_run(tmp_path: Path) -> None:
    """SQLITE_FULL (the page limit stands for a full disk): the run's end does not say
    "completed"; the headless run exits 1 and the store says what it lost."""
    store = RunStore(tmp_path / "history.db", retry_for=0.5)
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    orchestrator = TaskOrchestrator(config=OrchestrationConfig(),
                                    cache_config=CacheConfig(strategy="none"), store=store)
    workflow = WorkflowDefinition(id="full", tasks=[TaskDefinition(
        id=f"t{i}", task_type="shell", parameters={"command": "head -c 20000 /dev/zero | "
                                                              "tr '\\0' x; echo"})
        for i in range(TASKS)])
    out = io.StringIO()
    code = await run_headless(orchestrator, workflow, console=Console(file=out, width=120))
    orchestrator.close()
    store.close()
    assert code == 1
    assert "✓ run" not in out.getvalue() and "was not saved" in out.getvalue()
    assert store.save_error is not None and "full" in store.save_error


@pytest.fixture
def tiny_disk(tmp_path: Path):
    where = tmp_path / "disk"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(where)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_full_disk_is_a_warning_and_a_non_zero_exit(tmp_path: Path, tiny_disk: Path) -> None:
    db = tiny_disk / "history.db"
    wf = shell_workflow(tmp_path, "disk", {f"t{i}": "seq 1 3000" for i in range(TASKS)})
    RunStore(db).close()
    with open(tiny_disk / "filler", "wb", buffering=0) as fh:  # fill what is left
        try:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
        except OSError:
            pass
    filler = tiny_disk / "filler"  # room to open the database (its -shm) and start, no more
    os.truncate(filler, max(filler.stat().st_size - 48 * 1024, 0))
    proc = deeptui(tmp_path, "--db-retry", "1", "run", wf, "--headless", DEEPTUI_DB=str(db))
    no_traceback(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "✓ run" not in proc.stdout
    warning = [line for line in proc.stderr.splitlines() if line.startswith("deeptui: warning:")]
    assert warning and str(db) in warning[-1] and "full" in warning[-1], proc.stderr


def test_a_database_deleted_during_a_run_is_a_warning(tmp_path: Path) -> None:
    wf = shell_workflow(tmp_path, "gone", {"a": "touch started; while [ ! -f finish ]; do "
                                                "sleep 0.05; done"})
    run = subprocess.Popen([sys.executable, "-m", "deeptui.cli", "--cache", "none", "run",
                            str(wf), "--headless"], text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env_for(tmp_path), cwd=tmp_path)
    wait_until(lambda: (tmp_path / "started").exists(), run)
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"history.db{suffix}").unlink(missing_ok=True)
    (tmp_path / "finish").touch()
    out, err = run.communicate(timeout=60)
    assert run.returncode == 1 and "✓ run" not in out, out + err
    assert "Traceback" not in err and "deeptui: warning:" in err and "deleted" in err, err


# ------------------------------------------------------------- item 9: damaged rows


def test_damaged_rows_skip_and_name_the_run_and_the_rest_is_listed(tmp_path: Path) -> None:
    wf = shell_workflow(tmp_path, "dmg", {"a": "echo a"})
    for rid in ("bad-status", "bad-definition", "fine"):
        assert deeptui(tmp_path, "run", wf, "--headless", "--run-id", rid).returncode == 0
    with sqlite3.connect(tmp_path / "history.db") as conn:
        conn.execute("UPDATE runs SET status = 'exploded' WHERE run_id = 'bad-status'")
        conn.execute("UPDATE definitions SET workflow_json = '{\"id\": 5, \"tasks\": [{}]}', "
                     "digest = NULL WHERE run_id = 'bad-definition'")  # its own, inline
    listed = deeptui(tmp_path, "history")
    no_traceback(listed)
    assert listed.returncode == 0
    assert "fine" in listed.stdout and "bad-definition" in listed.stdout
    assert "bad-status" not in listed.stdout
    warning, = listed.stderr.strip().splitlines()
    assert warning.startswith("deeptui: warning: run 'bad-status'") and "exploded" in warning
    for args in (["history", "show", "bad-status"], ["history", "export", "bad-definition"],
                 ["resume", "bad-definition", "--headless"]):
        proc = deeptui(tmp_path, *args)
        no_traceback(proc)
        line, = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and line.startswith("deeptui: error: run 'bad-") \
            and "damaged" in line, (args, proc.stderr)


def test_a_missing_table_is_recreated_with_a_warning_and_the_run_succeeds(tmp_path: Path):
    wf = shell_workflow(tmp_path, "tables", {"a": "echo a"})
    assert deeptui(tmp_path, "run", wf, "--headless").returncode == 0
    with sqlite3.connect(tmp_path / "history.db") as conn:
        conn.execute("DROP TABLE tasks")
    proc = deeptui(tmp_path, "run", wf, "--headless")
    no_traceback(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "deeptui: warning:" in proc.stderr and "tasks" in proc.stderr
    assert "1/1" in deeptui(tmp_path, "history").stdout


# ------------------------------------------------------------- item 11: the smaller ones


def test_the_history_database_is_private(tmp_path: Path) -> None:
    wf = shell_workflow(tmp_path, "mode", {"a": "echo a"})
    assert deeptui(tmp_path, "run", wf, "--headless").returncode == 0
    for name in ("history.db", "history.db-wal"):
        path = tmp_path / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name


def test_env_values_are_masked_in_history_and_export_unless_kept(tmp_path: Path) -> None:
    wf = shell_workflow(tmp_path, "env", {"a": "echo $TOKEN_VALUE > seen.txt; exit 1"},
                        TOKEN_VALUE="hunter2-secret")
    proc = deeptui(tmp_path, "run", wf, "--headless", "--run-id", "e1")
    assert proc.returncode == 1 and (tmp_path / "seen.txt").read_text() == "hunter2-secret\n"
    exported = deeptui(tmp_path, "history", "export", "e1").stdout
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("history.db*"))
    assert b"hunter2-secret" not in raw and "hunter2-secret" not in exported
    assert '"TOKEN_VALUE": "<not stored>"' in exported
    refused = deeptui(tmp_path, "resume", "e1", "--headless")
    assert refused.returncode == 2 and "TOKEN_VALUE" in refused.stderr, refused.stderr
    (tmp_path / "seen.txt").unlink()
    resumed = deeptui(tmp_path, "resume", "e1", "--headless", TOKEN_VALUE="from-env")
    assert resumed.returncode == 1 and (tmp_path / "seen.txt").read_text() == "from-env\n"
    kept = deeptui(tmp_path, "--store-env", "keep", "run", wf, "--headless", "--run-id", "e2")
    assert kept.returncode == 1
    assert "hunter2-secret" in deeptui(tmp_path, "history", "export", "e2").stdout


def test_export_file_names_are_unique_and_safe() -> None:
    names = [file_name(t) for t in ("a/b", "a_b", "a:b", "../x", ".hidden", "x" * 300, "ok")]
    assert len(set(names)) == len(names)
    assert names[-1] == "ok"
    assert all("/" not in n and not n.startswith(".") and len(n) < 100 for n in names)


async def test_a_new_history_has_8k_pages_and_a_4k_one_goes_on_as_it_is(tmp_path: Path,
                                                                       monkeypatch):
    from deeptui.store import schema

    def run_on(store: RunStore) -> tuple[TaskOrchestrator, WorkflowDefinition]:
        orch = TaskOrchestrator(cache_config=CacheConfig(strategy="none"), store=store)
        orch.register_callable("echo", lambda task, params, deps: task.id * 2)
        wf = WorkflowDefinition(id="pages", tasks=[
            TaskDefinition(id=f"t{i}", task_type="callable", parameters={"callable": "echo"})
            for i in range(3)])
        return orch, wf

    async def record(path: Path) -> tuple[str, int]:
        with RunStore(path) as store:
            orch, wf = run_on(store)
            state = await orch.execute_workflow(wf)
            size = store.conn.execute("PRAGMA page_size").fetchone()[0]
        return state.run_id, size

    with monkeypatch.context() as m:  # a file made as deeptui made them before: 4 KB pages
        m.setattr(schema, "PAGE_SIZE", 4096)
        old_run, old_size = await record(tmp_path / "old.db")
    new_run, new_size = await record(tmp_path / "new.db")
    again_run, again_size = await record(tmp_path / "old.db")  # the old file, written again
    assert (old_size, new_size, again_size) == (4096, 8192, 4096)
    for name, rid in (("old.db", old_run), ("new.db", new_run), ("old.db", again_run)):
        with RunStore(tmp_path / name) as store:
            results = store.load_run(rid).state.task_results
            assert {t: (r.status.value, r.output) for t, r in results.items()} == {
                "t0": ("completed", "t0t0"), "t1": ("completed", "t1t1"),
                "t2": ("completed", "t2t2")}
