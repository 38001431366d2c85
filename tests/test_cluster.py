"""Tasks' bodies on a real Dask cluster (a LocalCluster of two worker processes) while deeptui
schedules: dependencies, where each task ran, live logs, cancel and timeouts ending the
remote process group, a worker killed mid-task, and `--cluster local:2` from the CLI."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Recorder, pid_alive, until
from deeptui import bus as ev
from deeptui.cache import CacheConfig
from deeptui.errors import WorkflowValidationError
from deeptui.models import (
    OrchestrationConfig,
    RetryConfig,
    TaskDefinition,
    TaskStatus,
    WorkflowDefinition,
    WorkflowStatus,
)
from deeptui.orchestrator import TaskOrchestrator

distributed = pytest.importorskip("distributed")

import cluster_callables  # noqa: E402 - module-level callables the workers import by name


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=2,
                                  dashboard_address=None,
                                  silence_logs=logging.CRITICAL) as local:
        yield local


def worker_pids(cluster) -> dict[str, int]:
    with distributed.Client(cluster.scheduler_address) as client:
        return client.run(os.getpid)


@pytest.fixture
def on_cluster(cluster):
    from deeptui.cluster import use_cluster

    made: list[TaskOrchestrator] = []

    def make(**config) -> TaskOrchestrator:
        orch = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0.0, 0.01),
                                                           simulated_seed=3, **config),
                                cache_config=CacheConfig(strategy="none"))
        use_cluster(orch, cluster.scheduler_address)
        made.append(orch)
        return orch

    yield make
    for orch in made:
        orch.close()


def processes(*argv: str) -> list[int]:
    """Pids of live processes whose command line is exactly ``argv``."""
    want = "\0".join(argv).encode() + b"\0"
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if fh.read() == want and pid_alive(int(entry)):
                        found.append(int(entry))
            except OSError:
                continue
    return found


def rendered(renderable) -> str:
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(renderable)
    return console.export_text()


def shell(tid: str, command: str, **extra) -> TaskDefinition:
    return TaskDefinition(id=tid, task_type="shell", parameters={"command": command}, **extra)


async def test_a_twenty_task_dag_of_every_kind_runs_on_the_workers(on_cluster, cluster, tmp_path):
    from deeptui.store import RunStore

    tasks = []
    for i in range(20):
        deps = [f"t{j}" for j in (i - 1, i - 5) if j >= 0 and (j == i - 5 or i % 4)]
        if i % 3 == 0:
            tasks.append(shell(f"t{i}", "echo $PPID", depends_on=deps))
        elif i % 3 == 1:
            tasks.append(TaskDefinition(id=f"t{i}", task_type="callable", depends_on=deps,
                                        parameters={"callable": "where", "n": i}))
        else:
            tasks.append(TaskDefinition(id=f"t{i}", description=f"summarise part {i}",
                                        depends_on=deps))
    workflow = WorkflowDefinition(id="dag20", name="dag20", tasks=tasks, max_parallel_tasks=4)
    orch = on_cluster()
    orch.register_callable("where", cluster_callables.where)
    store = RunStore(tmp_path / "history.db")
    store.attach(orch)
    state = await orch.execute_workflow(workflow)

    assert state.status is WorkflowStatus.COMPLETED
    pids = worker_pids(cluster)
    results = state.task_results
    for task in tasks:
        r = results[task.id]
        assert r.status is TaskStatus.COMPLETED and r.worker in pids, (task.id, r)
        for dep in task.depends_on:
            assert results[dep].completed_at <= r.started_at
        if task.kind == "shell":  # the shell's parent is the worker process, not deeptui
            assert int(r.output) == pids[r.worker] != os.getpid()
        elif task.kind == "callable":
            assert r.output["pid"] == pids[r.worker] and r.output["n"] == int(task.id[1:])
            assert r.output["inputs"] == len(task.depends_on)
        else:
            assert f"part {task.id[1:]}" in r.output
    assert {results[t.id].worker for t in tasks} == set(pids)  # both workers took tasks
    stored = store.load_run(state.run_id)
    assert {t: r.worker for t, r in stored.state.task_results.items()} == \
        {t: r.worker for t, r in results.items()}
    store.close()


async def test_a_remote_shell_tasks_lines_arrive_while_it_runs(on_cluster):
    orch = on_cluster()
    seen: list[tuple[str, TaskStatus]] = []

    def tap(event: ev.Event) -> None:
        if isinstance(event, ev.TaskLog) and event.kind == "stdout":
            run = orch.find_run("live")
            seen.append((event.text, run.state.task_results["t"].status))

    orch.bus.tap(tap)
    workflow = WorkflowDefinition(id="live", name="live", tasks=[
        shell("t", "echo first; sleep 2; echo second; for i in 1 2 3; do echo $i; done")])
    state = await orch.execute_workflow(workflow)
    assert state.status is WorkflowStatus.COMPLETED
    assert seen[0] == ("first", TaskStatus.RUNNING)
    assert [text for text, _ in seen] == ["first", "second", "1", "2", "3"]
    log = [text for _, kind, text in orch.get_task_log("live", "t")]
    assert log[0].startswith("running on worker tcp://") and log[1].startswith("$ echo first")


async def test_cancel_timeout_and_run_cancel_end_the_remote_process_group(on_cluster):
    orch = on_cluster()
    no_retry = RetryConfig(max_retries=0)
    orch.start_workflow(WorkflowDefinition(id="one", name="one", tasks=[
        shell("t", "sleep 311.5", retry_config=no_retry)]))
    await until(lambda: processes("sleep", "311.5"), timeout=30)
    pids = processes("sleep", "311.5")
    assert orch.cancel_task("one", "t")
    state = await orch.wait("one")
    assert state.task_results["t"].status is TaskStatus.CANCELLED
    assert not any(pid_alive(p) for p in pids) and not processes("sleep", "311.5")

    orch.start_workflow(WorkflowDefinition(id="two", name="two", tasks=[
        shell("a", "sleep 312.5", retry_config=no_retry),
        shell("b", "sleep 313.5 & wait", retry_config=no_retry)]))
    await until(lambda: processes("sleep", "312.5") and processes("sleep", "313.5"), timeout=30)
    assert orch.cancel_workflow("two")
    state = await orch.wait("two")
    assert state.status is WorkflowStatus.CANCELLED
    assert not processes("sleep", "312.5") and not processes("sleep", "313.5")

    state = await orch.execute_workflow(WorkflowDefinition(id="late", name="late", tasks=[
        shell("t", "sleep 314.5", retry_config=no_retry, timeout_seconds=3)]))
    result = state.task_results["t"]
    assert result.status is TaskStatus.FAILED and result.error == "timed out after 3s"
    assert "$ sleep 314.5" in [text for _, _, text in orch.get_task_log("late", "t")]
    assert not processes("sleep", "314.5")


async def test_a_cancel_before_deeptui_heard_where_the_body_runs_still_ends_it(
        on_cluster, monkeypatch):
    # The body's "placed" message travels worker -> scheduler -> client and can arrive after
    # the cancel (it did in CI): drop it, so the cancel must find the body by itself.
    from deeptui.cluster import remote

    handle = remote.LogStream._handle
    monkeypatch.setattr(remote.LogStream, "_handle",
                        lambda self, msg: None if msg.get("placed") else handle(self, msg))
    orch = on_cluster()
    orch.start_workflow(WorkflowDefinition(id="unplaced", name="unplaced", tasks=[
        shell("t", "sleep 317.5", retry_config=RetryConfig(max_retries=0))]))
    await until(lambda: processes("sleep", "317.5"), timeout=30)
    assert orch.cancel_workflow("unplaced")
    state = await orch.wait("unplaced")
    assert state.task_results["t"].status is TaskStatus.CANCELLED
    assert not processes("sleep", "317.5")


async def test_a_callable_that_cannot_be_shipped_is_refused_before_anything_runs(on_cluster):
    orch = on_cluster()
    orch.register_callable("inline", lambda task, params, outputs: 1)
    workflow = WorkflowDefinition(id="ship", name="ship", tasks=[
        shell("first", "echo never"),
        TaskDefinition(id="calc", task_type="callable", parameters={"callable": "inline"})])
    with pytest.raises(WorkflowValidationError, match="task 'calc'.*cannot run on the cluster"):
        await orch.execute_workflow(workflow)
    assert orch.find_run("ship") is None

    from pydantic_ai.models.test import TestModel

    from deeptui.cluster import use_cluster

    objects = TaskOrchestrator(model=TestModel(), cache_config=CacheConfig(strategy="none"))
    use_cluster(objects, "local:1")  # (never connected: refused before)
    agent = WorkflowDefinition(id="agent", name="agent", tasks=[TaskDefinition(id="ask")])
    with pytest.raises(WorkflowValidationError, match="task 'ask': an agent task on the cluster"):
        objects.validate(agent)
    objects.close()


def _cli_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DEEPTUI_MODEL", "DEEPTUI_CONFIG")}
    env.update(XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"), DEEPTUI_DB=str(home / "history.db"),
               COLUMNS="200", NO_COLOR="1")
    return env


def test_cluster_local_2_from_the_command_line(tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text("id: cli\nname: cli\ntasks:\n"
                    "  - {id: a, task_type: shell, parameters: {command: 'echo $PPID'}}\n"
                    "  - {id: b, task_type: shell, depends_on: [a], parameters: {command: 'echo b'}}\n"
                    "  - {id: c, description: review the results, depends_on: [a]}\n")
    env = _cli_env(tmp_path)
    run = subprocess.run([sys.executable, "-m", "deeptui.cli", "run", str(flow), "--headless",
                          "--cluster", "local:2", "--run-id", "cli-1", "--latency-max", "0.05",
                          "--format", "json"], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=180)
    assert run.returncode == 0, run.stderr
    assert "tasks run on the local cluster (2 workers)" in run.stderr
    import json

    tasks = {t["id"]: t for t in json.loads(run.stdout)["tasks"]}
    assert all(t["status"] == "completed" and t["worker"].startswith("tcp://127.0.0.1:")
               for t in tasks.values())
    show = subprocess.run([sys.executable, "-m", "deeptui.cli", "history", "show", "cli-1"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    # 80 columns (a pipe): each worker's whole address, without Dask's default tcp://
    assert show.returncode == 0 and show.stdout.count("on 127.0.0.1:") == 3, show.stdout
    for task in tasks.values():
        assert f"on {task['worker'].removeprefix('tcp://')}" in show.stdout, show.stdout


def test_without_distributed_the_flag_names_the_extra(tmp_path):
    fake = tmp_path / "fake" / "distributed"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('not installed')\n")
    flow = tmp_path / "flow.yaml"
    flow.write_text("id: x\nname: x\ntasks:\n  - {id: a, task_type: shell, parameters: "
                    "{command: 'echo a'}}\n")
    env = {**_cli_env(tmp_path), "PYTHONPATH": str(tmp_path / "fake")}
    proc = subprocess.run([sys.executable, "-m", "deeptui.cli", "run", str(flow), "--headless",
                           "--cluster", "local"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "deeptui: error: --cluster needs Dask's distributed package: "
        "pip install 'deeptui[dask]'"]
    proc = subprocess.run([sys.executable, "-m", "deeptui.cli", "run", str(flow), "--headless",
                           "--cluster", "banana"], capture_output=True, text=True,
                          env=_cli_env(tmp_path), cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "deeptui: error: --cluster banana: not a cluster; use tcp://HOST:8786, local or local:N"]


async def test_a_worker_killed_mid_task_fails_that_attempt_and_the_retry_runs_elsewhere(
        on_cluster, cluster, tmp_path):
    mark = tmp_path / "started"
    orch = on_cluster()
    recorder = Recorder(orch.bus)
    command = f"if [ -e {mark} ]; then echo second attempt; else touch {mark}; sleep 315.5; fi"
    orch.start_workflow(WorkflowDefinition(id="kill", name="kill", tasks=[
        shell("t", command, retry_config=RetryConfig(max_retries=2, initial_delay=0.2,
                                                     jitter=0))]))
    try:
        def worker() -> str | None:
            return orch.find_run("kill").state.task_results["t"].worker

        # where it runs is known when its "placed" message arrives, maybe after the process
        await until(lambda: processes("sleep", "315.5") and worker(), timeout=30)
        killed = worker()
        os.kill(worker_pids(cluster)[killed], signal.SIGKILL)
        state = await orch.wait("kill")
        # the killed worker's shell (a session of its own) is ended by that worker's nanny
        await until(lambda: not processes("sleep", "315.5"), timeout=20)
    finally:
        for pid in processes("sleep", "315.5"):
            os.kill(pid, signal.SIGKILL)
    result = state.task_results["t"]
    assert result.status is TaskStatus.COMPLETED and result.output == "second attempt"
    assert result.attempts == 2 and result.worker != killed
    retrying = recorder.of(ev.TaskRetrying)
    assert len(retrying) == 1 and retrying[0].error.startswith(f"worker {killed} died")
    placed = [e.worker for e in recorder.of(ev.TaskPlaced)]
    assert placed[0] == killed and placed[-1] == result.worker


async def test_a_lost_scheduler_fails_the_running_attempt_and_resume_runs_it_here(tmp_path):
    """Dask's own commands, as the README starts a cluster: the scheduler is killed
    mid-task; the attempt fails with one clear line, what completed stays in the history,
    and a resume without the cluster finishes the run on this machine."""
    from deeptui.cluster import use_cluster
    from deeptui.store import RunStore, resume_run

    dask = Path(sys.executable).with_name("dask")
    info = tmp_path / "scheduler.json"
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", info], **quiet)
    worker = None
    store = RunStore(tmp_path / "history.db")
    try:
        await until(lambda: info.exists() and info.stat().st_size > 0, timeout=60)
        address = json.loads(info.read_text())["address"]
        worker = subprocess.Popen([dask, "worker", address, "--nworkers", "1",
                                   "--no-dashboard", "--host", "127.0.0.1"], **quiet)
        orch = TaskOrchestrator(cache_config=CacheConfig(strategy="none"))
        store.attach(orch)
        conn = use_cluster(orch, address)
        await until(lambda: conn.starting().done() and conn.workers(), timeout=60)
        workflow = WorkflowDefinition(id="lost", name="lost", tasks=[
            shell("a", "echo kept"),
            shell("b", f"test -e {tmp_path / 'here'} || sleep 316.5", depends_on=["a"],
                  retry_config=RetryConfig(max_retries=0))])
        orch.start_workflow(workflow)
        await until(lambda: processes("sleep", "316.5"), timeout=60)
        scheduler.kill()
        state = await orch.wait("lost")
        orch.close()
    finally:
        for proc in (scheduler, worker):
            if proc is not None:
                proc.kill()
                proc.wait()
        for pid in processes("sleep", "316.5"):  # the worker's shell, orphaned by the kill
            os.kill(pid, signal.SIGKILL)
    a, b = state.task_results["a"], state.task_results["b"]
    assert a.status is TaskStatus.COMPLETED and a.output == "kept"
    assert b.status is TaskStatus.FAILED
    assert b.error.startswith(f"lost the Dask scheduler at {address}") and "\n" not in b.error

    (tmp_path / "here").touch()
    local = TaskOrchestrator(cache_config=CacheConfig(strategy="none"))
    store.attach(local)
    resumed = await resume_run(local, store, state.run_id)
    local.close()
    assert resumed.status is WorkflowStatus.COMPLETED
    assert resumed.task_results["a"].worker == a.worker and a.worker.startswith("tcp://")
    assert resumed.task_results["b"].worker is None  # ran here
    assert store.load_run(state.run_id).state.task_results["a"].worker == a.worker
    store.close()


async def test_the_apps_cluster_field_runs_the_tasks_there_and_shows_where(cluster):
    from conftest import wait_for
    from deeptui.app import DeeptuiApp
    from deeptui.screens.parameters import ParametersScreen
    from deeptui.screens.run import RunScreen

    orch = TaskOrchestrator(cache_config=CacheConfig(strategy="none"))
    app = DeeptuiApp(orchestrator=orch)
    workflow = WorkflowDefinition(id="app", name="app", tasks=[shell("t", "echo from $PPID")])
    pids = worker_pids(cluster)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            app.push_screen(ParametersScreen(workflow=workflow))
            await wait_for(pilot, lambda: isinstance(app.screen, ParametersScreen)
                           and app.screen.query("#cluster"))
            app.screen.query_one("#cluster").value = cluster.scheduler_address
            await pilot.click("#run")
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
            screen = app.screen
            await wait_for(pilot, lambda: screen.state.status.finished, timeout=60)
            result = screen.state.task_results["t"]
            assert result.worker in pids and result.output == f"from {pids[result.worker]}"
            await wait_for(pilot, lambda: f"on cluster {cluster.scheduler_address}" in str(
                screen.query_one("#run-title").content))
            await wait_for(pilot, lambda: f"worker {result.worker}" in rendered(
                screen.query_one("#task-detail").content))
            assert orch.cluster is not None
            # back to this machine: the field emptied, the next run runs here
            app.pop_screen()
            app.push_screen(ParametersScreen(workflow=workflow.model_copy(update={"id": "app2"})))
            await wait_for(pilot, lambda: isinstance(app.screen, ParametersScreen)
                           and app.screen.query("#cluster"))
            app.screen.query_one("#cluster").value = ""
            await pilot.click("#run")
            await wait_for(pilot, lambda: isinstance(app.screen, RunScreen)
                           and app.screen.state.status.finished, timeout=30)
            assert app.screen.state.task_results["t"].output == f"from {os.getpid()}"
            assert app.screen.state.task_results["t"].worker is None
            assert orch.cluster is None
    finally:
        orch.close()


async def test_an_agent_task_works_on_the_runs_workspace_from_a_worker(on_cluster, cluster,
                                                                        tmp_path):
    (tmp_path / "app.py").write_text("def handler():\n    # TODO: retry the upload\n    pass\n")
    orch = on_cluster()
    workflow = WorkflowDefinition(id="files", name="files", workspace=str(tmp_path), tasks=[
        TaskDefinition(id="todos", description="list the TODO comments in the code")])
    state = await orch.execute_workflow(workflow)
    result = state.task_results["todos"]
    assert result.status is TaskStatus.COMPLETED and result.worker in worker_pids(cluster)
    calls = [text for _, kind, text in orch.get_task_log("files", "todos") if kind == "tool_call"]
    assert calls and "app.py" in str(result.output)
