"""Where an agent run's makespan goes: one lognormal DAG run instrumented, agents against callables.

The workflow of ``makespan.py`` (200-task layered DAG, lognormal durations, 8 slots, default
routing): agent tasks on the sleeping FunctionModel, and the same DAG of callable tasks that
sleep. Per task it records when it became ready, started (its asyncio task created), its
coroutine's first step, when it began and ended its sleep, when its coroutine returned and
when it finished (its slot freed); the event loop's busy time (every
callback timed) and its longest blocks; the garbage collector's pauses. The slot-seconds
(slots x makespan) are then split into: sleeping, start -> sleep, sleep -> done, and idle
(with a ready task waiting, or with nothing ready).

Run: ``python benchmarks/agent_timeline.py [--seeds 0,1] [--kinds agent,callable]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from typing import Any

from _dags import layered, table
from makespan import LOGNORMAL_N, SLOTS, lognormal, lower_bound


class Probe:
    """Timestamps per task, loop callbacks and gc pauses, while ``on``."""

    def __init__(self) -> None:
        self.ready: dict[str, float] = {}
        self.start: dict[str, float] = {}
        self.sleep0: dict[str, float] = {}
        self.sleep1: dict[str, float] = {}
        self.done: dict[str, float] = {}
        self.begin: dict[str, float] = {}  # its coroutine's first step
        self.end: dict[str, float] = {}  # its coroutine returned
        self.blocks: list[float] = []
        self.gc: list[float] = []
        self._gc0 = 0.0
        self.on = False

    def gc_cb(self, phase: str, info: dict[str, Any]) -> None:
        if not self.on:
            return
        if phase == "start":
            self._gc0 = time.perf_counter()
        else:
            self.gc.append(time.perf_counter() - self._gc0)


def install(probe: Probe) -> None:
    from deeptui.scheduler.ready_queue import ReadyQueueExecutor

    run0 = asyncio.events.Handle._run

    def timed_run(self: Any) -> None:
        if not probe.on:
            return run0(self)
        t = time.perf_counter()
        run0(self)
        probe.blocks.append(time.perf_counter() - t)

    asyncio.events.Handle._run = timed_run  # type: ignore[method-assign]
    push0, start0, done0 = (ReadyQueueExecutor._push_ready, ReadyQueueExecutor._start,
                            ReadyQueueExecutor._done)

    def push(self: Any, tid: str) -> None:
        probe.ready[tid] = time.perf_counter()
        push0(self, tid)

    def start(self: Any, task: Any, *args: Any, **kw: Any) -> None:
        probe.start[task.id] = time.perf_counter()
        start0(self, task, *args, **kw)

    def done(self: Any, tid: str, agent_type: Any) -> None:
        probe.done[tid] = time.perf_counter()
        done0(self, tid, agent_type)

    from deeptui.scheduler import ready_queue

    run_task0 = ready_queue.run_task

    async def run_task(run: Any, task: Any, *args: Any) -> None:
        probe.begin[task.id] = time.perf_counter()
        await run_task0(run, task, *args)
        probe.end[task.id] = time.perf_counter()

    ready_queue.run_task = run_task
    ReadyQueueExecutor._push_ready = push  # type: ignore[method-assign]
    ReadyQueueExecutor._start = start  # type: ignore[method-assign]
    ReadyQueueExecutor._done = done  # type: ignore[method-assign]
    gc.callbacks.append(probe.gc_cb)


async def timed_sleep(probe: Probe, tid: str, seconds: float) -> None:
    probe.sleep0[tid] = time.perf_counter()
    await asyncio.sleep(seconds)
    probe.sleep1[tid] = time.perf_counter()


def timed_model(probe: Probe, dur: dict[str, float]) -> Any:
    from pydantic_ai.messages import ModelResponse, TextPart
    from pydantic_ai.models.function import FunctionModel

    def task_of(messages: Any) -> str:
        prompt = str(messages[0].parts[-1].content)
        return prompt.split("\n", 1)[0].removeprefix("Task: ")

    async def answer(messages: Any, info: Any) -> ModelResponse:
        tid = task_of(messages)
        await timed_sleep(probe, tid, dur.get(tid, 0.0))
        return ModelResponse(parts=[TextPart("done")])

    async def stream(messages: Any, info: Any) -> Any:
        tid = task_of(messages)
        await timed_sleep(probe, tid, dur.get(tid, 0.0))
        yield "done"

    return FunctionModel(answer, stream_function=stream)


async def run_once(kind: str, dag: dict[str, list[str]], dur: dict[str, float],
                   probe: Probe) -> tuple[float, float, int]:
    from deeptui import CacheConfig, OrchestrationConfig, TaskOrchestrator
    from deeptui.models import RetryConfig, TaskDefinition, WorkflowDefinition

    no_retry = RetryConfig(max_retries=0)
    if kind == "agent":
        orch = TaskOrchestrator(model=timed_model(probe, dur), cache_config=CacheConfig(strategy="none"),
                                config=OrchestrationConfig())
        tasks = [TaskDefinition(id=t, depends_on=d, retry_config=no_retry) for t, d in dag.items()]
        await orch.execute_task(TaskDefinition(id="warm-up"))
    else:
        orch = TaskOrchestrator(cache_config=CacheConfig(strategy="none"))

        async def sleeper(task: Any, parameters: dict[str, Any], deps: Any) -> None:
            await timed_sleep(probe, task.id, parameters["seconds"])

        orch.register_callable("sleep", sleeper)
        tasks = [TaskDefinition(id=t, task_type="callable", depends_on=d, retry_config=no_retry,
                                parameters={"callable": "sleep", "seconds": dur[t]})
                 for t, d in dag.items()]
    wf = WorkflowDefinition(id=f"tl-{kind}", max_parallel_tasks=SLOTS, tasks=tasks)
    for k in ("ready", "start", "sleep0", "sleep1", "done", "blocks", "gc", "begin", "end"):
        getattr(probe, k).clear()
    probe.on = True
    t0, c0 = time.perf_counter(), time.process_time()
    state = await orch.execute_workflow(wf)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    probe.on = False
    assert len(state.completed_tasks) == len(dag), state.error
    run = orch.find_run(state.run_id)
    return elapsed, cpu, run.executor.max_running if run else 0


def idle_split(probe: Probe) -> tuple[float, float]:
    """Slot-seconds idle with a ready task waiting, and idle with nothing ready."""
    events: list[tuple[float, int, int]] = []  # (time, d running, d ready)
    for t in probe.ready:
        events.append((probe.ready[t], 0, 1))
        events.append((probe.start[t], 1, -1))
        events.append((probe.done[t], -1, 0))
    events.sort()
    running = ready = 0
    last = events[0][0]
    waiting_idle = empty_idle = 0.0
    for at, dr, dq in events:
        span = at - last
        free = SLOTS - running
        if free > 0 and span > 0:
            if ready > 0:
                waiting_idle += span * min(free, ready)
                empty_idle += span * max(free - ready, 0)
            else:
                empty_idle += span * free
        running += dr
        ready += dq
        last = at
    return waiting_idle, empty_idle


async def measure(kind: str, seed: int, probe: Probe) -> dict[str, Any]:
    dag = layered(LOGNORMAL_N, seed)
    dur = lognormal(dag, seed)
    bound = lower_bound(dag, dur)
    elapsed, cpu, peak = await run_once(kind, dag, dur, probe)
    p = probe
    ids = list(dag)
    to_sleep = [p.sleep0[t] - p.start[t] for t in ids]
    after = [p.done[t] - p.sleep1[t] for t in ids]
    parts = {"start->begin": [p.begin[t] - p.start[t] for t in ids],
             "begin->sleep": [p.sleep0[t] - p.begin[t] for t in ids],
             "sleep->end": [p.end[t] - p.sleep1[t] for t in ids],
             "end->done": [p.done[t] - p.end[t] for t in ids]}
    wait = [p.start[t] - p.ready[t] for t in ids]
    overshoot = [(p.sleep1[t] - p.sleep0[t]) - dur[t] for t in ids]
    waiting_idle, empty_idle = idle_split(p)
    blocks = sorted(p.blocks, reverse=True)
    return {"kind": kind, "seed": seed, "ratio": elapsed / bound, "makespan": elapsed, "cpu": cpu,
            "peak": peak, "slot_s": SLOTS * elapsed, "work": sum(dur.values()),
            "overshoot": sum(overshoot), "to_sleep": sum(to_sleep), "after": sum(after),
            "to_sleep_med_ms": 1e3 * statistics.median(to_sleep),
            "after_med_ms": 1e3 * statistics.median(after),
            "wait_med_ms": 1e3 * statistics.median(wait),
            "waiting_idle": waiting_idle, "empty_idle": empty_idle,
            "busy": sum(p.blocks), "callbacks": len(p.blocks),
            "top_blocks_ms": [round(1e3 * b, 1) for b in blocks[:5]],
            "parts": {k: f"{sum(v):.2f} s, median {1e3 * statistics.median(v):.2f} ms"
                      for k, v in parts.items()},
            "gc_s": sum(p.gc), "gc_n": len(p.gc), "gc_max_ms": 1e3 * max(p.gc, default=0.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--kinds", default="agent,callable")
    args = parser.parse_args()
    probe = Probe()
    install(probe)
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        for kind in args.kinds.split(","):
            r = asyncio.run(measure(kind, seed, probe))
            rows.append([r["seed"], kind, f"{r['ratio']:.3f}x", f"{r['makespan']:.2f}", f"{r['cpu']:.2f}",
                         f"{r['work']:.2f}", f"{r['overshoot']:.2f}", f"{r['to_sleep']:.2f}",
                         f"{r['after']:.2f}", f"{r['waiting_idle']:.2f}", f"{r['empty_idle']:.2f}",
                         f"{r['to_sleep_med_ms']:.1f}/{r['after_med_ms']:.1f}",
                         f"{r['busy']:.2f} ({r['callbacks']})", str(r["top_blocks_ms"]),
                         f"{r['gc_s']:.2f} ({r['gc_n']}, max {r['gc_max_ms']:.0f} ms)"])
            print(seed, kind, r["parts"])
    print(table(["seed", "kind", "/bound", "makespan s", "cpu s", "work s", "overshoot s",
                 "start->sleep s", "sleep->done s", "idle, ready waiting s", "idle, none ready s",
                 "median ms (to/after)", "loop busy s (callbacks)", "longest blocks ms", "gc s"], rows))


if __name__ == "__main__":
    main()
