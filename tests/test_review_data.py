"""Defects found in review of the data modules (cache, store, skills), pinned by behaviour."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from deeptui import (
    OrchestrationConfig,
    TaskDefinition,
    TaskOrchestrator,
    TaskStatus,
    WorkflowDefinition,
    WorkflowStatus,
)
from deeptui.cache import CacheConfig, CacheStrategy, create_cache
from deeptui.skills_manager import SkillManager
from deeptui.store import RunStore

STORING = [CacheStrategy.MEMORY, CacheStrategy.DISK, CacheStrategy.HYBRID]
# What Python makes of a non-UTF-8 byte in argv or a file name (surrogateescape).
NOT_UTF8 = "caf\udce9"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):
    """Moves time.time and time.monotonic (read by diskcache and the memory tier)."""
    offset = [0.0]
    real_time, real_mono = time.time, time.monotonic
    monkeypatch.setattr(time, "time", lambda: real_time() + offset[0])
    monkeypatch.setattr(time, "monotonic", lambda: real_mono() + offset[0])
    return lambda seconds: offset.__setitem__(0, offset[0] + seconds)


# ---------------------------------------------------------------- cache


@pytest.mark.parametrize("strategy", STORING)
def test_cache_size_leaves_out_expired_entries(strategy, tmp_path: Path, clock) -> None:
    cache = create_cache(CacheConfig(strategy=strategy, cache_dir=tmp_path / "c", ttl_seconds=60))
    cache.put("old", "a", "x")
    clock(30)
    cache.put("new", "b", "y")
    clock(31)  # "old" has expired, "new" has 29 s to go
    assert [e.key for e in cache.entries()] == ["new"]
    assert cache.stats()["cache_size"] == 1 == len(cache)


@pytest.mark.parametrize("strategy", STORING)
def test_text_that_is_not_utf8_is_keyed_and_cached(strategy, tmp_path: Path) -> None:
    cache = create_cache(CacheConfig(strategy=strategy, cache_dir=tmp_path / "c"))
    task = TaskDefinition(id="list", description="d", parameters={"path": NOT_UTF8})
    key = cache.make_key(task, {}, None)
    assert key != cache.make_key(TaskDefinition(id="list", description="d",
                                                parameters={"path": "caf?"}), {}, None)
    assert cache.put(key, "list", [NOT_UTF8]) is True
    assert cache.get(key).output == [NOT_UTF8]
    reopened = create_cache(CacheConfig(strategy=strategy, cache_dir=tmp_path / "c"))
    if strategy is not CacheStrategy.MEMORY:
        assert reopened.get(key).output == [NOT_UTF8]


async def test_a_disk_cached_task_with_non_utf8_output_completes(tmp_path: Path) -> None:
    orchestrator = TaskOrchestrator(
        config=OrchestrationConfig(simulated_latency=(0.0, 0.0)),
        cache_config=CacheConfig(strategy="disk", cache_dir=tmp_path / "c"))
    orchestrator.register_callable("name", lambda task, params, outputs: NOT_UTF8)
    workflow = WorkflowDefinition(id="w", tasks=[
        TaskDefinition(id="a", task_type="callable", parameters={"callable": "name"})])
    state = await orchestrator.execute_workflow(workflow)
    assert state.task_results["a"].status is TaskStatus.COMPLETED
    again = await orchestrator.execute_workflow(workflow)
    assert again.task_results["a"].cached and again.task_results["a"].output == NOT_UTF8


# ---------------------------------------------------------------- store


async def test_non_utf8_output_and_error_do_not_lose_the_run(tmp_path: Path) -> None:
    def fails(task, params, outputs):
        raise FileNotFoundError(f"no such file: {NOT_UTF8}")

    with RunStore(tmp_path / "h.db") as store:
        orchestrator = TaskOrchestrator(
            config=OrchestrationConfig(simulated_latency=(0.0, 0.0)),
            cache_config=CacheConfig(strategy="none"), store=store)
        orchestrator.register_callable("name", lambda task, params, outputs: {NOT_UTF8: 1})
        orchestrator.register_callable("fails", fails)
        workflow = WorkflowDefinition(id="w", continue_on_failure=True, tasks=[
            TaskDefinition(id="a", task_type="callable", parameters={"callable": "name"}),
            TaskDefinition(id="b", task_type="callable", parameters={"callable": "fails"},
                           retry_config={"max_retries": 0}),
        ])
        state = await orchestrator.execute_workflow(workflow)
        stored = store.load_run(state.run_id)
    assert stored.summary.status is WorkflowStatus.FAILED
    results = stored.state.task_results
    assert results["a"].status is TaskStatus.COMPLETED
    assert results["a"].output == {NOT_UTF8: 1}  # JSON keeps it exactly
    assert results["b"].status is TaskStatus.FAILED
    assert "no such file: caf\ufffd" in results["b"].error


# ---------------------------------------------------------------- skills


@pytest.mark.parametrize("tags, expected", [
    ("5", ["5"]), ("true", ["True"]), ("[a, 2]", ["a", "2"]), ("'x, y'", ["x", "y"]),
])
def test_skill_tags_of_any_yaml_shape_are_listed(tmp_path: Path, tags: str, expected) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "SKILL.md").write_text(f"---\nname: odd\ndescription: d\ntags: {tags}\n---\nbody\n")
    manager = SkillManager([tmp_path], include_bundled=False)
    assert manager.get_skill("odd")["tags"] == expected
    assert [s["name"] for s in manager.get_all_skills()] == ["odd"]


# ---------------------------------------------------------------- templates


def test_a_deploy_command_without_a_deploy_target_is_refused() -> None:
    from deeptui.errors import TemplateError
    from deeptui.workflows import create_ci_cd_pipeline

    with pytest.raises(TemplateError, match="deploy_command.*deploy_target"):
        create_ci_cd_pipeline(deploy_command="./deploy.sh")
    assert create_ci_cd_pipeline(deploy_command="  ").task_ids[-1] == "build-artifacts"


def test_etl_sources_holding_nan_are_refused() -> None:
    from deeptui.errors import TemplateError
    from deeptui.workflows import create_etl_pipeline

    with pytest.raises(TemplateError, match="source_configs.*JSON"):
        create_etl_pipeline(source_configs=[{"type": "csv", "limit": float("nan")}])
