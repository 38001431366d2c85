"""The orchestration guide's "Result Caching" examples through the orchestrator: hits on the
second run, across orchestrators and processes, as bus events and in metrics; failures never
cached."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import Recorder

from deeptui import (
    CacheConfig,
    CacheStrategy,
    OrchestrationConfig,
    RetryConfig,
    TaskDefinition,
    TaskOrchestrator,
    WorkflowDefinition,
)
from deeptui import bus as ev

FAST = OrchestrationConfig(simulated_latency=(0.0, 0.01), simulated_seed=2)


def pipeline() -> WorkflowDefinition:
    return WorkflowDefinition(id="cached-pipeline", name="Cached pipeline", tasks=[
        TaskDefinition(id="extract", description="Extract the records"),
        TaskDefinition(id="transform", description="Transform them", depends_on=["extract"]),
        TaskDefinition(id="load", description="Load them", depends_on=["transform"]),
    ])


async def test_second_run_hits_and_the_stats_say_so(capsys):
    orchestrator = TaskOrchestrator(config=FAST)  # caching enabled by default (memory)
    rec = Recorder(orchestrator.bus)
    result1 = await orchestrator.execute_workflow(pipeline())  # first execution - cache miss
    result2 = await orchestrator.execute_workflow(pipeline())  # second execution - cache hit!
    stats = orchestrator.get_cache_stats()
    print(f"Hit rate: {stats['hit_rate']}")
    assert capsys.readouterr().out == "Hit rate: 50.0%\n"
    assert list(stats) == ["strategy", "hits", "misses", "hit_rate", "evictions",
                           "invalidations", "cache_size", "max_size"]
    assert stats["strategy"] == "memory" and stats["hits"] == 3 and stats["misses"] == 3
    assert stats["cache_size"] == 3 and stats["max_size"] == 1000
    assert not any(r.cached for r in result1.task_results.values())
    assert all(r.cached for r in result2.task_results.values())
    # the same outputs, without running the agents again
    assert {t: r.output for t, r in result2.task_results.items()} == \
        {t: r.output for t, r in result1.task_results.items()}
    hits = [e for e in rec.events if isinstance(e, ev.CacheHit)]
    assert [e.task_id for e in hits] == ["extract", "transform", "load"]
    assert all(e.run_id == result2.run_id for e in hits)
    metrics = orchestrator.get_workflow_metrics(result2.run_id)
    assert metrics.cache_hits == 3
    assert orchestrator.get_workflow_metrics(result1.run_id).cache_hits == 0


async def test_invalidating_a_task_reruns_it_and_clear_empties_the_cache():
    orchestrator = TaskOrchestrator(config=FAST)
    await orchestrator.execute_workflow(pipeline())
    assert orchestrator.invalidate_cache("transform") == 1
    again = await orchestrator.execute_workflow(pipeline())
    # transform ran again and gave a new answer, so load's key (which covers its dependency's
    # output) missed too; extract still hit
    assert [t for t, r in again.task_results.items() if not r.cached] == ["transform", "load"]
    stats = orchestrator.get_cache_stats()
    assert stats["invalidations"] == 1
    assert orchestrator.clear_cache() == stats["cache_size"]
    assert orchestrator.get_cache_stats()["cache_size"] == 0


async def test_failed_results_are_never_cached():
    orchestrator = TaskOrchestrator(config=FAST)
    calls = {"n": 0}

    async def flaky(task, params, deps):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("first call fails")
        return "ok"

    orchestrator.register_callable("flaky", flaky)
    task = TaskDefinition(id="flaky", task_type="callable", parameters={"callable": "flaky"},
                          retry_config=RetryConfig(max_retries=0))
    first = await orchestrator.execute_task(task)
    assert first.status == "failed" and orchestrator.get_cache_stats()["cache_size"] == 0
    second = await orchestrator.execute_task(task)
    assert second.status == "completed" and not second.cached and calls["n"] == 2
    third = await orchestrator.execute_task(task)
    assert third.cached and calls["n"] == 2


@pytest.mark.parametrize("strategy", [CacheStrategy.DISK, CacheStrategy.HYBRID])
async def test_disk_and_hybrid_hit_across_orchestrators(strategy, tmp_path):
    config = CacheConfig(strategy=strategy, cache_dir=str(tmp_path / "cache"), max_size=100)
    first = TaskOrchestrator(config=FAST, cache_config=config)
    await first.execute_workflow(pipeline())
    first.close()
    second = TaskOrchestrator(config=FAST, cache_config=config)
    state = await second.execute_workflow(pipeline())
    assert all(r.cached for r in state.task_results.values())
    assert second.get_cache_stats()["hits"] == 3
    second.close()


async def test_a_hybrid_cache_filled_by_another_process_hits(tmp_path):
    cache_dir = tmp_path / "cache"
    script = textwrap.dedent(f"""
        import asyncio, json
        from deeptui import CacheConfig, OrchestrationConfig, TaskDefinition, TaskOrchestrator
        from deeptui import WorkflowDefinition

        async def main():
            orch = TaskOrchestrator(
                config=OrchestrationConfig(simulated_latency=(0.0, 0.01), simulated_seed=2),
                cache_config=CacheConfig(strategy="hybrid", cache_dir={str(cache_dir)!r}))
            wf = WorkflowDefinition(id="cached-pipeline", name="Cached pipeline", tasks=[
                TaskDefinition(id="extract", description="Extract the records"),
                TaskDefinition(id="transform", description="Transform them",
                               depends_on=["extract"]),
                TaskDefinition(id="load", description="Load them", depends_on=["transform"]),
            ])
            state = await orch.execute_workflow(wf)
            orch.close()
            print(json.dumps({{t: r.output for t, r in state.task_results.items()}}))

        asyncio.run(main())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    outputs = json.loads(done.stdout.strip().splitlines()[-1])
    here = TaskOrchestrator(config=FAST, cache_config=CacheConfig(
        strategy="hybrid", cache_dir=str(cache_dir)))
    state = await here.execute_workflow(pipeline())
    assert all(r.cached for r in state.task_results.values())
    assert {t: r.output for t, r in state.task_results.items()} == outputs
    here.close()


async def test_no_cache_strategy_runs_everything_every_time():
    orchestrator = TaskOrchestrator(config=FAST, cache_config=CacheConfig(strategy="none"))
    await orchestrator.execute_workflow(pipeline())
    state = await orchestrator.execute_workflow(pipeline())
    assert not any(r.cached for r in state.task_results.values())
    assert orchestrator.get_cache_stats()["hits"] == 0
