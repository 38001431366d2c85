"""Tasks' bodies on a Dask LocalCluster against this machine (``--cluster``, issue 16).

1. dispatch overhead: N trivial shell tasks (``true``) one at a time (max_parallel_tasks=1),
   local against the cluster: the extra wall time per task is the price of a remote body;
2. speed-up: 40 CPU-bound shell tasks (a busy loop of ~1 s of CPU each) serially here,
   with max_parallel_tasks = cores here, and on a LocalCluster (one worker per core);
3. log streaming: how fast lines from a worker reach the client, per mechanism: Dask
   events (``Worker.log_event``, one line per event, and deeptui's 20 ms batches) against a
   ``distributed.Queue`` (one ``put`` per line). Variables hold one value (a stream would
   lose lines), so they are not a candidate.

``python benchmarks/cluster.py [--tasks 40] [--busy 1.0] [--lines 20000] [--json PATH]``
(needs ``pip install 'deeptui[dask]'``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BUSY = ("python3 -c \"import time; t = time.process_time()\n"
        "while time.process_time() - t < {s}: pass\"")


def workflow(name: str, commands: list[str], parallel: int):
    from deeptui.models import TaskDefinition, WorkflowDefinition

    return WorkflowDefinition(id=name, name=name, max_parallel_tasks=parallel, tasks=[
        TaskDefinition(id=f"t{i}", task_type="shell", parameters={"command": c})
        for i, c in enumerate(commands)])


def timed_run(wf, cluster: str | None) -> float:
    from deeptui.cache import CacheConfig
    from deeptui.orchestrator import TaskOrchestrator

    orch = TaskOrchestrator(cache_config=CacheConfig(strategy="none"))
    if cluster is not None:
        from deeptui.cluster import use_cluster

        use_cluster(orch, cluster).start()
    try:
        start = time.perf_counter()
        state = asyncio.run(orch.execute_workflow(wf))
        elapsed = time.perf_counter() - start
        assert state.status.value == "completed", state.error
        return elapsed
    finally:
        orch.close()


# -- log streaming ----------------------------------------------------------------------

def _emit_events(topic: str, lines: int, batch: float) -> int:
    from distributed import get_worker

    worker = get_worker()
    pending: list[list[object]] = []
    last = time.monotonic()
    sent = 0
    for i in range(lines):
        if batch == 0:
            worker.log_event(topic, {"n": i, "text": f"line {i}"})
            sent += 1
            continue
        pending.append([i, f"line {i}"])
        if time.monotonic() - last >= batch:
            worker.log_event(topic, {"lines": pending})
            pending, last, sent = [], time.monotonic(), sent + 1
    if pending:
        worker.log_event(topic, {"lines": pending})
        sent += 1
    return sent


def _emit_queue(name: str, lines: int) -> int:
    from distributed import Queue

    queue = Queue(name)
    for i in range(lines):
        queue.put(f"line {i}")
    return lines


def stream_rate(client, lines: int, how: str) -> tuple[float, bool]:
    """(lines per second from the submit to the last line received, all in order)."""
    from distributed import Queue

    got: list[int] = []
    topic = f"bench-{how}-{time.monotonic_ns()}"

    def on_event(event) -> None:
        msg = event[1]
        if "lines" in msg:
            got.extend(n for n, _ in msg["lines"])
        else:
            got.append(msg["n"])

    start = time.perf_counter()
    if how == "queue":
        queue = Queue(topic, client=client)
        future = client.submit(_emit_queue, topic, lines, pure=False)
        while len(got) < lines:
            got.extend(int(text.split()[1]) for text in queue.get(batch=True, timeout=60))
        future.result()
    else:
        client.subscribe_topic(topic, on_event)
        future = client.submit(_emit_events, topic, lines, 0.0 if how == "event" else 0.02,
                               pure=False)
        future.result()
        deadline = time.monotonic() + 60
        while len(got) < lines and time.monotonic() < deadline:
            time.sleep(0.001)
        client.unsubscribe_topic(topic)
    elapsed = time.perf_counter() - start
    return lines / elapsed, got == list(range(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--busy", type=float, default=1.0, help="CPU seconds per busy task")
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    cores = os.cpu_count() or 1
    figures: dict[str, object] = {"cores": cores}
    print(f"cores on this machine: {cores}")

    trivial = workflow("trivial", ["true"] * args.tasks, 1)
    local = timed_run(trivial, None)
    remote = timed_run(trivial, f"local:{cores}")
    figures["dispatch_ms_local"] = 1000 * local / args.tasks
    figures["dispatch_ms_cluster"] = 1000 * remote / args.tasks
    print(f"\n{args.tasks} trivial shell tasks one at a time, ms per task: local "
          f"{figures['dispatch_ms_local']:.1f}, cluster {figures['dispatch_ms_cluster']:.1f} "
          f"(+{(remote - local) * 1000 / args.tasks:.1f} ms a task)")

    busy = [BUSY.format(s=args.busy)] * args.tasks
    rows = [("local, one at a time", timed_run(workflow("busy", busy, 1), None)),
            (f"local, {cores} at a time", timed_run(workflow("busy", busy, cores), None)),
            (f"LocalCluster, {cores} workers", timed_run(workflow("busy", busy, cores),
                                                       f"local:{cores}"))]
    print(f"\n{args.tasks} CPU-bound shell tasks of {args.busy:g} CPU s each ({cores} cores: "
          f"the speed-up is bounded by {cores})")
    for name, seconds in rows:
        print(f"  {name:<28} {seconds:7.1f} s   speed-up {rows[0][1] / seconds:4.2f}x")
        figures[f"busy_s: {name}"] = seconds

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, processes=True, dashboard_address=None,
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        print(f"\nlog lines from a worker to the client ({args.lines} lines):")
        for how, count in (("event", args.lines), ("batched events (deeptui)", args.lines),
                           ("queue", min(args.lines, 2000))):
            rate, ordered = stream_rate(client, count, "batched" if how.startswith("b") else how)
            figures[f"lines_per_s: {how}"] = rate
            print(f"  {how:<26} {rate:9.0f} lines/s   in order: {ordered}   ({count} lines)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
