"""DAG visualization: Mermaid, Graphviz (checked with the real `dot`), ASCII, Rich lines, JSON."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta

import pytest
from rich.console import Console

from deeptui import DAGVisualizer, VisualizationFormat, visualize_workflow
from deeptui.errors import DeeptuiError
from deeptui.models import (
    TaskDefinition,
    TaskResult,
    TaskStatus,
    WorkflowDefinition,
    WorkflowState,
)
from deeptui.visualize import render_to_file

T0 = datetime(2024, 5, 1, 12, 0, 0)

NASTY_IDS = [
    'say "hi"',
    "list[0]",
    "a<b>&c|d",
    "two\nlines",
    "back\\slash",
    "trailing\\",
    "{brace} (paren)",
    "#quot; 100%",
    "日本語 ünïcode",
    "end",
    "n0",
    "with space",
    "semi;colon -> arrow",
]


def _result(task_id: str, status: str, seconds: float | None = None, **kw) -> TaskResult:
    done = T0 + timedelta(seconds=seconds) if seconds is not None else None
    return TaskResult(task_id=task_id, status=status, started_at=T0, completed_at=done, **kw)


@pytest.fixture
def workflow() -> WorkflowDefinition:
    return WorkflowDefinition(
        id="my-workflow",
        name="My Workflow",
        tasks=[
            TaskDefinition(id="task1", description="First task"),
            TaskDefinition(id="task2", depends_on=["task1"]),
            TaskDefinition(id="task3", depends_on=["task1"]),
            TaskDefinition(id="task4", depends_on=["task2"]),
            TaskDefinition(id="task5", depends_on=["task3"]),
            TaskDefinition(id="task6", depends_on=["task2", "task3"]),
        ],
    )


@pytest.fixture
def state() -> WorkflowState:
    results = [
        _result("task1", "completed", 2.5, attempts=3, agent_used="code_analyzer"),
        _result("task2", "running", attempts=1, agent_used="general"),
        _result("task3", "failed", 1.0, attempts=1, error="boom"),
        TaskResult(task_id="task5", status="skipped", skip_reason="task3 failed"),
        TaskResult(task_id="task6", status="cancelled"),
    ]  # task4 has no result: pending
    return WorkflowState(
        workflow_id="my-workflow", run_id="run-1", task_results={r.task_id: r for r in results}
    )


@pytest.fixture
def nasty() -> WorkflowDefinition:
    tasks = [
        TaskDefinition(id=tid, depends_on=[NASTY_IDS[n - 1]] if n else [])
        for n, tid in enumerate(NASTY_IDS)
    ]
    tasks.append(TaskDefinition(id="join", depends_on=NASTY_IDS[:4]))
    return WorkflowDefinition(id="nasty", name='Nasty "name"\n2', tasks=tasks)


def _layered(n: int, width: int = 100) -> WorkflowDefinition:
    tasks = []
    for i in range(n):
        level = i // width
        deps = [f"t{(level - 1) * width + (i + k) % width}" for k in (0, 1)] if level else []
        tasks.append(TaskDefinition(id=f"t{i}", depends_on=deps))
    return WorkflowDefinition(id="big", tasks=tasks)


# ------------------------------------------------------------------ JSON


def test_json_has_nodes_edges_statuses_and_metrics(workflow, state):
    data = json.loads(visualize_workflow(workflow, state, VisualizationFormat.JSON))
    assert data["workflow"] == {"id": "my-workflow", "name": "My Workflow", "strategy": "dag"}
    nodes = {node["id"]: node for node in data["nodes"]}
    assert [node["id"] for node in data["nodes"]] == workflow.task_ids
    assert {tid: node["status"] for tid, node in nodes.items()} == {
        "task1": "completed",
        "task2": "running",
        "task3": "failed",
        "task4": "pending",
        "task5": "skipped",
        "task6": "cancelled",
    }
    assert nodes["task1"]["description"] == "First task"
    assert nodes["task1"]["metrics"] == {
        "duration_seconds": 2.5,
        "retries": 2,
        "agent": "code_analyzer",
        "cached": False,
    }
    assert nodes["task4"]["metrics"]["duration_seconds"] is None
    assert {(e["from"], e["to"]) for e in data["edges"]} == {
        ("task1", "task2"),
        ("task1", "task3"),
        ("task2", "task4"),
        ("task3", "task5"),
        ("task2", "task6"),
        ("task3", "task6"),
    }


def test_without_state_every_task_is_pending(workflow):
    data = json.loads(DAGVisualizer(workflow).visualize(VisualizationFormat.JSON))
    assert {node["status"] for node in data["nodes"]} == {"pending"}
    mermaid = DAGVisualizer(workflow).visualize()
    assert mermaid.count(":::pending") == 6
    assert "classDef completed" not in mermaid


def test_json_round_trips_nasty_ids(nasty):
    data = json.loads(visualize_workflow(nasty, format="json"))
    assert [node["id"] for node in data["nodes"]] == [*NASTY_IDS, "join"]


# --------------------------------------------------------------- Mermaid


def test_mermaid_matches_the_guide_shape(workflow, state):
    text = visualize_workflow(workflow, state, VisualizationFormat.MERMAID)
    lines = text.splitlines()
    assert lines[0] == "graph TD"
    assert "    task1[task1<br/>2.5s]:::completed" in lines
    assert "    task2[task2]:::running" in lines
    assert "    task3[task3<br/>1.0s]:::failed" in lines
    assert "    task4[task4]:::pending" in lines
    assert "    task1 --> task2" in lines
    assert "    task3 --> task6" in lines
    assert "    classDef completed fill:#90EE90,stroke:#006400" in lines
    assert "    classDef failed fill:#FFB6C1,stroke:#8B0000" in lines
    assert "    classDef running fill:#87CEEB,stroke:#00008B" in lines
    for status in ("pending", "skipped", "cancelled"):
        assert any(line.startswith(f"    classDef {status} fill:") for line in lines)


def test_mermaid_metrics_overlay(workflow, state):
    text = visualize_workflow(workflow, state, include_metrics=True)
    assert '    task1["task1<br/>2.5s<br/>2 retries<br/>agent: code_analyzer"]:::completed' in text
    assert '    task2["task2<br/>agent: general"]:::running' in text


NODE = re.compile(r'^    (\w+)(?:\["(.*)"\]|\[([^\]]*)\]):::(\w+)$')
EDGE = re.compile(r"^    (\w+) --> (\w+)$")


def test_mermaid_escapes_nasty_ids(nasty):
    text = visualize_workflow(nasty, format=VisualizationFormat.MERMAID)
    labels: dict[str, str] = {}
    edges = []
    for line in text.splitlines()[1:]:
        if node := NODE.match(line):
            node_id, quoted, plain, status = node.groups()
            label = quoted if quoted is not None else plain
            assert node_id not in labels
            assert not re.search(r'["\[\]{}()<>|`\n]', label.replace("<br/>", ""))
            labels[node_id] = label
            assert status == "pending"
        elif edge := EDGE.match(line):
            edges.append(edge.groups())
        else:
            assert line == "" or line.startswith("    classDef "), line
    assert len(labels) == len(NASTY_IDS) + 1
    # plain ids stay (the task "n0" too); the others get generated ids that avoid them
    generated = {f"n{i}" for i in range(1, len(NASTY_IDS)) if NASTY_IDS[i] != "n0"}
    assert set(labels) == generated | {"n0", "n0_", "join"}
    assert "say #quot;hi#quot;" in labels.values()
    assert "list#91;0#93;" in labels.values()
    assert "a#lt;b#gt;#amp;c#124;d" in labels.values()
    assert "two<br/>lines" in labels.values()
    assert "#35;quot; 100#37;" in labels.values()
    assert "日本語 ünïcode" in labels.values()
    assert len(edges) == len(NASTY_IDS) - 1 + 4
    assert all(a in labels and b in labels for a, b in edges)


# -------------------------------------------------------------- Graphviz

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz `dot` not installed")


def _dot_svg(source: str) -> str:
    proc = subprocess.run(
        ["dot", "-Tsvg"], input=source.encode(), capture_output=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert not proc.stderr.strip(), proc.stderr.decode()
    return proc.stdout.decode()


def test_graphviz_matches_the_guide_shape(workflow, state):
    text = visualize_workflow(workflow, state, VisualizationFormat.GRAPHVIZ)
    lines = text.splitlines()
    assert lines[:3] == [
        "digraph Workflow {",
        "    rankdir=TB;",
        "    node [shape=box, style=rounded];",
    ]
    assert (
        '    "task1" [label="task1\\n2.5s", color="darkgreen", fillcolor="lightgreen",'
        ' style="filled,rounded"];'
    ) in lines
    assert '    "task1" -> "task2";' in lines
    assert 'color="darkred"' in text and 'color="darkblue"' in text
    assert 'color="darkgoldenrod"' in text  # pending: yellow
    assert lines[-1] == "}"


@needs_dot
def test_dot_accepts_the_graphviz_output(workflow, state):
    svg = _dot_svg(visualize_workflow(workflow, state, "graphviz", include_metrics=True))
    assert svg.count('class="node"') == 6
    assert svg.count('class="edge"') == 6
    assert "2 retries" in svg and "agent: code_analyzer" in svg


@needs_dot
def test_dot_accepts_nasty_ids_and_shows_them(nasty):
    svg = _dot_svg(visualize_workflow(nasty, format=VisualizationFormat.GRAPHVIZ))
    assert svg.count('class="node"') == len(NASTY_IDS) + 1
    assert svg.count('class="edge"') == len(NASTY_IDS) - 1 + 4
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert "say &quot;hi&quot;" in texts
    assert "a&lt;b&gt;&amp;c|d" in texts
    assert "back\\slash" in texts and "trailing\\" in texts
    assert "two" in texts and "lines" in texts
    assert "#quot; 100%" in texts
    assert "日本語 ünïcode" in texts


# ----------------------------------------------------------------- ASCII

EXPECTED_ASCII = """\
Workflow: My Workflow
Strategy: dag
======================================================================

Level 0:
  ✓ task1 (2.5s)

    ↓

Level 1:
  ⟳ task2 [depends: task1]
  ✗ task3 (1.0s) [depends: task1]

    ↓

Level 2:
  ○ task4 [depends: task2]
  ⊘ task5 [depends: task3]
  ■ task6 [depends: task2, task3]

Legend:
  ✓ Completed
  ✗ Failed
  ⟳ Running
  ○ Pending
  ⊘ Skipped
  ■ Cancelled"""


def test_ascii_levels_dependencies_symbols_and_legend(workflow, state):
    assert visualize_workflow(workflow, state, VisualizationFormat.ASCII) == EXPECTED_ASCII


def test_ascii_metrics_overlay(workflow, state):
    text = DAGVisualizer(workflow, state).visualize("ascii", include_metrics=True)
    assert "  ✓ task1 (2.5s, 2 retries, agent: code_analyzer)" in text.splitlines()


def test_ascii_keeps_one_task_per_line_for_nasty_ids(nasty):
    lines = visualize_workflow(nasty, format="ascii").splitlines()
    assert lines[0] == 'Workflow: Nasty "name"\\n2'
    assert "  ○ two\\nlines [depends: a<b>&c|d]" in lines
    assert "  ○ join [depends: say \"hi\", list[0], a<b>&c|d, two\\nlines]" in lines


def test_rich_lines_match_ascii_and_carry_task_ids(workflow, state):
    visualizer = DAGVisualizer(workflow, state)
    lines = visualizer.ascii_lines(selected="task3")
    assert "\n".join(text.plain for text, _ in lines) == visualizer.visualize("ascii")
    by_task = {tid: text for text, tid in lines if tid is not None}
    assert list(by_task) == ["task1", "task2", "task3", "task4", "task5", "task6"]
    assert str(by_task["task1"].style) == "green"
    assert str(by_task["task2"].style) == "blue"
    assert str(by_task["task3"].style) == "red reverse"
    assert str(by_task["task4"].style) == "yellow"
    header = [text.plain for text, tid in lines if tid is None]
    assert header[:2] == ["Workflow: My Workflow", "Strategy: dag"]
    assert lines[visualizer.line_index("task5")][1] == "task5"


def test_rich_renderable_prints_the_ascii_layout(workflow, state):
    console = Console(width=120, record=True, color_system=None)
    console.print(DAGVisualizer(workflow, state).rich_renderable(selected="task1"))
    assert console.export_text().rstrip("\n") == EXPECTED_ASCII


def test_live_view_reads_new_statuses_on_each_call(workflow, state):
    visualizer = DAGVisualizer(workflow, state)
    assert "  ○ task4 [depends: task2]" in visualizer.visualize("ascii")
    state.task_results["task4"] = _result("task4", "completed", 3.25)
    assert "  ✓ task4 (3.2s) [depends: task2]" in visualizer.visualize("ascii")


# ----------------------------------------------------- files, errors, size


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("wf.mmd", lambda text: text.startswith("graph TD\n")),
        ("wf.md", lambda text: text.startswith("```mermaid\ngraph TD\n")),
        ("wf.dot", lambda text: text.startswith("digraph Workflow {")),
        ("wf.gv", lambda text: text.startswith("digraph Workflow {")),
        ("wf.txt", lambda text: text.startswith("Workflow: My Workflow\n")),
        ("wf.json", lambda text: json.loads(text)["workflow"]["id"] == "my-workflow"),
    ],
)
def test_render_to_file_guesses_the_format_from_the_suffix(tmp_path, workflow, state, name, check):
    path = render_to_file(workflow, tmp_path / name, state=state)
    assert check(path.read_text(encoding="utf-8"))


def test_render_to_file_explicit_format_and_unknown_suffix(tmp_path, workflow):
    path = render_to_file(workflow, tmp_path / "diagram.out", format="json")
    assert json.loads(path.read_text(encoding="utf-8"))["nodes"]
    with pytest.raises(DeeptuiError, match="diagram.png"):
        render_to_file(workflow, tmp_path / "diagram.png")


def test_unknown_format_names_the_choices(workflow):
    with pytest.raises(DeeptuiError, match="mermaid, graphviz, ascii, json"):
        visualize_workflow(workflow, format="svg")


def test_ten_thousand_tasks_render_in_every_format():
    workflow = _layered(10_000)
    results = {
        f"t{i}": TaskResult(task_id=f"t{i}", status=TaskStatus.COMPLETED)
        for i in range(0, 10_000, 7)
    }
    state = WorkflowState(workflow_id="big", run_id="r", task_results=results)
    visualizer = DAGVisualizer(workflow, state)
    assert visualizer.visualize("mermaid").count(" --> ") == 19_800
    assert visualizer.visualize("graphviz").count(" -> ") == 19_800
    ascii_text = visualizer.visualize("ascii")
    assert "Level 99:" in ascii_text and "Level 100:" not in ascii_text
    assert len(json.loads(visualizer.visualize("json"))["nodes"]) == 10_000
    assert len(visualizer.ascii_lines(selected="t9999")) == len(ascii_text.splitlines())
