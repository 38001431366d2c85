"""The four execution strategies: how each starts the tasks the ready queue offers.

SEQUENTIAL one at a time; PARALLEL level by level (a barrier between levels);
DAG greedily; CONDITIONAL is DAG (conditions are honoured by every strategy).
"""

from __future__ import annotations

from typing import Any

from deeptui.executors import FINISHED, ReadyQueueExecutor
from deeptui.graph import WorkflowGraph
from deeptui.models import ExecutionStrategy, WorkflowDefinition


def recommend_strategy(workflow: WorkflowDefinition) -> ExecutionStrategy:
    """The orchestration guide's strategy recommendations, from the graph's shape.

    Conditions -> CONDITIONAL; a chain (every level one task) -> SEQUENTIAL;
    no dependencies at all -> PARALLEL; otherwise DAG.
    """
    if any(task.condition for task in workflow.tasks):
        return ExecutionStrategy.CONDITIONAL
    if not any(task.depends_on for task in workflow.tasks):
        return (ExecutionStrategy.PARALLEL if len(workflow.tasks) > 1
                else ExecutionStrategy.SEQUENTIAL)
    if all(len(level) == 1 for level in WorkflowGraph(workflow).levels):
        return ExecutionStrategy.SEQUENTIAL
    return ExecutionStrategy.DAG


class SequentialExecutor(ReadyQueueExecutor):
    """One task at a time, in topological order (priority breaks ties)."""

    strategy = ExecutionStrategy.SEQUENTIAL

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit = 1


class ParallelExecutor(ReadyQueueExecutor):
    """Level by level: all tasks of a level (bounded), then a barrier."""

    strategy = ExecutionStrategy.PARALLEL
    barrier = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.level_of = self.graph.level_of
        self.levels = self.graph.levels
        self.on_restart()

    def on_restart(self) -> None:
        self.current_level = 0  # the lowest level with an unfinished task
        self.position = 0  # tasks of current_level before this index are finished

    def eligible(self, tid: str) -> bool:
        levels, results = self.levels, self.results
        while self.current_level < len(levels):
            level = levels[self.current_level]
            while self.position < len(level) and results[level[self.position]].status in FINISHED:
                self.position += 1
            if self.position < len(level):
                break
            self.current_level += 1
            self.position = 0
        return self.level_of[tid] <= self.current_level


class DAGExecutor(ReadyQueueExecutor):
    """Greedy: any task whose dependencies are done, by priority then critical path."""

    strategy = ExecutionStrategy.DAG


class ConditionalExecutor(DAGExecutor):
    """The DAG executor; named for workflows whose tasks carry conditions."""

    strategy = ExecutionStrategy.CONDITIONAL


EXECUTORS: dict[ExecutionStrategy, type[ReadyQueueExecutor]] = {
    ExecutionStrategy.SEQUENTIAL: SequentialExecutor,
    ExecutionStrategy.PARALLEL: ParallelExecutor,
    ExecutionStrategy.DAG: DAGExecutor,
    ExecutionStrategy.CONDITIONAL: ConditionalExecutor,
}
