"""DAG visualization: a workflow (and its run state) as Mermaid, Graphviz, ASCII or JSON.

The ASCII layout is also available as status-coloured Rich lines
(``DAGVisualizer.ascii_lines``) for the app's live DAG panel. The graph's
structure (levels, escaped ids, dependency lists) is computed once per
visualizer; statuses and metrics are read from ``state.task_results`` on every
call, so one visualizer can redraw a live run cheaply.
Label text (escaping per format, metrics) is :mod:`deeptui.visualize.labels`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.text import Text

from deeptui.errors import DeeptuiError
from deeptui.models import TaskResult, TaskStatus, WorkflowDefinition, WorkflowState
from deeptui.visualize.labels import (
    dot_string,
    mermaid_label,
    mermaid_plain_id,
    metric_parts,
    plain_line,
)

if TYPE_CHECKING:
    from deeptui.graph import WorkflowGraph


class VisualizationFormat(StrEnum):
    MERMAID = "mermaid"
    GRAPHVIZ = "graphviz"
    ASCII = "ascii"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class StatusStyle:
    """How one task status looks in every format."""

    symbol: str  # ASCII
    label: str  # ASCII legend
    rich: str  # Rich style of the ASCII line
    mermaid: str  # Mermaid classDef body
    dot_color: str  # Graphviz border colour
    dot_fill: str  # Graphviz fill colour


STATUS_STYLES: dict[TaskStatus, StatusStyle] = {
    TaskStatus.COMPLETED: StatusStyle(
        "✓", "Completed", "green", "fill:#90EE90,stroke:#006400", "darkgreen", "lightgreen"
    ),
    TaskStatus.FAILED: StatusStyle(
        "✗", "Failed", "red", "fill:#FFB6C1,stroke:#8B0000", "darkred", "lightpink"
    ),
    TaskStatus.RUNNING: StatusStyle(
        "⟳", "Running", "blue", "fill:#87CEEB,stroke:#00008B", "darkblue", "lightblue"
    ),
    TaskStatus.PENDING: StatusStyle(
        "○", "Pending", "yellow", "fill:#FFFFE0,stroke:#B8860B", "darkgoldenrod", "lightyellow"
    ),
    TaskStatus.SKIPPED: StatusStyle(
        "⊘", "Skipped", "grey50", "fill:#D3D3D3,stroke:#696969", "dimgray", "lightgray"
    ),
    TaskStatus.CANCELLED: StatusStyle(
        "■", "Cancelled", "dark_orange", "fill:#FFDAB9,stroke:#FF8C00", "darkorange", "peachpuff"
    ),
}

# The order statuses are listed in legends and classDefs.
_STATUS_ORDER = list(STATUS_STYLES)

SUFFIX_FORMATS: dict[str, VisualizationFormat] = {
    ".mmd": VisualizationFormat.MERMAID,
    ".mermaid": VisualizationFormat.MERMAID,
    ".md": VisualizationFormat.MERMAID,
    ".dot": VisualizationFormat.GRAPHVIZ,
    ".gv": VisualizationFormat.GRAPHVIZ,
    ".txt": VisualizationFormat.ASCII,
    ".json": VisualizationFormat.JSON,
}

RULE = "=" * 70
_HEADER_STYLE = "bold"
_ARROW_STYLE = "dim"
_DOT_NODE_DEFAULTS = "node [shape=box, style=rounded];"


def parse_format(value: str | VisualizationFormat) -> VisualizationFormat:
    """A VisualizationFormat from its value; a DeeptuiError naming the choices otherwise."""
    try:
        return VisualizationFormat(str(value).lower())
    except ValueError:
        choices = ", ".join(f.value for f in VisualizationFormat)
        raise DeeptuiError(
            f"unknown visualization format '{value}' (parameter 'format'): choose {choices}"
        ) from None


# ------------------------------------------------------------- visualizer


class DAGVisualizer:
    """Renders one workflow, coloured by the statuses in ``state`` (all pending without one).

    ``state`` may be replaced or mutated between calls; nothing about statuses
    is cached.
    """

    def __init__(self, workflow: WorkflowDefinition, state: WorkflowState | None = None) -> None:
        self.workflow = workflow
        self.state = state

    # structure, computed once ------------------------------------------

    @cached_property
    def graph(self) -> WorkflowGraph:
        # networkx loads when a diagram is drawn, not when the CLI imports safe_text
        from deeptui.graph import WorkflowGraph

        return WorkflowGraph(self.workflow)

    @cached_property
    def levels(self) -> list[list[str]]:
        return self.graph.levels

    @cached_property
    def _mermaid_ids(self) -> dict[str, str]:
        ids = self.workflow.task_ids
        plain = {tid for tid in ids if mermaid_plain_id(tid)}
        taken = set(plain)
        result: dict[str, str] = {}
        for n, tid in enumerate(ids):
            if tid in plain:
                result[tid] = tid
                continue
            node = f"n{n}"
            while node in taken:
                node += "_"
            taken.add(node)
            result[tid] = node
        return result

    @cached_property
    def _ascii_layout(self) -> list[tuple[str, str, str | None, str]]:
        """(text, style, task id, dependency suffix) per line; task lines hold the escaped id."""
        tasks = self.graph.tasks
        lines: list[tuple[str, str, str | None, str]] = [
            (f"Workflow: {plain_line(self.workflow.name)}", _HEADER_STYLE, None, ""),
            (f"Strategy: {self.workflow.execution_strategy.value}", _HEADER_STYLE, None, ""),
            (RULE, _HEADER_STYLE, None, ""),
        ]
        blank = ("", "", None, "")
        for n, level in enumerate(self.levels):
            if n:
                lines += [blank, ("    ↓", _ARROW_STYLE, None, ""), blank]
            else:
                lines.append(blank)
            lines.append((f"Level {n}:", _HEADER_STYLE, None, ""))
            for tid in level:
                deps = tasks[tid].depends_on
                suffix = f" [depends: {', '.join(plain_line(d) for d in deps)}]" if deps else ""
                lines.append((plain_line(tid), "", tid, suffix))
        if not self.levels:
            lines += [blank, ("  (no tasks)", "dim", None, "")]
        lines += [blank, ("Legend:", _HEADER_STYLE, None, "")]
        for status in _STATUS_ORDER:
            look = STATUS_STYLES[status]
            lines.append((f"  {look.symbol} {look.label}", look.rich, None, ""))
        return lines

    @cached_property
    def _line_index(self) -> dict[str, int]:
        return {tid: n for n, (_, _, tid, _) in enumerate(self._ascii_layout) if tid is not None}

    # status, read on every call ----------------------------------------

    def result_of(self, task_id: str) -> TaskResult | None:
        return self.state.task_results.get(task_id) if self.state is not None else None

    # public API ----------------------------------------------------------

    def visualize(
        self,
        format: VisualizationFormat | str = VisualizationFormat.MERMAID,
        include_metrics: bool = False,
    ) -> str:
        fmt = parse_format(format)
        if fmt is VisualizationFormat.MERMAID:
            return self.to_mermaid(include_metrics)
        if fmt is VisualizationFormat.GRAPHVIZ:
            return self.to_graphviz(include_metrics)
        if fmt is VisualizationFormat.ASCII:
            return self.to_ascii(include_metrics)
        return self.to_json(include_metrics)

    def _edges(self) -> Iterator[tuple[str, str]]:
        for task in self.workflow.tasks:
            for dep in task.depends_on:
                yield dep, task.id

    def to_mermaid(self, include_metrics: bool = False) -> str:
        ids = self._mermaid_ids
        lines = ["graph TD"]
        present: set[TaskStatus] = set()
        for task in self.workflow.tasks:
            result = self.result_of(task.id)
            status = result.status if result is not None else TaskStatus.PENDING
            present.add(status)
            label = mermaid_label([task.id, *metric_parts(result, include_metrics)])
            lines.append(f"    {ids[task.id]}{label}:::{status.value}")
        lines += [f"    {ids[a]} --> {ids[b]}" for a, b in self._edges()]
        lines.append("")
        lines += [
            f"    classDef {s.value} {STATUS_STYLES[s].mermaid}"
            for s in _STATUS_ORDER
            if s in present
        ]
        return "\n".join(lines).rstrip("\n")

    def to_graphviz(self, include_metrics: bool = False) -> str:
        lines = ["digraph Workflow {", "    rankdir=TB;", f"    {_DOT_NODE_DEFAULTS}", ""]
        for task in self.workflow.tasks:
            result = self.result_of(task.id)
            status = result.status if result is not None else TaskStatus.PENDING
            style = STATUS_STYLES[status]
            parts = [task.id, *metric_parts(result, include_metrics)]
            label = '"' + "\\n".join(dot_string(p, label=True)[1:-1] for p in parts) + '"'
            lines.append(
                f"    {dot_string(task.id)} [label={label}, color=\"{style.dot_color}\", "
                f'fillcolor="{style.dot_fill}", style="filled,rounded"];'
            )
        edges = [f"    {dot_string(a)} -> {dot_string(b)};" for a, b in self._edges()]
        if edges:
            lines += ["", *edges]
        lines.append("}")
        return "\n".join(lines)

    def _ascii_rows(
        self, include_metrics: bool, selected: str | None = None
    ) -> Iterator[tuple[str, str, str | None]]:
        """(plain text, Rich style, task id) per line of the ASCII layout."""
        results = self.state.task_results if self.state is not None else {}
        for text, style, tid, deps in self._ascii_layout:
            if tid is None:
                yield text, style, None
                continue
            result = results.get(tid)
            look = STATUS_STYLES[result.status if result is not None else TaskStatus.PENDING]
            metrics = metric_parts(result, include_metrics)
            extra = f" ({', '.join(plain_line(m) for m in metrics)})" if metrics else ""
            style = f"{look.rich} reverse" if tid == selected else look.rich
            yield f"  {look.symbol} {text}{extra}{deps}", style, tid

    def to_ascii(self, include_metrics: bool = False) -> str:
        return "\n".join(text for text, _, _ in self._ascii_rows(include_metrics))

    def ascii_lines(
        self, selected: str | None = None, include_metrics: bool = False
    ) -> list[tuple[Text, str | None]]:
        """The ASCII layout as status-coloured Rich lines, each with the task id it shows."""
        return [
            (Text(text, style=style, no_wrap=True), tid)
            for text, style, tid in self._ascii_rows(include_metrics, selected)
        ]

    def rich_renderable(self, selected: str | None = None, include_metrics: bool = False) -> Group:
        return Group(*(line for line, _ in self.ascii_lines(selected, include_metrics)))

    def line_index(self, task_id: str) -> int:
        """The index of ``task_id``'s line in ``ascii_lines`` (to scroll the panel to it)."""
        try:
            return self._line_index[task_id]
        except KeyError:
            raise DeeptuiError(f"workflow '{self.workflow.id}' has no task '{task_id}'") from None

    def to_dict(self) -> dict[str, Any]:
        level_of = self.graph.level_of
        nodes = []
        for task in self.workflow.tasks:
            result = self.result_of(task.id)
            status = result.status if result is not None else TaskStatus.PENDING
            nodes.append(
                {
                    "id": task.id,
                    "description": task.description,
                    "status": status.value,
                    "level": level_of[task.id],
                    "metrics": {
                        "duration_seconds": result.duration_seconds if result else None,
                        "retries": result.retry_count if result else 0,
                        "agent": result.agent_used if result else None,
                        "cached": result.cached if result else False,
                    },
                }
            )
        return {
            "workflow": {
                "id": self.workflow.id,
                "name": self.workflow.name,
                "strategy": self.workflow.execution_strategy.value,
            },
            "nodes": nodes,
            "edges": [{"from": a, "to": b} for a, b in self._edges()],
        }

    def to_json(self, include_metrics: bool = False) -> str:
        """JSON always carries every node's metrics (``include_metrics`` changes nothing)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def visualize_workflow(
    workflow: WorkflowDefinition,
    state: WorkflowState | None = None,
    format: VisualizationFormat | str = VisualizationFormat.MERMAID,
    include_metrics: bool = False,
) -> str:
    """Render ``workflow`` (coloured by ``state`` when given) in ``format``."""
    return DAGVisualizer(workflow, state).visualize(format, include_metrics)


def format_for_path(path: str | Path) -> VisualizationFormat:
    """The format a file name asks for by its suffix (.mmd/.md, .dot/.gv, .txt, .json)."""
    suffix = Path(path).suffix.lower()
    try:
        return SUFFIX_FORMATS[suffix]
    except KeyError:
        known = ", ".join(SUFFIX_FORMATS)
        raise DeeptuiError(
            f"cannot tell the visualization format of '{path}' from its suffix "
            f"(use one of {known}, or pass format=)"
        ) from None


def render_to_file(
    workflow: WorkflowDefinition,
    path: str | Path,
    format: VisualizationFormat | str | None = None,
    state: WorkflowState | None = None,
    include_metrics: bool = False,
) -> Path:
    """Write the diagram to ``path`` (format from the suffix unless given); a ``.md`` file
    gets the Mermaid diagram inside a ```mermaid fence so Markdown viewers draw it."""
    path = Path(path)
    fmt = parse_format(format) if format is not None else format_for_path(path)
    text = visualize_workflow(workflow, state, fmt, include_metrics)
    if fmt is VisualizationFormat.MERMAID and path.suffix.lower() == ".md":
        text = f"```mermaid\n{text}\n```"
    try:
        path.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise DeeptuiError(f"cannot write visualization to '{path}': {exc.strerror}") from None
    return path
