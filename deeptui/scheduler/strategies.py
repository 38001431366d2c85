"""The four execution strategies: how each starts the tasks the ready queue offers.

SEQUENTIAL one at a time; PARALLEL level by level (a barrier between levels);
DAG greedily; CONDITIONAL is DAG (conditions are honoured by every strategy).
Also which strategy a workflow's shape calls for, and why (`choose_strategy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deeptui.scheduler.ready_queue import FINISHED, ReadyQueueExecutor
from deeptui.graph import WorkflowGraph
from deeptui.models import ExecutionStrategy, WorkflowDefinition


@dataclass(frozen=True)
class StrategyChoice:
    """The strategy the workflow's shape calls for, the one rule that picked it, and the
    figures that rule looked at. `recommend_strategy`, `explain_strategy_choice` and
    ``execute_workflow(..., auto_strategy=True)`` all read it, so they cannot disagree."""

    strategy: ExecutionStrategy
    reason: str
    tasks: int
    levels: int  # depth of the graph: level 0 has no dependencies
    widest: int  # the most tasks on one level (how many could ever run at once)
    conditional: tuple[str, ...]  # ids of the tasks with a condition

    def explain(self, workflow: WorkflowDefinition) -> str:
        """The choice in words: the figures, the strategy, the reason (three or four lines)."""
        conditions = (f"{len(self.conditional)} with a condition" if self.conditional
                      else "no conditions")
        lines = [
            f"Workflow '{workflow.name}': {_count(self.tasks, 'task')} on "
            f"{_count(self.levels, 'level')}, at most {self.widest} side by side, {conditions}",
            f"Recommended strategy: {self.strategy.value}",
            f"Reason: {self.reason}",
        ]
        if workflow.execution_strategy is not self.strategy:
            lines.append(f"(it declares {workflow.execution_strategy.value}; "
                         f"auto_strategy=True runs it as {self.strategy.value})")
        return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def choose_strategy(workflow: WorkflowDefinition) -> StrategyChoice:
    """The orchestration guide's strategy recommendations, from the graph's shape, first rule that applies:

    a task has a condition -> CONDITIONAL; several tasks and no dependencies -> PARALLEL;
    at most one task per level (a chain, or a single task) -> SEQUENTIAL; otherwise DAG.
    """
    levels = WorkflowGraph(workflow).levels
    widest = max(map(len, levels), default=0)
    conditional = tuple(task.id for task in workflow.tasks if task.condition)
    n = len(workflow.tasks)
    if conditional:
        shown = ", ".join(conditional[:3]) + (", ..." if len(conditional) > 3 else "")
        strategy = ExecutionStrategy.CONDITIONAL
        verb = "runs" if len(conditional) == 1 else "run"
        reason = (f"{_count(len(conditional), 'task')} ({shown}) only {verb} if a condition "
                  "holds, checked once the tasks it reads have finished")
    elif n > 1 and len(levels) == 1:
        strategy = ExecutionStrategy.PARALLEL
        reason = (f"no task depends on another, so all {n} can start at once "
                  f"(at most max_parallel_tasks={workflow.max_parallel_tasks} together)")
    elif widest <= 1:
        strategy = ExecutionStrategy.SEQUENTIAL
        if n > 1:
            reason = "each task waits for the one before it (a chain): none could run side by side"
        else:
            reason = "a single task: nothing could run beside it" if n else "the workflow has no tasks"
    else:
        strategy = ExecutionStrategy.DAG
        reason = (f"tasks depend on others, yet up to {widest} could run at the same time; "
                  "DAG starts each one as soon as its own dependencies are done")
    return StrategyChoice(strategy, reason, n, len(levels), widest, conditional)


def recommend_strategy(workflow: WorkflowDefinition) -> ExecutionStrategy:
    """The strategy `choose_strategy` picks for the workflow."""
    return choose_strategy(workflow).strategy


def explain_strategy_choice(workflow: WorkflowDefinition) -> str:
    """Why `recommend_strategy` picks what it picks, in a few human-readable lines."""
    return choose_strategy(workflow).explain(workflow)


def with_recommended_strategy(workflow: WorkflowDefinition) -> WorkflowDefinition:
    """The workflow set to run with its recommended strategy (itself if it already is)."""
    strategy = recommend_strategy(workflow)
    if workflow.execution_strategy is strategy:
        return workflow
    return workflow.model_copy(update={"execution_strategy": strategy})


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
