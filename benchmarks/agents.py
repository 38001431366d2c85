"""Agent tasks side by side on one instant model: pydantic-ai, pydantic-deep and deeptui.

Every runner makes the same call on the same instant pydantic-ai ``FunctionModel`` (it
answers "ok" at once, streamed or not; both functions are async, so a whole request does
not hop to a thread), N independent tasks, 8 and 64 slots:

  pydantic-ai    ``Agent(model).run(prompt)``, N of them, a Semaphore(slots) around each
  deep (lean)    pydantic-deep's agent as deeptui builds it (deeptui's ``AgentProvider``:
                 ``create_deep_agent`` with its options, the instructions rendered on the
                 loop), ``agent.run(prompt, deps=create_default_deps())``
  deep (before)  ``create_deep_agent`` as deeptui built it before issue 15 (subagents,
                 planner, context manager, monitors on)
  deeptui        ``asyncio.run(orchestrator.execute_workflow(wf))``: N agent tasks on
                 ``TaskOrchestrator(model=model)``, default routing, cache off; it streams
                 every model request into the task's log (deep runs them whole)
  offline        deeptui on the offline SimulatedModel at zero latency (for reference)

Each runner is timed ``--repeat`` times, interleaved, and the median kept: wall time per
task (ms) and CPU time per task (ms, ``time.process_time``: steadier on a shared machine).
deeptui's overhead is its figure minus deep (lean)'s (the same agent, the same model), the
median of the differences of each round (the two run back to back).
deeptui's peak concurrency is the most tasks it ran at once (its executor's max_running).

Run: ``python benchmarks/agents.py [--n 1000] [--slots 8,64] [--repeat 3] [--json PATH]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

from _dags import machine, table, write_json

OVERHEAD_TARGET_MS = 1.0


def instant_model() -> Any:
    from pydantic_ai.messages import ModelResponse, TextPart
    from pydantic_ai.models.function import FunctionModel

    async def answer(messages: Any, info: Any) -> ModelResponse:  # async: no thread hop
        return ModelResponse(parts=[TextPart("ok")])

    async def stream(messages: Any, info: Any) -> Any:
        yield "ok"

    return FunctionModel(answer, stream_function=stream)


def deep_agent(model: Any, *, lean: bool) -> Any:
    from pydantic_deep import create_deep_agent

    if lean:  # the very agent deeptui's AgentProvider builds for a task without files
        from deeptui.runners.agent import AgentProvider
        from deeptui.skills_manager import SkillManager

        return AgentProvider(None, None, [], model, SkillManager()).agent_for(None, ())
    options: dict[str, Any] = dict(include_memory=False, include_history_archive=False,
                                   web_search=False, web_fetch=False, cost_tracking=False,
                                   include_skills=False, skill_directories=[])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return create_deep_agent(model=model, **options)


def timed(body: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall s, CPU s, what ``body`` returned) of one ``asyncio.run`` of ``body()``. The
    garbage of the runs before is collected first (untimed): a full collection it would
    otherwise trigger landed on whichever runner came next (+1.2-1.5 ms/task on deeptui,
    which runs after "deep (before)", against -0.2-0.4 when measured alone)."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    out = asyncio.run(body())
    return time.perf_counter() - wall, time.process_time() - cpu, out


def limited(n: int, slots: int, one: Callable[[int], Any]) -> Callable[[], Any]:
    async def body() -> None:
        sem = asyncio.Semaphore(slots)

        async def task(i: int) -> None:
            async with sem:
                await one(i)

        await asyncio.gather(*(task(i) for i in range(n)))
    return body


def pydantic_ai_run(model: Any, n: int, slots: int) -> Callable[[], Any]:
    from pydantic_ai import Agent

    agent = Agent(model)
    return limited(n, slots, lambda i: agent.run(f"Task: t{i}\nSay ok."))


def deep_run(agent: Any, n: int, slots: int) -> Callable[[], Any]:
    from pydantic_deep import create_default_deps

    return limited(n, slots, lambda i: agent.run(f"Task: t{i}\nSay ok.",
                                                 deps=create_default_deps()))


def deeptui_run(model: Any, n: int, slots: int) -> Callable[[], Any]:
    """One run of N agent tasks; returns the peak concurrency it reached."""
    from deeptui import CacheConfig, OrchestrationConfig, TaskOrchestrator
    from deeptui.models import RetryConfig, TaskDefinition, WorkflowDefinition

    no_retry = RetryConfig(max_retries=0)
    wf = WorkflowDefinition(id="agents", max_parallel_tasks=slots, tasks=[
        TaskDefinition(id=f"t{i}", description="Say ok.", retry_config=no_retry)
        for i in range(n)])

    async def body() -> int:
        if model is None:  # the offline model at zero latency
            orch = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0.0, 0.0)),
                                    cache_config=CacheConfig(strategy="none"))
        else:
            orch = TaskOrchestrator(model=model, cache_config=CacheConfig(strategy="none"))
        state = await orch.execute_workflow(wf)
        assert len(state.completed_tasks) == n, state.error
        run = orch.find_run(state.run_id)
        assert run is not None
        return run.executor.max_running
    return body


def measure(n: int, slots: int, repeat: int, only: set[str] | None = None) -> dict[str, Any]:
    model = instant_model()
    lean, before = deep_agent(model, lean=True), deep_agent(model, lean=False)
    runners: dict[str, Callable[[], Callable[[], Any]]] = {
        "pydantic-ai": lambda: pydantic_ai_run(model, n, slots),
        "deep (lean)": lambda: deep_run(lean, n, slots),
        "deep (before)": lambda: deep_run(before, n, slots),
        "deeptui": lambda: deeptui_run(model, n, slots),
        "offline": lambda: deeptui_run(None, n, slots),
    }
    if only:  # the comparison alone: the heavier runners' garbage and heap stay out of it
        runners = {k: v for k, v in runners.items() if k in only}
    for make in runners.values():  # warm-up: imports, first-run set-up
        timed(make())
    wall: dict[str, list[float]] = {k: [] for k in runners}
    cpu: dict[str, list[float]] = {k: [] for k in runners}
    peaks: list[int] = []
    for _ in range(repeat):
        for name, make in runners.items():
            body = make()
            w, c, out = timed(body)
            wall[name].append(1000 * w / n)
            cpu[name].append(1000 * c / n)
            if name == "deeptui":
                peaks.append(out)
    med = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    def paired(times: dict[str, list[float]]) -> float:
        """The median of each round's difference (rounds ran back to back: drift cancels)."""
        return statistics.median(d - p for d, p in zip(times["deeptui"], times["deep (lean)"]))

    return {"n": n, "slots": slots, "wall_ms": med, "cpu_ms": med_cpu,
            "overhead_wall_ms": paired(wall), "overhead_cpu_ms": paired(cpu),
            "peak_running": max(peaks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--slots", default="8,64")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pair", action="store_true",
                        help="run only pydantic-deep (lean) and deeptui, alternating")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    only = {"deep (lean)", "deeptui"} if args.pair else None
    results = [measure(args.n, int(s), args.repeat, only) for s in args.slots.split(",")]
    print(f"agent tasks on an instant FunctionModel, N={args.n}, median of {args.repeat} - "
          f"{machine()['date']}")
    names = list(results[0]["wall_ms"])
    rows = [[f"{r['slots']}", name, f"{r['wall_ms'][name]:.2f}", f"{r['cpu_ms'][name]:.2f}"]
            for r in results for name in names]
    print(table(["slots", "runner", "wall ms/task", "CPU ms/task"], rows))
    ok = True
    for r in results:
        fits = r["overhead_wall_ms"] <= OVERHEAD_TARGET_MS
        full = r["peak_running"] == r["slots"]
        ok = ok and fits and full
        print(f"{r['slots']} slots: deeptui - deep (lean) = {r['overhead_wall_ms']:+.2f} ms wall, "
              f"{r['overhead_cpu_ms']:+.2f} ms CPU per task (target <= {OVERHEAD_TARGET_MS} ms: "
              f"{'ok' if fits else 'MISSED'}); peak running {r['peak_running']} of {r['slots']} "
              f"({'ok' if full else 'MISSED'})")
    write_json(args.json, "agents", {"results": results, "ok": ok})


if __name__ == "__main__":
    main()
