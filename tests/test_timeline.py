"""deeptui.timeline: a run's bars, waits and attempts, and its critical path, without the UI."""

from __future__ import annotations

import random
from datetime import timedelta

import networkx as nx

from deeptui.graph import build_digraph
from deeptui.models import TaskDefinition, WorkflowDefinition
from deeptui.timeline import (ATTEMPT, FAILED_ATTEMPT, RETRY_WAIT, WAIT, build_timeline,
                              critical_path, stored_marks)
from stored_runs import T0, release_store


def _longest_by_networkx(workflow: WorkflowDefinition, durations: dict[str, float]) -> float:
    graph = build_digraph(workflow.tasks)
    end = "__end__"
    for node in list(graph.nodes):
        for successor in graph.successors(node):
            graph.edges[node, successor]["weight"] = durations[node]
        graph.add_edge(node, end, weight=durations[node])
    return nx.dag_longest_path_length(graph, weight="weight")


def test_critical_path_is_a_dependency_chain_as_long_as_networkx_finds():
    rng = random.Random(3)
    for n in (1, 2, 10, 60, 300):
        tasks = [TaskDefinition(id=f"t{i}", depends_on=[f"t{j}" for j in rng.sample(
            range(i), k=min(i, rng.randint(0, 3)))]) for i in range(n)]
        workflow = WorkflowDefinition(id=f"w{n}", tasks=tasks)
        durations = {t.id: rng.choice([0.0, 0.5, 1.0, 2.5, 7.0]) for t in tasks}
        path = critical_path(workflow, durations)
        reach = build_digraph(tasks)
        assert all(nx.has_path(reach, a, b) for a, b in zip(path, path[1:]))  # one chain
        assert abs(sum(durations[t] for t in path) - _longest_by_networkx(workflow, durations)) < 1e-9
        assert all(durations[t] > 0 for t in path)


def test_stored_run_bars_have_waits_attempts_and_end_times(tmp_path):
    store = release_store(tmp_path / "history.db")
    stored = store.load_run("release@fixed")
    timeline = build_timeline(stored.workflow, stored.state, stored_marks(store, "release@fixed"),
                              T0 + timedelta(hours=1))
    bars = {bar.task_id: bar for bar in timeline.bars}

    def seconds(bar):
        return [(seg.kind, seg.start - T0.timestamp(), seg.end - T0.timestamp())
                for seg in bar.segments]

    assert seconds(bars["build"]) == [(FAILED_ATTEMPT, 2, 5), (RETRY_WAIT, 5, 6), (ATTEMPT, 6, 10)]
    assert seconds(bars["lint"]) == [(WAIT, 2, 2.5), (ATTEMPT, 2.5, 4)]
    assert bars["notify"].segments == [] and bars["notify"].end == T0.timestamp() + 19
    assert timeline.critical == ["checkout", "build", "test", "package", "deploy"]
    assert (timeline.t0, timeline.span) == (T0.timestamp(), 19)


def test_stored_marks_of_an_unknown_run_are_empty(tmp_path):
    store = release_store(tmp_path / "history.db")
    marks = stored_marks(store, "no-such-run")
    assert (marks.starts, marks.failures) == ({}, {})
